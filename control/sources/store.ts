// The in-memory store sources write into and the sync loop reads from: slim
// services and endpoint slices by "namespace/name", slices indexed by the
// service they belong to, and the Node this proxy runs for.
//
// Every write that changes something tells the listeners which service it
// touched, so a sync recomputes that service only. A write that changes
// nothing tells no one: a relist, a watch resumed after 410 Gone or a re-read
// of manifests delivers thousands of unchanged objects, and each would
// otherwise wake the sync loop. Equality is structural on the slim objects,
// which are small.
//
// Stored values are shared with readers; nobody mutates them.
import { isDeepStrictEqual } from 'node:util';
import type { EndpointSlice, Node, ObjectKey, ObjectKind, Service } from './types.js';
import { objectKey } from './types.js';

export interface KindValues {
  Service: Service;
  EndpointSlice: EndpointSlice;
  Node: Node;
}

export interface StoreChange {
  kind: ObjectKind;
  /** "namespace/name"; a Node's name. */
  key: ObjectKey;
  op: 'add' | 'update' | 'delete';
  /** The service whose ports this change can move; undefined (a Node) means every service. */
  serviceKey: ObjectKey | undefined;
}

export type ChangeListener = (change: StoreChange) => void;

const ALL_KINDS: readonly ObjectKind[] = ['Service', 'EndpointSlice', 'Node'];

/**
 * A stored object. Change detection compares values structurally
 * (isDeepStrictEqual) rather than keeping each object's JSON beside it:
 * at 10,000 services that JSON was 15 MB of the heap.
 */
interface Entry<T> {
  value: T;
}

export class Store {
  /** The node this proxy runs for; Nodes of other names are not stored. */
  readonly nodeName: string;
  readonly #services = new Map<ObjectKey, Entry<Service>>();
  readonly #slices = new Map<ObjectKey, Entry<EndpointSlice>>();
  /** Service key → keys of its slices; a service may not exist yet when its slices do. */
  readonly #slicesByService = new Map<ObjectKey, Set<ObjectKey>>();
  #node: Entry<Node> | undefined;
  readonly #synced = new Set<ObjectKind>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #eventListeners = new Set<(kind: ObjectKind) => void>();
  /** The first listener failure of the write in progress, thrown when it is done. */
  #failure: { err: unknown } | undefined;

  constructor(nodeName: string) {
    this.nodeName = nodeName;
  }

  /** Adds or replaces an object; returns whether anything changed. */
  upsert<K extends ObjectKind>(kind: K, value: KindValues[K]): boolean {
    this.#event(kind);
    return this.#settle(this.#upsert(kind, value));
  }

  /** Removes an object (a Node's namespace is ""); returns whether it was there. */
  delete(kind: ObjectKind, namespace: string, name: string): boolean {
    this.#event(kind);
    return this.#settle(this.#deleteKey(kind, kind === 'Node' ? name : objectKey(namespace, name)));
  }

  /**
   * Makes `values` the whole content of `kind`, as after a relist or a re-read
   * of every manifest: what is gone is deleted, what is new or different is
   * written, what is unchanged is left alone and not announced.
   * Returns the number of changes.
   */
  replace<K extends ObjectKind>(kind: K, values: Iterable<KindValues[K]>): number {
    const seen = new Set<ObjectKey>();
    let changes = 0;
    for (const v of values) {
      if (kind === 'Node') seen.add((v as Node).name);
      else seen.add(objectKey((v as Service | EndpointSlice).namespace, (v as Service | EndpointSlice).name));
      this.#event(kind);
      if (this.#upsert(kind, v)) changes++;
    }
    for (const key of [...this.#keys(kind)]) {
      if (seen.has(key)) continue;
      this.#event(kind);
      if (this.#deleteKey(kind, key)) changes++;
    }
    return this.#settle(changes);
  }

  service(key: ObjectKey): Service | undefined {
    return this.#services.get(key)?.value;
  }

  slice(key: ObjectKey): EndpointSlice | undefined {
    return this.#slices.get(key)?.value;
  }

  /** The slices labelled for this service, whether or not the service exists. */
  slicesForService(key: ObjectKey): EndpointSlice[] {
    const keys = this.#slicesByService.get(key);
    if (!keys) return [];
    const out: EndpointSlice[] = [];
    for (const k of keys) {
      const e = this.#slices.get(k);
      if (e) out.push(e.value);
    }
    return out;
  }

  node(): Node | undefined {
    return this.#node?.value;
  }

  /** A snapshot of the service keys (safe to hold across writes). */
  serviceKeys(): ObjectKey[] {
    return [...this.#services.keys()];
  }

  get size(): { services: number; endpointSlices: number } {
    return { services: this.#services.size, endpointSlices: this.#slices.size };
  }

  /** A source has delivered its whole initial content for `kind`. */
  markSynced(kind: ObjectKind): void {
    this.#synced.add(kind);
  }

  synced(kinds: readonly ObjectKind[] = ALL_KINDS): boolean {
    return kinds.every((k) => this.#synced.has(k));
  }

  /** Calls `listener` after each change; returns the function that stops it. */
  /**
   * Every object a source hands the store, changed or not (an informer's
   * add, update and delete events; each object of a relist): what
   * kube-proxy's *_changes_total metrics count.
   */
  onEvent(listener: (kind: ObjectKind) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  #event(kind: ObjectKind): void {
    for (const l of this.#eventListeners) l(kind);
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #upsert(kind: ObjectKind, value: KindValues[ObjectKind]): boolean {
    switch (kind) {
      case 'Service': {
        const svc = value as Service;
        const key = objectKey(svc.namespace, svc.name);
        return this.#put(this.#services, kind, key, svc, key);
      }
      case 'EndpointSlice': {
        const slice = value as EndpointSlice;
        const key = objectKey(slice.namespace, slice.name);
        const owner = objectKey(slice.namespace, slice.serviceName);
        const before = this.#slices.get(key)?.value;
        const oldOwner = before && objectKey(before.namespace, before.serviceName);
        if (oldOwner !== undefined && oldOwner !== owner) {
          // The service-name label moved: the old service loses the slice.
          this.#unindex(oldOwner, key);
          this.#index(owner, key);
          this.#slices.set(key, { value: slice });
          this.#emit({ kind, key, op: 'update', serviceKey: oldOwner });
          this.#emit({ kind, key, op: 'update', serviceKey: owner });
          return true;
        }
        this.#index(owner, key);
        return this.#put(this.#slices, kind, key, slice, owner);
      }
      default: {
        const node = value as Node;
        if (node.name !== this.nodeName) return false;
        if (this.#node && isDeepStrictEqual(this.#node.value, node)) return false;
        const op = this.#node ? 'update' : 'add';
        this.#node = { value: node };
        this.#emit({ kind, key: node.name, op, serviceKey: undefined });
        return true;
      }
    }
  }

  #put<T>(map: Map<ObjectKey, Entry<T>>, kind: ObjectKind, key: ObjectKey, value: T, serviceKey: ObjectKey): boolean {
    const before = map.get(key);
    if (before && isDeepStrictEqual(before.value, value)) return false;
    map.set(key, { value });
    this.#emit({ kind, key, op: before ? 'update' : 'add', serviceKey });
    return true;
  }

  #deleteKey(kind: ObjectKind, key: ObjectKey): boolean {
    if (kind === 'Node') {
      if (this.#node?.value.name !== key) return false;
      this.#node = undefined;
      this.#emit({ kind, key, op: 'delete', serviceKey: undefined });
      return true;
    }
    const map = kind === 'Service' ? this.#services : this.#slices;
    const before = map.get(key)?.value;
    if (!before) return false;
    map.delete(key);
    let serviceKey = key;
    if (kind === 'EndpointSlice') {
      const slice = before as EndpointSlice;
      serviceKey = objectKey(slice.namespace, slice.serviceName);
      this.#unindex(serviceKey, key);
    }
    this.#emit({ kind, key, op: 'delete', serviceKey });
    return true;
  }

  #keys(kind: ObjectKind): Iterable<ObjectKey> {
    if (kind === 'Service') return this.#services.keys();
    if (kind === 'EndpointSlice') return this.#slices.keys();
    return this.#node ? [this.#node.value.name] : [];
  }

  #index(serviceKey: ObjectKey, sliceKey: ObjectKey): void {
    let set = this.#slicesByService.get(serviceKey);
    if (!set) this.#slicesByService.set(serviceKey, (set = new Set()));
    set.add(sliceKey);
  }

  #unindex(serviceKey: ObjectKey, sliceKey: ObjectKey): void {
    const set = this.#slicesByService.get(serviceKey);
    set?.delete(sliceKey);
    if (set?.size === 0) this.#slicesByService.delete(serviceKey);
  }

  // The store is consistent before anyone hears of a change, and a failing
  // listener neither stops the others nor leaves a write (a whole replace)
  // half done: its error is thrown when the write is complete.
  #emit(change: StoreChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#failure ??= { err };
      }
    }
  }

  #settle<T>(result: T): T {
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) throw failure.err;
    return result;
  }
}
