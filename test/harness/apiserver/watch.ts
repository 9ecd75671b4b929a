// GET ?watch=true: a chunked stream of JSON lines, one watch event per line,
// as the real apiserver sends them:
//
//   {"type":"ADDED","object":{...}}
//   {"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"42"}}}
//
// A stream does not queue events. It keeps a cursor, the last revision it has
// dealt with, and pulls from the store's history when there is something new
// and the socket can take it. So a paused (silenced) or slow stream costs
// nothing until it resumes; one that falls behind the history is closed, as
// the real server closes a watcher too slow for its watch cache.

import type { ServerResponse } from 'node:http';
import type { Kind, ResourceInfo } from './resources.js';
import type { Selector } from './selectors.js';
import type { Status } from './status.js';
import type { Store, StoreEvent, StoredObject } from './store.js';

export interface WatchParams {
  info: ResourceInfo;
  /** undefined: every namespace. */
  namespace?: string;
  selector: Selector;
  /**
   * Revision to stream events after; undefined sends the current state as
   * synthetic ADDED events first (resourceVersion "" or "0", or sendInitialEvents).
   */
  sinceRv?: number;
  /** sendInitialEvents=true: mark the end of the initial state with a bookmark. */
  initialEventsEnd: boolean;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  /** timeoutSeconds, in ms: end the stream cleanly after this long. */
  timeoutMs?: number;
}

/** Bytes gathered before a write, so a burst of events is a few chunks, not thousands. */
const WRITE_BATCH = 256 * 1024;

const eventLine = (type: string, json: string): string => `{"type":"${type}","object":${json}}\n`;

/** Answers a watch that cannot start (e.g. 410 too old) the way the real server does: 200, one ERROR event, end. */
export function sendWatchError(res: ServerResponse, status: Status): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(eventLine('ERROR', JSON.stringify(status)));
}

export class WatchStream {
  readonly kind: Kind;
  private cursor: number;
  private initial: StoredObject[] = [];
  private initialIndex = 0;
  private pendingInitialEnd: boolean;
  private paused = false;
  private waitingForDrain = false;
  private scheduled = false;
  private timeoutDue = false;
  private ended = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly store: Store,
    private readonly res: ServerResponse,
    private readonly params: WatchParams,
    onClose: (stream: WatchStream) => void,
  ) {
    this.kind = params.info.kind;
    this.pendingInitialEnd = params.initialEventsEnd;
    if (params.sinceRv === undefined) {
      this.initial = store.list(this.kind, params.namespace).filter((o) => params.selector(o));
      this.cursor = store.resourceVersion;
    } else {
      this.cursor = params.sinceRv;
    }
    res.on('close', () => {
      this.ended = true;
      for (const t of this.timers) clearTimeout(t);
      onClose(this);
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    if (params.bookmarks) {
      this.timers.push(setInterval(() => this.bookmark(), params.bookmarkIntervalMs).unref());
    }
    if (params.timeoutMs !== undefined) {
      this.timers.push(setTimeout(() => this.timeOut(), params.timeoutMs).unref());
    }
    this.pump();
  }

  /** Called on every store write; coalesces a burst of writes into one pump. */
  schedule(): void {
    if (this.scheduled || this.ended) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Stops sending anything, bookmarks included, with the socket left open. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.timeoutDue) this.timeOut();
    else this.pump();
  }

  /** Cuts the connection: mid-stream and without the terminating chunk, or cleanly. */
  drop(graceful: boolean): void {
    if (this.ended) return;
    if (graceful) this.finish();
    else this.res.destroy();
  }

  private pump(): void {
    if (this.ended || this.paused || this.waitingForDrain) return;
    let buffer = '';
    const flush = (): boolean => {
      if (buffer === '') return true;
      const ok = this.res.write(buffer);
      buffer = '';
      if (!ok) {
        this.waitingForDrain = true;
        this.res.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
      }
      return ok;
    };

    while (this.initialIndex < this.initial.length) {
      const item = this.initial[this.initialIndex++];
      if (item !== undefined) buffer += eventLine('ADDED', item.json);
      if (buffer.length >= WRITE_BATCH && !flush()) return;
    }
    if (this.initial.length > 0) this.initial = []; // let the snapshot go
    if (this.pendingInitialEnd) {
      this.pendingInitialEnd = false;
      buffer += this.bookmarkLine(true);
    }
    while (this.cursor < this.store.resourceVersion) {
      const event = this.store.eventAt(this.cursor + 1);
      if (event === 'expired') {
        // Fell behind the history: end the stream; the client resumes from its
        // last revision and gets 410 if that is gone too.
        flush();
        this.finish();
        return;
      }
      if (event === undefined) break;
      this.cursor = event.rv;
      if (event.kind === this.kind) buffer += this.lineFor(event);
      if (buffer.length >= WRITE_BATCH && !flush()) return;
    }
    flush();
  }

  /** The line this stream sends for an event, "" when its filter hides it. */
  private lineFor(event: StoreEvent): string {
    const matchesNow = this.accepts(event.object);
    if (event.type !== 'MODIFIED') return matchesNow ? eventLine(event.type, event.object.json) : '';
    const matchedBefore = event.previous !== undefined && this.accepts(event.previous);
    // As the real watch cache does: an object that starts matching is ADDED,
    // one that stops matching is DELETED (its old state at the new revision).
    if (matchesNow) return eventLine(matchedBefore ? 'MODIFIED' : 'ADDED', event.object.json);
    return matchedBefore ? eventLine('DELETED', this.store.previousAtEventRv(event)) : '';
  }

  private accepts(obj: StoredObject): boolean {
    const ns = this.params.namespace;
    return (ns === undefined || obj.namespace === ns) && this.params.selector(obj);
  }

  private bookmarkLine(initialEventsEnd: boolean): string {
    const { info } = this.params;
    const annotations = initialEventsEnd ? ',"annotations":{"k8s.io/initial-events-end":"true"}' : '';
    const metadata = `{"resourceVersion":"${this.cursor}"${annotations}}`;
    return eventLine('BOOKMARK', `{"kind":"${info.kind}","apiVersion":"${info.apiVersion}","metadata":${metadata}}`);
  }

  private bookmark(): void {
    if (this.ended || this.paused) return;
    // Catch up first, so the bookmark's revision covers every event before it.
    this.pump();
    if (this.waitingForDrain || this.initialIndex < this.initial.length || this.ended) return;
    this.res.write(this.bookmarkLine(false));
  }

  private timeOut(): void {
    if (this.paused) {
      this.timeoutDue = true;
      return;
    }
    this.pump();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }
}

/** Every open watch, so faults and the store's writes can reach them. */
export class WatchRegistry {
  private readonly streams = new Set<WatchStream>();

  constructor(private readonly store: Store) {
    store.subscribe((event) => {
      for (const s of this.streams) if (s.kind === event.kind) s.schedule();
    });
  }

  open(res: ServerResponse, params: WatchParams): WatchStream {
    const stream = new WatchStream(this.store, res, params, (s) => this.streams.delete(s));
    this.streams.add(stream);
    return stream;
  }

  count(kind?: Kind): number {
    let n = 0;
    for (const s of this.streams) if (kind === undefined || s.kind === kind) n++;
    return n;
  }

  /** The streams open now; faults act on these and not on later ones. */
  current(): WatchStream[] {
    return [...this.streams];
  }
}
