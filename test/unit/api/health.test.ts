import { describe, expect, it } from 'vitest';
import { HealthState, goTime } from '../../../control/api/health.js';

function clock(start = Date.UTC(2024, 4, 1, 12, 0, 0)) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

describe('HealthState (kube-proxy proxier_health rules)', () => {
  it('is healthy while starting up, before any change or sync', () => {
    const h = new HealthState({ timeoutMs: 60_000, clock: clock() });
    expect(h.healthz().status).toBe(200);
    expect(h.livez().status).toBe(200);
  });

  it('stays healthy while a queued change is younger than the timeout, then 503 until a sync', () => {
    const c = clock();
    const h = new HealthState({ timeoutMs: 60_000, clock: c });
    h.updated();
    const synced = goTime(c.now());
    c.advance(1000);
    h.queuedUpdate();
    c.advance(60_000 - 1);
    expect(h.healthz().status).toBe(200);
    c.advance(1);
    const bad = h.healthz();
    expect(bad.status).toBe(503);
    // Unhealthy: lastUpdated is the real last sync, not now.
    expect(bad.body.lastUpdated).toBe(synced);
    expect(h.livez().status).toBe(503);
    h.updated();
    expect(h.healthz().status).toBe(200);
  });

  it('a later change does not reset the oldest queued one', () => {
    const c = clock();
    const h = new HealthState({ timeoutMs: 10_000, clock: c });
    h.queuedUpdate();
    c.advance(6000);
    h.queuedUpdate();
    c.advance(6000);
    expect(h.report().healthy).toBe(false);
  });

  it('healthz (not livez) fails when the node is not eligible, and says so', () => {
    const h = new HealthState({ timeoutMs: 10_000, clock: clock() });
    h.setNodeEligible(false);
    expect(h.healthz()).toMatchObject({ status: 503, body: { nodeEligible: false } });
    expect(h.livez().status).toBe(200);
  });

  it('while healthy, lastUpdated reads as the current time (kube-proxy compatibility)', () => {
    const c = clock();
    const h = new HealthState({ timeoutMs: 10_000, clock: c });
    const { body } = h.healthz();
    expect(body.lastUpdated).toBe(body.currentTime);
    expect(Object.keys(body)).toEqual(['lastUpdated', 'currentTime', 'nodeEligible']);
    expect(Object.keys(h.livez().body)).toEqual(['lastUpdated', 'currentTime']);
  });
});

describe('goTime', () => {
  it("prints times as Go's time.Time.String() in UTC", () => {
    expect(goTime(new Date(Date.UTC(2024, 4, 1, 12, 0, 10, 120)))).toBe('2024-05-01 12:00:10.12 +0000 UTC');
    expect(goTime(new Date(Date.UTC(2024, 4, 1, 12, 0, 10, 0)))).toBe('2024-05-01 12:00:10 +0000 UTC');
    expect(goTime(undefined)).toBe('0001-01-01 00:00:00 +0000 UTC');
  });
});
