// The load test at a small size, so it never rots: the whole pipeline (API
// test server, both modes, changes, connection rates (IPv4 and IPv6, the
// cluster dual-stack), north-south with the ebpf mode's XDP and tc variants,
// report, charts) on 100 services. The
// figures are not judged here, only that every path carried its traffic;
// bench/report/ holds the real run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../../bench/types.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

describe.runIf(requirePrivileges())('npm run bench at 100 services', () => {
  const out = mkdtempSync(join(tmpdir(), 'sy-bench-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures both modes and writes the JSON report and the chart', () => {
    const run = spawnSync(
      nodeBinary,
      [
        join(repoRoot, 'dist', 'bench', 'run.js'),
        '--services',
        '100',
        '--endpoints',
        '3',
        '--changes',
        '3',
        '--duration',
        '1',
        '--warmup',
        '0.5',
        '--modes',
        'ebpf,iptables',
        '--out',
        out,
      ],
      {
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/\[bench\] ebpf: 100 services × 3 endpoints: full sync/);
    expect(run.stdout).toMatch(/targets, iptables:/);
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
    expect(report.modes.map((m) => m.mode)).toEqual(['ebpf', 'iptables']);
    expect(report.direct.connections).toBeGreaterThan(0);
    // Dual-stack by default: IPv6 direct, and each mode's IPv6 rates after its IPv4 ones.
    expect(report.params.families).toEqual(['IPv4', 'IPv6']);
    expect(report.directIPv6!.connections).toBeGreaterThan(0);
    for (const m of report.modes) {
      expect(m.fullSync.servicePorts).toBe(100);
      expect(m.incremental.addEndpoint.n).toBe(3);
      expect(m.steady.rssMB).toBeGreaterThan(0);
      expect(m.connections.map((c) => `${c.family ?? 'IPv4'} ${c.target} ${c.services}`)).toEqual([
        'IPv4 clusterIP 10',
        'IPv6 clusterIP 10',
        'IPv4 clusterIP 100',
        'IPv4 podIP 100',
        'IPv6 clusterIP 100',
        'IPv6 podIP 100',
      ]);
      for (const c of m.connections) {
        const what = `${m.mode} ${c.family ?? 'IPv4'} ${c.target} at ${c.services}`;
        // A mode that does not program IPv6 says so (the daemon's reason) and carries none of it; the rest carry all.
        if (c.notServed) {
          expect(c.family, what).toBe('IPv6');
          expect(c.notServed, what).toMatch(/^IPv6 ClusterIP fd00:10:96::a is not programmed/);
          expect(c.result.connections, what).toBe(0);
          continue;
        }
        expect(c.result.errors, what).toBe(0);
        expect(c.result.connections, what).toBeGreaterThan(0);
      }
    }
    // iptables serves IPv6 (its ip6tables proxier): its IPv6 figures are real ones.
    expect(report.modes.find((m) => m.mode === 'iptables')!.connections.filter((c) => c.notServed)).toEqual([]);
    expect(run.stdout).toMatch(/^IPv6 ClusterIP at 100 svc: conn\/s \(× IPv6 direct\)/m);
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg /);

    // North-south: the outside client through each variant's NodePorts, at 10 and 100 services.
    expect(run.stdout).toMatch(/targets, north-south, ebpf \(XDP\):/);
    const d = report.northSouthDirect!;
    for (const r of [d.tcp.otherNode, d.tcp.sameNode]) expect(r.connections).toBeGreaterThan(0);
    expect(d.udp.received).toBeGreaterThan(0);
    const variants = report.modes.flatMap((m) => m.northSouth ?? []);
    expect(variants.map((v) => [v.name, v.hook])).toEqual([
      ['ebpf (XDP)', 'xdp'],
      ['ebpf (tc)', 'tc'],
      ['iptables', undefined],
    ]);
    for (const v of variants) {
      expect(v.failed, v.name).toBeUndefined();
      expect(v.tcp.map((t) => `${t.services} ${t.backend}`)).toEqual([
        '10 otherNode',
        '10 sameNode',
        '100 otherNode',
        '100 sameNode',
      ]);
      for (const t of v.tcp) {
        expect(t.result.errors, `${v.name} ${t.backend} at ${t.services}`).toBe(0);
        expect(t.result.connections).toBeGreaterThan(0);
      }
      expect(v.udp.map((u) => u.services)).toEqual([10, 100]);
      for (const u of v.udp) expect(u.result.received, `${v.name} UDP at ${u.services}`).toBeGreaterThan(0);
    }
    expect(readFileSync(join(out, 'latest-north-south.svg'), 'utf8')).toMatch(/^<svg /);
  }, 300_000);
});
