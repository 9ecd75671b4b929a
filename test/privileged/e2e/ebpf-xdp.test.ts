// The end-to-end service suite against --proxy-mode=ebpf with XDP on the
// nodes' uplinks (--bpf-lb-acceleration=native: a veth is a virtual device,
// which best-effort leaves to tc). The harness's veths send complete
// checksums, as a physical NIC does (test/harness/cluster.ts nicLike), so
// this is the path a node with an XDP-capable NIC takes, except that a veth
// may not XDP_TX what it routes (sy_uplinks): tc behind XDP sends those.
import { defineServiceSuite } from './suite.js';

defineServiceSuite('ebpf', {
  args: ['--bpf-lb-acceleration=native'],
});
