// The versioned object store behind the test API server: what etcd is to the
// real one. One global resourceVersion counts every write, as etcd's revision
// does; each write appends exactly one event, so the history is dense and the
// event for revision r sits at index r - (compactedRv + 1).
//
// Stored objects are immutable: a write makes a new StoredObject and
// serializes it once. Lists and watches send that string as it is, so serving
// 10,000 objects to many clients costs string copies, not JSON.stringify calls.

import { randomUUID } from 'node:crypto';
import type { Kind, ResourceInfo } from './resources.js';
import { KINDS } from './resources.js';
import type { Selectable } from './selectors.js';
import { alreadyExists, badRequest, conflict, notFound } from './status.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  [field: string]: unknown;
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  kind?: string;
  apiVersion?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface StoredObject extends Selectable {
  readonly kind: Kind;
  readonly key: string;
  readonly rv: number;
  /** Never mutated once stored. */
  readonly object: KubeObject & { metadata: ObjectMeta };
  /** JSON.stringify(object), made once. */
  readonly json: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly kind: Kind;
  /** The object after the write; for DELETED, its last state stamped with the deletion's rv. */
  readonly object: StoredObject;
  /** The object before a MODIFIED, for watches whose selector it stops matching. */
  readonly previous?: StoredObject;
  /** `previous` stamped with this event's rv, made when a watch first needs it. */
  previousAtRv?: string;
}

export interface StoreOptions {
  /** Events kept for watches that resume from an old resourceVersion. */
  historyLimit?: number;
  /** creationTimestamp source; injected so tests can pin it. */
  now?: () => Date;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

function stamp(info: ResourceInfo, object: KubeObject & { metadata: ObjectMeta }, rv: number): StoredObject {
  object.metadata.resourceVersion = String(rv);
  const namespace = object.metadata.namespace ?? '';
  const name = object.metadata.name ?? '';
  return {
    kind: info.kind,
    key: keyOf(namespace, name),
    name,
    namespace,
    labels: object.metadata.labels,
    rv,
    object,
    json: JSON.stringify(object),
  };
}

/**
 * Checks an incoming object against its resource and fills in what the server
 * would (apiVersion from the path, namespace "default"). Takes ownership of `obj`.
 */
export function admit(
  info: ResourceInfo,
  obj: KubeObject,
  opts: { pathNamespace?: string; fillTypeMeta?: boolean } = {},
): KubeObject & { metadata: ObjectMeta } {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw badRequest('object expected');
  if (opts.fillTypeMeta === true) {
    obj.kind ??= info.kind;
    obj.apiVersion ??= info.apiVersion;
  }
  if (obj.kind !== info.kind) throw badRequest(`kind ${String(obj.kind)} does not match ${info.kind}`);
  if (obj.apiVersion !== info.apiVersion) {
    throw badRequest(`apiVersion ${String(obj.apiVersion)} does not match ${info.kind} (${info.apiVersion})`);
  }
  const metadata = obj.metadata;
  if (typeof metadata !== 'object' || metadata === null) throw badRequest('metadata.name: Required value');
  if (typeof metadata.name !== 'string' || metadata.name === '') throw badRequest('metadata.name: Required value');
  if (info.namespaced) {
    const ns = metadata.namespace ?? opts.pathNamespace ?? 'default';
    if (opts.pathNamespace !== undefined && ns !== opts.pathNamespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    metadata.namespace = ns;
  } else {
    delete metadata.namespace;
  }
  return obj as KubeObject & { metadata: ObjectMeta };
}

export class Store {
  private rv = 1;
  private compacted = 1;
  private history: StoreEvent[] = [];
  private readonly objects = new Map<Kind, Map<string, StoredObject>>(KINDS.map((k) => [k, new Map()]));
  /** Sorted keys per kind, dropped when a create or delete changes the key set. */
  private readonly sortedKeys = new Map<Kind, string[]>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly historyLimit: number;
  private readonly now: () => Date;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 100_000;
    this.now = opts.now ?? (() => new Date());
  }

  /** The latest revision: every object and event carries one at or below it. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Watches and continues from before this revision get 410 Expired. */
  get compactedRevision(): number {
    return this.compacted;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(kind: Kind, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(kind)?.get(keyOf(namespace, name));
  }

  /** Objects of a kind in key order (namespace, then name), as etcd lists them. */
  list(kind: Kind, namespace?: string): StoredObject[] {
    const byKey = this.objects.get(kind) ?? new Map<string, StoredObject>();
    let keys = this.sortedKeys.get(kind);
    if (keys === undefined) {
      keys = [...byKey.keys()].sort();
      this.sortedKeys.set(kind, keys);
    }
    const out: StoredObject[] = [];
    for (const key of keys) {
      const stored = byKey.get(key);
      if (stored !== undefined && (namespace === undefined || stored.namespace === namespace)) out.push(stored);
    }
    return out;
  }

  create(info: ResourceInfo, object: KubeObject & { metadata: ObjectMeta }): StoredObject {
    const byKey = this.kindMap(info.kind);
    const key = keyOf(object.metadata.namespace ?? '', object.metadata.name ?? '');
    if (byKey.has(key)) throw alreadyExists(info, object.metadata.name ?? '');
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = this.now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    object.metadata.generation ??= 1;
    const stored = stamp(info, object, this.rv + 1);
    byKey.set(key, stored);
    this.sortedKeys.delete(info.kind);
    this.append({ rv: stored.rv, type: 'ADDED', kind: info.kind, object: stored });
    return stored;
  }

  /**
   * Replaces an object. With `checkVersion`, a resourceVersion in `object`
   * that is not the stored one is a 409 Conflict, as on a real PUT.
   */
  update(info: ResourceInfo, object: KubeObject & { metadata: ObjectMeta }, checkVersion: boolean): StoredObject {
    const byKey = this.kindMap(info.kind);
    const key = keyOf(object.metadata.namespace ?? '', object.metadata.name ?? '');
    const previous = byKey.get(key);
    if (previous === undefined) throw notFound(info, object.metadata.name ?? '');
    const sent = object.metadata.resourceVersion;
    if (checkVersion && sent !== undefined && sent !== '' && sent !== String(previous.rv)) {
      throw conflict(info, previous.name);
    }
    // Fields the server owns survive an update, whatever the client sent.
    object.metadata.uid = previous.object.metadata.uid;
    object.metadata.creationTimestamp = previous.object.metadata.creationTimestamp;
    object.metadata.generation ??= previous.object.metadata.generation;
    const stored = stamp(info, object, this.rv + 1);
    byKey.set(key, stored);
    this.append({ rv: stored.rv, type: 'MODIFIED', kind: info.kind, object: stored, previous });
    return stored;
  }

  delete(info: ResourceInfo, namespace: string, name: string): StoredObject {
    const byKey = this.kindMap(info.kind);
    const key = keyOf(info.namespaced ? namespace : '', name);
    const previous = byKey.get(key);
    if (previous === undefined) throw notFound(info, name);
    byKey.delete(key);
    this.sortedKeys.delete(info.kind);
    const last = stamp(info, withMetadataCopy(previous.object), this.rv + 1);
    this.append({ rv: last.rv, type: 'DELETED', kind: info.kind, object: last });
    return last;
  }

  /**
   * The event at revision `rv`: undefined when it has not happened yet,
   * 'expired' when it has been compacted away.
   */
  eventAt(rv: number): StoreEvent | 'expired' | undefined {
    if (rv <= this.compacted) return 'expired';
    return this.history[rv - this.compacted - 1];
  }

  /** `event.previous` stamped with the event's rv: what a watch whose selector it left gets as DELETED. */
  previousAtEventRv(event: StoreEvent): string {
    if (event.previousAtRv === undefined) {
      const previous = event.previous ?? event.object;
      const copy = withMetadataCopy(previous.object);
      copy.metadata.resourceVersion = String(event.rv);
      event.previousAtRv = JSON.stringify(copy);
    }
    return event.previousAtRv;
  }

  /** Forgets every event so far, as an etcd compaction at the current revision would. */
  compact(): void {
    this.history = [];
    this.compacted = this.rv;
  }

  private append(event: StoreEvent): void {
    this.rv = event.rv;
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      // Drop a tenth at a time so trimming is not a shift() per write.
      const drop = Math.max(1, Math.floor(this.historyLimit / 10));
      this.history = this.history.slice(drop);
      this.compacted += drop;
    }
    for (const listener of this.listeners) listener(event);
  }

  private kindMap(kind: Kind): Map<string, StoredObject> {
    const byKey = this.objects.get(kind);
    if (byKey === undefined) throw new Error(`no store for ${kind}`);
    return byKey;
  }
}

/** A shallow copy with its own metadata, so a stored object can be restamped without mutating it. */
function withMetadataCopy(object: KubeObject & { metadata: ObjectMeta }): KubeObject & { metadata: ObjectMeta } {
  return { ...object, metadata: { ...object.metadata } };
}
