// The ebpf mode: turns the model's service ports into dataplane entries,
// attaches the tc program to the node's interfaces as they appear, and keeps
// what it programmed across restarts (maps and links are pinned; start-up
// adopts them and the first sync changes only what differs).
//
// One proxier per IP family, as the dual-stack meta proxier hands each its
// family's share. Both families share one dataplane (the maps key either
// family's 16-byte addresses, bpf/include/switchyard/abi.h): the IPv4
// proxier loads and attaches it, the IPv6 one is given it (`shared`) and
// programs only its family's entries, so a full sync of one family never
// removes the other's (it compares against its family's entries only).
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CgroupAttachment } from '../../bpf/index.js';
import { isIP, isIPv4 } from 'node:net';
import type { IPFamily } from '../../sources/types.js';
import type { NodeFacts } from '../../model/node-facts.js';
import type { ServicePortName, ServicePortState } from '../../model/types.js';
import type { Proxier, ProxierView, ServicePortEntries, SyncRequest, SyncResult } from '../types.js';
import { ProxierErrorCode } from '../errors.js';
import type { LbAcceleration } from '../../config/values.js';
import { EbpfDataplane, NAT_PORTS } from './dataplane.js';
import { DropCounters } from './drops.js';
import { InterfaceWatcher, type Link } from './interfaces.js';
import type { MapBackend } from './map-backend.js';
import { MapCatalog } from './map-catalog.js';
import { canonicalIp, inCidr, networkOf } from './addresses.js';
import { endpointOf, keyOf, type Backend, type ServicePortSpec } from './vocabulary.js';

export interface EbpfProxierOptions {
  /** The family this proxier programs (IPv4 when left out). */
  family?: IPFamily;
  /**
   * The other family's proxier, whose dataplane (objects, maps, attachments)
   * this one shares once that one has started: start() then loads and
   * attaches nothing, stop() releases nothing.
   */
  shared?: EbpfProxier;
  objectDir: string;
  /** bpffs folder: maps under it, cgroup links under links/. */
  pinRoot: string;
  mapSizes?: Record<string, number>;
  devices: string[];
  /** XDP on the uplinks (--bpf-lb-acceleration); default best-effort. */
  acceleration?: LbAcceleration;
  /** --bpf-lb-algorithm=maglev: external addresses pick backends by Maglev tables of this size. */
  maglevTableSize?: number;
  cgroupRoot?: string;
  /** --masquerade-all: every ClusterIP flow source-NATed. */
  masqueradeAll?: boolean;
  /** --cluster-cidr (this family's): ClusterIP flows from outside them source-NATed; pods told apart from external clients. */
  clusterCidrs?: readonly string[];
  logger: Logger;
  /**
   * The dataplane's maps, given instead of loaded (the unit tests' in-memory
   * ones): start() then loads no BPF object, attaches nothing, watches no
   * interface and only adopts what these maps hold.
   */
  maps?: MapBackend;
}

type Skip = SyncResult['skipped'][number];

/**
 * Service ports turned into dataplane specs, or compared with what is
 * programmed, between two turns of the event loop: a full sync of 10,000
 * must not hold /healthz and the ops API for its whole preparation.
 */
const YIELD_EVERY = 1000;

/** What a service port's entries depend on besides the port itself: the node and the flags. */
export interface SpecContext {
  /** The family's addresses NodePorts answer on; 127.0.0.1 among them where kube-proxy serves localhost NodePorts (IPv4 only). */
  nodePortAddresses: readonly string[];
  /** The node's own addresses of the family: a source range holding one also admits the load-balancer IP itself. */
  nodeAddresses: readonly string[];
  /** How flows to ClusterIPs are source-NATed: --masquerade-all, --cluster-cidr, or not at all. */
  clusterSnat: ServicePortSpec['snat'];
  /** Maglev tables of this size for external addresses (--bpf-lb-algorithm=maglev). */
  maglev?: number;
}

/**
 * The context of a sync: NodePorts on every local address of the family
 * (and, for IPv4, on 127.0.0.1) unless --nodeport-addresses names ranges of
 * it (kube-proxy's defaults: localhost NodePorts are IPv4 only); ClusterIP
 * flows source-NATed as kube-proxy masquerades them. IPv6 addresses are in
 * the form the maps give back (RFC 5952), so a restart adopts its entries.
 */
export function specContext(
  node: NodeFacts,
  opts: { masqueradeAll: boolean; clusterCidrs: readonly string[]; maglev?: number; family?: IPFamily },
): SpecContext {
  const v6 = opts.family === 'IPv6';
  const ofFamily = (ips: readonly string[]) =>
    ips.filter((ip) => isIPv4(ip) !== v6 && (isIPv4(ip) || isIP(ip) === 6)).map(canonicalIp);
  const listed = node.nodePortAddresses[v6 ? 'IPv6' : 'IPv4'];
  const local = ofFamily(node.localAddresses);
  return {
    nodePortAddresses: listed ? ofFamily(listed) : [...new Set(v6 ? local : [...local, '127.0.0.1'])],
    nodeAddresses: [...new Set([...ofFamily(node.addresses), ...local])],
    clusterSnat: opts.masqueradeAll ? 'always' : opts.clusterCidrs.length > 0 ? 'off-cluster' : undefined,
    ...(opts.maglev ? { maglev: opts.maglev } : {}),
  };
}

export { networkOf } from './addresses.js';

/**
 * The dataplane entries of one service port: one per ClusterIP, with the
 * endpoints kube-proxy's categorisation gives internal traffic; and for a
 * port reachable from outside, one per NodePort address, load-balancer IP
 * (ingress entries of ipMode Proxy are left out by the source) and
 * externalIP, with the endpoints of its external policy: Cluster is
 * source-NATed to the node, Local keeps the client's address and sends
 * pods to the ClusterIP's endpoints. The dual-stack meta proxier hands this
 * proxier its family's share only. SCTP is served as TCP is (the dataplane
 * updates its CRC32c; no SCTP sockets are needed on the node for that).
 * IPv6 addresses are written as the maps
 * give them back (RFC 5952), so entries adopted after a restart compare equal.
 */
export function dataplaneSpecs(sp: ServicePortState, ctx: SpecContext): { specs: ServicePortSpec[]; skipped: Skip[] } {
  const backendsOf = (endpoints: ServicePortState['clusterEndpoints']): Backend[] =>
    (endpoints ?? []).map((e) => ({ address: canonicalIp(e.ip), port: e.port }));
  const common = (backends: Backend[]) => ({
    protocol: sp.protocol,
    backends,
    ...(sp.affinityTimeoutSeconds !== undefined ? { affinityTimeoutSeconds: sp.affinityTimeoutSeconds } : {}),
    // Endpoints exist, but none for this path: drop, as kube-proxy does.
    ...(backends.length === 0 && sp.hasAnyEndpoints ? { dropWhenEmpty: true } : {}),
  });
  const internal = backendsOf(sp.internalTrafficPolicy === 'Local' ? sp.localEndpoints : sp.clusterEndpoints);
  const specs: ServicePortSpec[] = sp.clusterIPs.map((address) => ({
    address: canonicalIp(address),
    port: sp.port,
    ...common(internal),
    ...(ctx.clusterSnat ? { snat: ctx.clusterSnat } : {}),
  }));
  if (!sp.externallyAccessible) return { specs, skipped: [] };

  const local = sp.externalTrafficPolicy === 'Local';
  const clusterIP = sp.clusterIPs[0] && canonicalIp(sp.clusterIPs[0]);
  const externalBackends = backendsOf(local ? sp.localEndpoints : sp.clusterEndpoints);
  // Maglev: the table's order (by endpoint), which the maps give back too.
  if (ctx.maglev) externalBackends.sort((a, b) => (endpointOf(a) < endpointOf(b) ? -1 : 1));
  const external = {
    ...common(externalBackends),
    ...(ctx.maglev ? { maglev: ctx.maglev } : {}),
    // Cluster: masqueraded, so replies come back through this node. Local:
    // the client's address kept; a pod goes to the ClusterIP's endpoints.
    ...(local ? (clusterIP ? { internal: { address: clusterIP, port: sp.port } } : {}) : { snat: 'always' as const }),
  };
  const own = new Set([...ctx.nodeAddresses, '127.0.0.1']);
  const at = (address: string) => (own.has(address) ? { address, nodeAddress: true } : { address });
  if (sp.nodePort) {
    for (const address of ctx.nodePortAddresses) specs.push({ ...at(address), port: sp.nodePort, ...external });
  }
  for (const address of sp.externalIPs) specs.push({ ...at(canonicalIp(address)), port: sp.port, ...external });
  const ranges = [...new Set(sp.loadBalancerSourceRanges.map(networkOf))];
  // kube-proxy: where a range holds a node address, the load-balancer IP
  // itself is allowed too (a node reaching its own LB IP leaves from it).
  const fromNode = ranges.some((r) => ctx.nodeAddresses.some((ip) => inCidr(ip, r)));
  for (const lbIP of sp.loadBalancerIPs) {
    const address = canonicalIp(lbIP);
    const host = isIPv4(address) ? 32 : 128;
    const allowed =
      ranges.length === 0 ? [] : [...new Set([...ranges, ...(fromNode ? [`${address}/${host}`] : [])])].sort();
    specs.push({ ...at(address), port: sp.port, ...external, ...(allowed.length ? { sourceRanges: allowed } : {}) });
  }
  return { specs, skipped: [] };
}

/** Same entry in the maps: backends in the same order (slot order), same flags. */
function sameSpec(a: ServicePortSpec, b: ServicePortSpec): boolean {
  return (
    a.affinityTimeoutSeconds === b.affinityTimeoutSeconds &&
    a.snat === b.snat &&
    a.maglev === b.maglev &&
    !!a.nodeAddress === !!b.nodeAddress &&
    a.internal?.address === b.internal?.address &&
    a.internal?.port === b.internal?.port &&
    (a.sourceRanges ?? []).join() === (b.sourceRanges ?? []).join() &&
    (a.backends.length === 0 ? !!a.dropWhenEmpty === !!b.dropWhenEmpty : true) &&
    a.backends.length === b.backends.length &&
    a.backends.every((x, i) => x.address === b.backends[i]?.address && x.port === b.backends[i]?.port)
  );
}

export class EbpfProxier implements Proxier {
  readonly mode = 'ebpf' as const;
  readonly family: IPFamily;
  readonly #opts: EbpfProxierOptions;
  #dp: EbpfDataplane | undefined;
  #watcher: InterfaceWatcher | undefined;
  /** Which dataplane entries each service port owns. */
  #owned = new Map<ServicePortName, string[]>();
  /** The owner of each dataplane entry, to refuse a second service claiming the same address and port. */
  #owner = new Map<string, ServicePortName>();
  /** Which program translates on each interface we attached to, and why an uplink has no XDP. */
  readonly #hooks = new Map<number, { hook: 'xdp' | 'tc' | 'none'; reason?: string }>();
  /** The context the programmed entries were made in: when it changes, every entry is planned again. */
  #context: SpecContext | undefined;
  /** Service ports the last sync could not fit into sy_services_v3: retried by every sync. */
  readonly #refused = new Set<ServicePortName>();
  /** The pinned maps as the kernel holds them, for the ops API (its own read-only handles). */
  readonly maps: MapCatalog;
  /** sy_drops through its pin, for the metrics and /v1/status. */
  readonly #drops: DropCounters;

  constructor(opts: EbpfProxierOptions) {
    this.#opts = opts;
    this.family = opts.family ?? 'IPv4';
    this.maps = new MapCatalog({ pinRoot: opts.pinRoot });
    this.#drops = new DropCounters({ pinRoot: opts.pinRoot });
  }

  get dataplane(): EbpfDataplane {
    if (!this.#dp) throw new Error('ebpf proxier is not started');
    return this.#dp;
  }

  get interfaces(): Link[] {
    return this.#watcher?.links ?? [];
  }

  async start(): Promise<void> {
    const { logger } = this.#opts;
    if (this.#opts.shared) {
      // The other family loaded, attached and adopted the dataplane.
      this.#dp = this.#opts.shared.dataplane;
      this.#logAdopted();
      return;
    }
    if (this.#opts.maps) {
      this.#dp = await EbpfDataplane.adopt(this.#opts.maps);
      this.#logAdopted();
      return;
    }
    assertBpffs(this.#opts.pinRoot);
    mkdirSync(this.#opts.pinRoot, { recursive: true });
    this.#dp = await EbpfDataplane.open({
      objectDir: this.#opts.objectDir,
      pinRoot: this.#opts.pinRoot,
      ...(this.#opts.mapSizes ? { mapSizes: this.#opts.mapSizes } : {}),
      onMigrated: (m) => {
        const dropped = m.entries - m.entriesCopied;
        logger[dropped ? 'warn' : 'info'](
          {
            map: m.map,
            pinPath: m.pinPath,
            oldSize: m.oldMaxEntries,
            newSize: m.newMaxEntries,
            entries: m.entries,
            entriesCopied: m.entriesCopied,
          },
          dropped
            ? `resized pinned map ${m.map}: ${dropped} of ${m.entries} entries did not fit the new size and were dropped`
            : `resized pinned map ${m.map} from ${m.oldMaxEntries} to ${m.newMaxEntries} entries, copying its ${m.entriesCopied} entries`,
        );
      },
    });
    this.#logAdopted();
    if (this.#opts.cgroupRoot) this.#attachSocketHooks(this.#opts.cgroupRoot);
    const dp = this.#dp;
    this.#watcher = new InterfaceWatcher({
      devices: this.#opts.devices,
      logger,
      onAdded: (link) => this.#attach(dp, link),
      onRemoved: (link) => {
        dp.forgetInterface(link.ifindex);
        this.#hooks.delete(link.ifindex);
        logger.info({ interface: link.name, ifindex: link.ifindex }, 'interface gone');
      },
    });
    this.#watcher.start();
  }

  /**
   * The programs an interface needs: tc ingress on every one, and on an
   * uplink native XDP in front of it (unless --bpf-lb-acceleration=disabled)
   * where the driver has it and no other program holds the hook. XDP
   * translates what it can send itself and marks every packet it passes, so
   * tc behind it translates nothing twice and routes what XDP could not
   * (bpf/lib/fib.h). With native, an uplink without XDP gets nothing.
   */
  #attach(dp: EbpfDataplane, link: Link): void {
    const { logger } = this.#opts;
    const accel = this.#opts.acceleration ?? 'best-effort';
    const at = { interface: link.name, ifindex: link.ifindex };
    // A virtual device hands on what its peer sent with the TCP/UDP checksum
    // still to be finished (a veth's CHECKSUM_PARTIAL): tc's checksum
    // helpers know, XDP cannot tell. Best-effort leaves them to tc; native
    // is the operator saying the peer sends complete checksums.
    const virtual = link.uplink && accel === 'best-effort' && link.kind !== undefined;
    if (!link.uplink || accel === 'disabled' || virtual) {
      dp.attachInterface({ ifindex: link.ifindex });
      if (EbpfDataplane.detachXdp({ ifindex: link.ifindex })) logger.info(at, 'detached our XDP program');
      const reason = virtual
        ? `a virtual device (${link.kind}): XDP there only with --bpf-lb-acceleration=native`
        : undefined;
      this.#hooks.set(link.ifindex, { hook: 'tc', ...(reason ? { reason } : {}) });
      logger.info({ ...at, ...(reason ? { reason } : {}) }, 'attached tc ingress');
      return;
    }
    // tc first: from the moment XDP runs, what it hands on must find tc there.
    dp.attachInterface({ ifindex: link.ifindex });
    // XDP_TX only from a physical NIC (sy_uplinks): a veth delivers it late.
    const r = dp.attachXdp({ ifindex: link.ifindex, xdpTx: link.kind === undefined });
    if ('attached' in r) {
      this.#hooks.set(link.ifindex, { hook: 'xdp' });
      logger.info(at, 'attached XDP (native) to uplink, tc ingress behind it');
      return;
    }
    const reason = r.refused;
    if (accel === 'native') {
      dp.detachTcFrom(link.ifindex);
      this.#hooks.set(link.ifindex, { hook: 'none', reason });
      logger.error(
        { ...at, reason },
        `uplink ${link.name} refused: ${reason}; with --bpf-lb-acceleration=native nothing is attached there`,
      );
      return;
    }
    this.#hooks.set(link.ifindex, { hook: 'tc', reason });
    logger.warn({ ...at, reason }, `uplink ${link.name} has no XDP (${reason}): tc ingress translates there`);
  }

  async sync(req: SyncRequest): Promise<SyncResult> {
    const dp = this.dataplane;
    const result: SyncResult = { written: 0, removed: 0, skipped: [] };
    const v6 = this.family === 'IPv6';
    const clusterCidrs = (this.#opts.clusterCidrs ?? []).filter((c) => isIPv4(c.split('/')[0]!) !== v6).map(networkOf);
    const ctx = specContext(req.node, {
      family: this.family,
      masqueradeAll: !!this.#opts.masqueradeAll,
      clusterCidrs,
      ...(this.#opts.maglevTableSize ? { maglev: this.#opts.maglevTableSize } : {}),
    });
    // The node's addresses changed (DHCP, a new uplink): every NodePort
    // entry may move, so the sync is a full one.
    const full = req.full || JSON.stringify(ctx) !== JSON.stringify(this.#context);
    const snatAddress = ctx.nodeAddresses[0];
    // Said once when the node has (or comes to have) no address of the family, not every sync.
    if (!snatAddress && (this.#context === undefined || this.#context.nodeAddresses[0] !== undefined))
      this.#opts.logger.warn(
        `the node has no ${this.family} address yet: ${this.family} flows to source-NAT are dropped until it has one`,
      );
    // This family's half of the node-wide settings; the other family's stays.
    dp.configure({
      family: this.family,
      ...(v6 ? { snatAddress: undefined, snatAddress6: snatAddress } : { snatAddress }),
      natPorts: NAT_PORTS,
      clusterCidrs,
    });
    // A partial sync also retries the ports a full map refused last time.
    const names = full ? req.desired.keys() : new Set([...req.changed, ...this.#refused]).values();
    const wanted = new Map<string, { spec: ServicePortSpec; owner: ServicePortName }>();
    const touched = new Set<ServicePortName>(full ? [] : [...req.changed, ...req.removed.keys()]);

    // The request's maps are this sync's own (the loop builds new ones for
    // the next): yielding while reading them is safe.
    let n = 0;
    for (const name of names) {
      if (++n % YIELD_EVERY === 0) await yieldToEventLoop();
      const sp = req.desired.get(name);
      if (!sp) continue;
      const { specs, skipped } = dataplaneSpecs(sp, ctx);
      result.skipped.push(...skipped);
      for (const spec of specs) {
        const key = keyOf(spec);
        const other = wanted.get(key)?.owner ?? (full ? undefined : this.#owner.get(key));
        if (other !== undefined && other !== name && !touched.has(other)) {
          result.skipped.push({
            name,
            reason: `${spec.address}:${spec.port}/${spec.protocol} is already served by ${other}`,
          });
          continue;
        }
        wanted.set(key, { spec, owner: name });
      }
    }

    // Entries to remove: on a full sync, everything programmed but not
    // wanted; on a partial one, what the touched service ports owned.
    // A partial sync looks up only the entries it touches: it must not cost
    // a copy of all 10,000 programmed service ports to change one endpoint.
    // This family's entries only: the other family's proxier owns the rest of the shared maps.
    const all = full ? new Map(this.#programmed().map((p) => [keyOf(p), p])) : undefined;
    const programmed = { get: (k: string) => (all ? all.get(k) : dp.programmedPort(k)) };
    const stale = all
      ? [...all.keys()].filter((k) => !wanted.has(k))
      : [...touched].flatMap((n) => this.#owned.get(n) ?? []).filter((k) => !wanted.has(k));
    // A full sync of 10,000 service ports is some 200,000 entries: the
    // dataplane writes a large change in batches on the thread pool, so
    // /healthz and the ops API keep answering meanwhile (the sync loop never
    // runs two syncs at once), and a small one element by element.
    const remove = stale.flatMap((key) => programmed.get(key) ?? []);
    const upsert: ServicePortSpec[] = [];
    // New entries beyond what sy_services_v3 holds are refused here, each
    // reported, rather than by the kernel part-way through the write: a full
    // map must not stop the ports that fit (and every change to those
    // already served) from being programmed. They are tried again at every
    // sync until room is made.
    const room = dp.serviceRoom();
    let free = room.capacity - (room.used - remove.length);
    this.#refused.clear();
    for (const [key, { spec, owner }] of wanted) {
      if (++n % YIELD_EVERY === 0) await yieldToEventLoop();
      const cur = programmed.get(key);
      if (!cur && free <= 0) {
        wanted.delete(key);
        this.#refused.add(owner);
        result.skipped.push({
          name: owner,
          reason: `sy_services_v3 is full (${room.capacity} entries): ${spec.address}:${spec.port}/${spec.protocol} is not programmed; raise it with --bpf-map-sizes`,
        });
        continue;
      }
      if (!cur) free--;
      if (!cur || !sameSpec(cur, spec)) upsert.push(spec);
    }
    const { written, removed } = await dp.apply({ upsert, remove });
    result.written += written;
    result.removed += removed;

    this.#context = ctx;
    // Ownership follows what was written.
    if (full) {
      this.#owned.clear();
      this.#owner.clear();
    } else {
      for (const n of touched) {
        for (const k of this.#owned.get(n) ?? []) if (this.#owner.get(k) === n) this.#owner.delete(k);
        this.#owned.delete(n);
      }
    }
    for (const [key, { owner }] of wanted) {
      this.#owner.set(key, owner);
      this.#owned.set(owner, [...(this.#owned.get(owner) ?? []), key]);
    }

    // Last, once no new flow can choose them: UDP flows still on a removed
    // backend choose again (kube-proxy clears their conntrack entries too).
    // Free when no UDP backend went.
    const cleared = await dp.clearStaleUdpFlows();
    if (cleared > 0)
      this.#opts.logger.debug({ entries: cleared }, 'cleared conntrack entries of UDP flows to removed backends');
    return result;
  }

  /** The programmed entries of this proxier's family. */
  #programmed() {
    const v6 = this.family === 'IPv6';
    return this.dataplane.programmed().filter((p) => isIPv4(p.address) !== v6);
  }

  #logAdopted(): void {
    const adopted = this.#programmed().length;
    if (adopted)
      this.#opts.logger.info(
        { servicePorts: adopted, family: this.family },
        'adopted the service ports an earlier run left in the pinned maps',
      );
  }

  /** The started dataplane, or undefined before start and after stop. */
  get started(): EbpfDataplane | undefined {
    return this.#dp;
  }

  view(): ProxierView {
    // A proxier sharing the other family's dataplane counts its own entries;
    // the maps, interfaces and drops are the sharer's to show (once).
    const sharing = this.#opts.shared !== undefined;
    return {
      programmedCount: () => (this.#dp ? this.#programmed().length : null),
      mapCount: () => (sharing ? null : this.maps.names().length),
      interfaces: () =>
        sharing
          ? []
          : this.interfaces.map((l) => ({ name: l.name, ifindex: l.ifindex, ...this.#hooks.get(l.ifindex) })),
      servicePorts: (ports) => {
        const dp = this.#dp;
        if (!dp) return undefined;
        return ports.map((sp): ServicePortEntries => {
          const programmed = [];
          // Every entry the port owns: ClusterIPs, then its external addresses.
          for (const key of this.#owned.get(sp.name) ?? []) {
            const p = dp.programmedPort(key);
            if (p)
              programmed.push({
                id: dp.programmedId(key)!,
                address: p.address,
                port: p.port,
                protocol: p.protocol,
                backends: p.backends.map(endpointOf),
              });
          }
          return { programmed };
        });
      },
      ...(sharing
        ? {}
        : {
            drops: () => this.#drops.read(),
            tableUsage: async () =>
              (await this.maps.summaries()).map((m) => ({ name: m.name, entries: m.entries, capacity: m.maxEntries })),
          }),
    };
  }

  /** Leaves every attachment and map in place; the node keeps forwarding. */
  async stop(): Promise<void> {
    if (this.#opts.shared) {
      this.#dp = undefined; // the sharer's to release
      return;
    }
    this.#watcher?.stop();
    this.#dp?.release();
    this.#dp = undefined;
    this.maps.close();
    this.#drops.close();
  }

  /** Detaches from every interface and cgroup, and removes the pinned maps and links. */
  async cleanup(): Promise<void> {
    await this.stop();
    if (this.#opts.shared) return; // the sharer removes what both used
    cleanupEbpf({ pinRoot: this.#opts.pinRoot, devices: this.#opts.devices, logger: this.#opts.logger });
  }

  /**
   * The socket hooks, as pinned links so they outlive this process. The new
   * links are attached before the old ones go: for a moment both translate,
   * and the second finds an already-translated address it does not know.
   */
  #attachSocketHooks(cgroup: string): void {
    const dir = join(this.#opts.pinRoot, 'links');
    mkdirSync(dir, { recursive: true });
    const old = readdirSync(dir);
    const generation = `${process.pid}-${Date.now()}`;
    const links = this.dataplane.attachCgroup(cgroup, { allowRootCgroup: true });
    links.forEach((l, i) => {
      if (l instanceof CgroupAttachment) l.pin(join(dir, `sock-${i}-${generation}`));
    });
    for (const name of old) detachPinnedLink(join(dir, name));
    this.#opts.logger.info({ cgroup, links: links.length }, 'attached socket hooks');
  }
}

const BPF_FS_MAGIC = 0xcafe4a11;

export class BpffsError extends Error {
  readonly code = ProxierErrorCode.BpffsMissing;
}

/**
 * The pins must live on a BPF filesystem. Checked before anything is created:
 * on a plain /sys (a container without the host's /sys/fs/bpf mounted) the
 * maps could not be pinned, and Node's recursive mkdir never returns there.
 */
export function assertBpffs(pinRoot: string): void {
  let dir = pinRoot;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const type = statfsSync(dir).type;
  if (type !== BPF_FS_MAGIC) {
    throw new BpffsError(
      `--bpffs-root ${pinRoot} is not on a BPF filesystem (${dir} has filesystem type 0x${type.toString(16)}); ` +
        "mount one there (mount -t bpf bpf /sys/fs/bpf) or, in a pod, mount the host's /sys/fs/bpf",
    );
  }
}

function detachPinnedLink(path: string): void {
  try {
    CgroupAttachment.openPinned(path).detach();
  } catch {
    // Already gone.
  }
  rmSync(path, { force: true });
}

/** --cleanup: removes what any ebpf-mode run left on this node, without loading anything. */
export function cleanupEbpf(opts: { pinRoot: string; devices: string[]; logger: Logger }): void {
  const { pinRoot, logger } = opts;
  const pinned = existsSync(pinRoot);
  const watcher = new InterfaceWatcher({ devices: opts.devices, logger, onAdded: () => {}, onRemoved: () => {} });
  watcher.rescan();
  for (const link of watcher.links) {
    EbpfDataplane.detachInterface({ ifindex: link.ifindex });
    EbpfDataplane.detachXdp({ ifindex: link.ifindex });
  }
  const links = join(pinRoot, 'links');
  if (existsSync(links)) for (const name of readdirSync(links)) detachPinnedLink(join(links, name));
  rmSync(pinRoot, { recursive: true, force: true });
  logger[pinned ? 'info' : 'debug']({ pinRoot, interfaces: watcher.links.length }, 'ebpf mode cleaned up');
}
