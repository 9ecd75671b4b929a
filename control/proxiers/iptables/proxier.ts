// The iptables mode: kube-proxy's iptables proxier on the shared model. Each
// sync writes one iptables-restore input: the shared chains (KUBE-SERVICES,
// KUBE-NODEPORTS, …) in full, plus the own chains of the service ports that
// changed, so a partial sync costs the rules of what changed plus one line per
// service in KUBE-SERVICES (as kube-proxy's partial syncs do). A full sync
// rewrites everything and removes chains nothing owns any more.
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ipFamilyOf } from '../../model/address.js';
import { sameNodeFacts, type NodeFacts } from '../../model/node-facts.js';
import type { ServicePortName } from '../../model/types.js';
import type { IPFamily } from '../../sources/types.js';
import type { Proxier, ProxierView, SyncRequest, SyncResult } from '../types.js';
import { StaleUdpFlows } from '../../netfilter/stale-udp.js';
import { Iptables, RESTORE_CHUNK_LINES, chainsOf } from '../../netfilter/iptables.js';
import { KUBE_MARK_MASQ, KUBE_POSTROUTING, isServiceChain } from '../../netfilter/names.js';
import { portRules, type PortRules, type RuleContext } from './rules.js';
import {
  SHARED_CHAINS,
  cleanupIptables,
  forwardRules,
  masqueradeRules,
  missingJumps,
  nodePortsTail,
} from '../../netfilter/kube-chains.js';

const MASQ_CHAINS: ReadonlySet<string> = new Set([KUBE_MARK_MASQ, KUBE_POSTROUTING]);

export interface IptablesProxierOptions {
  /** The family this proxier programs, with iptables (IPv4) or ip6tables (IPv6), as kube-proxy runs one per family. */
  family?: IPFamily;
  masqueradeAll: boolean;
  /** --iptables-masquerade-bit: the fwmark bit that asks for SNAT. */
  masqueradeBit: number;
  /** --cluster-cidr, both families' ranges: this proxier takes its family's. */
  clusterCIDRs: string[];
  /** --iptables-localhost-nodeports: IPv4 only (kube-proxy never serves NodePorts on ::1). */
  localhostNodePorts: boolean;
  logger: Logger;
  /** Called after every restore with its outcome (metrics). */
  onRestore?: (r: RestoreReport) => void;
  iptables?: Iptables;
}

export interface RestoreReport {
  /** The proxier's family (IPv4 when left out). */
  family?: IPFamily;
  full: boolean;
  ok: boolean;
  /** Rules in each table after the sync (kube-proxy's sync_proxy_rules_iptables_total). */
  rules: { filter: number; nat: number };
  noLocalEndpoints: { internal: number; external: number };
}

export class IptablesProxier implements Proxier {
  readonly mode = 'iptables' as const;
  readonly family: IPFamily;
  readonly #opts: IptablesProxierOptions;
  readonly #ipt: Iptables;
  #ctx: RuleContext;
  /** The node facts the programmed rules were written with. */
  #node: NodeFacts | undefined;
  /** The rules of every programmed service port, as last written. */
  #programmed = new Map<ServicePortName, PortRules>();
  #lastRules = { filter: 0, nat: 0 };
  readonly #staleUdp: StaleUdpFlows;
  /** Why the kernel takes no SCTP rule (no xt_sctp), if it does not: SCTP ports are then skipped, the rest programmed. */
  #noSctp: string | undefined;

  constructor(opts: IptablesProxierOptions) {
    this.#opts = opts;
    this.family = opts.family ?? 'IPv4';
    this.#ipt = opts.iptables ?? new Iptables(this.family);
    this.#staleUdp = new StaleUdpFlows(opts.logger, this.family);
    const mark = `0x${(1 << opts.masqueradeBit).toString(16)}`;
    const clusterCIDR = opts.clusterCIDRs.find((c) => ipFamilyOf(c.split('/')[0]!) === this.family);
    this.#ctx = {
      masqueradeMark: mark,
      masqueradeAll: opts.masqueradeAll,
      nodeIPs: [],
      ...(clusterCIDR ? { clusterCIDR } : {}),
    };
    if (!clusterCIDR && !opts.masqueradeAll) {
      opts.logger.info(
        `no ${this.family} --cluster-cidr: traffic from outside the cluster to a ClusterIP is not masqueraded (kube-proxy behaves the same)`,
      );
    }
  }

  async start(): Promise<void> {
    await this.#ipt.check();
    this.#noSctp = await this.#probeSctp();
    if (this.#opts.localhostNodePorts && this.family === 'IPv4') {
      // As kube-proxy: NodePorts on 127.0.0.1 need martian loopback routing.
      try {
        writeFileSync('/proc/sys/net/ipv4/conf/all/route_localnet', '1');
      } catch (err) {
        this.#opts.logger.warn(
          { err: (err as Error).message },
          'cannot set net.ipv4.conf.all.route_localnet=1; NodePorts on localhost will not answer',
        );
      }
    }
  }

  /**
   * Whether the kernel takes kube-proxy's SCTP match: one rule in a chain of
   * its own, removed at once. A kernel without it would refuse the whole
   * restore, and with it every other service, for one SCTP port; so it is
   * asked once, said once, and SCTP ports are skipped.
   */
  async #probeSctp(): Promise<string | undefined> {
    const chain = 'KUBE-SCTP-PROBE';
    try {
      await this.#ipt.restore(`*nat\n:${chain} - [0:0]\n-A ${chain} -m sctp -p sctp --dport 1 -j RETURN\nCOMMIT\n`);
      return undefined;
    } catch (err) {
      const why = `the kernel refuses ${this.#ipt.command} SCTP rules (needs xt_sctp): ${(err as Error).message}`;
      this.#opts.logger.warn({ family: this.family }, `${why}; SCTP service ports are not programmed, every other is`);
      return why;
    } finally {
      await this.#ipt.restore(`*nat\n:${chain} - [0:0]\n-X ${chain}\nCOMMIT\n`).catch(() => undefined);
    }
  }

  async sync(given: SyncRequest): Promise<SyncResult> {
    // The node's addresses are in the rules (the load-balancer firewall's
    // own-VIP exception, the NodePort addresses): when they change, every
    // port is rewritten.
    const nodeChanged = !sameNodeFacts(this.#node, given.node);
    const req = nodeChanged && !given.full ? { ...given, full: true } : given;
    this.#node = req.node;
    this.#ctx = { ...this.#ctx, nodeIPs: req.node.addresses };
    const result: SyncResult = { written: 0, removed: 0, skipped: [] };
    const next = new Map(req.full ? [] : this.#programmed);
    const rewrite = new Set<ServicePortName>();
    for (const name of req.removed.keys()) next.delete(name);
    for (const name of req.full ? req.desired.keys() : req.changed) {
      const sp = req.desired.get(name);
      if (!sp) continue;
      const rules = sp.protocol === 'SCTP' && this.#noSctp ? unprogrammed(this.#noSctp) : portRules(sp, this.#ctx);
      for (const reason of rules.skipped) result.skipped.push({ name, reason });
      next.set(name, rules);
      rewrite.add(name);
    }

    // Chains to delete: on a full sync every service chain in the kernel that
    // nothing wants; on a partial one, what the touched ports no longer use.
    const active = new Set<string>();
    for (const rules of next.values()) for (const c of rules.chains.keys()) active.add(c);
    let natSaved = '';
    let filterSaved = '';
    let stale: string[];
    if (req.full) {
      [natSaved, filterSaved] = await Promise.all([this.#ipt.save('nat'), this.#ipt.save('filter')]);
      stale = [...chainsOf(natSaved)].filter((c) => isServiceChain(c) && !active.has(c));
    } else {
      const touched = [...req.changed, ...req.removed.keys()];
      stale = [...new Set(touched.flatMap((n) => [...(this.#programmed.get(n)?.chains.keys() ?? [])]))].filter(
        (c) => !active.has(c),
      );
    }

    const input = this.#restoreInput(
      next,
      rewrite,
      stale,
      req.full ? { nat: natSaved, filter: filterSaved } : undefined,
    );
    let ok = false;
    try {
      for (const text of input.transactions) await this.#ipt.restore(text);
      ok = true;
      if (input.transactions.length > 1) {
        this.#opts.logger.info(
          { chains: input.written, transactions: input.transactions.length },
          'wrote the service chains in several iptables-restore transactions, the shared chains last',
        );
      }
    } finally {
      const noLocal = { internal: 0, external: 0 };
      for (const r of next.values()) {
        if (r.noLocalEndpoints.internal) noLocal.internal++;
        if (r.noLocalEndpoints.external) noLocal.external++;
      }
      if (ok) this.#lastRules = input.rules;
      this.#opts.onRestore?.({ full: req.full, ok, rules: this.#lastRules, noLocalEndpoints: noLocal });
    }
    this.#programmed = next;
    await this.#staleUdp.clear(req);
    result.written = input.written;
    result.removed = stale.length;
    return result;
  }

  /**
   * The restore input of a sync: one transaction, as kube-proxy writes it,
   * unless the service ports' own chains come to more than
   * RESTORE_CHUNK_LINES. Then those chains go first, in transactions of
   * whole service ports, and the shared chains that make them reachable and
   * the removal of stale chains last. Until that last one commits, packets
   * take the old rules, or a port's new chains complete; a failure on the
   * way leaves chains nothing jumps to yet, and the retried full sync
   * rewrites them.
   */
  #restoreInput(
    ports: Map<ServicePortName, PortRules>,
    rewrite: Set<ServicePortName>,
    stale: string[],
    saved: { nat: string; filter: string } | undefined,
  ): { transactions: string[]; written: number; rules: { filter: number; nat: number } } {
    const { masqueradeMark: mark } = this.#ctx;
    const names = [...ports.keys()].sort();
    const filterRules: string[] = [];
    const natShared: string[] = [];
    let natTotal = 0;
    let written = 0;
    for (const name of names) {
      const r = ports.get(name)!;
      filterRules.push(...r.filter);
      natShared.push(...r.nat);
      for (const rules of r.chains.values()) natTotal += rules.length;
    }
    // The rewritten ports' own chains, cut between ports into pieces of about RESTORE_CHUNK_LINES.
    const pieces: Array<{ chains: string[]; rules: string[] }> = [{ chains: [], rules: [] }];
    for (const name of names) {
      if (!rewrite.has(name)) continue;
      let piece = pieces.at(-1)!;
      if (piece.chains.length + piece.rules.length >= RESTORE_CHUNK_LINES)
        pieces.push((piece = { chains: [], rules: [] }));
      for (const [chain, rules] of ports.get(name)!.chains) {
        piece.chains.push(`:${chain} - [0:0]`);
        piece.rules.push(...rules);
        written++;
      }
    }
    const masqChains = [...MASQ_CHAINS].map((c) => `:${c} - [0:0]`);
    const masq = masqueradeRules(mark);
    const inPieces = pieces.length > 1;
    const last = inPieces ? { chains: [], rules: [] } : pieces[0]!;
    // In pieces, the first also writes KUBE-MARK-MASQ, which the service
    // chains jump to: on a new node it exists only from then on.
    const early = inPieces
      ? pieces.map((p, i) =>
          [
            '*nat',
            ...(i === 0 ? masqChains : []),
            ...p.chains,
            ...(i === 0 ? masq : []),
            ...p.rules,
            'COMMIT',
            '',
          ].join('\n'),
        )
      : [];
    filterRules.push(...forwardRules(mark));
    natShared.push(
      ...nodePortsTail(this.#opts.localhostNodePorts, this.#node?.nodePortAddresses[this.family], this.family),
    );
    const lines = [
      '*filter',
      ...SHARED_CHAINS.filter.map((c) => `:${c} - [0:0]`),
      ...filterRules,
      // Jumps from the built-in chains are checked on full syncs (the targets exist by now in the same transaction).
      ...(saved ? missingJumps('filter', saved.filter) : []),
      'COMMIT',
      '*nat',
      ...SHARED_CHAINS.nat.filter((c) => !inPieces || !MASQ_CHAINS.has(c)).map((c) => `:${c} - [0:0]`),
      ...last.chains,
      ...stale.map((c) => `:${c} - [0:0]`),
      ...(inPieces ? [] : masq),
      ...natShared,
      ...last.rules,
      ...stale.map((c) => `-X ${c}`),
      ...(saved ? missingJumps('nat', saved.nat) : []),
      'COMMIT',
      '',
    ];
    return {
      transactions: [...early, lines.join('\n')],
      written,
      rules: { filter: filterRules.length, nat: masq.length + natShared.length + natTotal },
    };
  }

  /** The ops API's view: the nat chains each programmed service port owns. */
  view(): ProxierView {
    return {
      programmedCount: () => null,
      mapCount: () => null,
      interfaces: () => [],
      servicePorts: (ports) => ports.map((sp) => ({ chains: this.chainsOf(sp.name) ?? [] })),
    };
  }

  /** The chains a programmed service port owns. */
  chainsOf(name: ServicePortName): string[] | undefined {
    const r = this.#programmed.get(name);
    return r ? [...r.chains.keys()] : undefined;
  }

  /** The rules stay in the kernel: the node keeps forwarding while the proxy restarts. */
  async stop(): Promise<void> {}

  async cleanup(): Promise<void> {
    await cleanupIptables(this.#opts.logger, this.#ipt);
    this.#programmed.clear();
  }
}

/** A port not programmed at all, with why. */
function unprogrammed(why: string): PortRules {
  return {
    filter: [],
    nat: [],
    chains: new Map(),
    noLocalEndpoints: { internal: false, external: false },
    skipped: [`not programmed: ${why}`],
  };
}
