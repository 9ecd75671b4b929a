// A Kubernetes API server for tests: Services, EndpointSlices and Nodes over
// the real HTTP list/watch protocol, so @kubernetes/client-node informers and
// our own reflector run against it unchanged. Tests write through methods
// (create/update/apply/delete) or real HTTP, and inject the faults a real
// control plane has: dropped and silent watches, compacted history, failing
// requests.
//
//   const server = new ApiServer();
//   await server.listen({ port: 0 });               // or { path: '/tmp/x/api.sock' }
//   const kc = new KubeConfig(); kc.loadFromString(kubeconfigFor(server.url));
//   server.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: {} });
//
// The pieces live in ./apiserver/: the versioned store, lists with paging,
// watch streams, selectors, faults and the HTTP routing.

import { lstatSync, unlinkSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestCounts } from './apiserver/faults.js';
import { FailureRules, RequestCounter } from './apiserver/faults.js';
import { createHandler } from './apiserver/http.js';
import { Lister } from './apiserver/list.js';
import type { Kind } from './apiserver/resources.js';
import { isKind, RESOURCES } from './apiserver/resources.js';
import { badRequest } from './apiserver/status.js';
import type { KubeObject, ObjectMeta, StoredObject } from './apiserver/store.js';
import { admit, Store } from './apiserver/store.js';
import { WatchRegistry } from './apiserver/watch.js';

export type { RequestCounts, Verb } from './apiserver/faults.js';
export { kubeconfigFor, kubeconfigObject } from './apiserver/kubeconfig.js';
export type { Kind } from './apiserver/resources.js';
export { ApiError } from './apiserver/status.js';
export type { Status } from './apiserver/status.js';
export type { KubeObject, ObjectMeta } from './apiserver/store.js';

/** What a write returns: the caller's object with the metadata the server filled in. */
export type Stored<T extends KubeObject> = T & { metadata: ObjectMeta };

export interface ApiServerOptions {
  /** Interval between BOOKMARK events on watches that allow them. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Events kept for watches resuming from an old resourceVersion. Default 100,000. */
  historyLimit?: number;
  /** Clock for creationTimestamp. */
  now?: () => Date;
}

export interface ListenOptions {
  /** TCP host; default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Listen on this Unix socket instead of TCP. A stale socket file is replaced. */
  path?: string;
}

export interface Listener {
  /** http://host:port; for a Unix socket "http://localhost", to be used with socketPath. */
  url: string;
  socketPath?: string;
}

export class ApiServer {
  private readonly store: Store;
  private readonly lister: Lister;
  private readonly watches: WatchRegistry;
  private readonly faults = new FailureRules();
  private readonly counter = new RequestCounter();
  private readonly servers: Server[] = [];
  private readonly listeners: Listener[] = [];
  private readonly stallTimers = new Set<NodeJS.Timeout>();
  private readonly handler: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(opts: ApiServerOptions = {}) {
    this.store = new Store({
      ...(opts.historyLimit !== undefined && { historyLimit: opts.historyLimit }),
      ...(opts.now !== undefined && { now: opts.now }),
    });
    this.lister = new Lister(this.store);
    this.watches = new WatchRegistry(this.store);
    this.handler = createHandler({
      store: this.store,
      lister: this.lister,
      watches: this.watches,
      faults: this.faults,
      counts: this.counter,
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
    });
  }

  /** A server listening on 127.0.0.1 at a free port. */
  static async start(opts: ApiServerOptions & ListenOptions = {}): Promise<ApiServer> {
    const server = new ApiServer(opts);
    await server.listen({
      ...(opts.host !== undefined && { host: opts.host }),
      ...(opts.port !== undefined && { port: opts.port }),
      ...(opts.path !== undefined && { path: opts.path }),
    });
    return server;
  }

  /** Starts listening; may be called more than once (e.g. TCP for the test, a Unix socket for a namespace). */
  async listen(opts: ListenOptions = {}): Promise<Listener> {
    const server = createServer({ keepAliveTimeout: 60_000 }, this.handler);
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (opts.path !== undefined) {
        removeStaleSocket(opts.path);
        server.listen(opts.path, resolve);
      } else {
        server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
      }
    });
    const address = server.address();
    const listener: Listener =
      typeof address === 'string' || opts.path !== undefined
        ? { url: 'http://localhost', socketPath: opts.path ?? String(address) }
        : { url: tcpUrl(address as AddressInfo) };
    this.listeners.push(listener);
    return listener;
  }

  /** The first TCP listener's URL. */
  get url(): string {
    const tcp = this.listeners.find((l) => l.socketPath === undefined);
    if (tcp === undefined) throw new Error('ApiServer is not listening on TCP (a Unix socket needs a forwarder)');
    return tcp.url;
  }

  /** The first Unix socket listened on, if any. */
  get socketPath(): string | undefined {
    return this.listeners.find((l) => l.socketPath !== undefined)?.socketPath;
  }

  /** Stops listening and destroys every connection, open watches included. */
  async close(): Promise<void> {
    for (const t of this.stallTimers) clearTimeout(t);
    this.stallTimers.clear();
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
    this.listeners.length = 0;
  }

  /** The latest resourceVersion, as lists report it. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  // --- Writes. Each takes a copy of `obj` and returns the stored object
  // (uid, creationTimestamp, resourceVersion filled in). Failures throw ApiError.

  /** 409 AlreadyExists if it exists. */
  create<T extends KubeObject>(obj: T): Stored<T> {
    const info = infoOf(obj);
    return parse(this.store.create(info, admit(info, copy(obj))));
  }

  /** 404 NotFound if missing. Ignores metadata.resourceVersion: the test's write wins (HTTP PUT checks it). */
  update<T extends KubeObject>(obj: T): Stored<T> {
    const info = infoOf(obj);
    return parse(this.store.update(info, admit(info, copy(obj)), false));
  }

  /** Creates or replaces. */
  apply<T extends KubeObject>(obj: T): Stored<T> {
    const info = infoOf(obj);
    const body = admit(info, copy(obj));
    const exists = this.store.get(info.kind, body.metadata.namespace ?? '', body.metadata.name ?? '') !== undefined;
    return parse(exists ? this.store.update(info, body, false) : this.store.create(info, body));
  }

  /** Returns the object's last state, stamped with the deletion's resourceVersion. 404 if missing. */
  delete(kind: Kind, namespace: string | undefined, name: string): Stored<KubeObject> {
    return parse(this.store.delete(RESOURCES[kind], namespace ?? 'default', name));
  }

  get(kind: Kind, namespace: string | undefined, name: string): Stored<KubeObject> | undefined {
    const info = RESOURCES[kind];
    const stored = this.store.get(kind, info.namespaced ? (namespace ?? 'default') : '', name);
    return stored === undefined ? undefined : parse(stored);
  }

  list(kind: Kind, namespace?: string): Stored<KubeObject>[] {
    return this.store.list(kind, namespace).map((s) => parse(s));
  }

  // --- Faults.

  /**
   * Ends every open watch. By default abruptly (socket destroyed mid-stream,
   * no terminating chunk); `graceful` ends the response as a timeout would.
   * Returns how many were open.
   */
  dropWatches(opts: { graceful?: boolean } = {}): number {
    const streams = this.watches.current();
    for (const s of streams) s.drop(opts.graceful === true);
    return streams.length;
  }

  /**
   * Open watches stop sending anything, bookmarks included, and keep their
   * sockets open, until resume(). Watches opened later are not affected, so a
   * client that detects the silence and rewatches recovers.
   */
  silence(): void {
    for (const s of this.watches.current()) s.pause();
  }

  /** Lets every silenced watch send again, starting with what it missed. */
  resume(): void {
    for (const s of this.watches.current()) s.resume();
  }

  /** silence() the open watches for `ms`, then resume them. */
  stallWatches(ms: number): void {
    const streams = this.watches.current();
    for (const s of streams) s.pause();
    const timer = setTimeout(() => {
      this.stallTimers.delete(timer);
      for (const s of streams) s.resume();
    }, ms);
    this.stallTimers.add(timer);
  }

  /**
   * Forgets the event history and every paged list: a watch from any earlier
   * resourceVersion gets 410 Expired, and so does every outstanding continue token.
   */
  compact(): void {
    this.store.compact();
    this.lister.forgetSnapshots();
  }

  /**
   * The next `count` requests matching `match` are answered with `status` (a
   * Status body; 429 carries Retry-After: 1). A RegExp is tested against
   * "METHOD /path?query" and against "/path?query"; a string matches as a substring.
   */
  failNext(match: RegExp | string, status: number, count = 1): void {
    this.faults.add(match, status, count);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // --- Observation.

  /** Requests received for a kind, by verb, including those failNext answered. */
  counts(kind: Kind): RequestCounts {
    return this.counter.of(kind);
  }

  resetCounts(): void {
    this.counter.reset();
  }

  openWatches(kind?: Kind): number {
    return this.watches.count(kind);
  }

  /** Resolves once at least `count` watches of `kind` are open. */
  async waitForWatches(kind: Kind, count = 1, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.watches.count(kind) < count) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${count} ${kind} watch(es); ${this.watches.count(kind)} open`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function infoOf(obj: KubeObject) {
  if (!isKind(obj.kind)) throw badRequest(`kind ${String(obj.kind)} is not served (Service, EndpointSlice, Node)`);
  return RESOURCES[obj.kind];
}

/** The server keeps its own copy; what the caller holds stays the caller's. */
const copy = (obj: KubeObject): KubeObject => JSON.parse(JSON.stringify(obj)) as KubeObject;

const parse = <T>(stored: StoredObject): T => JSON.parse(stored.json) as T;

const tcpUrl = (a: AddressInfo): string => `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there: the usual case.
  }
}
