// What programming a service port writes to the maps and deletes from them,
// planned apart from the writing. upsertService() writes one plan element by
// element; apply() writes thousands a phase at a time, each phase a few batch
// syscalls. Both write the same entries in the same order (bpf/README.md,
// "Update order"): a packet sees the old service or the new one, each complete.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { keyPrefixLen } from './addresses.js';
import type { IdAllocator } from './ids.js';
import { maglevTable } from './maglev.js';
import {
  SVC_F_AFFINITY,
  SVC_F_DROP_NO_BACKEND,
  SVC_F_EXTERNAL_LOCAL,
  SVC_F_MAGLEV,
  SVC_F_NODE_ADDR,
  SVC_F_SNAT,
  SVC_F_SNAT_OFF_CLUSTER,
  SVC_F_SRC_RANGES,
  type AffinityKey,
  type AffinityValue,
  type BackendValue,
  type ServiceKey,
  type ServiceValue,
  type SlotKey,
  type SlotValue,
  type SrcRangeKey,
} from './maps.js';
import type { DataplaneMap, MapBackend } from './map-backend.js';
import { protocolNumber } from './protocol.js';
import {
  endpointOf,
  type Backend,
  type ServicePortKey,
  type ServicePortSpec,
  type ServiceState,
} from './vocabulary.js';

/**
 * Affinity entries of one service to delete: those pointing at `backends`,
 * or all of them. The programs write entries only for services with
 * affinity, so only those ever need this; an entry left pointing at a
 * removed backend would, once the id is reused, send the client to another
 * service's endpoint.
 */
export interface AffinityCleanup {
  serviceId: number;
  backends?: ReadonlySet<number>;
}

/**
 * Writing a service port, in the order the fields are listed. Kept compact
 * (numbers and the spec's own objects): a full sync holds 10,000 plans
 * until its last write, and entries are made only as each batch is encoded.
 */
export interface UpsertPlan {
  key: string;
  /** What is programmed once the plan is written. */
  state: ServiceState;
  /** 1. Records of backends new to the service (fresh ids: nothing points at them yet), by index in `newEndpoints`. */
  newIds: number[];
  newEndpoints: Backend[];
  /** 2. Slots whose backend changed; the backend is state.slots[slot]. */
  changedSlots: number[];
  /** 2b. Source ranges new to the entry ("network/bits"): allowed before the entry says to check them. */
  newRanges: string[];
  /** 3. The service entry with its new count: from here new flows use the new slots. */
  entry: [ServiceKey, ServiceValue];
  /** 4. Slots past the new count, up to the old one: state.slots.length ≤ slot < oldSlotCount. */
  oldSlotCount: number;
  /** 5. Backends the service no longer has, by endpoint ("ip:port"); their ids are free after the writes. */
  gone: Array<[string, number]>;
  /** 5b. Source ranges the entry no longer has. */
  goneRanges: string[];
  /** 6. Affinity entries to delete. */
  affinity?: AffinityCleanup;
}

/** Removing a service port: the entry first, so no new flow finds it, then its slots (state.slots), backends, source ranges, affinity. */
export interface RemovePlan {
  state: ServiceState;
  entry: ServiceKey;
  backends: number[];
  affinity?: AffinityCleanup;
}

/** A source range of entry `id` as the LPM trie keys it: the id's 32 bits, then the 128-bit prefix (IPv4: 96 + its own). */
export function srcRangeKey(id: number, cidr: string): SrcRangeKey {
  return { prefixlen: 32 + keyPrefixLen(cidr), service_id: id, addr: cidr.split('/')[0]! };
}

const SNAT_FLAGS = { always: SVC_F_SNAT, 'off-cluster': SVC_F_SNAT_OFF_CLUSTER } as const;

/** The flags of a spec's service entry (abi.h enum sy_svc_flags). */
export function serviceFlags(spec: ServicePortSpec): number {
  return (
    (spec.affinityTimeoutSeconds ? SVC_F_AFFINITY : 0) |
    (spec.dropWhenEmpty && spec.backends.length === 0 ? SVC_F_DROP_NO_BACKEND : 0) |
    (spec.snat ? SNAT_FLAGS[spec.snat] : 0) |
    (spec.internal ? SVC_F_EXTERNAL_LOCAL : 0) |
    (spec.sourceRanges?.length ? SVC_F_SRC_RANGES : 0) |
    (spec.nodeAddress ? SVC_F_NODE_ADDR : 0) |
    (spec.maglev ? SVC_F_MAGLEV : 0)
  );
}

export const serviceKeyOf = (k: ServicePortKey): ServiceKey => ({
  addr: k.address,
  port: k.port,
  proto: protocolNumber(k.protocol),
});

/**
 * Plans writing `spec` over `prev` (undefined: a new service port). Takes
 * ids for the service and its new backends; releasing the ids of gone
 * backends is the caller's, once they are deleted.
 */
export function planUpsert(
  spec: ServicePortSpec,
  key: string,
  prev: ServiceState | undefined,
  ids: { services: IdAllocator; backends: IdAllocator },
): UpsertPlan {
  const id = prev?.id ?? ids.services.allocate();
  const backendIds = new Map<string, number>();
  const slots: number[] = [];
  const newIds: number[] = [];
  const newEndpoints: Backend[] = [];
  const changedSlots: number[] = [];
  // Maglev: the slots are the table, each entry a backend's place in the
  // table's (sorted) order; otherwise one slot per backend, in spec order.
  const maglev = spec.maglev ? maglevTable(spec.backends, spec.maglev) : undefined;
  const byIndex: number[] = [];
  for (const b of maglev?.order ?? spec.backends) {
    const ep = endpointOf(b);
    if (backendIds.has(ep)) continue; // the same endpoint twice is one backend
    let bid = prev?.backendIds.get(ep);
    if (bid === undefined) {
      bid = ids.backends.allocate();
      newIds.push(bid);
      newEndpoints.push(b);
    }
    backendIds.set(ep, bid);
    byIndex.push(bid);
  }
  if (maglev) for (const i of maglev.table) slots.push(byIndex[i]!);
  else slots.push(...byIndex);
  for (let i = 0; i < slots.length; i++) if (prev?.slots[i] !== slots[i]) changedSlots.push(i);
  const gone: UpsertPlan['gone'] = [];
  if (prev) for (const entry of prev.backendIds) if (!backendIds.has(entry[0])) gone.push(entry);
  const affinity = spec.affinityTimeoutSeconds;
  const hadAffinity = prev?.spec.affinityTimeoutSeconds !== undefined;
  const ranges = spec.sourceRanges ?? [];
  const prevRanges = new Set(prev?.spec.sourceRanges ?? []);
  return {
    key,
    state: { id, spec: { ...spec, backends: [...spec.backends] }, backendIds, slots: slots.slice() }, // slice: exactly sized, kept for the service's life
    newIds,
    newEndpoints,
    changedSlots,
    newRanges: ranges.filter((r) => !prevRanges.has(r)),
    entry: [
      serviceKeyOf(spec),
      {
        id,
        backend_count: slots.length,
        flags: serviceFlags(spec),
        affinity_timeout: affinity ?? 0,
        cluster_addr: spec.internal?.address ?? '0.0.0.0',
        cluster_port: spec.internal?.port ?? 0,
      },
    ],
    oldSlotCount: prev?.slots.length ?? 0,
    gone,
    goneRanges: [...prevRanges].filter((r) => !ranges.includes(r)),
    // Affinity switched off: all its entries, or they would be stale if it came back on.
    ...(hadAffinity && affinity === undefined
      ? { affinity: { serviceId: id } }
      : hadAffinity && gone.length > 0
        ? { affinity: { serviceId: id, backends: new Set(gone.map(([, bid]) => bid)) } }
        : {}),
  };
}

export function planRemove(state: ServiceState): RemovePlan {
  const backends = [...state.backendIds.values()];
  return {
    state,
    entry: serviceKeyOf(state.spec),
    backends,
    ...(state.spec.affinityTimeoutSeconds !== undefined && backends.length > 0
      ? { affinity: { serviceId: state.id, backends: new Set(backends) } }
      : {}),
  };
}

/** One plan, one syscall per element: the cheapest way to write a single change. */
export function writeUpsert(m: MapBackend, p: UpsertPlan): void {
  for (const [id, b] of newBackends(p)) m.backends.set(id, b);
  for (const [k, v] of changedSlots(p)) m.slots.set(k, v);
  for (const [k, v] of newRanges(p)) m.srcRanges.set(k, v);
  m.services.set(...p.entry);
  for (const k of staleSlots(p)) m.slots.delete(k);
  for (const [, bid] of p.gone) m.backends.delete(bid);
  for (const k of goneRanges(p)) m.srcRanges.delete(k);
  if (p.affinity) forgetAffinity(m.affinity, p.affinity);
}

export function writeRemove(m: MapBackend, p: RemovePlan): void {
  m.services.delete(p.entry);
  for (const k of slotsOf(p)) m.slots.delete(k);
  for (const bid of p.backends) m.backends.delete(bid);
  for (const k of rangesOf(p)) m.srcRanges.delete(k);
  if (p.affinity) forgetAffinity(m.affinity, p.affinity);
}

// A plan's map entries, made as they are written.
const newBackends = (p: UpsertPlan): Array<[number, BackendValue]> =>
  p.newIds.map((id, i) => [id, { addr: p.newEndpoints[i]!.address, port: p.newEndpoints[i]!.port }]);
const changedSlots = (p: UpsertPlan): Array<[SlotKey, SlotValue]> =>
  p.changedSlots.map((slot) => [{ service_id: p.state.id, slot }, { backend_id: p.state.slots[slot]! }]);
const slotRange = (serviceId: number, from: number, to: number): SlotKey[] =>
  Array.from({ length: Math.max(0, to - from) }, (_, i) => ({ service_id: serviceId, slot: from + i }));
const staleSlots = (p: UpsertPlan) => slotRange(p.state.id, p.state.slots.length, p.oldSlotCount);
const slotsOf = (p: RemovePlan) => slotRange(p.state.id, 0, p.state.slots.length);
const ALLOWED = {} as const;
const newRanges = (p: UpsertPlan): Array<[SrcRangeKey, typeof ALLOWED]> =>
  p.newRanges.map((r) => [srcRangeKey(p.state.id, r), ALLOWED]);
const goneRanges = (p: UpsertPlan): SrcRangeKey[] => p.goneRanges.map((r) => srcRangeKey(p.state.id, r));
const rangesOf = (p: RemovePlan): SrcRangeKey[] =>
  (p.state.spec.sourceRanges ?? []).map((r) => srcRangeKey(p.state.id, r));

/**
 * Entries per batch call: the addon's own chunk per syscall. Encoding one
 * holds the event loop for a millisecond or two; the syscalls run on the
 * thread pool while it turns.
 */
export const BATCH_CHUNK = 4096;
/** Affinity entries decoded between two turns of the event loop. */
const DECODE_CHUNK = 8192;

/**
 * Many plans a phase at a time, every phase finished before the next
 * starts: removed services' entries, their slots, their backends, their
 * source ranges, their affinity; then every new backend, every changed
 * slot, every new source range, every service entry, every stale slot,
 * every gone backend and source range, their affinity. A packet meets each
 * service port whole, old or new, as with writeUpsert()/writeRemove().
 */
export async function writeBatch(
  m: MapBackend,
  plans: { remove: readonly RemovePlan[]; upsert: readonly UpsertPlan[] },
): Promise<void> {
  const { remove, upsert } = plans;
  await deleteChunked(m.services, remove, (p) => [p.entry]);
  await deleteChunked(m.slots, remove, slotsOf);
  await deleteChunked(m.backends, remove, (p) => p.backends);
  await deleteChunked(m.srcRanges, remove, rangesOf);
  await sweepAffinity(m.affinity, remove);

  await setChunked(m.backends, upsert, newBackends);
  await setChunked(m.slots, upsert, changedSlots);
  await setChunked(m.srcRanges, upsert, newRanges);
  await setChunked(m.services, upsert, (p) => [p.entry]);
  await deleteChunked(m.slots, upsert, staleSlots);
  await deleteChunked(m.backends, upsert, (p) => p.gone.map(([, bid]) => bid));
  await deleteChunked(m.srcRanges, upsert, goneRanges);
  await sweepAffinity(m.affinity, upsert);
}

/** The first chunk of a phase; each next one is twice as large, up to BATCH_CHUNK. */
const FIRST_CHUNK = 256;

/**
 * Items of every plan, in chunks. The first chunks are small: a map's codec
 * runs unoptimised until V8 has seen it at work, and 4,096 entries encoded
 * that slowly held the event loop for tens of milliseconds.
 */
function* chunks<P, T>(plans: readonly P[], items: (p: P) => readonly T[]): Generator<T[]> {
  let size = FIRST_CHUNK;
  let chunk: T[] = [];
  for (const p of plans) {
    for (const item of items(p)) {
      chunk.push(item);
      if (chunk.length === size) {
        yield chunk;
        chunk = [];
        size = Math.min(size * 2, BATCH_CHUNK);
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function setChunked<P, K, V>(
  map: DataplaneMap<K, V>,
  plans: readonly P[],
  items: (p: P) => ReadonlyArray<readonly [K, V]>,
): Promise<void> {
  await twoInFlight(chunks(plans, items), (chunk) => map.setMany(chunk));
}

async function deleteChunked<P, K>(
  map: DataplaneMap<K, unknown>,
  plans: readonly P[],
  items: (p: P) => readonly K[],
): Promise<void> {
  await twoInFlight(chunks(plans, items), (chunk) => map.deleteMany(chunk));
}

/**
 * One phase's chunks, the next encoded while the kernel writes the last.
 * The entries of one phase are independent of each other, so their order
 * does not matter; the phase ends when every chunk has, failed or not.
 */
async function twoInFlight<T>(chunks: Iterable<T>, write: (chunk: T) => Promise<unknown>): Promise<void> {
  let previous: Promise<unknown> | undefined;
  for (const chunk of chunks) {
    const current = write(chunk);
    // Handled from now on: it may fail while we still wait for `previous`,
    // and an unhandled rejection would end the process. Awaiting it later
    // still throws its error.
    current.catch(() => {});
    if (previous) {
      try {
        await previous;
      } catch (e) {
        await Promise.allSettled([current]);
        throw e;
      }
    }
    previous = current;
  }
  await previous;
}

/** Deletes the service's affinity entries the cleanup names, walking the map an entry at a time. */
function forgetAffinity(affinity: DataplaneMap<AffinityKey, AffinityValue>, c: AffinityCleanup): void {
  for (const raw of affinity.keysEncoded()) {
    const k = affinity.key.decode(raw);
    if (k.service_id !== c.serviceId) continue;
    const v = affinity.get(k);
    if (v && (!c.backends || c.backends.has(v.backend_id))) affinity.delete(k);
  }
}

/** Every plan's affinity cleanup with one batch read of the map and one batch delete. */
async function sweepAffinity(
  affinity: DataplaneMap<AffinityKey, AffinityValue>,
  plans: ReadonlyArray<{ affinity?: AffinityCleanup }>,
): Promise<void> {
  const cleanups = new Map<number, AffinityCleanup>();
  for (const p of plans) if (p.affinity) cleanups.set(p.affinity.serviceId, p.affinity);
  if (cleanups.size === 0) return;
  await deleteAffinityWhere(affinity, (serviceId, backendId) => {
    const c = cleanups.get(serviceId);
    return c !== undefined && (!c.backends || c.backends.has(backendId));
  });
}

/** Deletes the affinity entries `doomed` picks, with one batch read and one batch delete. */
export async function deleteAffinityWhere(
  affinity: DataplaneMap<AffinityKey, AffinityValue>,
  doomed: (serviceId: number, backendId: number) => boolean,
): Promise<number> {
  const entries = await affinity.allEncoded();
  const keys: Buffer[] = [];
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % DECODE_CHUNK === 0) await yieldToEventLoop();
    const [rawKey, rawValue] = entries[i]!;
    if (doomed(affinity.key.decode(rawKey).service_id, affinity.value.decode(rawValue).backend_id)) keys.push(rawKey);
  }
  if (keys.length > 0) await affinity.deleteEncoded(keys);
  return keys.length;
}
