// Whether this kernel has IPVS, for the tests that need it: loaded with
// modprobe first, as the daemon's start-up check does. This host's kernel has
// none; the VM harness (test/vm) boots Debian's kernels, which do.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function kernelHasIpvs(): boolean {
  if (!existsSync('/proc/net/ip_vs')) spawnSync('modprobe', ['ip_vs'], { stdio: 'ignore' });
  return existsSync('/proc/net/ip_vs');
}
