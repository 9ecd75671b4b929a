// The end-to-end service suite against --proxy-mode=ebpf. (The suite passes
// requirePrivileges() before anything else, as every privileged test does.)
import { defineServiceSuite } from './suite.js';

defineServiceSuite('ebpf', {
  skip: {
    // control/proxiers/ebpf: --cluster-cidr and --masquerade-all are not
    // implemented; the tc program DNATs without SNAT, so a backend on another
    // node answers the client directly, from its own address.
    'off-cluster-client':
      'traffic from outside --cluster-cidr is not masqueraded, so replies from another node bypass the translating node',
    // bpf/lib/sock.h sock4_xlate_fwd refuses every empty service port and
    // ignores SY_SVC_F_DROP_NO_BACKEND, which only the tc path honours.
    'local-traffic-policy-from-node':
      'the socket hook refuses (ECONNREFUSED) instead of dropping when the node has no local endpoint',
  },
});
