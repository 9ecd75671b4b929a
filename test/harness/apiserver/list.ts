// GET on a collection: filtering, paging with limit/continue, and the list
// body. A paged list is served from a snapshot taken at its first page: the
// matching StoredObjects in key order at that revision. Stored objects never
// change, so later pages are exactly consistent with the first one, which is
// what etcd's read-at-revision gives the real server. The snapshot lives
// until it is evicted or the history is compacted; a continue token whose
// snapshot is gone is 410 Expired, as a token past etcd's compaction is.

import type { ResourceInfo } from './resources.js';
import type { Selector } from './selectors.js';
import { everything } from './selectors.js';
import { badRequest, expired } from './status.js';
import type { Store, StoredObject } from './store.js';

export interface ListQuery {
  info: ResourceInfo;
  namespace?: string;
  selector: Selector;
  /** 0 or undefined: no limit. */
  limit?: number;
  continueToken?: string;
}

interface Snapshot {
  rv: number;
  items: StoredObject[];
}

interface ContinueToken {
  v: 'meta.k8s.io/v1';
  rv: number;
  /** Index of the next item in the snapshot. */
  start: number;
  snapshot: number;
}

/** Paged lists in flight; enough for a few informers paging at once. */
const MAX_SNAPSHOTS = 64;

export class Lister {
  private readonly snapshots = new Map<number, Snapshot>();
  private nextSnapshot = 1;

  constructor(private readonly store: Store) {}

  /** Forgets every snapshot, so every outstanding continue token is Expired. */
  forgetSnapshots(): void {
    this.snapshots.clear();
  }

  /** The JSON body of a list response. Throws ApiError 400/410. */
  list(query: ListQuery): string {
    const { info } = query;
    let snapshotId: number;
    let snapshot: Snapshot;
    let start: number;
    if (query.continueToken !== undefined && query.continueToken !== '') {
      const token = decodeToken(query.continueToken);
      const found = this.snapshots.get(token.snapshot);
      if (found === undefined || found.rv !== token.rv) {
        throw expired(
          'The provided continue parameter is too old to display a consistent list result. ' +
            'You can start a new list without the continue parameter.',
        );
      }
      snapshotId = token.snapshot;
      snapshot = found;
      start = token.start;
    } else {
      const all = this.store.list(info.kind, query.namespace);
      const items = query.selector === everything ? all : all.filter((o) => query.selector(o));
      snapshot = { rv: this.store.resourceVersion, items };
      snapshotId = 0;
      start = 0;
    }

    const limit = query.limit !== undefined && query.limit > 0 ? query.limit : Infinity;
    const end = Math.min(snapshot.items.length, start + limit);
    const page = snapshot.items.slice(start, end);
    let more = '';
    if (end < snapshot.items.length) {
      if (snapshotId === 0) snapshotId = this.keep(snapshot);
      const token: ContinueToken = { v: 'meta.k8s.io/v1', rv: snapshot.rv, start: end, snapshot: snapshotId };
      more = `,"continue":${JSON.stringify(encodeToken(token))}`;
      // The real server counts what is left only when no selector filters the list.
      if (query.selector === everything) more += `,"remainingItemCount":${snapshot.items.length - end}`;
    }
    return (
      `{"kind":"${info.listKind}","apiVersion":"${info.apiVersion}",` +
      `"metadata":{"resourceVersion":"${snapshot.rv}"${more}},` +
      `"items":[${joinJson(page)}]}`
    );
  }

  private keep(snapshot: Snapshot): number {
    const id = this.nextSnapshot++;
    this.snapshots.set(id, snapshot);
    if (this.snapshots.size > MAX_SNAPSHOTS) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest !== undefined) this.snapshots.delete(oldest);
    }
    return id;
  }
}

const joinJson = (items: readonly StoredObject[]): string => items.map((o) => o.json).join(',');

const encodeToken = (token: ContinueToken): string => Buffer.from(JSON.stringify(token)).toString('base64url');

function decodeToken(raw: string): ContinueToken {
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (typeof token.rv === 'number' && typeof token.start === 'number' && typeof token.snapshot === 'number') {
      return token as ContinueToken;
    }
  } catch {
    // Falls through to the same 400 as a well-formed token of the wrong shape.
  }
  throw badRequest('continue key is not valid');
}
