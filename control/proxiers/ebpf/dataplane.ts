// The eBPF dataplane as a proxier sees it: load the programs and their pinned
// maps, attach them, and program service ports. It decides nothing about
// Kubernetes; it writes what it is told, in an order that never shows a packet
// a half-written service.
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BpfObject, TcAttachment, type Attachment } from '../../bpf/index.js';
import { IdAllocator } from './ids.js';
import { CT_F_HAIRPIN, CT_ORIGINAL, SVC_F_AFFINITY, SVC_F_DROP_NO_BACKEND, openMaps, type DataplaneMaps, type MapName } from './maps.js';
import { protocolName, protocolNumber, type Protocol } from './protocol.js';
import { StaleUdpBackends } from './stale-flows.js';

export interface ServicePortKey {
  address: string;
  port: number;
  protocol: Protocol;
}

export interface Backend {
  address: string;
  port: number;
}

export interface ServicePortSpec extends ServicePortKey {
  /** The endpoints new flows may go to; empty means refuse. */
  backends: Backend[];
  /** ClientIP session affinity with this timeout, when set. */
  affinityTimeoutSeconds?: number;
  /**
   * With no backends: drop new flows instead of refusing them (endpoints
   * exist, but none this path may use, e.g. internalTrafficPolicy Local).
   */
  dropWhenEmpty?: boolean;
}

export interface ProgrammedServicePort extends ServicePortSpec {
  id: number;
}

export interface ConntrackFlow {
  direction: 'original' | 'reply';
  protocol: string;
  source: string;
  destination: string;
  /** ORIGINAL: the backend the flow goes to; REPLY: the service address it is answered from. */
  translatedTo: string;
  hairpin: boolean;
  serviceId: number;
  backendId: number;
  idleSeconds: number;
}

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
}

interface ServiceState {
  id: number;
  spec: ServicePortSpec;
  /** Backend id by "ip:port", and the backend id in each slot. */
  backendIds: Map<string, number>;
  slots: number[];
}

/**
 * Our filter's identity on every tc ingress hook: priority 1 runs before
 * anything else on the hook; the handle ("SY") tells our filter from others'.
 */
export const TC_FILTER = { priority: 1, handle: 0x5359 } as const;

/** A service port's identity in the dataplane: address, port and protocol. */
export const keyOf = (k: ServicePortKey) => `${k.address}|${k.port}|${k.protocol}`;
const endpointOf = (b: Backend) => `${b.address}:${b.port}`;
const UDP = protocolNumber('UDP');
/** Conntrack entries decoded between two turns of the event loop. */
const DECODE_CHUNK = 8192;

function validate(spec: ServicePortSpec): void {
  const bad = (what: string) => new RangeError(`service port ${spec.address}:${spec.port}/${spec.protocol}: ${what}`);
  if (!isIPv4(spec.address)) throw bad(`"${spec.address}" is not an IPv4 address`);
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw bad(`port ${spec.port} is out of range`);
  if (!['TCP', 'UDP', 'SCTP'].includes(spec.protocol)) throw bad(`protocol ${spec.protocol} is not TCP, UDP or SCTP`);
  for (const b of spec.backends) {
    if (!isIPv4(b.address)) throw bad(`backend "${b.address}" is not an IPv4 address`);
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw bad(`backend port ${b.port} is out of range`);
  }
  if (spec.backends.length > 0xffff) throw bad(`${spec.backends.length} backends is more than a service entry counts`);
  const t = spec.affinityTimeoutSeconds;
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > 86400)) throw bad(`affinity timeout ${t} is not 1..86400 seconds`);
}

export class EbpfDataplane {
  readonly #tc: BpfObject;
  readonly #sock: BpfObject;
  readonly #maps: DataplaneMaps;
  readonly #services = new Map<string, ServiceState>();
  readonly #serviceIds = new IdAllocator();
  readonly #backendIds = new IdAllocator();
  readonly #attachments: Attachment[] = [];
  /** UDP backends removed since the conntrack table was last cleared of their flows. */
  readonly #staleUdp = new StaleUdpBackends();

  private constructor(tc: BpfObject, sock: BpfObject) {
    this.#tc = tc;
    this.#sock = sock;
    this.#maps = openMaps(tc);
  }

  /**
   * Loads both objects against the maps pinned under `pinRoot`: created on the
   * first run, reused (with their flows) on every later one.
   */
  static async open(opts: DataplaneOptions): Promise<EbpfDataplane> {
    const hairpin = opts.hairpinAddress ?? '169.254.42.1';
    if (!isIPv4(hairpin)) throw new RangeError(`hairpin address "${hairpin}" is not IPv4`);
    const common = { pinRoot: opts.pinRoot, maxEntries: opts.mapSizes };
    const tc = BpfObject.load(join(opts.objectDir, 'tc.bpf.o'), {
      ...common,
      globals: { hairpin_snat_addr: Buffer.from(hairpin.split('.').map(Number)) },
    });
    let sock: BpfObject;
    try {
      sock = BpfObject.load(join(opts.objectDir, 'sock.bpf.o'), common);
    } catch (e) {
      tc.close();
      throw e;
    }
    const dp = new EbpfDataplane(tc, sock);
    await dp.#adoptProgrammed();
    return dp;
  }

  /**
   * tc ingress on a pod-facing veth or an uplink. Attaching again replaces our
   * filter in place (same priority and handle), so a restarted proxy swaps
   * programs without a gap.
   */
  attachInterface(opts: { ifindex: number; netns?: string }): TcAttachment {
    const prog = this.#tc.program('sy_tc_ingress');
    try {
      const a = prog.attachTc({ ifindex: opts.ifindex, direction: 'ingress', netns: opts.netns, ...TC_FILTER });
      this.#attachments.push(a);
      return a;
    } finally {
      prog.close();
    }
  }

  /** The interface is gone (the kernel removed its filters with it): forget our handle. */
  forgetInterface(ifindex: number): void {
    const i = this.#attachments.findIndex((a) => a instanceof TcAttachment && a.opts.ifindex === ifindex);
    if (i >= 0) this.#attachments.splice(i, 1);
  }

  /** Removes our tc filter from an interface, whoever attached it (clean-up). */
  static detachInterface(opts: { ifindex: number; netns?: string }): void {
    new TcAttachment({ ifindex: opts.ifindex, direction: 'ingress', ...TC_FILTER, ...(opts.netns ? { netns: opts.netns } : {}) }, false).detach();
  }

  /** The socket hooks for node-originated traffic, on a cgroup v2 directory. */
  attachCgroup(cgroup: string, opts: { allowRootCgroup?: boolean } = {}): Attachment[] {
    const names = ['sy_sock4_connect', 'sy_sock4_sendmsg', 'sy_sock4_recvmsg', 'sy_sock4_getpeername'];
    const done: Attachment[] = [];
    try {
      for (const name of names) {
        const prog = this.#sock.program(name);
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
    const m = this.#maps;
    const key = keyOf(spec);
    const prev = this.#services.get(key);
    const id = prev?.id ?? this.#serviceIds.allocate();

    const backendIds = new Map<string, number>();
    const slots: number[] = [];
    for (const b of spec.backends) {
      const ep = endpointOf(b);
      if (backendIds.has(ep)) continue; // the same endpoint twice is one backend
      let bid = prev?.backendIds.get(ep);
      if (bid === undefined) {
        bid = this.#backendIds.allocate();
        m.backends.set(bid, { addr: b.address, port: b.port });
      }
      backendIds.set(ep, bid);
      slots.push(bid);
    }
    slots.forEach((bid, slot) => {
      if (prev?.slots[slot] !== bid) m.slots.set({ service_id: id, slot }, { backend_id: bid });
    });
    const affinity = spec.affinityTimeoutSeconds;
    m.services.set(
      { addr: spec.address, port: spec.port, proto: protocolNumber(spec.protocol) },
      {
        id,
        backend_count: slots.length,
        flags: (affinity ? SVC_F_AFFINITY : 0) | (spec.dropWhenEmpty && slots.length === 0 ? SVC_F_DROP_NO_BACKEND : 0),
        affinity_timeout: affinity ?? 0,
      },
    );
    for (let slot = slots.length; slot < (prev?.slots.length ?? 0); slot++) m.slots.delete({ service_id: id, slot });
    const gone = [...(prev?.backendIds ?? [])].filter(([ep]) => !backendIds.has(ep));
    const hadAffinity = prev?.spec.affinityTimeoutSeconds !== undefined;
    this.#forgetBackends(id, gone.map(([, bid]) => bid), hadAffinity);
    if (spec.protocol === 'UDP') {
      this.#staleUdp.serving(spec, backendIds.keys());
      this.#staleUdp.removed(spec, gone.map(([ep]) => ep));
    }
    // Affinity switched off: its entries would be stale if it came back on.
    if (hadAffinity && affinity === undefined) this.#forgetAffinity(id);
    this.#services.set(key, { id, spec: { ...spec, backends: [...spec.backends] }, backendIds, slots });
  }

  /** Removes a service port: the entry first, so no new flow finds it, then its slots and backends. */
  deleteService(key: ServicePortKey): boolean {
    const state = this.#services.get(keyOf(key));
    if (!state) return false;
    const m = this.#maps;
    m.services.delete({ addr: key.address, port: key.port, proto: protocolNumber(key.protocol) });
    state.slots.forEach((_, slot) => m.slots.delete({ service_id: state.id, slot }));
    this.#forgetBackends(state.id, [...state.backendIds.values()], state.spec.affinityTimeoutSeconds !== undefined);
    if (key.protocol === 'UDP') this.#staleUdp.removed(key, state.backendIds.keys());
    this.#serviceIds.release(state.id);
    this.#services.delete(keyOf(key));
    return true;
  }

  /** One programmed service port by its keyOf() key, without copying the rest. */
  programmedPort(key: string): ServicePortSpec | undefined {
    return this.#services.get(key)?.spec;
  }

  /** What this dataplane has programmed, as it believes it. */
  programmed(): ProgrammedServicePort[] {
    return [...this.#services.values()].map((s) => ({ id: s.id, ...s.spec }));
  }

  /** What the kernel's maps hold, decoded: the truth an operator checks against. */
  async servicesInMaps(): Promise<ProgrammedServicePort[]> {
    return (await this.#readServices()).map(({ spec, id }) => ({ id, ...spec }));
  }

  /** The connection-tracking table, decoded. */
  async conntrack(): Promise<ConntrackFlow[]> {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
    return (await this.#maps.conntrack.all()).map(([k, v]) => ({
      direction: k.dir === CT_ORIGINAL ? 'original' : 'reply',
      protocol: protocolName(k.proto),
      source: `${k.saddr}:${k.sport}`,
      destination: `${k.daddr}:${k.dport}`,
      translatedTo: `${v.nat_addr}:${v.nat_port}`,
      hairpin: (v.flags & CT_F_HAIRPIN) !== 0,
      serviceId: v.service_id,
      backendId: v.backend_id,
      idleSeconds: Number(now - v.last_seen_ns) / 1e9,
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
    const entries = await conntrack.map.lookupAll();
    for (let i = 0; i < entries.length; i++) {
      // A full table (262,144 entries by default) is some 300 ms to decode: let /healthz
      // and the ops API answer in between.
      if (i > 0 && i % DECODE_CHUNK === 0) await yieldToEventLoop();
      const [rawKey, rawValue] = entries[i]!;
      const key = conntrack.key.decode(rawKey);
      if (key.proto === UDP && stale.matches(key, conntrack.value.decode(rawValue))) doomed.push(rawKey);
    }
    // An entry may have left the LRU since the read: deleting a missing key
    // is not an error. (Were its key re-made meanwhile by a new flow, that
    // flow loses the entry and its next datagram chooses again.)
    if (doomed.length > 0) await conntrack.map.deleteBatch(doomed);
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
    this.#tc.close();
    this.#sock.close();
  }

  /**
   * Backend records go last. Affinity entries exist only for services that
   * have affinity (the programs write them for no other), so only those
   * services pay for the walk of the affinity map; an entry pointing at a
   * removed backend must go, or a reused backend id could send the client to
   * another service's endpoint.
   */
  #forgetBackends(serviceId: number, ids: number[], hadAffinity: boolean): void {
    if (ids.length === 0) return;
    for (const bid of ids) {
      this.#maps.backends.delete(bid);
      this.#backendIds.release(bid);
    }
    if (hadAffinity) this.#forgetAffinity(serviceId, new Set(ids));
  }

  /** Deletes the service's affinity entries: all of them, or those pointing at `backends`. */
  #forgetAffinity(serviceId: number, backends?: Set<number>): void {
    const { affinity } = this.#maps;
    for (const raw of affinity.map.keys()) {
      const k = affinity.key.decode(raw);
      if (k.service_id !== serviceId) continue;
      const v = affinity.get(k);
      if (v && (!backends || backends.has(v.backend_id))) affinity.delete(k);
    }
  }


  /**
   * Start-up: rebuilds what an earlier run programmed from the pinned maps,
   * so the next sync changes only what differs and no flow is lost.
   */
  async #adoptProgrammed(): Promise<void> {
    for (const state of await this.#readServices()) {
      this.#serviceIds.claim(state.id);
      for (const bid of state.backendIds.values()) this.#backendIds.claim(bid);
      this.#services.set(keyOf(state.spec), state);
    }
  }

  /** Services, their slots and backends as the maps hold them. */
  async #readServices(): Promise<ServiceState[]> {
    const m = this.#maps;
    const [services, slots, backends] = await Promise.all([m.services.all(), m.slots.all(), m.backends.all()]);
    const backendById = new Map(backends);
    const slotsById = new Map<number, number[]>();
    for (const [k, v] of slots) {
      const list = slotsById.get(k.service_id) ?? [];
      list[k.slot] = v.backend_id;
      slotsById.set(k.service_id, list);
    }
    return services.map(([k, v]) => {
      const backendIds = new Map<string, number>();
      const slotList: number[] = [];
      const list: Backend[] = [];
      for (const bid of (slotsById.get(v.id) ?? []).slice(0, v.backend_count)) {
        const b = backendById.get(bid);
        if (!b) {
          slotList.push(-1); // a slot without its backend record: the next upsert rewrites it
          continue;
        }
        backendIds.set(`${b.addr}:${b.port}`, bid);
        slotList.push(bid);
        list.push({ address: b.addr, port: b.port });
      }
      const spec: ServicePortSpec = {
        address: k.addr,
        port: k.port,
        protocol: protocolName(k.proto) as Protocol,
        backends: list,
        ...(v.flags & SVC_F_AFFINITY ? { affinityTimeoutSeconds: v.affinity_timeout } : {}),
        ...(v.flags & SVC_F_DROP_NO_BACKEND ? { dropWhenEmpty: true } : {}),
      };
      return { id: v.id, spec, backendIds, slots: slotList };
    });
  }
}
