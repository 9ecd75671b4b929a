// The end-to-end service suite against --proxy-mode=userspace. The proxy
// accepts every connection and dials the endpoint itself, so what needs the
// client's address at the backend cannot be done by this mode's nature, and
// neither can serving while the process is down: those are skipped, with why.
// (--udp-timeout 5s: the suite's one-flow UDP test sends its datagrams more
// than kube-proxy's default 250 ms apart.)
import { defineServiceSuite } from './suite.js';

// kube-proxy's userspace proxier never proxied SCTP either, and Node has no SCTP sockets.
const NO_SCTP =
  'the userspace mode proxies TCP and UDP only, as kube-proxy’s did (SCTP ports are logged as not programmed)';
const NOT_PRESERVED = 'the proxy dials each endpoint itself, so a backend never sees the client’s address';

defineServiceSuite('userspace', {
  args: ['--iptables-min-sync-period=0', '--udp-timeout=5s'],
  skip: {
    'client-address': NOT_PRESERVED,
    'external-local': `externalTrafficPolicy Local keeps the client’s address, and ${NOT_PRESERVED}`,
    restart: 'the proxy process is the dataplane: while it is down its redirects lead to a closed port (refused)',
    sctp: NO_SCTP,
    'sctp-nodeport': NO_SCTP,
  },
});
