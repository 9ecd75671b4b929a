// Request-level fault injection and accounting: the next N requests matching
// a pattern fail with a chosen status, and every request is counted by kind
// and verb, so a test can assert that a client relisted or rewatched.

import type { Kind } from './resources.js';
import { KINDS } from './resources.js';

export type Verb = 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete';

export type RequestCounts = Record<Verb, number>;

const zeroCounts = (): RequestCounts => ({ list: 0, watch: 0, get: 0, create: 0, update: 0, patch: 0, delete: 0 });

export class RequestCounter {
  private counts = new Map<Kind, RequestCounts>();

  constructor() {
    this.reset();
  }

  add(kind: Kind, verb: Verb): void {
    const c = this.counts.get(kind);
    if (c !== undefined) c[verb]++;
  }

  /** A copy: later requests do not change what the caller holds. */
  of(kind: Kind): RequestCounts {
    return { ...(this.counts.get(kind) ?? zeroCounts()) };
  }

  reset(): void {
    this.counts = new Map(KINDS.map((k) => [k, zeroCounts()]));
  }
}

interface FailureRule {
  match: RegExp;
  status: number;
  remaining: number;
}

export class FailureRules {
  private rules: FailureRule[] = [];

  /**
   * The next `count` requests whose "METHOD /path?query" matches fail with
   * `status`. A string matches as a substring of the path and query.
   */
  add(match: RegExp | string, status: number, count: number): void {
    const re = typeof match === 'string' ? new RegExp(match.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : match;
    this.rules.push({ match: re, status, remaining: count });
  }

  /** The status to fail this request with, if a rule claims it; uses up one of that rule's count. */
  take(method: string, url: string): number | undefined {
    const subject = `${method} ${url}`;
    for (const rule of this.rules) {
      rule.match.lastIndex = 0; // a /g or /y pattern must not carry state between requests
      if (rule.remaining > 0 && (rule.match.test(subject) || rule.match.test(url))) {
        rule.remaining--;
        this.rules = this.rules.filter((r) => r.remaining > 0);
        return rule.status;
      }
    }
    return undefined;
  }

  clear(): void {
    this.rules = [];
  }
}
