// Standalone mode: Services, EndpointSlices and Nodes read from manifest files
// instead of an API server. PATH is one file, or a directory whose *.yaml,
// *.yml and *.json files are read in name order (not its subdirectories).
// A file holds JSON, YAML, several YAML documents, or a List.
//
// Every change re-reads all files and replaces the store's content per kind,
// so the store always holds exactly what the files say, and unchanged
// objects cost nothing (the store drops equal writes). Changes are seen by
// fs.watch on the directory (the file's directory in file mode, as editors
// replace a file by renaming a new one over it, which a watch on the file
// itself would not survive), with a poll of names, sizes and mtimes behind it
// for filesystems that do not report changes (NFS, some overlays).
//
// Bad input never costs what was programmed: a file that does not parse keeps
// its last good objects, a bad object is skipped while the rest of its file
// applies, and a PATH that vanishes keeps everything until it is back.
import { type FSWatcher, type Stats, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { isNode, LineCounter, parseAllDocuments } from 'yaml';
import { ObjectError, slimObject } from './slim.js';
import type { KindValues, Store } from './store.js';
import type { ObjectKind } from './types.js';

export interface ManifestSourceOptions {
  /** A manifest file, or a directory of them. */
  path: string;
  store: Store;
  logger: Logger;
  /** Quiet time after a change before re-reading: editors and `kubectl` write in bursts. */
  debounceMs?: number;
  /** How often to compare names, sizes and mtimes, for changes fs.watch misses. */
  pollIntervalMs?: number;
}

interface ManifestObject {
  kind: ObjectKind;
  value: KindValues[ObjectKind];
  /** "file:line" (YAML) or "file items[3]" (JSON), for logs. */
  where: string;
}

interface FileState {
  /** The text `objects` came from: the last that parsed. */
  text: string | undefined;
  objects: ManifestObject[];
  /** The last problem logged for this file, so a re-read does not log it again. */
  problem?: string;
}

const KINDS: readonly ObjectKind[] = ['Service', 'EndpointSlice', 'Node'];
const MANIFEST_NAME = /^[^.].*\.(ya?ml|json)$/i; // dotfiles include editor swap files and ConfigMap's ..data
// YAML aliases can expand a small file into a huge object ("billion laughs").
const MAX_ALIAS_COUNT = 1000;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A file that does not parse as a whole. */
class FileSyntaxError extends Error {
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(msg: string, line?: number, column?: number) {
    super(msg);
    this.line = line;
    this.column = column;
  }
}

interface RawDocument {
  raw: unknown;
  where: string;
  itemWhere: (i: number) => string;
}

function documents(file: string, text: string): RawDocument[] {
  if (extname(file).toLowerCase() === '.json') {
    if (text.trim() === '') return [];
    try {
      return [{ raw: JSON.parse(text), where: file, itemWhere: (i) => `${file} items[${i}]` }];
    } catch (err) {
      // V8 says where: "... in JSON at position 10 (line 3 column 1)".
      const m = /line (\d+) column (\d+)/.exec(message(err));
      throw new FileSyntaxError(message(err), m ? Number(m[1]) : undefined, m ? Number(m[2]) : undefined);
    }
  }
  const lines = new LineCounter();
  const out: RawDocument[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines, prettyErrors: false })) {
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lines.linePos(err.pos[0]);
      throw new FileSyntaxError(err.message, line, col);
    }
    const line = doc.contents ? lines.linePos(doc.contents.range[0]).line : 1;
    let raw: unknown;
    try {
      raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      throw new FileSyntaxError(message(e), line);
    }
    if (raw === null || raw === undefined) continue; // an empty document, e.g. after a trailing ---
    const itemWhere = (i: number): string => {
      const node = doc.getIn(['items', i], true);
      return isNode(node) && node.range
        ? `${file}:${lines.linePos(node.range[0]).line}`
        : `${file}:${line} items[${i}]`;
    };
    out.push({ raw, where: `${file}:${line}`, itemWhere });
  }
  return out;
}

/** The objects of a document: itself, or the items of a List (ServiceList, …). */
function* objectsOf(doc: RawDocument): Generator<{ raw: unknown; where: string }> {
  const { raw } = doc;
  if (!isRec(raw) || typeof raw.kind !== 'string' || !raw.kind.endsWith('List') || !Array.isArray(raw.items)) {
    yield doc;
    return;
  }
  const itemKind = raw.kind === 'List' ? undefined : raw.kind.slice(0, -'List'.length);
  for (const [i, item] of raw.items.entries()) {
    // Items of a typed list leave out kind and apiVersion, as an API server's do.
    const bare = itemKind !== undefined && isRec(item) && item.kind === undefined;
    yield { raw: bare ? { apiVersion: raw.apiVersion, ...item, kind: itemKind } : item, where: doc.itemWhere(i) };
  }
}

/** The usable objects of a file; logs the bad ones. Throws FileSyntaxError. */
function parseFile(file: string, text: string, log: Logger): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const doc of documents(file, text)) {
    for (const { raw, where } of objectsOf(doc)) {
      const kind = isRec(raw) ? raw.kind : undefined;
      if (typeof kind === 'string' && !(KINDS as readonly string[]).includes(kind)) {
        log.debug({ file: where, kind }, 'skipping an object of a kind the proxy does not read');
        continue;
      }
      try {
        const { kind, value, warnings } = slimObject(raw);
        if (warnings.length) {
          const msg = `${where}: ${kind} ${nameOf(value)}: ignoring bad parts: ${warnings.join('; ')}`;
          log.warn({ file: where, kind, problems: warnings }, msg);
        }
        out.push({ kind, value, where });
      } catch (err) {
        if (!(err instanceof ObjectError)) throw err;
        log.error({ file: where, kind: err.kind, problems: err.problems }, `${where}: skipping ${err.message}`);
      }
    }
  }
  return out;
}

const nameOf = (v: KindValues[ObjectKind]): string => ('namespace' in v ? `${v.namespace}/${v.name}` : v.name);

export class ManifestSource {
  readonly #path: string;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #pollIntervalMs: number;
  #isDir = false;
  /** By absolute file name: what each file contributes. */
  readonly #files = new Map<string, FileState>();
  #fingerprint = '';
  #watcher: { w: FSWatcher; ino: number } | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #firstChangeAt: number | undefined;
  #running: Promise<void> | undefined;
  #polling = false;
  #again = false;
  #stopped = false;

  constructor(options: ManifestSourceOptions) {
    this.#path = resolve(options.path);
    this.#store = options.store;
    this.#log = options.logger;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000;
  }

  /**
   * Reads every manifest into the store, marks all kinds synced, then follows
   * changes. Throws when PATH cannot be read at all: a mistyped path is a
   * configuration error, and an empty store would withdraw every service.
   */
  async start(): Promise<void> {
    let st: Stats;
    try {
      st = await stat(this.#path);
    } catch (err) {
      throw new Error(`manifests: cannot read ${this.#path}: ${message(err)}`, { cause: err });
    }
    this.#isDir = st.isDirectory();
    await this.reload();
    for (const kind of KINDS) this.#store.markSynced(kind);
    await this.#watch();
    this.#poll = setInterval(() => void this.#pollOnce(), this.#pollIntervalMs);
    this.#poll.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    this.#watcher?.w.close();
    this.#watcher = undefined;
    await this.#running;
  }

  /** Re-reads every file now; concurrent calls share one pass (plus one more if needed). */
  reload(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#readAll().catch((err: unknown) => {
            this.#log.error({ err }, 'reading manifests failed; keeping every object as it is');
          });
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  async #readAll(): Promise<void> {
    let listing: Array<{ file: string; st: Stats }>;
    try {
      listing = await this.#list();
    } catch (err) {
      const msg = `${this.#path}: cannot read (${message(err)}); keeping every object as it is`;
      this.#log.error({ file: this.#path, err: message(err) }, msg);
      return;
    }
    this.#fingerprint = fingerprint(listing);
    const listed = new Set(listing.map((l) => l.file));
    for (const file of this.#files.keys()) {
      if (!listed.has(file)) {
        this.#log.info({ file }, `${file}: removed; its objects go with it`);
        this.#files.delete(file);
      }
    }
    for (const { file } of listing) await this.#readOne(file);
    this.#apply();
  }

  async #list(): Promise<Array<{ file: string; st: Stats }>> {
    if (!this.#isDir) return [{ file: this.#path, st: await stat(this.#path) }];
    const names = (await readdir(this.#path)).filter((n) => MANIFEST_NAME.test(n)).sort();
    const out: Array<{ file: string; st: Stats }> = [];
    for (const name of names) {
      const file = join(this.#path, name);
      // stat follows symlinks (ConfigMap volumes are links into ..data); a
      // dangling link or a file gone since readdir is simply not there.
      const st = await stat(file).catch(() => undefined);
      if (st?.isFile()) out.push({ file, st });
    }
    return out;
  }

  async #readOne(file: string): Promise<void> {
    const state: FileState = this.#files.get(file) ?? { text: undefined, objects: [] };
    this.#files.set(file, state);
    const problem = (key: string, what: string, line?: number, column?: number) => {
      if (state.problem === key) return;
      state.problem = key;
      const at = line ? `${file}:${line}${column ? `:${column}` : ''}` : file;
      const msg = `${at}: ${what}; keeping its last good objects (${state.objects.length})`;
      this.#log.error({ file, line, column, err: what }, msg);
    };
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        this.#files.delete(file); // deleted since the listing
      else problem(`read:${message(err)}`, `cannot read: ${message(err)}`);
      return;
    }
    if (text === state.text) {
      if (state.problem) this.#log.info({ file }, `${file}: back to its last good content`);
      state.problem = undefined;
      return;
    }
    try {
      state.objects = parseFile(file, text, this.#log);
      state.text = text;
      if (state.problem) this.#log.info({ file }, `${file}: parses again`);
      state.problem = undefined;
    } catch (err) {
      const at = err instanceof FileSyntaxError ? err : undefined;
      problem(`parse:${text}`, `does not parse: ${message(err)}`, at?.line, at?.column);
    }
  }

  /** Merges the files in name order (a later duplicate wins) and replaces the store's content. */
  #apply(): void {
    const chosen = new Map<string, ManifestObject>();
    for (const file of [...this.#files.keys()].sort()) {
      for (const obj of this.#files.get(file)!.objects) {
        const id = `${obj.kind} ${nameOf(obj.value)}`;
        const earlier = chosen.get(id);
        if (earlier) {
          const msg = `${id} is defined twice (${earlier.where}, ${obj.where}); the later one wins`;
          this.#log.warn({ object: id, first: earlier.where, second: obj.where }, msg);
          chosen.delete(id);
        }
        chosen.set(id, obj);
      }
    }
    const byKind: Record<ObjectKind, Array<KindValues[ObjectKind]>> = { Service: [], EndpointSlice: [], Node: [] };
    for (const obj of chosen.values()) byKind[obj.kind].push(obj.value);
    let changes = 0;
    try {
      // Synchronous, so a sync never sees services without their slices.
      for (const kind of KINDS) changes += this.#store.replace(kind, byKind[kind]);
    } catch (err) {
      this.#log.error({ err }, 'a store listener failed while applying manifests');
    }
    if (changes) {
      const counts = { changes, services: byKind.Service.length, endpointSlices: byKind.EndpointSlice.length };
      this.#log.info(counts, 'manifests applied');
    }
  }

  async #watch(): Promise<void> {
    const dir = this.#isDir ? this.#path : dirname(this.#path);
    try {
      const ino = (await stat(dir)).ino;
      if (this.#stopped) return;
      const w = watch(dir, { persistent: false }, () => this.#changed());
      w.on('error', (err) => {
        this.#log.warn({ dir, err: message(err) }, 'watching manifests failed; polling until the watch is back');
        w.close();
        if (this.#watcher?.w === w) this.#watcher = undefined;
      });
      this.#watcher = { w, ino };
    } catch (err) {
      this.#log.warn({ dir, err: message(err) }, 'cannot watch manifests; polling');
    }
  }

  /** Debounced re-read; a steady stream of events still re-reads every 10 debounce periods. */
  #changed(): void {
    if (this.#stopped) return;
    const now = performance.now();
    this.#firstChangeAt ??= now;
    clearTimeout(this.#debounce);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstChangeAt + 10 * this.#debounceMs - now));
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#firstChangeAt = undefined;
      void this.reload();
    }, wait);
  }

  async #pollOnce(): Promise<void> {
    if (this.#polling) return; // a slow filesystem must not pile up polls
    this.#polling = true;
    try {
      await this.#checkForChanges();
    } finally {
      this.#polling = false;
    }
  }

  async #checkForChanges(): Promise<void> {
    const now = await this.#list().then(fingerprint, (err: unknown) => `unreadable: ${message(err)}`);
    if (this.#stopped) return;
    if (now !== this.#fingerprint) {
      this.#fingerprint = now;
      this.#changed();
    }
    // A watch dies with its directory; a directory made again needs a new one.
    const dir = this.#isDir ? this.#path : dirname(this.#path);
    const ino = await stat(dir).then(
      (s) => s.ino,
      () => undefined,
    );
    if (this.#stopped || ino === undefined || ino === this.#watcher?.ino) return;
    this.#watcher?.w.close();
    this.#watcher = undefined;
    await this.#watch();
  }
}

function fingerprint(listing: Array<{ file: string; st: Stats }>): string {
  return listing.map(({ file, st }) => `${file} ${st.ino} ${st.size} ${st.mtimeMs}`).join('\n');
}
