// The one place that decides when a sync runs, after kube-proxy's
// BoundedFrequencyRunner: a change asks for a run; runs are at least
// `minIntervalMs` apart (a burst of changes becomes one run), at most
// `maxIntervalMs` apart (the periodic full resync), never two at once, and a
// failed run is retried after `retryIntervalMs`.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Why a run happened: asked for by a change, the periodic resync, or a retry. */
export type RunReason = 'change' | 'period' | 'retry';

export interface BoundedRunnerOptions {
  /** The work. A rejected promise schedules a retry. */
  run: (reason: RunReason) => Promise<void>;
  minIntervalMs: number;
  maxIntervalMs: number;
  retryIntervalMs?: number;
  clock?: Clock;
  onError?: (err: unknown) => void;
}

export class BoundedFrequencyRunner {
  readonly #opts: Required<Omit<BoundedRunnerOptions, 'onError'>> & Pick<BoundedRunnerOptions, 'onError'>;
  #timer: unknown;
  #timerAt = Infinity;
  #timerReason: RunReason = 'period';
  #running = false;
  /** A change arrived while running: run again once this run ends. */
  #pending: RunReason | undefined;
  #lastStart = -Infinity;
  #stopped = true;
  #idle: Array<() => void> = [];

  constructor(opts: BoundedRunnerOptions) {
    if (opts.minIntervalMs < 0 || opts.maxIntervalMs <= 0) throw new RangeError('sync intervals must be positive');
    this.#opts = {
      ...opts,
      retryIntervalMs: opts.retryIntervalMs ?? Math.max(opts.minIntervalMs, 1000),
      clock: opts.clock ?? systemClock,
    };
  }

  /** Starts the periodic runs; the first one is due a full period from now. */
  start(): void {
    this.#stopped = false;
    this.#schedule(this.#opts.maxIntervalMs, 'period');
  }

  /** Asks for a run as soon as the minimum interval allows. */
  request(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#pending ??= 'change';
      return;
    }
    const wait = Math.max(0, this.#lastStart + this.#opts.minIntervalMs - this.#opts.clock.now());
    this.#schedule(wait, 'change');
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel();
    this.#pending = undefined;
  }

  /** Resolves when no run is in flight (for shutdown: never cut a sync in half). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  get running(): boolean {
    return this.#running;
  }

  /** Keeps the earliest deadline: a later request never delays an earlier one. */
  #schedule(ms: number, reason: RunReason): void {
    const at = this.#opts.clock.now() + ms;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#cancel();
    this.#timerAt = at;
    this.#timerReason = reason;
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.#tick(this.#timerReason);
    }, ms);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  async #tick(reason: RunReason): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    this.#lastStart = this.#opts.clock.now();
    let failed = false;
    try {
      await this.#opts.run(reason);
    } catch (err) {
      failed = true;
      this.#opts.onError?.(err);
    } finally {
      this.#running = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
    if (this.#stopped) return;
    // The next periodic run is a full period after this one started.
    this.#schedule(Math.max(0, this.#lastStart + this.#opts.maxIntervalMs - this.#opts.clock.now()), 'period');
    if (failed) this.#schedule(this.#opts.retryIntervalMs, 'retry');
    if (this.#pending) {
      this.#pending = undefined;
      this.request();
    }
  }
}
