// A mode the node cannot run fails at start-up with a message that names what
// is missing, and touches nothing (kube-proxy's rule; an operator reads it in
// the pod's log after a CrashLoopBackOff).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonMain } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

describe.runIf(requirePrivileges())('modes a node cannot run', () => {
  const net = new TestNet();
  const ns = net.namespace('node');
  const notBpffs = mkdtempSync(join(tmpdir(), 'sy-not-bpffs-'));
  afterAll(async () => {
    await net.teardown();
    rmSync(notBpffs, { recursive: true, force: true });
  });

  const start = (...args: string[]) =>
    spawnSync('nsenter', [`--net=${net.netnsPath(ns)}`, '--', nodeBinary, daemonMain, `--manifests=${join(repoRoot, 'examples', 'demo')}`, '--hostname-override=n1', '--healthz-bind-address=', '--metrics-bind-address=', ...args], {
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('ebpf: pins on a filesystem that is not bpffs', () => {
    const out = start('--proxy-mode=ebpf', `--bpffs-root=${join(notBpffs, 'switchyard')}`);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/ERR_BPFFS_MISSING/);
    expect(out.stderr).toMatch(/is not on a BPF filesystem/);
    expect(readdirSync(notBpffs)).toEqual([]);
  });

  it('a mode this build does not have', () => {
    const out = start('--proxy-mode=userspace', `--bpffs-root=${net.pinDir('n1')}`);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/ERR_PROXY_MODE_UNSUPPORTED/);
    expect(out.stderr).toMatch(/--proxy-mode=userspace is not available/);
  });
});
