// What the IPVS proxier (issue 9) needs from the kernel, checked without
// ipvsadm: the modules kube-proxy's IPVS mode loads, /proc/net/ip_vs in a fresh
// network namespace (IPVS state is per namespace), and the IPVS generic
// netlink family, which is how a proxier programs virtual services.
//
// This machine's kernel has no IPVS, so here the file skips and says why. In
// the VM harness (scripts/test.sh vm: Debian's 6.1 and 6.12, SWITCHYARD_IN_VM
// set) IPVS must be there, and a missing module fails.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TestNet } from '../../harness/netns.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { run } from '../../harness/run.js';

/** kube-proxy's IPVS mode checks for these at start-up (ip_vs, its rr/wrr/sh schedulers, conntrack). */
const MODULES = ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'nf_conntrack'];

/** True when ip_vs is loaded or loadable; `modprobe -n` asks without loading anything. */
function kernelHasIpvs(): boolean {
  if (existsSync('/proc/net/ip_vs')) return true;
  try {
    run('modprobe', ['-n', '-q', 'ip_vs']);
    return true;
  } catch {
    return false;
  }
}

const inVm = process.env.SWITCHYARD_IN_VM;
const runHere = requirePrivileges() && (inVm !== undefined || kernelHasIpvs());
const title = runHere
  ? 'IPVS in the kernel'
  : 'IPVS in the kernel (skipped: this kernel has no ip_vs module; scripts/test.sh vm checks it on Debian 6.1 and 6.12)';

describe.runIf(runHere)(title, () => {
  const net = new TestNet();
  afterAll(() => net.teardown());

  it("loads the modules kube-proxy's IPVS mode needs", () => {
    run('modprobe', ['-a', ...MODULES]);
    for (const m of MODULES) expect(existsSync(`/sys/module/${m}`), m).toBe(true);
  });

  it('gives a fresh network namespace its own, empty virtual server table', () => {
    const ns = net.namespace('ipvs');
    const table = net.exec(ns, 'cat', ['/proc/net/ip_vs']);
    expect(table).toMatch(/^IP Virtual Server version \d+\.\d+\.\d+ \(size=\d+\)/);
    // A header and no service lines: nothing leaked in from another namespace.
    expect(
      table
        .trim()
        .split('\n')
        .filter((l) => /^(TCP|UDP|SCTP|FWM) /.test(l)),
    ).toEqual([]);
  });

  it('registers the IPVS generic netlink family', () => {
    expect(run('genl', ['ctrl', 'get', 'name', 'IPVS'])).toMatch(/Name: IPVS\b/);
  });
});
