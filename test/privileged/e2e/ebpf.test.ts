// The end-to-end service suite against --proxy-mode=ebpf, as it runs by
// default: the nodes' uplinks are veths, virtual devices, so best-effort
// acceleration leaves them to tc ingress (ebpf-xdp.test.ts runs the same
// suite with XDP on them). Every case runs in both families; only SCTP is
// skipped, not built in this dataplane yet. (The suite passes
// requirePrivileges() before anything else, as every privileged test does.)
import { EBPF_NO_SCTP } from './gaps.js';
import { defineServiceSuite } from './suite.js';

defineServiceSuite('ebpf', { skip: { sctp: EBPF_NO_SCTP, 'sctp-nodeport': EBPF_NO_SCTP } });
