// The dataplane's maps in memory, for unit tests of the ebpf proxier without
// a kernel (EbpfProxierOptions.maps). Keys and values are held encoded, keyed
// by the key's bytes, with the codecs the real maps get: derived from the BTF
// of the built objects (read without loading them, so no privileges) and the
// formats abi.generated.ts gives each map. max_entries holds as in the
// kernel: a hash map refuses a new key when full with E2BIG, which reaches
// the caller as the same BpfError (ERR_BPF_MAP_FULL) a pinned map's refusal
// does; an LRU map evicts its least recently written entry instead.
import { constants } from 'node:os';
import { join } from 'node:path';
import { BpfObject, derive, type BatchResult, type Codec, type UpdateFlag } from '../../../control/bpf/index.js';
import { fromNative } from '../../../control/bpf/errors.js';
import { NativeErrorCode } from '../../../control/native/errors.js';
import type { DataplaneMap, MapBackend } from '../../../control/proxiers/ebpf/map-backend.js';
import type { NativeObjectMap, BtfType } from '../../../control/native/addon.js';
import { MAP_FORMATS, type MapName, type MapTypes } from '../../../control/proxiers/ebpf/abi.generated.js';
import { repoRoot } from '../../harness/paths.js';

const objectDir = join(repoRoot, 'build', 'bpf');

interface MapDefinition {
  info: NativeObjectMap;
  key: BtfType | null;
  value: BtfType | null;
}

let definitions: Map<string, MapDefinition> | undefined;

/** Every map tc.bpf.o defines: its size, type and the BTF of key and value. */
function definitionsOf(): Map<string, MapDefinition> {
  if (definitions) return definitions;
  const obj = BpfObject.open(join(objectDir, 'tc.bpf.o'));
  try {
    const btf = new Map(obj.btf().maps.map((m) => [m.name, m]));
    definitions = new Map(
      obj
        .maps()
        .map((info) => [
          info.name,
          { info, key: btf.get(info.name)?.key ?? null, value: btf.get(info.name)?.value ?? null },
        ]),
    );
  } finally {
    obj.close();
  }
  return definitions;
}

export function mapDefinition(name: MapName): MapDefinition {
  const d = definitionsOf().get(name);
  if (!d) throw new Error(`tc.bpf.o defines no map ${name}`);
  return d;
}

/** The real codecs of a map: its BTF, and the formats the dataplane opens it with. */
export function codecsOf<N extends MapName>(
  name: N,
): { key: Codec<MapTypes[N]['key']>; value: Codec<MapTypes[N]['value']> } {
  const d = mapDefinition(name);
  const f = MAP_FORMATS[name];
  return {
    key: derive(`${name} key`, d.key, f.key, d.info.keySize),
    value: derive(`${name} value`, d.value, f.value, d.info.valueSize),
  };
}

const E = constants.errno;
const STRERROR: Record<number, string> = {
  [E.E2BIG]: 'Argument list too long',
  [E.EEXIST]: 'File exists',
  [E.ENOENT]: 'No such file or directory',
};

/** What the addon throws for a failed syscall, made a BpfError as control/bpf does. */
function syscallError(op: string, target: string, errno: number): unknown {
  const e = Object.assign(new Error(`${op} ${target}: ${STRERROR[errno] ?? `errno ${errno}`}`), {
    code: NativeErrorCode.Bpf,
    errno,
    op,
    target,
  });
  return fromNative(e);
}

export class MemoryMap<K, V> implements DataplaneMap<K, V> {
  readonly name: string;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  readonly maxEntries: number;
  readonly lru: boolean;
  /** Encoded entries by the key's bytes (hex), in the order an LRU map evicts them. */
  readonly #entries = new Map<string, [Buffer, Buffer]>();
  /** Single and batch writes, counted (a test can tell which path wrote). */
  readonly writes = { single: 0, batches: 0 };

  constructor(opts: { name: string; key: Codec<K>; value: Codec<V>; maxEntries: number; lru: boolean }) {
    this.name = opts.name;
    this.key = opts.key;
    this.value = opts.value;
    this.maxEntries = opts.maxEntries;
    this.lru = opts.lru;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const e = this.#entries.get(this.key.encode(key).toString('hex'));
    return e && this.value.decode(e[1]);
  }

  set(key: K, value: V, flag: UpdateFlag = 'any'): void {
    this.writes.single++;
    this.#put(this.key.encode(key), this.value.encode(value), flag, 'map.update');
  }

  delete(key: K): boolean {
    return this.#entries.delete(this.key.encode(key).toString('hex'));
  }

  /** As the kernel's batch: in order, stopping at the first refusal with what came before written. */
  async setMany(entries: ReadonlyArray<readonly [K, V]>, flag: UpdateFlag = 'any'): Promise<BatchResult> {
    this.writes.batches++;
    for (const [k, v] of entries) this.#put(this.key.encode(k), this.value.encode(v), flag, 'map.updateBatch');
    return { count: entries.length, batched: true };
  }

  async deleteMany(keys: ReadonlyArray<K>): Promise<BatchResult> {
    return this.deleteEncoded(keys.map((k) => this.key.encode(k)));
  }

  async all(): Promise<Array<[K, V]>> {
    return this.decoded();
  }

  async allEncoded(): Promise<Array<[Buffer, Buffer]>> {
    return [...this.#entries.values()].map(([k, v]) => [Buffer.from(k), Buffer.from(v)]);
  }

  *keysEncoded(): Iterable<Buffer> {
    for (const [k] of [...this.#entries.values()]) yield Buffer.from(k);
  }

  async deleteEncoded(keys: ReadonlyArray<Buffer>): Promise<BatchResult> {
    let count = 0;
    for (const k of keys) if (this.#entries.delete(k.toString('hex'))) count++;
    return { count, batched: true };
  }

  /** Every entry, decoded, now. */
  decoded(): Array<[K, V]> {
    return [...this.#entries.values()].map(([k, v]) => [this.key.decode(k), this.value.decode(v)]);
  }

  #put(key: Buffer, value: Buffer, flag: UpdateFlag, op: string): void {
    if (key.length !== this.key.size || value.length !== this.value.size)
      throw new Error(
        `${op} ${this.name}: encoded ${key.length}/${value.length} bytes, the map has ${this.key.size}/${this.value.size}`,
      );
    const id = key.toString('hex');
    const had = this.#entries.has(id);
    if (flag === 'noexist' && had) throw syscallError(op, this.name, E.EEXIST);
    if (flag === 'exist' && !had) throw syscallError(op, this.name, E.ENOENT);
    if (!had && this.#entries.size >= this.maxEntries) {
      if (!this.lru) throw syscallError(op, this.name, E.E2BIG);
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    if (this.lru) this.#entries.delete(id); // written last: evicted last
    this.#entries.set(id, [Buffer.from(key), Buffer.from(value)]);
  }
}

/** A MemoryMap of one of the dataplane's maps: its real codecs, type and (unless given) size. */
export function memoryMap<N extends MapName>(
  name: N,
  maxEntries?: number,
): MemoryMap<MapTypes[N]['key'], MapTypes[N]['value']> {
  const d = mapDefinition(name);
  return new MemoryMap({
    name,
    ...codecsOf(name),
    maxEntries: maxEntries ?? d.info.maxEntries,
    lru: d.info.type.startsWith('lru'),
  });
}

export interface MemoryMaps extends MapBackend {
  services: MemoryMap<MapTypes['sy_services_v3']['key'], MapTypes['sy_services_v3']['value']>;
  slots: MemoryMap<MapTypes['sy_slots']['key'], MapTypes['sy_slots']['value']>;
  backends: MemoryMap<MapTypes['sy_backends_v2']['key'], MapTypes['sy_backends_v2']['value']>;
  conntrack: MemoryMap<MapTypes['sy_conntrack_v3']['key'], MapTypes['sy_conntrack_v3']['value']>;
  affinity: MemoryMap<MapTypes['sy_affinity_v2']['key'], MapTypes['sy_affinity_v2']['value']>;
  srcRanges: MemoryMap<MapTypes['sy_src_ranges_v2']['key'], MapTypes['sy_src_ranges_v2']['value']>;
  clusterCidrs: MemoryMap<MapTypes['sy_cluster_cidr_v2']['key'], MapTypes['sy_cluster_cidr_v2']['value']>;
  config: MemoryMap<MapTypes['sy_config_v2']['key'], MapTypes['sy_config_v2']['value']>;
  uplinks: MemoryMap<MapTypes['sy_uplinks']['key'], MapTypes['sy_uplinks']['value']>;
}

/** The dataplane's maps in memory; `sizes` as --bpf-map-sizes would set them. */
export function memoryMaps(sizes: Partial<Record<MapName, number>> = {}): MemoryMaps {
  return {
    services: memoryMap('sy_services_v3', sizes.sy_services_v3),
    slots: memoryMap('sy_slots', sizes.sy_slots),
    backends: memoryMap('sy_backends_v2', sizes.sy_backends_v2),
    conntrack: memoryMap('sy_conntrack_v3', sizes.sy_conntrack_v3),
    affinity: memoryMap('sy_affinity_v2', sizes.sy_affinity_v2),
    srcRanges: memoryMap('sy_src_ranges_v2', sizes.sy_src_ranges_v2),
    clusterCidrs: memoryMap('sy_cluster_cidr_v2', sizes.sy_cluster_cidr_v2),
    config: memoryMap('sy_config_v2', sizes.sy_config_v2),
    uplinks: memoryMap('sy_uplinks', sizes.sy_uplinks),
  };
}
