// The end-to-end service suite against --proxy-mode=ebpf, as it runs by
// default: the nodes' uplinks are veths, virtual devices, so best-effort
// acceleration leaves them to tc ingress (ebpf-xdp.test.ts runs the same
// suite with XDP on them). Every case runs in both families, SCTP's where
// the kernel has SCTP sockets for the pods (the suite skips them with the
// kernel's reason elsewhere). (The suite passes requirePrivileges() before
// anything else, as every privileged test does.)
import { defineServiceSuite } from './suite.js';

defineServiceSuite('ebpf');
