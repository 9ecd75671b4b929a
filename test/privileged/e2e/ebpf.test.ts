// The end-to-end service suite against --proxy-mode=ebpf, as it runs by
// default: the nodes' uplinks are veths, virtual devices, so best-effort
// acceleration leaves them to tc ingress (ebpf-xdp.test.ts runs the same
// suite with XDP on them). Nothing is skipped, in either family: the ebpf
// mode does all the suite checks over IPv4 and IPv6. (The suite passes
// requirePrivileges() before anything else, as every privileged test does.)
import { defineServiceSuite } from './suite.js';

defineServiceSuite('ebpf');
