import { describe, expect, it } from 'vitest';
import { BoundedFrequencyRunner, type RunReason } from '../../../control/sync/bounded-runner.js';
import { FakeClock, settle } from './fake-clock.js';

function setup(opts: { min?: number; max?: number; retry?: number; runTakes?: number; fail?: () => boolean } = {}) {
  const clock = new FakeClock();
  const runs: Array<{ at: number; reason: RunReason }> = [];
  const errors: unknown[] = [];
  const runner = new BoundedFrequencyRunner({
    minIntervalMs: opts.min ?? 1000,
    maxIntervalMs: opts.max ?? 30_000,
    ...(opts.retry ? { retryIntervalMs: opts.retry } : {}),
    clock,
    onError: (e) => errors.push(e),
    run: async (reason) => {
      runs.push({ at: clock.t, reason });
      if (opts.runTakes) await new Promise<void>((r) => clock.setTimeout(r, opts.runTakes!));
      if (opts.fail?.()) throw new Error('sync failed');
    },
  });
  runner.start();
  return { clock, runs, errors, runner };
}

describe('BoundedFrequencyRunner', () => {
  it('runs a first request at once', async () => {
    const { clock, runs, runner } = setup();
    runner.request();
    await clock.advance(0);
    expect(runs).toEqual([{ at: 0, reason: 'change' }]);
  });

  it('coalesces a burst of requests inside the minimum interval into one more run', async () => {
    const { clock, runs, runner } = setup({ min: 1000 });
    runner.request();
    await clock.advance(0);
    for (let i = 0; i < 50; i++) {
      runner.request();
      await clock.advance(10);
    }
    await clock.advance(2000);
    expect(runs.map((r) => r.at)).toEqual([0, 1000]);
  });

  it('never runs twice at once: a request during a run waits for it to finish', async () => {
    const { clock, runs, runner } = setup({ min: 0, runTakes: 500 });
    runner.request();
    await clock.advance(0);
    runner.request();
    runner.request();
    await clock.advance(100);
    expect(runs).toHaveLength(1);
    await clock.advance(1000);
    expect(runs.map((r) => r.at)).toEqual([0, 500]);
  });

  it('runs periodically, a full period after the last run started', async () => {
    const { clock, runs, runner } = setup({ min: 1000, max: 30_000 });
    await clock.advance(30_000);
    expect(runs).toEqual([{ at: 30_000, reason: 'period' }]);
    await clock.advance(10_000);
    runner.request();
    await clock.advance(0);
    await clock.advance(30_000);
    expect(runs.map((r) => [r.at, r.reason])).toEqual([
      [30_000, 'period'],
      [40_000, 'change'],
      [70_000, 'period'],
    ]);
  });

  it('retries a failed run after the retry interval', async () => {
    let failures = 2;
    const { clock, runs, errors, runner } = setup({ min: 0, retry: 500, fail: () => failures-- > 0 });
    runner.request();
    await clock.advance(0);
    await clock.advance(2000);
    expect(runs.map((r) => [r.at, r.reason])).toEqual([
      [0, 'change'],
      [500, 'retry'],
      [1000, 'retry'],
    ]);
    expect(errors).toHaveLength(2);
  });

  it('does nothing after stop, and idle() waits for the run in flight', async () => {
    const { clock, runs, runner } = setup({ min: 0, runTakes: 100 });
    runner.request();
    await clock.advance(0);
    let idle = false;
    void runner.idle().then(() => (idle = true));
    runner.stop();
    await settle();
    expect(idle).toBe(false);
    await clock.advance(100);
    expect(idle).toBe(true);
    runner.request();
    await clock.advance(60_000);
    expect(runs).toHaveLength(1);
  });
});
