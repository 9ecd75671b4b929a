// What the ebpf mode does not do as kube-proxy does yet, whatever its
// acceleration: the skips of ebpf.test.ts and ebpf-xdp.test.ts.
import type { ServiceSuiteOptions } from './suite.js';

export const EBPF_SKIPS: ServiceSuiteOptions['skip'] = {
  // bpf/lib/sock.h sock4_xlate_fwd refuses every empty service port and
  // ignores SY_SVC_F_DROP_NO_BACKEND, which only the tc path honours.
  'local-traffic-policy-from-node':
    'the socket hook refuses (ECONNREFUSED) instead of dropping when the node has no local endpoint',
};
