// The proxier's health, as kube-proxy's healthcheck/proxier_health.go defines
// it: healthy while starting up and whenever no queued change is older than
// the health timeout (twice the sync period); /healthz also needs the node to
// be eligible (not being deleted). Pure state with an injected clock, so the
// 200/503 rules are tested without waiting.

export interface HealthClock {
  now(): Date;
}

export interface HealthOptions {
  /** kube-proxy uses 2 × the sync period. */
  timeoutMs: number;
  clock?: HealthClock;
}

export interface HealthReport {
  healthy: boolean;
  lastUpdated: Date | undefined;
  currentTime: Date;
}

export class HealthState {
  readonly timeoutMs: number;
  readonly #clock: HealthClock;
  #lastUpdated: Date | undefined;
  #oldestQueued: Date | undefined;
  #nodeEligible = true;

  constructor(opts: HealthOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.#clock = opts.clock ?? { now: () => new Date() };
  }

  /** A change arrived that a sync must program; only the oldest unsynced one counts. */
  queuedUpdate(): void {
    this.#oldestQueued ??= this.#clock.now();
  }

  /** A sync succeeded: everything queued before it is programmed. */
  updated(): void {
    this.#oldestQueued = undefined;
    this.#lastUpdated = this.#clock.now();
  }

  /** False while the node is being deleted: load balancers should drain it. */
  setNodeEligible(eligible: boolean): void {
    this.#nodeEligible = eligible;
  }

  get nodeEligible(): boolean {
    return this.#nodeEligible;
  }

  get lastUpdated(): Date | undefined {
    return this.#lastUpdated;
  }

  report(): HealthReport {
    const currentTime = this.#clock.now();
    const queued = this.#oldestQueued;
    const healthy = queued === undefined || currentTime.getTime() - queued.getTime() < this.timeoutMs;
    return { healthy, lastUpdated: this.#lastUpdated, currentTime };
  }

  /** /healthz: kube-proxy's body; lastUpdated reads as "now" while healthy, for old clients. */
  healthz(): { status: 200 | 503; body: { lastUpdated: string; currentTime: string; nodeEligible: boolean } } {
    const r = this.report();
    const healthy = r.healthy && this.#nodeEligible;
    return {
      status: healthy ? 200 : 503,
      body: {
        lastUpdated: goTime(healthy ? r.currentTime : r.lastUpdated),
        currentTime: goTime(r.currentTime),
        nodeEligible: this.#nodeEligible,
      },
    };
  }

  /** /livez: the same without the node's eligibility (a deleting node's proxy is still alive). */
  livez(): { status: 200 | 503; body: { lastUpdated: string; currentTime: string } } {
    const r = this.report();
    return {
      status: r.healthy ? 200 : 503,
      body: { lastUpdated: goTime(r.healthy ? r.currentTime : r.lastUpdated), currentTime: goTime(r.currentTime) },
    };
  }
}

/**
 * A time as Go's time.Time.String() prints it in UTC, which is what
 * kube-proxy's %q puts in these bodies ("2024-05-01 12:00:00.123 +0000 UTC");
 * the zero time when there is none, as Go prints an unset time.Time.
 */
export function goTime(t: Date | undefined): string {
  if (!t) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = t.toISOString(); // 2024-05-01T12:00:00.123Z
  const [date, rest] = iso.split('T') as [string, string];
  // Go trims trailing zeros of the fraction, and the dot with them; the ISO
  // form always has a three-digit fraction, so only the fraction is trimmed.
  const clock = rest.slice(0, -1).replace(/\.?0+$/, '');
  return `${date} ${clock} +0000 UTC`;
}
