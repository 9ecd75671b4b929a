// The load test's table: figures a mode never reached show as "—", count as
// missed targets, and the mode's line says where it stopped.
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../bench/report.js';
import type { BenchReport, ModeReport } from '../../../bench/types.js';

const result = (connPerSec: number) => ({ connections: connPerSec * 5, errors: 0, errorKinds: {}, durationSec: 5, connPerSec, latencyUs: { p50: 100, p90: 150, p99: 200, max: 300 } });
const pct = (p50Ms: number, p99Ms: number) => ({ n: 40, p50Ms, p99Ms, maxMs: p99Ms });

const finished: ModeReport = {
  mode: 'ebpf',
  args: [],
  fullSync: { servicePorts: 10_000, startToProgrammedMs: 2500, syncMs: 800, startToReadyMs: 2550 },
  incremental: { addEndpoint: pct(2, 6), removeEndpoint: pct(2, 7), addService: pct(3, 8), removeService: pct(3, 9) },
  steady: { rssMB: 300, cpuPercent: 0.5, windowSec: 5 },
  connections: [
    { services: 10, target: 'clusterIP', result: result(9800) },
    { services: 10_000, target: 'clusterIP', result: result(9700) },
    { services: 10_000, target: 'podIP', result: result(10_000) },
  ],
};
const nan = { n: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
const stopped: ModeReport = {
  mode: 'iptables',
  args: [],
  fullSync: { servicePorts: NaN, startToProgrammedMs: NaN, syncMs: NaN, startToReadyMs: NaN },
  incremental: { addEndpoint: nan, removeEndpoint: nan, addService: nan, removeService: nan },
  steady: { rssMB: NaN, cpuPercent: NaN, windowSec: 0 },
  connections: [{ services: 10, target: 'clusterIP', result: result(7000) }],
  failed: 'full sync: timed out waiting for switchyard',
};
const report: BenchReport = {
  version: 1,
  startedAt: '2026-11-21T00:00:00.000Z',
  durationSec: 100,
  command: 'npm run bench',
  machine: { cpus: 2, kernel: '6.1.0', memoryGiB: 24 },
  params: { services: 10_000, endpoints: 10, changesPerKind: 40, connDurationSec: 5, concurrency: 8, mix: { udp: 0.1, nodePort: 0 } },
  direct: result(10_000),
  modes: [finished, stopped],
};

describe('renderTable', () => {
  const text = renderTable(report);
  const row = (label: string) => text.split('\n').find((l) => l.startsWith(label))!;

  it('shows a mode that stopped with dashes from where it stopped, and says why', () => {
    expect(row('full sync: the sync (ms)').split(/\s{2,}/).slice(1)).toEqual(['800', '—']);
    expect(row('ClusterIP at 10 svc: conn/s').split(/\s{2,}/).slice(1)).toEqual(['9,800 (0.98)', '7,000 (0.70)']);
    expect(text).toContain('iptables did not finish: full sync: timed out waiting for switchyard');
    expect(text).not.toContain('ebpf did not finish');
  });

  it('counts unmeasured figures as missed targets, and says by how much for measured ones', () => {
    const targets = (mode: string) => text.split(`targets, ${mode}:\n`)[1]!.split('\n').slice(0, 5);
    expect(targets('ebpf')).toEqual([
      '  met    full sync ≤ 1 s: 800 ms',
      '  met    endpoint change p99 ≤ 10 ms: 7 ms',
      '  met    ClusterIP rate ≥ 0.95 × direct at 10 services: 0.98 ×',
      '  met    ClusterIP rate ≥ 0.95 × direct at 10,000 services: 0.97 ×',
      '  MISSED control-plane RSS ≤ 250 MB: 300 MB',
    ]);
    expect(targets('iptables').every((l) => l.startsWith('  MISSED'))).toBe(true);
  });
});
