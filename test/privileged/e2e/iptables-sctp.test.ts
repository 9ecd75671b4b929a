// The end-to-end suite's SCTP cases against --proxy-mode=iptables, in both
// families. This host's kernel has no SCTP sockets (its netfilter takes SCTP
// rules, so the host's iptables.test.ts programs the SCTP services; nothing
// can send SCTP to them): scripts/test.sh runs this file in the VM booting
// Debian 6.12, whose kernel loads sctp.
import { describe, it } from 'vitest';
import { requirePrivileges } from '../../harness/privileged.js';
import { kernelHasSctp } from '../../harness/sctp.js';
import { defineServiceSuite } from './suite.js';

if (requirePrivileges() && kernelHasSctp()) {
  defineServiceSuite('iptables', { args: ['--iptables-min-sync-period=0'], only: ['sctp', 'sctp-nodeport'] });
} else {
  describe('services end to end (iptables, SCTP)', () => {
    it.skip('SKIPPED: this kernel has no SCTP (scripts/test.sh runs this file in a VM booting Debian 6.12)', () => {});
  });
}
