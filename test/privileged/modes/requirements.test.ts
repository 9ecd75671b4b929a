// A mode the node cannot run fails at start-up with a message that names what
// is missing, and touches nothing (kube-proxy's rule; an operator reads it in
// the pod's log after a CrashLoopBackOff).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonMain } from '../../harness/daemon.js';
import { kernelHasIpvs } from '../../harness/ipvs.js';
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
    spawnSync(
      'nsenter',
      [
        `--net=${net.netnsPath(ns)}`,
        '--',
        nodeBinary,
        daemonMain,
        `--manifests=${join(repoRoot, 'examples', 'demo')}`,
        '--hostname-override=n1',
        '--healthz-bind-address=',
        '--metrics-bind-address=',
        ...args,
      ],
      {
        encoding: 'utf8',
        // Seconds here; under an emulated VM (the IPVS kernel), start-up alone takes 20 s.
        timeout: 90_000,
      },
    );

  it('ebpf: pins on a filesystem that is not bpffs', () => {
    const out = start('--proxy-mode=ebpf', `--bpffs-root=${join(notBpffs, 'switchyard')}`);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/ERR_BPFFS_MISSING/);
    expect(out.stderr).toMatch(/is not on a BPF filesystem/);
    expect(readdirSync(notBpffs)).toEqual([]);
  });

  // On a kernel with IPVS the ipvs mode runs: test/privileged/ipvs/proxier.test.ts and the e2e suite, in the VM.
  it.skipIf(kernelHasIpvs())(
    'ipvs: on a kernel without IPVS, fails at start-up naming what is missing, and creates nothing',
    () => {
      const pins = net.pinDir('ipvs');
      const out = start('--proxy-mode=ipvs', `--bpffs-root=${pins}`);
      expect(out.status).toBe(1);
      expect(out.stderr).toMatch(/ERR_IPVS_UNAVAILABLE/);
      expect(out.stderr).toMatch(
        /--proxy-mode=ipvs needs IPVS, but this kernel has no IPVS: the generic netlink family \\"IPVS\\" is not registered, and `modprobe ip_vs` failed/,
      );
      // Nothing programmed: no interface beside lo (no kube-ipvs0), no rules, no pins.
      expect(net.ip(ns, '-o', 'link', 'show').trim().split('\n')).toHaveLength(1);
      expect(net.exec(ns, 'iptables-save', [], { allowFail: true })).not.toMatch(/KUBE-/);
      expect(readdirSync(pins)).toEqual([]);
    },
    120_000,
  );

  it('kernelspace on Linux: refused as a Windows mode, creating nothing', () => {
    const pins = net.pinDir('kernelspace');
    const out = start('--proxy-mode=kernelspace', `--bpffs-root=${pins}`);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/ERR_PROXY_MODE_PLATFORM/);
    expect(out.stderr).toMatch(/--proxy-mode=kernelspace needs Windows with the Host Networking Service/);
    expect(net.exec(ns, 'iptables-save', [], { allowFail: true })).not.toMatch(/KUBE-/);
    expect(readdirSync(pins)).toEqual([]);
  });
});
