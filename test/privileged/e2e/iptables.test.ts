// The end-to-end service suite against --proxy-mode=iptables, in both
// families (iptables and ip6tables), unchanged.
// (kube-proxy's default --iptables-min-sync-period of 1 s would only slow the
// suite's many small changes; the behaviour is the same.)
import { defineServiceSuite } from './suite.js';

defineServiceSuite('iptables', {
  args: ['--iptables-min-sync-period=0'],
});
