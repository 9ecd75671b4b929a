// A BPF map from TypeScript: sizes checked before the syscall, failures as
// BpfError, a missing key as undefined, batches off the event loop, and typed
// views whose codecs come from the map's own BTF.
import { unlinkSync } from 'node:fs';
import { addon, type BatchResult, type BtfType, type NativeMap, type NativeMapInfo } from '../native/addon.js';
import { derive, type Codec, type FieldFormat, type Formats } from './codec.js';
import { BpfError, BpfErrorCode, native, nativeAsync } from './errors.js';

export type UpdateFlag = 'any' | 'noexist' | 'exist';
export type MapInfo = NativeMapInfo;

function flagValue(flag: UpdateFlag): number {
  const f = addon().updateFlags;
  return flag === 'noexist' ? f.NOEXIST : flag === 'exist' ? f.EXIST : f.ANY;
}

export class BpfMap {
  readonly name: string;
  readonly info: MapInfo;
  #native: NativeMap;
  #closed = false;

  constructor(handle: NativeMap) {
    this.#native = handle;
    this.info = native(() => handle.info());
    this.name = this.info.name;
  }

  /** Opens a map another process (or an earlier run) pinned at `path`. */
  static openPinned(path: string): BpfMap {
    return new BpfMap(native(() => addon().BpfMap.openPinned(path)));
  }

  /** Removes a pin. The map lives on while anything else holds it. */
  static unpin(path: string): void {
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  get fd(): number {
    return this.#native.fd();
  }

  lookup(key: Buffer): Buffer | undefined {
    this.#check('map.lookup', key, this.info.keySize, 'key');
    return native(() => this.#native.lookup(key));
  }

  update(key: Buffer, value: Buffer, flag: UpdateFlag = 'any'): void {
    this.#check('map.update', key, this.info.keySize, 'key');
    this.#check('map.update', value, this.info.userValueSize, 'value');
    native(() => this.#native.update(key, value, flagValue(flag)));
  }

  /** True when the key was there. */
  delete(key: Buffer): boolean {
    this.#check('map.delete', key, this.info.keySize, 'key');
    return native(() => this.#native.delete(key));
  }

  /** Every key, read one syscall at a time (a live map may change meanwhile). */
  *keys(): Generator<Buffer> {
    let key = native(() => this.#native.nextKey());
    while (key) {
      yield key;
      const prev = key;
      key = native(() => this.#native.nextKey(prev));
    }
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  /**
   * Writes many entries in batch syscalls on the thread pool. Where the
   * kernel has no batch command for the map, the addon writes them one by
   * one, still off the event loop, and says so (`batched: false`).
   */
  async updateBatch(entries: ReadonlyArray<readonly [Buffer, Buffer]>, flag: UpdateFlag = 'any'): Promise<BatchResult> {
    const { keySize, userValueSize } = this.info;
    const keys = Buffer.allocUnsafe(entries.length * keySize);
    const values = Buffer.allocUnsafe(entries.length * userValueSize);
    entries.forEach(([k, v], i) => {
      this.#check('map.updateBatch', k, keySize, 'key');
      this.#check('map.updateBatch', v, userValueSize, 'value');
      k.copy(keys, i * keySize);
      v.copy(values, i * userValueSize);
    });
    return this.updatePacked(keys, values, flag);
  }

  /**
   * updateBatch() for callers that encode straight into two buffers: keys
   * back to back, values back to back, in the same order.
   */
  async updatePacked(keys: Buffer, values: Buffer, flag: UpdateFlag = 'any'): Promise<BatchResult> {
    const { keySize, userValueSize } = this.info;
    const count = this.#packedCount('map.updateBatch', keys, keySize, 'keys');
    if (this.#packedCount('map.updateBatch', values, userValueSize, 'values') !== count) {
      throw new BpfError(
        BpfErrorCode.InvalidArgument,
        `map.updateBatch ${this.name}: ${count} keys but ${values.length / userValueSize} values`,
        {
          op: 'map.updateBatch',
          target: this.name,
        },
      );
    }
    return nativeAsync(() => this.#native.updateBatch(keys, values, flagValue(flag)));
  }

  /** Deletes many keys; missing ones are not an error. `count` is how many were there. */
  async deleteBatch(keys: ReadonlyArray<Buffer>): Promise<BatchResult> {
    const { keySize } = this.info;
    keys.forEach((k) => this.#check('map.deleteBatch', k, keySize, 'key'));
    return this.deletePacked(Buffer.concat(keys as Buffer[]));
  }

  /** deleteBatch() of keys packed back to back in one buffer. */
  async deletePacked(keys: Buffer): Promise<BatchResult> {
    this.#packedCount('map.deleteBatch', keys, this.info.keySize, 'keys');
    return nativeAsync(() => this.#native.deleteBatch(keys));
  }

  /** The whole map, read in batches on the thread pool. */
  async lookupAll(): Promise<Array<[Buffer, Buffer]>> {
    const r = await nativeAsync(() => this.#native.lookupAll());
    const { keySize, userValueSize } = this.info;
    return Array.from({ length: r.count }, (_, i) => [
      r.keys.subarray(i * keySize, (i + 1) * keySize),
      r.values.subarray(i * userValueSize, (i + 1) * userValueSize),
    ]);
  }

  pin(path: string): void {
    native(() => this.#native.pin(path));
  }

  /** The BTF of key and value, as the kernel holds it for this map. */
  btf(): { key: BtfType | null; value: BtfType | null } | null {
    return native(() => this.#native.btf());
  }

  /** A view with codecs derived from the map's BTF; see codec.ts. */
  typed<K, V>(formats: { key?: Formats | FieldFormat; value?: Formats | FieldFormat } = {}): TypedMap<K, V> {
    const btf = this.btf();
    if (!btf)
      throw new BpfError(BpfErrorCode.LayoutMismatch, `map ${this.name} has no BTF`, {
        op: 'map.typed',
        target: this.name,
      });
    const key = derive<K>(`${this.name} key`, btf.key, formats.key, this.info.keySize);
    const value = derive<V>(`${this.name} value`, btf.value, formats.value, this.info.valueSize);
    return new TypedMap(this, key, value);
  }

  /** Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  /** How many `size`-byte items a packed buffer holds; a partial one is an error. */
  #packedCount(op: string, buf: Buffer, size: number, what: string): number {
    if (!Buffer.isBuffer(buf) || buf.length % size !== 0) {
      throw new BpfError(
        BpfErrorCode.InvalidArgument,
        `${op} ${this.name}: ${what} must be a Buffer of whole ${size}-byte items`,
        {
          op,
          target: this.name,
        },
      );
    }
    return buf.length / size;
  }

  #check(op: string, buf: Buffer, size: number, what: string): void {
    if (!Buffer.isBuffer(buf)) {
      throw new BpfError(BpfErrorCode.InvalidArgument, `${op} ${this.name}: ${what} must be a Buffer`, {
        op,
        target: this.name,
      });
    }
    if (buf.length !== size) {
      throw new BpfError(
        BpfErrorCode.InvalidArgument,
        `${op} ${this.name}: ${what} is ${buf.length} bytes, the map wants ${size}`,
        {
          op,
          target: this.name,
        },
      );
    }
  }
}

/**
 * Keys and values as objects. Per-CPU maps read as one value per possible
 * CPU and are written with the same value on every CPU.
 */
export class TypedMap<K, V> {
  readonly map: BpfMap;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  readonly #stride: number;
  readonly #cpus: number;

  constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    this.map = map;
    this.key = key;
    this.value = value;
    this.#stride = map.info.perCpu ? Math.ceil(map.info.valueSize / 8) * 8 : map.info.valueSize;
    this.#cpus = map.info.userValueSize / this.#stride;
  }

  get(key: K): V | undefined {
    const raw = this.map.lookup(this.key.encode(key));
    return raw && this.value.decode(raw);
  }

  /** Per-CPU maps: every CPU's copy. */
  getPerCpu(key: K): V[] | undefined {
    const raw = this.map.lookup(this.key.encode(key));
    return raw && Array.from({ length: this.#cpus }, (_, i) => this.value.decode(raw, i * this.#stride));
  }

  /** Per-CPU maps: every entry with every CPU's copy, in batched reads on the thread pool. */
  async allPerCpu(): Promise<Array<[K, V[]]>> {
    return (await this.map.lookupAll()).map(([k, v]) => [
      this.key.decode(k),
      Array.from({ length: this.#cpus }, (_, i) => this.value.decode(v, i * this.#stride)),
    ]);
  }

  set(key: K, value: V, flag: UpdateFlag = 'any'): void {
    this.map.update(this.key.encode(key), this.encodeValue(value), flag);
  }

  delete(key: K): boolean {
    return this.map.delete(this.key.encode(key));
  }

  /** Encodes straight into the two buffers the batch command takes. */
  async setMany(entries: ReadonlyArray<readonly [K, V]>, flag: UpdateFlag = 'any'): Promise<BatchResult> {
    const { keySize, userValueSize } = this.map.info;
    const keys = Buffer.alloc(entries.length * keySize);
    const values = Buffer.alloc(entries.length * userValueSize);
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i]!;
      this.key.encodeInto(k, keys, i * keySize);
      this.#encodeValueInto(v, values, i * userValueSize);
    }
    return this.map.updatePacked(keys, values, flag);
  }

  async deleteMany(keys: ReadonlyArray<K>): Promise<BatchResult> {
    const { keySize } = this.map.info;
    const packed = Buffer.alloc(keys.length * keySize);
    for (let i = 0; i < keys.length; i++) this.key.encodeInto(keys[i]!, packed, i * keySize);
    return this.map.deletePacked(packed);
  }

  async all(): Promise<Array<[K, V]>> {
    return (await this.map.lookupAll()).map(([k, v]) => [this.key.decode(k), this.value.decode(v)]);
  }

  get maxEntries(): number {
    return this.map.info.maxEntries;
  }

  /** Every entry, still encoded (batched reads on the thread pool): decode only what is needed. */
  async allEncoded(): Promise<Array<[Buffer, Buffer]>> {
    return this.map.lookupAll();
  }

  /** Every key, encoded, read one syscall at a time. */
  keysEncoded(): Iterable<Buffer> {
    return this.map.keys();
  }

  /** Deletes encoded keys in batches; missing ones are not an error. */
  async deleteEncoded(keys: ReadonlyArray<Buffer>): Promise<BatchResult> {
    return this.map.deleteBatch(keys);
  }

  encodeValue(value: V): Buffer {
    const buf = Buffer.alloc(this.map.info.userValueSize);
    this.#encodeValueInto(value, buf, 0);
    return buf;
  }

  /** The same value on every CPU's copy (one copy unless the map is per-CPU). */
  #encodeValueInto(value: V, buf: Buffer, offset: number): void {
    for (let i = 0; i < this.#cpus; i++) this.value.encodeInto(value, buf, offset + i * this.#stride);
  }
}
