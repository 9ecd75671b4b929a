// bench:hns at a small size, so it never rots: the kernelspace mode on the
// real daemon against the HNS emulator, through every phase (initial sync,
// idle syncs, endpoint changes, services added, a restart). The figures are
// not judged here, only what each phase must hold whatever the machine:
// an idle sync changes nothing, a restart adopts everything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeBinary, repoRoot } from '../../harness/paths.js';

describe('npm run bench:hns at 60 services', () => {
  const out = mkdtempSync(join(tmpdir(), 'sy-bench-hns-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures every phase and writes hns.json', { timeout: 150_000 }, () => {
    const args = ['--services', '60', '--endpoints', '4', '--local', '2', '--changes', '3', '--idle', '2'];
    const run = spawnSync(nodeBinary, [join(repoRoot, 'dist', 'bench', 'hns.js'), ...args, '--out', out], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/against the HNS emulator/);
    const r = JSON.parse(readFileSync(join(out, 'hns.json'), 'utf8'));
    // 60 cluster IPs, 6 of them NodePorts (10 %, on the node's one address): 66 load balancers.
    expect(r.initial.held.loadBalancers).toBe(66);
    // Two of four backends remote per service: one remote endpoint each.
    expect(r.initial.held.remoteEndpoints).toBe(120);
    expect(r.idle.first.mutatingCalls).toBe(0);
    expect(r.endpointChange.first.mutatingCalls).toBeGreaterThan(0);
    // The services added had their pods' CNI endpoints made first: each served with every backend.
    expect(r.newService.first.skippedFirst).toBeUndefined();
    expect(r.restart.mutatingCalls).toBe(0);
    expect(r.restart.loadBalancersKept).toBe(true);
    expect(r.restart.backendsChanged.count).toBe(0);
  });
});
