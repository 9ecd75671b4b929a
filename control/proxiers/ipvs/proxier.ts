// The ipvs mode: kube-proxy's IPVS proxier on the shared model. IPVS holds a
// hash table of virtual servers, so a packet costs the same at 10 services
// and at 10,000; iptables keeps a handful of rules that match ipsets. Each
// sync reads back what the kernel holds (all of it on a full sync, the
// touched virtual servers on a partial one) and writes only the difference.
// NodePort virtual servers sit on node addresses: when those change (the
// sync loop hands over new NodeFacts as soon as it sees them, an interface's
// address included), the service ports that depend on them are laid out again.
//
// One proxier per family, as kube-proxy's dual-stack IPVS proxier: each has
// its own ipsets (KUBE-6-* for IPv6) and its own iptables (ip6tables), while
// both share the one IPVS table of the namespace and kube-ipvs0. So each
// reads back, deletes, binds and unbinds only what is of its own family: a
// full sync of one never touches the other's virtual servers or addresses.
import { BlockList } from 'node:net';
import type { Logger } from 'pino';
import {
  Ipvs,
  IpvsError,
  IpvsErrorCode,
  isFwmarkKey,
  virtualServerId,
  type ProgrammedVirtualServer,
  type VirtualServerKey,
} from '../../netlink/index.js';
import { ipFamilyOf } from '../../model/address.js';
import type { NodeFacts } from '../../model/node-facts.js';
import type { ServicePortName, ServicePortState } from '../../model/types.js';
import { StaleUdpFlows } from '../../netfilter/stale-udp.js';
import { Iptables } from '../../netfilter/iptables.js';
import { IPTABLES_MODE, cleanupIptables } from '../../netfilter/kube-chains.js';
import type { IPFamily } from '../../sources/types.js';
import type { Proxier, ProxierView, SyncRequest, SyncResult } from '../types.js';
import { ProxierErrorCode } from '../errors.js';
import { cleanupIpvsMode } from './cleanup.js';
import { DummyInterface } from './dummy.js';
import { Ipset } from './ipset.js';
import {
  portLayout,
  type LayoutContext,
  type NoNodeAccess,
  type PortLayout,
  type VirtualServerLayout,
} from './layout.js';
import { KUBE_IPVS0, KUBE_IPVS_OUT_FILTER, SET_KEYS, setsOf, type IpvsSets, type SetKey } from './names.js';
import { nodePortAddresses } from './node-addresses.js';
import { planChanges, type ProgrammedEntry } from './plan.js';
import { ipvsRestoreInput, ipvsRules, IPVS_CHAINS, type IpvsRuleContext, type IpvsTable } from './rules.js';
import { applySysctls, ipv6Forwarding, ipvsSysctls } from './sysctl.js';

export interface IpvsProxierOptions {
  /** The family this proxier programs (IPv4 when left out); the other family's proxier shares IPVS and kube-ipvs0. */
  family?: IPFamily;
  /** --ipvs-scheduler; "" is rr. */
  scheduler: string;
  /** --ipvs-exclude-cidrs, both families': virtual servers on these addresses are never deleted. */
  excludeCIDRs: string[];
  strictARP: boolean;
  /** --ipvs-tcp-timeout, --ipvs-tcpfin-timeout, --ipvs-udp-timeout in seconds; 0 leaves the kernel's. */
  timeouts: { tcp: number; tcpFin: number; udp: number };
  masqueradeAll: boolean;
  masqueradeBit: number;
  /** --cluster-cidr, both families' ranges: this proxier takes its family's. */
  clusterCIDRs: string[];
  logger: Logger;
  iptables?: Iptables;
  ipset?: Ipset;
  dummy?: DummyInterface;
}

/** Beyond this many touched virtual servers, a partial sync reads everything in one dump. */
const READ_ONE_BY_ONE = 256;
/** A firewall mark nobody uses, for the start-up probe of the scheduler. */
const PROBE_FWMARK = 0x5359_0001;

export class IpvsSyncError extends Error {
  readonly code = ProxierErrorCode.IpvsSync;
}

export class IpvsProxier implements Proxier {
  readonly mode = 'ipvs' as const;
  readonly family: IPFamily;
  readonly #opts: IpvsProxierOptions;
  /** This family's ipsets (KUBE-CLUSTER-IP, KUBE-6-CLUSTER-IP). */
  readonly #setSpecs: IpvsSets;
  /** The scheduler and the node addresses the programmed layouts were computed with; undefined before the first sync. */
  #layoutCtx: LayoutContext | undefined;
  /** The iptables rules as last written, by table; undefined until a full sync writes them. */
  #rules: Record<IpvsTable, string[]> | undefined;
  /** The kernel refused the ipvs match once: KUBE-IPVS-OUT-FILTER is left empty from then on. */
  #noIpvsMatch = false;
  readonly #ruleCtx: IpvsRuleContext;
  readonly #ipt: Iptables;
  readonly #ipset: Ipset;
  readonly #dummy: DummyInterface;
  readonly #exclude = new BlockList();
  #ipvs: Ipvs | undefined;
  /** The layout of every programmed service port, as last written. */
  #ports = new Map<ServicePortName, PortLayout>();
  /** The virtual servers the kernel holds, as last read or written. */
  #inKernel = new Map<string, ProgrammedVirtualServer>();
  /** Virtual servers with a real server draining at weight 0: every sync looks at them again. */
  #draining = new Set<string>();
  #drainingRealServers = 0;
  /** The ipset members and kube-ipvs0 addresses as last written; undefined until a full sync. */
  #sets: Map<SetKey, Set<string>> | undefined;
  #bound = new Set<string>();
  readonly #staleUdp: StaleUdpFlows;

  constructor(opts: IpvsProxierOptions) {
    this.#opts = opts;
    this.family = opts.family ?? 'IPv4';
    this.#setSpecs = setsOf(this.family);
    this.#ipt = opts.iptables ?? new Iptables(this.family);
    this.#ipset = opts.ipset ?? new Ipset();
    this.#dummy = opts.dummy ?? new DummyInterface({ name: KUBE_IPVS0 });
    this.#staleUdp = new StaleUdpFlows(opts.logger, this.family);
    const ofFamily = (cidr: string) => ipFamilyOf(cidr.split('/')[0]!) === this.family;
    const clusterCIDR = opts.clusterCIDRs.find(ofFamily);
    this.#ruleCtx = {
      family: this.family,
      masqueradeMark: `0x${(1 << opts.masqueradeBit).toString(16)}`,
      masqueradeAll: opts.masqueradeAll,
      ...(clusterCIDR ? { clusterCIDR } : {}),
    };
    // kube-proxy hands each family's proxier its family's --ipvs-exclude-cidrs (filterCIDRs).
    for (const cidr of opts.excludeCIDRs.filter(ofFamily)) {
      const [net, bits] = cidr.split('/');
      this.#exclude.addSubnet(net!, Number(bits), this.#blockListType);
    }
  }

  get #blockListType(): 'ipv4' | 'ipv6' {
    return this.family === 'IPv4' ? 'ipv4' : 'ipv6';
  }

  /** Whether a virtual server (by address, or a firewall mark's family) is of this proxier's family. */
  #ours(vs: VirtualServerKey): boolean {
    return isFwmarkKey(vs) ? vs.family === (this.family === 'IPv4' ? 4 : 6) : ipFamilyOf(vs.address) === this.family;
  }

  get #kernel(): Ipvs {
    if (!this.#ipvs) throw new Error('the ipvs proxier is not started');
    return this.#ipvs;
  }

  /**
   * Checks every tool and setting before anything is written; then creates
   * kube-ipvs0 (the other family's proxier may have: it is left as it is).
   * The IPv6 proxier's failure here (no ip6tables nat table, a kernel
   * without IPVS for IPv6) leaves the mode serving IPv4 (the meta proxier).
   */
  async start(): Promise<void> {
    const { logger } = this.#opts;
    await this.#ipt.check();
    await this.#ipset.check();
    this.#ipvs = Ipvs.open();
    try {
      this.#probeScheduler(this.#opts.scheduler || 'rr');
    } catch (err) {
      this.#ipvs.close();
      this.#ipvs = undefined;
      throw err;
    }
    const sysctls = ipvsSysctls({ strictARP: this.#opts.strictARP, family: this.family });
    for (const c of applySysctls(sysctls)) logger.info(c, 'sysctl set');
    if (this.family === 'IPv6' && ipv6Forwarding() === false) {
      logger.warn(
        'net.ipv6.conf.all.forwarding is 0: replies from real servers to the clients IPVS forwarded to them (pods, other nodes, outside clients) are not routed back; kube-proxy leaves it to the node (the CNI plugin sets it), and so does this mode',
      );
    }
    const { tcp, tcpFin, udp } = this.#opts.timeouts;
    if (tcp || tcpFin || udp) {
      this.#ipvs.setTimeouts({ tcp, tcpFin, udp });
      logger.info({ ...this.#ipvs.timeouts() }, 'IPVS timeouts set');
    }
    await this.#dummy.ensure();
  }

  /**
   * A scheduler this kernel lacks fails start-up, not every sync (kube-proxy
   * checks the module too). Each family's proxier probes with a virtual
   * server of its own family, so a kernel without IPVS for IPv6
   * (CONFIG_IP_VS_IPV6) fails the IPv6 proxier's start. Harmless twice: the
   * two probes are different keys (a firewall mark is per family), each
   * deleted at once.
   */
  #probeScheduler(scheduler: string): void {
    const probe = { fwmark: PROBE_FWMARK, family: this.family === 'IPv4' ? (4 as const) : (6 as const), scheduler };
    try {
      this.#kernel.addVirtualServer(probe);
    } catch (err) {
      if (err instanceof IpvsError && err.code === IpvsErrorCode.Exists) return;
      throw err;
    }
    this.#kernel.deleteVirtualServer(probe);
  }

  async sync(req: SyncRequest): Promise<SyncResult> {
    const result: SyncResult = { written: 0, removed: 0, skipped: [] };
    const full = req.full || this.#sets === undefined;
    const ctx = this.#layoutContext(req.node);
    // New node addresses move the NodePort virtual servers and may change which
    // load-balancer IPs the node itself may reach: those ports are laid out again.
    const nodeChanged = this.#layoutCtx !== undefined && !sameLayoutContext(this.#layoutCtx, ctx);
    if (nodeChanged || !this.#layoutCtx) {
      this.#opts.logger.info(
        {
          nodePortAddresses: ctx.nodePortAddresses,
          everyLocalAddress: req.node.nodePortAddresses[this.family] === undefined,
        },
        'NodePorts answer on these node addresses',
      );
    }
    const relaid = new Set(full ? req.desired.keys() : req.changed);
    if (!full && nodeChanged) for (const [name, sp] of req.desired) if (dependsOnNode(sp)) relaid.add(name);
    const next = new Map(full ? [] : this.#ports);
    const touched = new Set<string>(this.#draining);
    for (const name of [...relaid, ...req.removed.keys()]) {
      for (const v of this.#ports.get(name)?.virtualServers ?? []) touched.add(virtualServerId(v.virtualServer));
    }
    for (const name of req.removed.keys()) next.delete(name);
    for (const name of relaid) {
      const sp = req.desired.get(name);
      if (!sp) continue;
      const layout = portLayout(sp, ctx);
      for (const reason of layout.skipped) result.skipped.push({ name, reason });
      if (layout.invalid) {
        // Never program it half: what the port had stays as it was.
        const before = this.#ports.get(name);
        if (before) next.set(name, before);
        else next.delete(name);
        continue;
      }
      for (const v of layout.virtualServers) touched.add(virtualServerId(v.virtualServer));
      next.set(name, layout);
    }

    const desired = new Map<string, VirtualServerLayout>();
    const addresses = new Set<string>();
    const sets = new Map<SetKey, Set<string>>(SET_KEYS.map((k) => [k, new Set()]));
    const noNodeAccess = new Map<string, NoNodeAccess>();
    for (const layout of next.values()) {
      for (const v of layout.virtualServers) desired.set(virtualServerId(v.virtualServer), v);
      for (const a of layout.addresses) addresses.add(a);
      for (const [k, members] of Object.entries(layout.sets) as Array<[SetKey, string[]]>)
        for (const m of members) sets.get(k)!.add(m);
      for (const e of layout.noNodeAccess) noNodeAccess.set(`${e.protocol} ${e.address}:${e.port}`, e);
    }
    for (const a of addresses) sets.get('ipvsIPs')!.add(a);

    // ipsets before the rules that match them. The rules hardly depend on
    // services: a table is rewritten on full syncs, and when its rules change.
    await this.#writeSets(sets, full);
    await this.#writeRules(
      [...noNodeAccess.keys()].sort().map((k) => noNodeAccess.get(k)!),
      full,
    );

    // IPVS: read back what is in scope, write the difference.
    const programmed = await this.#readBack(full ? undefined : touched);
    const scope = full
      ? desired
      : new Map([...touched].flatMap((id) => (desired.has(id) ? [[id, desired.get(id)!] as const] : [])));
    const plan = planChanges({ desired: scope, programmed, mayDelete: (vs) => this.#mayDelete(vs) });
    const report = await this.#kernel.apply(plan.changes);
    const refused = new Set(report.failures.map((f) => f.change));
    for (const ch of plan.changes) {
      if (refused.has(ch)) continue;
      if (ch.op === 'addVirtualServer' || ch.op === 'editVirtualServer')
        this.#inKernel.set(virtualServerId(ch.virtualServer), ch.virtualServer);
      else if (ch.op === 'deleteVirtualServer') this.#inKernel.delete(virtualServerId(ch.virtualServer));
    }
    if (full) this.#draining = plan.draining;
    else {
      for (const id of touched) this.#draining.delete(id);
      for (const id of plan.draining) this.#draining.add(id);
    }
    this.#drainingRealServers = plan.drainingRealServers;

    // Addresses: bound once their virtual servers exist, unbound once they
    // are gone. kube-ipvs0 holds both families': this proxier looks at its own.
    const bound = full ? this.#ofFamily(await this.#dummy.addresses()) : this.#bound;
    const bind = [...addresses].filter((a) => !bound.has(a));
    const unbind = [...bound].filter((a) => !addresses.has(a));
    if (bind.length || unbind.length) {
      const { failed } = await this.#dummy.bind(bind, unbind);
      for (const f of failed)
        this.#opts.logger.warn(f, `cannot ${f.op === 'add' ? 'bind' : 'unbind'} a service address on ${KUBE_IPVS0}`);
    }
    this.#bound = addresses;
    this.#ports = next;
    this.#layoutCtx = ctx;
    await this.#staleUdp.clear(req, full);

    result.written = report.applied;
    result.removed = plan.changes.filter((c) => c.op === 'deleteVirtualServer' || c.op === 'deleteRealServer').length;
    if (report.failures.length) {
      const first = report.failures.slice(0, 3).map((f) => f.error.message);
      throw new IpvsSyncError(
        `${report.failures.length} of ${plan.changes.length} IPVS changes were refused: ${first.join('; ')}${report.failures.length > 3 ? '; …' : ''}`,
        {
          cause: report.failures[0]!.error,
        },
      );
    }
    return result;
  }

  async #writeSets(sets: Map<SetKey, Set<string>>, full: boolean): Promise<void> {
    for (const key of SET_KEYS) {
      const want = sets.get(key)!;
      const had = this.#sets?.get(key);
      if (full || !had) {
        await this.#ipset.replace(this.#setSpecs[key], want);
        continue;
      }
      const add = [...want].filter((m) => !had.has(m));
      const del = [...had].filter((m) => !want.has(m));
      if (add.length || del.length) await this.#ipset.update(this.#setSpecs[key], add, del);
    }
    this.#sets = sets;
  }

  async #writeRules(noNodeAccess: NoNodeAccess[], full: boolean): Promise<void> {
    let rules = ipvsRules(this.#ruleCtx, this.#noIpvsMatch ? [] : noNodeAccess);
    const had = this.#rules;
    this.#rules = undefined;
    for (const table of Object.keys(IPVS_CHAINS) as IpvsTable[]) {
      if (!full && had && sameLines(had[table], rules[table])) continue;
      const saved = await this.#ipt.save(table);
      try {
        await this.#ipt.restore(ipvsRestoreInput(table, rules[table], saved));
      } catch (err) {
        // A kernel without xt_ipvs refuses the out-filter's rules, and with
        // them the whole table: the rest of the firewall goes in without them.
        if (table !== 'filter' || this.#noIpvsMatch || !noNodeAccess.length || !/ipvs/i.test(String(err))) throw err;
        this.#noIpvsMatch = true;
        this.#opts.logger.warn(
          { err: (err as Error).message },
          `the kernel refused the ipvs match (xt_ipvs): the node's own connections to load-balancer IPs are not held to their loadBalancerSourceRanges (${KUBE_IPVS_OUT_FILTER} stays empty)`,
        );
        rules = ipvsRules(this.#ruleCtx, []);
        await this.#ipt.restore(ipvsRestoreInput(table, rules[table], saved));
      }
    }
    this.#rules = rules;
  }

  /** The context the layouts need: the scheduler, and this family's NodePort and node addresses. */
  #layoutContext(node: NodeFacts): LayoutContext {
    return {
      family: this.family,
      scheduler: this.#opts.scheduler,
      nodePortAddresses: nodePortAddresses(node, this.family),
      nodeAddresses: node.addresses.filter((a) => ipFamilyOf(a) === this.family),
    };
  }

  /** The addresses of this proxier's family among `all`. */
  #ofFamily(all: Iterable<string>): Set<string> {
    return new Set([...all].filter((a) => ipFamilyOf(a) === this.family));
  }

  /**
   * The kernel's virtual servers of this family (all, or those of `ids` we
   * hold) with their real servers. The other family's are never read into
   * a plan, so they are never deleted.
   */
  async #readBack(ids: Set<string> | undefined): Promise<Map<string, ProgrammedEntry>> {
    const out = new Map<string, ProgrammedEntry>();
    const known = ids ? [...ids].filter((id) => this.#inKernel.has(id)) : [];
    if (!ids || known.length > READ_ONE_BY_ONE) {
      const all = await this.#kernel.readAll();
      if (!ids) this.#inKernel.clear();
      for (const { virtualServer, realServers } of all) {
        if (!this.#ours(virtualServer)) continue;
        const id = virtualServerId(virtualServer);
        if (!ids) this.#inKernel.set(id, virtualServer);
        if (!ids || ids.has(id)) out.set(id, { virtualServer, realServers });
      }
      return out;
    }
    for (const id of known) {
      const virtualServer = this.#inKernel.get(id)!;
      out.set(id, { virtualServer, realServers: this.#kernel.realServers(virtualServer) });
    }
    return out;
  }

  /**
   * kube-proxy owns every address virtual server of its family but those
   * --ipvs-exclude-cidrs names (its cleanLegacyService skips the other
   * family's: "Not our family").
   */
  #mayDelete(vs: ProgrammedVirtualServer): boolean {
    if (isFwmarkKey(vs) || !this.#ours(vs)) return false;
    return !this.#exclude.check(vs.address, this.#blockListType);
  }

  /** Draining real servers: each periodic sync looks whether their connections are gone. */
  hasPendingWork(): boolean {
    return this.#draining.size > 0;
  }

  /** The ops API's view: /v1/ipvs (this mode's route) reads the kernel; nothing is counted here. */
  view(): ProxierView {
    return { programmedCount: () => null, mapCount: () => null, interfaces: () => [] };
  }

  /** The virtual servers of a programmed service port, as the kernel holds them now (the ops API shows them). */
  async virtualServersOf(name: ServicePortName): Promise<ProgrammedEntry[] | undefined> {
    const layout = this.#ports.get(name);
    if (!layout || !this.#ipvs) return undefined;
    return layout.virtualServers.map(({ virtualServer }) => ({
      virtualServer,
      realServers: this.#kernel.realServers(virtualServer),
    }));
  }

  /** The virtual servers this proxier programmed, by id, with the service port that owns each. */
  owners(): Map<string, ServicePortName> {
    const owner = new Map<string, ServicePortName>();
    for (const [name, p] of this.#ports)
      for (const v of p.virtualServers) owner.set(virtualServerId(v.virtualServer), name);
    return owner;
  }

  /**
   * Everything IPVS holds in this namespace, both families', with the service
   * port that owns each virtual server: by `owner` (the ops API merges both
   * family proxiers'), this proxier's own by default.
   */
  async programmed(owner = this.owners()): Promise<Array<ProgrammedEntry & { servicePort?: ServicePortName }>> {
    const all = await this.#kernel.readAll();
    return all.map((e) => {
      const servicePort = owner.get(virtualServerId(e.virtualServer));
      return servicePort ? { ...e, servicePort } : e;
    });
  }

  /** Virtual servers, addresses, sets and rules stay: the node keeps forwarding while the proxy restarts. */
  async stop(): Promise<void> {
    this.#ipvs?.close();
    this.#ipvs = undefined;
  }

  /**
   * This family's share of the mode: its rules (the chains it shares by name
   * with the iptables mode too: they match its sets), sets, virtual servers
   * and addresses; kube-ipvs0 goes with the last family's.
   */
  async cleanup(): Promise<void> {
    await cleanupIptables(this.#opts.logger, this.#ipt, IPTABLES_MODE);
    await cleanupIpvsMode(this.#opts.logger, {
      families: [this.family],
      excludeCIDRs: this.#opts.excludeCIDRs,
      markMasq: true,
      iptables: { [this.family]: this.#ipt },
      ipset: this.#ipset,
      dummy: this.#dummy,
    });
    // Nothing is programmed any more: the next sync is a full one.
    this.#ports.clear();
    this.#inKernel.clear();
    this.#draining.clear();
    this.#bound = new Set();
    this.#sets = undefined;
    this.#rules = undefined;
  }
}

/** Ports whose layout depends on the node's addresses: NodePorts, and firewalled load-balancer IPs. */
function dependsOnNode(sp: ServicePortState): boolean {
  return sp.nodePort !== undefined || (sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0);
}

function sameLayoutContext(a: LayoutContext, b: LayoutContext): boolean {
  return (
    a.scheduler === b.scheduler &&
    sameLines(a.nodePortAddresses, b.nodePortAddresses) &&
    sameLines(a.nodeAddresses, b.nodeAddresses)
  );
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
