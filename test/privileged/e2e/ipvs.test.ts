// The end-to-end service suite against --proxy-mode=ipvs. It needs a kernel
// with IPVS: this machine's has none, so here the file skips and says why;
// `scripts/test.sh vm` runs it on Debian's 6.1 and 6.12 kernels, which have it.
import { describe, it } from 'vitest';
import { kernelHasIpvs } from '../../harness/ipvs.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { defineServiceSuite } from './suite.js';

// control/proxiers/ipvs/layout.ts reports NodePorts, and load-balancer IPs
// with source ranges, as not programmed.
const NOT_YET = 'NodePorts and load-balancer source ranges are not programmed by the ipvs mode yet';

if (requirePrivileges() && kernelHasIpvs()) {
  defineServiceSuite('ipvs', {
    args: ['--ipvs-min-sync-period=0'],
    skip: {
      nodeport: NOT_YET,
      'nodeport-udp': NOT_YET,
      'external-local': NOT_YET,
      'nodeport-from-node': NOT_YET,
      'source-ranges': NOT_YET,
      // Not a gap: kube-proxy serves localhost NodePorts in its iptables mode only.
      'localhost-nodeport': "kube-proxy's ipvs mode never serves NodePorts on localhost",
    },
  });
} else {
  describe('services end to end (ipvs)', () => {
    it.skip('SKIPPED: this kernel has no IPVS (scripts/test.sh vm runs this file on Debian 6.12)', () => {});
  });
}
