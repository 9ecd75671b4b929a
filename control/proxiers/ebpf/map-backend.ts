// The maps the dataplane writes and reads, as an interface: the pinned BPF
// maps implement it (TypedMap, see openMaps()), and so can a stand-in, such as
// the in-memory maps of the unit tests (test/unit/proxiers/memory-maps.ts),
// given to EbpfProxier as `maps` so a sync runs without a kernel.
import type { BatchResult, BpfObject, Codec, UpdateFlag } from '../../bpf/index.js';
import {
  typedMap,
  type AffinityKey,
  type AffinityValue,
  type BackendValue,
  type CtEntry,
  type CtKey,
  type ServiceKey,
  type ServiceValue,
  type SlotKey,
  type SlotValue,
  type SrcRangeKey,
  type SrcRangeValue,
  type CidrKey,
  type CidrValue,
  type ConfigValue,
  type UplinkValue,
} from './maps.js';

/**
 * One map, with the operations the dataplane uses: single lookups and writes
 * (each a syscall), batches, whole-map reads, and the encoded forms for
 * tables too large to decode whole. A write that does not fit throws what
 * the kernel's refusal becomes (a BpfError, ERR_BPF_MAP_FULL for a full hash
 * map); a batch stops at its first failure, with what came before written.
 */
export interface DataplaneMap<K, V> {
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  readonly maxEntries: number;
  get(key: K): V | undefined;
  set(key: K, value: V, flag?: UpdateFlag): void;
  /** True when the key was there. */
  delete(key: K): boolean;
  setMany(entries: ReadonlyArray<readonly [K, V]>, flag?: UpdateFlag): Promise<BatchResult>;
  /** Missing keys are not an error. */
  deleteMany(keys: ReadonlyArray<K>): Promise<BatchResult>;
  all(): Promise<Array<[K, V]>>;
  allEncoded(): Promise<Array<[Buffer, Buffer]>>;
  keysEncoded(): Iterable<Buffer>;
  deleteEncoded(keys: ReadonlyArray<Buffer>): Promise<BatchResult>;
}

/** The dataplane's maps by the names its code uses. */
export interface MapBackend {
  services: DataplaneMap<ServiceKey, ServiceValue>;
  slots: DataplaneMap<SlotKey, SlotValue>;
  backends: DataplaneMap<number, BackendValue>;
  conntrack: DataplaneMap<CtKey, CtEntry>;
  affinity: DataplaneMap<AffinityKey, AffinityValue>;
  srcRanges: DataplaneMap<SrcRangeKey, SrcRangeValue>;
  clusterCidrs: DataplaneMap<CidrKey, CidrValue>;
  config: DataplaneMap<number, ConfigValue>;
  uplinks: DataplaneMap<number, UplinkValue>;
}

/** The real backend: a loaded object's (pinned) maps. */
export function openMaps(obj: BpfObject): MapBackend {
  return {
    services: typedMap(obj, 'sy_services_v3'),
    slots: typedMap(obj, 'sy_slots'),
    backends: typedMap(obj, 'sy_backends_v2'),
    conntrack: typedMap(obj, 'sy_conntrack_v3'),
    affinity: typedMap(obj, 'sy_affinity_v2'),
    srcRanges: typedMap(obj, 'sy_src_ranges_v2'),
    clusterCidrs: typedMap(obj, 'sy_cluster_cidr_v2'),
    config: typedMap(obj, 'sy_config_v2'),
    uplinks: typedMap(obj, 'sy_uplinks'),
  };
}
