// The BPF maps as the kernel holds them, read through their pins: the API
// shows what is programmed, not what the controller believes it wrote. Each
// pinned map is opened once (its own fd, read-only use) and reopened if the
// pin now names another map. Dumps use the batched lookup on the thread pool,
// and large decodes yield to the event loop, so a big conntrack table never
// stalls /healthz.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, type Codec, derive } from '../../bpf/index.js';
import { ApiError, ApiErrorCode } from '../../api/errors.js';
import { fieldPaths } from '../../api/filter.js';
import { jsonSafe, MAP_VIEWS, type MapView } from './map-views.js';

export interface MapSummary {
  name: string;
  id: number;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  entries: number;
  /** What the kernel charges for the map (fdinfo's memlock), in bytes. */
  memoryBytes: number | null;
  pinPath: string;
  description: string | null;
}

/** A raw entry: its key in hex (the paging order) and the bytes. */
export interface RawEntry {
  id: string;
  key: Buffer;
  value: Buffer;
}

export interface DecodedEntry {
  key: unknown;
  value: unknown;
}

interface Handle {
  map: BpfMap;
  ino: number;
  view: MapView | undefined;
  key: Codec<unknown> | undefined;
  value: Codec<unknown> | undefined;
}

const NAME = /^[A-Za-z0-9_.]{1,64}$/;
/** Entries decoded between two yields to the event loop. */
const DECODE_CHUNK = 2048;

export class MapCatalog {
  readonly pinRoot: string;
  readonly #views: Record<string, MapView>;
  readonly #handles = new Map<string, Handle>();
  #counting: Promise<Map<string, number>> | undefined;

  constructor(opts: { pinRoot: string; views?: Record<string, MapView> }) {
    this.pinRoot = opts.pinRoot;
    this.#views = opts.views ?? MAP_VIEWS;
  }

  /** Names of the maps pinned under the pin root (links/ and other folders are not maps). */
  names(): string[] {
    let entries;
    try {
      entries = readdirSync(this.pinRoot, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries
      .filter((e) => !e.isDirectory() && NAME.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  has(name: string): boolean {
    return NAME.test(name) && this.names().includes(name);
  }

  async summaries(): Promise<MapSummary[]> {
    const counts = await this.counts();
    const out: MapSummary[] = [];
    for (const name of this.names()) {
      const h = this.#tryOpen(name);
      if (h) out.push(this.#summary(name, h, counts.get(name) ?? 0));
    }
    return out;
  }

  async summary(name: string): Promise<MapSummary> {
    const h = this.#open(name);
    const counts = await this.counts();
    return this.#summary(name, h, counts.get(name) ?? 0);
  }

  /** Entries per map. Counting means dumping every map, so concurrent callers share the dump in flight. */
  counts(): Promise<Map<string, number>> {
    this.#counting ??= (async () => {
      const out = new Map<string, number>();
      for (const name of this.names()) {
        const h = this.#tryOpen(name);
        if (h) out.set(name, (await h.map.lookupAll()).length);
      }
      return out;
    })().finally(() => (this.#counting = undefined));
    return this.#counting;
  }

  /** Every entry, sorted by key bytes: the order pages are cut in. */
  async raw(name: string): Promise<RawEntry[]> {
    const h = this.#open(name);
    const rows = (await h.map.lookupAll()).map(([key, value]) => ({ id: key.toString('hex'), key, value }));
    // Hex of equal-length keys sorts as the bytes do.
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One entry decoded with the map's BTF and shown as its view says. */
  decode(name: string, row: RawEntry): DecodedEntry {
    const h = this.#open(name);
    if (!h.key || !h.value) return { key: row.key.toString('hex'), value: row.value.toString('hex') };
    const key = h.key.decode(row.key);
    const { info } = h.map;
    let value: unknown;
    if (info.perCpu) {
      const stride = Math.ceil(info.valueSize / 8) * 8;
      value = Array.from({ length: info.userValueSize / stride }, (_, i) => h.value!.decode(row.value, i * stride));
    } else {
      value = h.value.decode(row.value);
    }
    if (h.view?.present && isRecord(key) && isRecord(value)) h.view.present(key, value);
    return { key: jsonSafe(key), value: jsonSafe(value) };
  }

  /**
   * The codecs of a map's entries: its BTF with its view's field formats,
   * before the view renames anything. Undefined when the map has no BTF.
   */
  codecs(name: string): { key: Codec<unknown>; value: Codec<unknown> } | undefined {
    const h = this.#open(name);
    return h.key && h.value ? { key: h.key, value: h.value } : undefined;
  }

  /** The leaf fields of an entry of this map ("key.addr", "value.flags"): the filter's vocabulary. */
  fields(name: string): string[] {
    const { info } = this.#open(name).map;
    const zero = this.decode(name, {
      id: '',
      key: Buffer.alloc(info.keySize),
      value: Buffer.alloc(info.userValueSize),
    });
    return fieldPaths(zero);
  }

  /** Decodes many rows, yielding to the event loop between chunks. */
  async decodeAll(name: string, rows: readonly RawEntry[]): Promise<DecodedEntry[]> {
    const out: DecodedEntry[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (i > 0 && i % DECODE_CHUNK === 0) await new Promise((r) => setImmediate(r));
      out.push(this.decode(name, rows[i]!));
    }
    return out;
  }

  close(): void {
    for (const h of this.#handles.values()) h.map.close();
    this.#handles.clear();
  }

  #summary(name: string, h: Handle, entries: number): MapSummary {
    const { info } = h.map;
    return {
      name,
      id: info.id,
      type: info.type,
      keySize: info.keySize,
      valueSize: info.valueSize,
      maxEntries: info.maxEntries,
      entries,
      memoryBytes: memlock(h.map.fd),
      pinPath: join(this.pinRoot, name),
      description: h.view?.description ?? null,
    };
  }

  #tryOpen(name: string): Handle | undefined {
    try {
      return this.#open(name);
    } catch {
      return undefined; // a pin that is not a map, or one removed meanwhile
    }
  }

  #open(name: string): Handle {
    if (!NAME.test(name)) throw new ApiError(ApiErrorCode.NotFound, `no map named "${name}"`);
    const path = join(this.pinRoot, name);
    let ino: number;
    try {
      ino = statSync(path).ino;
    } catch {
      throw new ApiError(ApiErrorCode.NotFound, `no map named "${name}" is pinned under ${this.pinRoot}`);
    }
    const cached = this.#handles.get(name);
    if (cached && cached.ino === ino) return cached;
    cached?.map.close();
    this.#handles.delete(name);
    let map: BpfMap;
    try {
      map = BpfMap.openPinned(path);
    } catch (err) {
      throw new ApiError(ApiErrorCode.Internal, `cannot open the map pinned at ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const view = this.#views[name];
    const btf = safeBtf(map);
    const key = btf?.key ? derive<unknown>(`${name} key`, btf.key, view?.key) : undefined;
    const value = btf?.value ? derive<unknown>(`${name} value`, btf.value, view?.value) : undefined;
    const h: Handle = { map, ino, view, key, value };
    this.#handles.set(name, h);
    return h;
  }
}

function safeBtf(map: BpfMap) {
  try {
    return map.btf();
  } catch {
    return null; // shown as hex: better than refusing to show the map
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The kernel's memory charge for a map, from /proc/self/fdinfo. */
function memlock(fd: number): number | null {
  try {
    const m = /^memlock:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
