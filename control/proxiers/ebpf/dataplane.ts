// The eBPF dataplane as a proxier sees it: load the programs and their pinned
// maps, attach them, and program service ports. It decides nothing about
// Kubernetes; it writes what it is told, in an order that never shows a packet
// a half-written service.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  BpfError,
  BpfMap,
  BpfObject,
  TcAttachment,
  XdpAttachment,
  writeIpv6,
  type Attachment,
  type PinnedMapMigration,
} from '../../bpf/index.js';
import { canonicalIp, cidrOfKey, isCidr, keyPrefixLen, networkOf } from './addresses.js';
import { IdAllocator } from './ids.js';
import { openMaps, type MapBackend } from './map-backend.js';
import type { MapName } from './maps.js';
import { decodeFlow, decodeFlows } from './flows.js';
import { isPrime } from './maglev.js';
import { UPLINK_F_XDP_TX } from './maps.js';
import { protocolNumber } from './protocol.js';
import { readMaps } from './read-back.js';
import {
  deleteAffinityWhere,
  planRemove,
  planUpsert,
  writeBatch,
  writeRemove,
  writeUpsert,
  type RemovePlan,
  type UpsertPlan,
} from './service-writes.js';
import { StaleUdpBackends } from './stale-flows.js';
import {
  endpointOf,
  keyOf,
  type ProgrammedServicePort,
  type ServicePortKey,
  type ServicePortSpec,
  type ServiceState,
} from './vocabulary.js';

// The words a dataplane's users speak, where they have always been found.
export {
  keyOf,
  type Backend,
  type ProgrammedServicePort,
  type ServicePortKey,
  type ServicePortSpec,
} from './vocabulary.js';

/** One sync's worth of changes, for apply(). */
export interface DataplaneChanges {
  /** Service ports to program, new or changed. */
  upsert: readonly ServicePortSpec[];
  /** Service ports to remove; ones not programmed are skipped. */
  remove: readonly ServicePortKey[];
}

export interface ConntrackFlow {
  direction: 'original' | 'reply';
  protocol: string;
  source: string;
  destination: string;
  /** ORIGINAL: the backend the flow goes to; REPLY: the service address it is answered from. */
  translatedTo: string;
  hairpin: boolean;
  /** Source-NATed to the node's address; natSource is what the backend sees. */
  snat: boolean;
  natSource?: string;
  serviceId: number;
  backendId: number;
  idleSeconds: number;
}

/** Node-wide settings of the dataplane (sy_config_v2, sy_cluster_cidr_v2). */
export interface DataplaneSettings {
  /** The IPv4 address source-NATed IPv4 flows leave with; undefined while the node has none (such flows are dropped, counted). */
  snatAddress: string | undefined;
  /** The same for IPv6 flows. */
  snatAddress6?: string | undefined;
  /** The ports NAT gives them, inclusive. */
  natPorts: { min: number; max: number };
  /** The cluster's pod ranges (--cluster-cidr), "network/bits" of either family. */
  clusterCidrs: readonly string[];
  /**
   * Only this family's half: its SNAT address and its cluster CIDRs are
   * set, the other family's left as the maps hold them (the proxier of each
   * family configures its own). Both when left out.
   */
  family?: 'IPv4' | 'IPv6';
}

/**
 * The ports source NAT gives flows: above the NodePort range (kube-proxy's
 * default 30000-32767), as Cilium's default. The node's own sockets are
 * never collided with: the programs skip a port a socket of the node holds
 * toward the same backend (bpf/lib/conntrack.h).
 */
export const NAT_PORTS = { min: 32768, max: 65535 } as const;

/** max_entries of each map; load-time settings. */
export type MapSizes = Partial<Record<MapName, number>>;

export interface DataplaneOptions {
  /** Folder with tc.bpf.o and sock.bpf.o (build/bpf). */
  objectDir: string;
  /** A bpffs folder: maps are pinned here and found again on restart. */
  pinRoot: string;
  mapSizes?: MapSizes;
  /** Source address for hairpin flows (default 169.254.42.1). */
  hairpinAddress?: string;
  /** The same for IPv6 hairpin flows (default 100::a9fe:2a01, in the discard-only prefix). */
  hairpinAddress6?: string;
  /** Told of each pinned map moved to a new size from mapSizes (for the log). */
  onMigrated?: (m: PinnedMapMigration) => void;
}

/**
 * Our filter's identity on every tc ingress hook: priority 1 runs before
 * anything else on the hook; the handle ("SY") tells our filter from others'.
 */
export const TC_FILTER = { priority: 1, handle: 0x5359 } as const;

/** Our XDP program's name, as the kernel reports it: how an earlier run's attachment is told from another owner's. */
export const XDP_PROGRAM = 'sy_xdp_ingress';

/** An uplink's XDP hook: ours now, or why not (another owner's program, a driver without native XDP). */
export type XdpResult = { attached: XdpAttachment } | { refused: string };

const UDP = protocolNumber('UDP');
/** Conntrack entries decoded between two turns of the event loop. */
const DECODE_CHUNK = 8192;
/**
 * apply() writes this many service ports or fewer element by element, more
 * in batches. Each batch phase is a round trip through the thread pool: for
 * one service port of 10 endpoints that costs more than its ~20 direct
 * syscalls (0.11 against 0.08 ms here), for two the same, from four on less
 * (0.19 against 0.33 ms).
 */
const ELEMENT_WRITES_UP_TO = 2;
/** Service ports checked, or planned, between two turns of the event loop. */
const PLAN_CHUNK = 250;

/** IPv4 "network/bits" with the host bits zero. */
export function isIPv4Cidr(cidr: string): boolean {
  return isIPv4(cidr.split('/')[0] ?? '') && isCidr(cidr);
}

/** A prefix as sy_cluster_cidr_v2 keys it: 128-bit prefix length (IPv4: 96 + its own). */
const cidrKey = (cidr: string) => ({ prefixlen: keyPrefixLen(cidr), addr: cidr.split('/')[0]! });

/**
 * The names earlier layouts of the maps had (bpf/lib/maps.h): pins an
 * earlier version left. Their layout is not this object's, so they are
 * never adopted; once the new objects are loaded (the earlier programs keep
 * the maps they hold until replaced, moments later), their pins are
 * removed so the node keeps no stale table and /v1/maps shows only live
 * ones. Their flows are not carried over (a hitless upgrade across layouts
 * is a converter's job).
 */
export const RETIRED_MAPS = [
  'sy_services',
  'sy_services_v2',
  'sy_backends',
  'sy_conntrack',
  'sy_conntrack_v2',
  'sy_affinity',
  'sy_sock_revnat',
  'sy_src_ranges',
  'sy_cluster_cidr',
  'sy_config',
  'sy_frags',
] as const;

/** The 16 bytes of an IPv6 address (a load-time global). */
function ipv6Bytes(addr: string): Buffer {
  const out = Buffer.alloc(16);
  writeIpv6(out, 0, addr);
  return out;
}

function validate(spec: ServicePortSpec): void {
  const bad = (what: string) => new RangeError(`service port ${spec.address}:${spec.port}/${spec.protocol}: ${what}`);
  const family = isIP(spec.address);
  if (!family) throw bad(`"${spec.address}" is not an IP address`);
  const ofFamily = (ip: string) => isIP(ip) === family;
  const name = family === 4 ? 'IPv4' : 'IPv6';
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)
    throw bad(`port ${spec.port} is out of range`);
  if (!['TCP', 'UDP', 'SCTP'].includes(spec.protocol)) throw bad(`protocol ${spec.protocol} is not TCP, UDP or SCTP`);
  for (const b of spec.backends) {
    if (!ofFamily(b.address)) throw bad(`backend "${b.address}" is not an ${name} address`);
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw bad(`backend port ${b.port} is out of range`);
  }
  if (spec.backends.length > 0xffff) throw bad(`${spec.backends.length} backends is more than a service entry counts`);
  const t = spec.affinityTimeoutSeconds;
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > 86400))
    throw bad(`affinity timeout ${t} is not 1..86400 seconds`);
  if (spec.internal && !ofFamily(spec.internal.address))
    throw bad(`ClusterIP "${spec.internal.address}" for in-cluster clients is not an ${name} address`);
  for (const r of spec.sourceRanges ?? [])
    if (!isCidr(r) || !ofFamily(r.split('/')[0]!)) throw bad(`source range "${r}" is not an ${name} network/bits`);
  if (
    spec.maglev !== undefined &&
    (!isPrime(spec.maglev) || spec.maglev > 0xffff || spec.maglev < spec.backends.length)
  )
    throw bad(`Maglev table size ${spec.maglev} is not a prime of at most 65535 and at least the backend count`);
}

export class EbpfDataplane {
  /** The loaded objects; none for a dataplane over given maps (adopt()). */
  readonly #tc: BpfObject | undefined;
  readonly #sock: BpfObject | undefined;
  readonly #xdp: BpfObject | undefined;
  readonly #maps: MapBackend;
  readonly #services = new Map<string, ServiceState>();
  /** Replaced, not cleared, when a failed batch makes us re-read the maps. */
  #ids = { services: new IdAllocator(), backends: new IdAllocator() };
  readonly #attachments: Attachment[] = [];
  /** UDP backends removed since the conntrack table was last cleared of their flows. */
  readonly #staleUdp = new StaleUdpBackends();

  private constructor(maps: MapBackend, objects?: { tc: BpfObject; sock: BpfObject; xdp: BpfObject }) {
    this.#tc = objects?.tc;
    this.#sock = objects?.sock;
    this.#xdp = objects?.xdp;
    this.#maps = maps;
  }

  /**
   * A dataplane over maps it is given (the unit tests' in-memory ones):
   * nothing is loaded or attached; it adopts what the maps hold, as open()
   * does the pinned maps, and programs them. Attaching throws.
   */
  static async adopt(maps: MapBackend): Promise<EbpfDataplane> {
    const dp = new EbpfDataplane(maps);
    await dp.#adoptProgrammed();
    return dp;
  }

  /**
   * Loads both objects against the maps pinned under `pinRoot`: created on the
   * first run, reused (with their flows) on every later one. A pinned map of
   * another size than mapSizes says is copied into one of the new size first;
   * one of another layout is refused (ERR_BPF_MAP_INCOMPATIBLE).
   */
  static async open(opts: DataplaneOptions): Promise<EbpfDataplane> {
    const hairpin = opts.hairpinAddress ?? '169.254.42.1';
    if (!isIPv4(hairpin)) throw new RangeError(`hairpin address "${hairpin}" is not IPv4`);
    const hairpin6 = opts.hairpinAddress6 ?? '100::a9fe:2a01';
    if (!isIPv6(hairpin6)) throw new RangeError(`hairpin address "${hairpin6}" is not IPv6`);
    const hairpinGlobals = {
      hairpin_snat_addr: Buffer.from(hairpin.split('.').map(Number)),
      hairpin_snat_addr6: ipv6Bytes(hairpin6),
    };
    const common = {
      pinRoot: opts.pinRoot,
      maxEntries: opts.mapSizes,
      ...(opts.onMigrated ? { onMigrated: opts.onMigrated } : {}),
    };
    const tc = await BpfObject.loadMigrating(join(opts.objectDir, 'tc.bpf.o'), { ...common, globals: hairpinGlobals });
    let sock: BpfObject;
    let xdp: BpfObject;
    try {
      sock = await BpfObject.loadMigrating(join(opts.objectDir, 'sock.bpf.o'), common);
    } catch (e) {
      tc.close();
      throw e;
    }
    try {
      xdp = await BpfObject.loadMigrating(join(opts.objectDir, 'xdp.bpf.o'), { ...common, globals: hairpinGlobals });
    } catch (e) {
      tc.close();
      sock.close();
      throw e;
    }
    EbpfDataplane.removeRetiredPins(opts.pinRoot);
    const dp = new EbpfDataplane(openMaps(tc), { tc, sock, xdp });
    await dp.#adoptProgrammed();
    return dp;
  }

  /** Removes the pins of maps of earlier layouts (RETIRED_MAPS) under `pinRoot`; returns their names. */
  static removeRetiredPins(pinRoot: string): string[] {
    const removed: string[] = [];
    for (const name of RETIRED_MAPS) {
      const path = join(pinRoot, name);
      if (!existsSync(path)) continue;
      BpfMap.unpin(path);
      removed.push(name);
    }
    return removed;
  }

  /**
   * tc ingress on a pod-facing veth or an uplink. Attaching again replaces our
   * filter in place (same priority and handle), so a restarted proxy swaps
   * programs without a gap.
   */
  attachInterface(opts: { ifindex: number; netns?: string }): TcAttachment {
    const prog = this.#loaded('tc').program('sy_tc_ingress');
    try {
      const a = prog.attachTc({ ifindex: opts.ifindex, direction: 'ingress', netns: opts.netns, ...TC_FILTER });
      this.#attachments.push(a);
      return a;
    } finally {
      prog.close();
    }
  }

  /**
   * Native (driver) XDP on an uplink: nothing there, or our own program of
   * an earlier run, replaced in place. Another owner's program (a CNI's, an
   * operator's; in either mode) is never replaced: the answer says whose it
   * is, and the caller uses tc there or nothing. A driver without native XDP
   * is refused too; generic XDP is never used (it is slower than tc).
   */
  attachXdp(opts: { ifindex: number; netns?: string; xdpTx?: boolean }): XdpResult {
    const where = { ifindex: opts.ifindex, ...(opts.netns ? { netns: opts.netns } : {}) };
    for (const mode of ['generic', 'driver'] as const) {
      const cur = XdpAttachment.attached({ ...where, mode });
      if (cur && cur.name !== XDP_PROGRAM)
        return { refused: `another program holds its XDP hook (${mode} mode: id ${cur.id}, "${cur.name}")` };
    }
    const ours = XdpAttachment.attached({ ...where, mode: 'driver' });
    const prog = this.#loaded('xdp').program(XDP_PROGRAM);
    // Before the program runs there: how it may send what it routes.
    this.#maps.uplinks.set(opts.ifindex, { flags: opts.xdpTx ? UPLINK_F_XDP_TX : 0 });
    try {
      const a = prog.attachXdp({ ...where, mode: 'driver', ...(ours ? { replaceId: ours.id } : {}) });
      this.#attachments.push(a);
      return { attached: a };
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      if (e.errno === 95) return { refused: 'its driver has no native XDP' }; // EOPNOTSUPP
      if (e.errno === 16 || e.errno === 17) return { refused: 'another program took its XDP hook meanwhile' }; // EBUSY, EEXIST
      return { refused: `XDP attach failed: ${e.message}` };
    } finally {
      prog.close();
    }
  }

  /** Our XDP program off an interface (an earlier run's too); another owner's is left. */
  static detachXdp(opts: { ifindex: number; netns?: string }): boolean {
    const where = { ifindex: opts.ifindex, mode: 'driver' as const, ...(opts.netns ? { netns: opts.netns } : {}) };
    const cur = XdpAttachment.attached(where);
    if (!cur || cur.name !== XDP_PROGRAM) return false;
    new XdpAttachment(where, cur.id).detach();
    return true;
  }

  /** Our tc filter off an interface that now has XDP instead. */
  detachTcFrom(ifindex: number): void {
    EbpfDataplane.detachInterface({ ifindex });
    this.forgetInterface(ifindex);
  }

  /** The interface is gone (the kernel removed its programs with it): forget our handles. */
  forgetInterface(ifindex: number): void {
    this.#maps.uplinks.delete(ifindex);
    for (let i = this.#attachments.length - 1; i >= 0; i--) {
      const a = this.#attachments[i]!;
      if ((a instanceof TcAttachment || a instanceof XdpAttachment) && a.opts.ifindex === ifindex)
        this.#attachments.splice(i, 1);
    }
  }

  /** Removes our tc filter from an interface, whoever attached it (clean-up). */
  static detachInterface(opts: { ifindex: number; netns?: string }): void {
    new TcAttachment(
      { ifindex: opts.ifindex, direction: 'ingress', ...TC_FILTER, ...(opts.netns ? { netns: opts.netns } : {}) },
      false,
    ).detach();
  }

  /** The socket hooks for node-originated traffic, on a cgroup v2 directory. */
  attachCgroup(cgroup: string, opts: { allowRootCgroup?: boolean } = {}): Attachment[] {
    const names = [
      'sy_sock4_connect',
      'sy_sock4_sendmsg',
      'sy_sock4_recvmsg',
      'sy_sock4_getpeername',
      'sy_sock4_egress',
      'sy_sock6_connect',
      'sy_sock6_sendmsg',
      'sy_sock6_recvmsg',
      'sy_sock6_getpeername',
    ];
    const done: Attachment[] = [];
    try {
      for (const name of names) {
        const prog = this.#loaded('sock').program(name);
        try {
          done.push(prog.attachCgroup({ cgroup, allowRootCgroup: opts.allowRootCgroup }));
        } finally {
          prog.close();
        }
      }
    } catch (e) {
      for (const a of done) a.detach();
      throw e;
    }
    this.#attachments.push(...done);
    return done;
  }

  /**
   * Programs one service port. Order: backends, then slots, then the service
   * entry with its count, then stale slots and backends. A packet in flight
   * sees the old service or the new one, each complete.
   */
  upsertService(spec: ServicePortSpec): void {
    validate(spec);
    const key = keyOf(spec);
    const plan = planUpsert(spec, key, this.#services.get(key), this.#ids);
    writeUpsert(this.#maps, plan);
    this.#committed(plan);
  }

  /** Removes a service port: the entry first, so no new flow finds it, then its slots and backends. */
  deleteService(key: ServicePortKey): boolean {
    const state = this.#services.get(keyOf(key));
    if (!state) return false;
    const plan = planRemove(state);
    writeRemove(this.#maps, plan);
    this.#removed(plan);
    return true;
  }

  /**
   * A sync's changes. One or two service ports are written element by
   * element (ELEMENT_WRITES_UP_TO); more go in batches, a phase at a time
   * across all of them (service-writes.ts writeBatch(): removals, then new
   * backends, slots, service entries, stale slots and backends). 10,000
   * service ports of 10 endpoints are some sixty batch calls instead of
   * 200,000 single syscalls, and the kernel works on the thread pool while
   * the event loop turns. Every spec is checked before the first write. Ids
   * freed by the batch are reused only after it: nothing it writes can point
   * at an entry it deletes.
   *
   * If a write fails (batch or element by element), what this dataplane
   * believes is programmed is read back from the maps (as at start-up) and
   * what no service entry reaches is deleted before the error is thrown, so
   * the retried sync changes what differs from the truth and no entry or id
   * is left behind.
   */
  async apply(changes: DataplaneChanges): Promise<{ written: number; removed: number }> {
    const keys = new Set<string>();
    for (let i = 0; i < changes.upsert.length; i++) {
      if (i > 0 && i % PLAN_CHUNK === 0) await yieldToEventLoop();
      const spec = changes.upsert[i]!;
      validate(spec);
      const key = keyOf(spec);
      if (keys.has(key))
        throw new RangeError(`service port ${spec.address}:${spec.port}/${spec.protocol} is twice in one change`);
      keys.add(key);
    }
    const removeKeys = new Set(changes.remove.map(keyOf).filter((k) => this.#services.has(k)));
    for (const key of removeKeys) {
      if (keys.has(key))
        throw new RangeError(`service port ${key.replaceAll('|', ' ')} is both removed and written in one change`);
    }
    if (changes.upsert.length + removeKeys.size <= ELEMENT_WRITES_UP_TO) {
      try {
        for (const key of removeKeys) this.deleteService(this.#services.get(key)!.spec);
        for (const spec of changes.upsert) this.upsertService(spec);
      } catch (e) {
        // As after a failed batch: a write refused part-way (a full map) left
        // the backends and slots before it, reached by no service entry, and
        // their ids taken. Those written before are committed already.
        await this.#recover({ remove: [], upsert: [] });
        throw e;
      }
      return { written: changes.upsert.length, removed: removeKeys.size };
    }

    const remove = [...removeKeys].map((key) => planRemove(this.#services.get(key)!));
    const upsert: UpsertPlan[] = [];
    for (let i = 0; i < changes.upsert.length; i++) {
      if (i > 0 && i % PLAN_CHUNK === 0) await yieldToEventLoop();
      const spec = changes.upsert[i]!;
      const key = keyOf(spec);
      upsert.push(planUpsert(spec, key, this.#services.get(key), this.#ids));
    }
    try {
      await writeBatch(this.#maps, { remove, upsert });
    } catch (e) {
      await this.#recover({ remove, upsert });
      throw e;
    }
    for (const plan of remove) this.#removed(plan);
    for (const plan of upsert) this.#committed(plan);
    return { written: upsert.length, removed: remove.length };
  }

  /**
   * Writes the node-wide settings: sy_config_v2's one entry, and sy_cluster_cidr_v2
   * to exactly `clusterCidrs` (added before removed, so a client in both the
   * old and the new ranges is never outside them). Writes nothing when
   * nothing differs.
   */
  configure(s: DataplaneSettings): boolean {
    for (const cidr of s.clusterCidrs) {
      if (!isCidr(cidr)) throw new RangeError(`cluster CIDR "${cidr}" is not a network/bits`);
    }
    if (s.snatAddress !== undefined && !isIPv4(s.snatAddress))
      throw new RangeError(`SNAT address "${s.snatAddress}" is not an IPv4 address`);
    if (s.snatAddress6 !== undefined && !isIPv6(s.snatAddress6))
      throw new RangeError(`SNAT address "${s.snatAddress6}" is not an IPv6 address`);
    let changed = false;
    const cur = this.#maps.config.get(0);
    const mine = (family: 'IPv4' | 'IPv6') => s.family === undefined || s.family === family;
    const config = {
      snat_addr4: mine('IPv4') ? (s.snatAddress ?? '0.0.0.0') : (cur?.snat_addr4 ?? '0.0.0.0'),
      snat_addr6: mine('IPv6')
        ? s.snatAddress6 !== undefined
          ? canonicalIp(s.snatAddress6)
          : '::'
        : (cur?.snat_addr6 ?? '::'),
      nat_port_min: s.natPorts.min,
      nat_port_max: s.natPorts.max,
    };
    if (
      !cur ||
      cur.snat_addr4 !== config.snat_addr4 ||
      cur.snat_addr6 !== config.snat_addr6 ||
      cur.nat_port_min !== config.nat_port_min ||
      cur.nat_port_max !== config.nat_port_max
    ) {
      this.#maps.config.set(0, config);
      changed = true;
    }
    const want = new Map(s.clusterCidrs.map((c) => [networkOf(c), cidrKey(c)]));
    const have = new Set<string>();
    for (const raw of [...this.#maps.clusterCidrs.keysEncoded()]) {
      const k = this.#maps.clusterCidrs.key.decode(raw);
      // The other family's ranges are its proxier's.
      if (mine(isIPv4(k.addr) ? 'IPv4' : 'IPv6')) have.add(cidrOfKey(k.addr, k.prefixlen));
    }
    for (const [c, k] of want) {
      if (have.has(c)) continue;
      this.#maps.clusterCidrs.set(k, {});
      changed = true;
    }
    for (const c of have) {
      if (want.has(c)) continue;
      this.#maps.clusterCidrs.delete(cidrKey(c));
      changed = true;
    }
    return changed;
  }

  /** Service entries programmed, and how many sy_services_v3 holds (its max_entries). */
  serviceRoom(): { used: number; capacity: number } {
    return { used: this.#services.size, capacity: this.#maps.services.maxEntries };
  }

  /** One programmed service port by its keyOf() key, without copying the rest. */
  programmedPort(key: string): ServicePortSpec | undefined {
    return this.#services.get(key)?.spec;
  }

  /** The service-port id of one programmed entry by its keyOf() key. */
  programmedId(key: string): number | undefined {
    return this.#services.get(key)?.id;
  }

  /** What this dataplane has programmed, as it believes it. */
  programmed(): ProgrammedServicePort[] {
    return [...this.#services.values()].map((s) => ({ id: s.id, ...s.spec }));
  }

  /** What the kernel's maps hold, decoded: the truth an operator checks against. */
  async servicesInMaps(): Promise<ProgrammedServicePort[]> {
    return (await readMaps(this.#maps)).states.map(({ spec, id }) => ({ id, ...spec }));
  }

  /** The connection-tracking table, decoded. */
  async conntrack(): Promise<ConntrackFlow[]> {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
    const { conntrack } = this.#maps;
    return (await decodeFlows(await conntrack.allEncoded(), conntrack)).map((f) => ({
      direction: f.original ? 'original' : 'reply',
      protocol: f.protocol,
      source: endpointOf(f.source),
      destination: endpointOf(f.destination),
      translatedTo: endpointOf(f.translatedTo),
      hairpin: f.hairpin,
      snat: f.snat,
      ...(f.natSource ? { natSource: endpointOf(f.natSource) } : {}),
      serviceId: f.serviceId,
      backendId: f.backendId,
      idleSeconds: Number(now - f.lastSeenNs) / 1e9,
    }));
  }

  /**
   * Deletes the conntrack entries (both directions) of UDP flows whose backend
   * upsertService() or deleteService() removed since the last call, so each
   * such flow's next datagram chooses again (see stale-flows.ts). Call it
   * after the writes: from then on no new flow can choose a removed backend.
   * It reads the table once, in batches, and only when a UDP backend went;
   * if it fails, the next call clears those flows too. Returns how many
   * entries it deleted.
   */
  async clearStaleUdpFlows(): Promise<number> {
    if (this.#staleUdp.size === 0) return 0;
    const stale = this.#staleUdp.snapshot();
    const { conntrack } = this.#maps;
    const doomed: Buffer[] = [];
    const entries = await conntrack.allEncoded();
    for (let i = 0; i < entries.length; i++) {
      // A full table (262,144 entries by default) is some 300 ms to decode: let /healthz
      // and the ops API answer in between.
      if (i > 0 && i % DECODE_CHUNK === 0) await yieldToEventLoop();
      const [rawKey, rawValue] = entries[i]!;
      const key = conntrack.key.decode(rawKey);
      if (key.proto === UDP && stale.matches(decodeFlow(key, conntrack.value.decode(rawValue)))) doomed.push(rawKey);
    }
    // An entry may have left the LRU since the read: deleting a missing key
    // is not an error. (Were its key re-made meanwhile by a new flow, that
    // flow loses the entry and its next datagram chooses again.)
    if (doomed.length > 0) await conntrack.deleteEncoded(doomed);
    this.#staleUdp.forget(stale);
    return doomed.length;
  }

  /** Detaches what this instance attached. Maps stay pinned, and so do the flows. */
  detachAll(): void {
    for (const a of this.#attachments.splice(0).reverse()) a.detach();
  }

  close(): void {
    this.detachAll();
    this.release();
  }

  /**
   * Closes our handles but leaves every attachment in place: tc filters hold
   * their program, pinned links theirs, so the node keeps forwarding while no
   * proxy runs (a restart or an upgrade).
   */
  release(): void {
    this.#attachments.length = 0;
    this.#tc?.close();
    this.#sock?.close();
    this.#xdp?.close();
  }

  #loaded(which: 'tc' | 'sock' | 'xdp'): BpfObject {
    const obj = which === 'tc' ? this.#tc : which === 'xdp' ? this.#xdp : this.#sock;
    if (!obj) throw new Error(`this dataplane runs over given maps: it loaded no ${which}.bpf.o to attach`);
    return obj;
  }

  /** A written upsert plan: gone backends' ids are free, UDP flows to them are to clear. */
  #committed(plan: UpsertPlan): void {
    const { spec } = plan.state;
    for (const [, bid] of plan.gone) this.#ids.backends.release(bid);
    if (spec.protocol === 'UDP') {
      this.#staleUdp.serving(spec, plan.state.backendIds.keys());
      this.#staleUdp.removed(
        spec,
        plan.gone.map(([ep]) => ep),
      );
    }
    this.#services.set(plan.key, plan.state);
  }

  /** A written remove plan: its ids are free, its UDP flows are to clear. */
  #removed(plan: RemovePlan): void {
    const { spec } = plan.state;
    for (const bid of plan.backends) this.#ids.backends.release(bid);
    if (spec.protocol === 'UDP') this.#staleUdp.removed(spec, plan.state.backendIds.keys());
    this.#ids.services.release(plan.state.id);
    this.#services.delete(keyOf(spec));
  }

  /**
   * After a failed batch the maps hold part of it: our view is rebuilt from
   * them, fresh ids and all, and what the batch wrote but no service entry
   * reaches goes (slots, backend records), so the maps hold no more than
   * they serve. So do affinity entries whose service or backend is not
   * programmed: the programs follow them without checking the service. UDP
   * backends the batch meant to remove count as removed: if one still
   * serves, the retried sync rewrites its service and says so
   * (StaleUdpBackends.serving()).
   */
  async #recover(plans: { remove: readonly RemovePlan[]; upsert: readonly UpsertPlan[] }): Promise<void> {
    for (const { state } of plans.remove)
      if (state.spec.protocol === 'UDP') this.#staleUdp.removed(state.spec, state.backendIds.keys());
    for (const { state, gone } of plans.upsert) {
      if (state.spec.protocol === 'UDP')
        this.#staleUdp.removed(
          state.spec,
          gone.map(([ep]) => ep),
        );
    }
    // Read first: should that fail too, the old view stays, with every id
    // the batch took still taken, so none is handed out twice.
    const { states, straySlots, strayBackends } = await readMaps(this.#maps);
    this.#services.clear();
    this.#ids = { services: new IdAllocator(), backends: new IdAllocator() };
    this.#adopt(states);
    if (straySlots.length > 0) await this.#maps.slots.deleteMany(straySlots);
    if (strayBackends.length > 0) await this.#maps.backends.deleteMany(strayBackends);
    const affine = new Set<string>();
    for (const s of this.#services.values()) {
      if (s.spec.affinityTimeoutSeconds === undefined) continue;
      for (const bid of s.backendIds.values()) affine.add(`${s.id}:${bid}`);
    }
    await deleteAffinityWhere(this.#maps.affinity, (serviceId, backendId) => !affine.has(`${serviceId}:${backendId}`));
  }

  /**
   * Start-up: rebuilds what an earlier run programmed from the pinned maps,
   * so the next sync changes only what differs and no flow is lost. Strays
   * are left alone here: they could be a predecessor's writes in progress.
   */
  async #adoptProgrammed(): Promise<void> {
    this.#adopt((await readMaps(this.#maps)).states);
  }

  #adopt(states: ServiceState[]): void {
    for (const state of states) {
      this.#ids.services.claim(state.id);
      for (const bid of state.backendIds.values()) this.#ids.backends.claim(bid);
      this.#services.set(keyOf(state.spec), state);
    }
  }
}
