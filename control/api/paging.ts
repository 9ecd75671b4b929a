// Paging for every list of the API, kube-apiserver style: a page holds at
// most `limit` items and a `continue` token naming the last item returned.
// Items are ordered by a stable key (a map's raw key bytes in hex, a service
// port's name), so the next page starts after that key even if the map
// changed in between: an entry is never returned twice, and one added behind
// the cursor is simply not seen, as with a live `bpftool map dump`.
import { ApiError, ApiErrorCode } from './errors.js';

export const DEFAULT_LIMIT = 500;
export const MAX_LIMIT = 5000;

export interface PageRequest {
  limit?: number | undefined;
  continue?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow: pass it back as `continue`. */
  continue?: string;
  /** How many items follow this page (at the time it was cut). */
  remaining: number;
}

/** The opaque token: which list it belongs to and the key it stops after. */
export function encodeContinue(list: string, after: string): string {
  return Buffer.from(JSON.stringify([list, after])).toString('base64url');
}

export function decodeContinue(list: string, token: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') {
    throw new ApiError(
      ApiErrorCode.BadContinue,
      'the continue token is not one this API issued; start again without it',
    );
  }
  if (parsed[0] !== list) {
    throw new ApiError(ApiErrorCode.BadContinue, `the continue token belongs to ${parsed[0]}, not ${list}`);
  }
  return parsed[1];
}

/**
 * One page of `items`, which must be sorted by `keyOf` (string order). The
 * list name binds tokens to their list, so one list's token is refused by another.
 */
export function pageOf<T>(list: string, items: readonly T[], keyOf: (item: T) => string, req: PageRequest): Page<T> {
  const limit = req.limit ?? DEFAULT_LIMIT;
  let start = 0;
  if (req.continue !== undefined && req.continue !== '') {
    const after = decodeContinue(list, req.continue);
    start = firstAfter(items, keyOf, after);
  }
  const slice = items.slice(start, start + limit);
  const remaining = items.length - start - slice.length;
  const last = slice[slice.length - 1];
  return {
    items: slice,
    remaining,
    ...(remaining > 0 && last !== undefined ? { continue: encodeContinue(list, keyOf(last)) } : {}),
  };
}

/** Binary search: the index of the first item whose key sorts after `after`. */
function firstAfter<T>(items: readonly T[], keyOf: (item: T) => string, after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(items[mid]!) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorts in place by a string key, in the order pageOf expects. */
export function sortByKey<T>(items: T[], keyOf: (item: T) => string): T[] {
  return items.sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
