// The load test's ipvs column at a small size, on a kernel with IPVS (the VM
// harness runs this file; this machine's kernel has none, so here it skips and
// says why). The same pipeline as smoke.test.ts, in the ipvs mode: the daemon
// programs 50 services through netlink, ipset and iptables, changes are timed
// from the daemon's log, and connections go through IPVS, ClusterIPs from a
// pod (IPv4 and IPv6: the cluster is dual-stack) and NodePorts from the
// outside client (north-south, TCP and UDP). The figures are not judged here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../../bench/types.js';
import { kernelHasIpvs } from '../../harness/ipvs.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { scaled } from '../../harness/slow.js';

const runnable = requirePrivileges() && kernelHasIpvs();
const title = runnable
  ? 'npm run bench --modes ipvs at 50 services'
  : 'npm run bench --modes ipvs (SKIPPED: this kernel has no IPVS; scripts/test.sh vm runs this file on Debian 6.12)';

describe.runIf(runnable)(title, () => {
  const out = mkdtempSync(join(tmpdir(), 'sy-bench-ipvs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it(
    'measures the ipvs mode on this kernel and writes the report',
    () => {
      const run = spawnSync(
        nodeBinary,
        [
          join(repoRoot, 'dist', 'bench', 'run.js'),
          '--services',
          '50',
          '--endpoints',
          '3',
          '--changes',
          '2',
          '--duration',
          '1',
          '--warmup',
          '0.5',
          '--modes',
          'ipvs',
          '--out',
          out,
        ],
        {
          encoding: 'utf8',
          timeout: scaled(120_000),
        },
      );
      expect(run.status, run.stderr).toBe(0);
      // Measured here, not sent on to another VM.
      expect(run.stderr).not.toMatch(/measuring ipvs in the test VM/);
      expect(run.stderr).toMatch(/\[bench\] ipvs: 50 services × 3 endpoints: full sync/);
      const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
      expect(report.modes.map((m) => m.mode)).toEqual(['ipvs']);
      const [m] = report.modes;
      expect(m!.failed).toBeUndefined();
      expect(m!.fullSync.servicePorts).toBe(50);
      expect(m!.incremental.removeEndpoint.n).toBe(2);
      // Dual-stack: the ipvs mode serves IPv6 too, so its IPv6 connections carry as its IPv4 ones do.
      expect(report.directIPv6!.connections).toBeGreaterThan(0);
      expect(m!.connections.map((c) => `${c.family ?? 'IPv4'} ${c.target} ${c.services}`)).toEqual([
        'IPv4 clusterIP 10',
        'IPv6 clusterIP 10',
        'IPv4 clusterIP 50',
        'IPv4 podIP 50',
        'IPv6 clusterIP 50',
        'IPv6 podIP 50',
      ]);
      for (const c of m!.connections) {
        expect(c.notServed, `${c.family ?? 'IPv4'} ${c.target} at ${c.services}`).toBeUndefined();
        expect(c.result.errors, `${c.family ?? 'IPv4'} ${c.target} at ${c.services}`).toBe(0);
        expect(c.result.connections).toBeGreaterThan(0);
      }
      // North-south through the ipvs mode's NodePorts, against this run's routed-direct.
      expect(report.northSouthDirect?.udp.received).toBeGreaterThan(0);
      const [ns] = m!.northSouth ?? [];
      expect(ns?.name).toBe('ipvs');
      expect(ns!.failed).toBeUndefined();
      expect(ns!.tcp).toHaveLength(4);
      for (const t of ns!.tcp) {
        expect(t.result.errors, `NodePort ${t.backend} at ${t.services}`).toBe(0);
        expect(t.result.connections).toBeGreaterThan(0);
      }
      expect(ns!.udp.map((u) => u.services)).toEqual([10, 50]);
      for (const u of ns!.udp) expect(u.result.received, `UDP at ${u.services}`).toBeGreaterThan(0);
    },
    scaled(150_000),
  );
});
