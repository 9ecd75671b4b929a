// A compiled BPF object: open, adjust before load (pins, sizes, knobs), load.
import {
  addon,
  type NativeObject,
  type NativeObjectBtf,
  type NativeObjectMap,
  type NativeObjectProgram,
} from '../native/addon.js';
import { BpfError, BpfErrorCode, native } from './errors.js';
import { BpfMap } from './map.js';
import { checkPins, incompatible, migratePin, type PinnedMapMigration } from './pins.js';
import { BpfProgram } from './program.js';

export interface OpenOptions {
  /** Where maps declared with LIBBPF_PIN_BY_NAME are pinned and reused. */
  pinRoot?: string;
  /** Per-map pin paths (reused when a compatible map is already pinned there). */
  pinPaths?: Record<string, string>;
  /** Per-map max_entries, for map sizes that are load-time settings. */
  maxEntries?: Record<string, number>;
  /** Initial values of globals (`const volatile` knobs), as raw bytes. */
  globals?: Record<string, Buffer>;
  /** Programs not to load. */
  skipPrograms?: string[];
}

export interface LoadOptions extends OpenOptions {
  /** Told of each pinned map moved to a new size (see loadMigrating). */
  onMigrated?: (m: PinnedMapMigration) => void;
}

export class BpfObject {
  readonly path: string;
  #native: NativeObject;
  #loaded = false;
  #closed = false;

  private constructor(path: string, handle: NativeObject) {
    this.path = path;
    this.#native = handle;
  }

  /** Opens an object file; nothing reaches the kernel until load(). */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const Ctor = addon().BpfObject;
    const obj = new BpfObject(
      path,
      native(() => new Ctor(path, opts.pinRoot ? { pinRoot: opts.pinRoot } : {})),
    );
    try {
      for (const [map, p] of Object.entries(opts.pinPaths ?? {})) native(() => obj.#native.setMapPinPath(map, p));
      for (const [map, n] of Object.entries(opts.maxEntries ?? {})) native(() => obj.#native.setMapMaxEntries(map, n));
      for (const [name, v] of Object.entries(opts.globals ?? {})) native(() => obj.#native.setGlobal(name, v));
      for (const p of opts.skipPrograms ?? []) native(() => obj.#native.setProgramAutoload(p, false));
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** open() then load(). */
  static load(path: string, opts: OpenOptions = {}): BpfObject {
    const obj = BpfObject.open(path, opts);
    try {
      obj.load();
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /**
   * open(), then move pinned maps whose max_entries alone differ to their
   * new size (entries copied, pin replaced), then load(): the programs are
   * loaded against the new maps. A pin of another layout is refused with
   * ERR_BPF_MAP_INCOMPATIBLE before anything changes.
   */
  static async loadMigrating(path: string, opts: LoadOptions = {}): Promise<BpfObject> {
    const obj = BpfObject.open(path, opts);
    try {
      for (const change of checkPins(obj.#native)) {
        const migrated = await migratePin(obj.#native, change); // not inside onMigrated?.(): that would skip it
        opts.onMigrated?.(migrated);
      }
      obj.load();
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /**
   * Loads, reusing maps pinned at the object's pin paths when they match its
   * definitions. A pinned map that differs (layout, type, flags, or its size:
   * use loadMigrating for that) is refused with ERR_BPF_MAP_INCOMPATIBLE
   * and left as it is.
   */
  load(): void {
    const resized = checkPins(this.#native);
    if (resized.length) {
      const r = resized[0]!;
      throw incompatible(r.map, r.pinPath, [{ field: 'max_entries', pinned: String(r.from), object: String(r.to) }]);
    }
    native(() => this.#native.load());
    this.#loaded = true;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  maps(): NativeObjectMap[] {
    return native(() => this.#native.maps());
  }

  programs(): NativeObjectProgram[] {
    return native(() => this.#native.programs());
  }

  /** The file's BTF: each map's key and value type, and every named enum. Needs no load (and no privileges). */
  btf(): NativeObjectBtf {
    return native(() => this.#native.btf());
  }

  /** A loaded map by name; it holds its own fd and outlives close(). */
  map(name: string): BpfMap {
    this.#requireLoaded('object.map', name);
    return new BpfMap(native(() => this.#native.map(name)));
  }

  program(name: string): BpfProgram {
    this.#requireLoaded('object.program', name);
    return new BpfProgram(native(() => this.#native.program(name)));
  }

  /** Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  #requireLoaded(op: string, name: string): void {
    if (!this.#loaded) {
      throw new BpfError(BpfErrorCode.InvalidArgument, `${op} ${name}: ${this.path} is not loaded yet`, {
        op,
        target: name,
      });
    }
  }
}
