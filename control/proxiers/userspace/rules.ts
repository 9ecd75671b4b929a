// The userspace mode's iptables rules, in kube-proxy's userspace chains: the
// service's addresses redirected to the proxy's own port on this node.
//
//   nat PREROUTING  -> KUBE-PORTALS-CONTAINER   ClusterIPs, externalIPs, LB IPs (traffic from pods and outside)
//   nat OUTPUT      -> KUBE-PORTALS-HOST        the same, for the node's own processes
//   nat PREROUTING  -> KUBE-NODEPORT-CONTAINER  NodePorts, on the node's addresses (addrtype LOCAL)
//   nat OUTPUT      -> KUBE-NODEPORT-HOST       NodePorts, from the node itself (127.0.0.1 included)
//   filter INPUT, FORWARD, OUTPUT -> KUBE-PORTALS-FILTER
//       a frontend without endpoints refused (REJECT), one whose policy is
//       Local without a local endpoint dropped, and an LB IP's sources outside
//       loadBalancerSourceRanges dropped, as kube-proxy's other modes do.
//
// Every rule DNATs to the node's IP at the proxy port (kube-proxy did the
// same when its proxy had an address to listen on). REDIRECT would send a
// packet to the address of the interface it came in on, and drop it where
// that interface has none (a pod's veth under Calico-style /32 routing); and
// from the node itself to 127.0.0.1, where a UDP reply from the proxy's
// socket leaves with another source than conntrack expects. The UDP sockets
// are bound to the node's IP, so their replies leave from it. Only a node
// without a known address of the family falls back to REDIRECT.
//
// One proxier per family writes these chains, in iptables (IPv4) and
// ip6tables (IPv6), each with its family's addresses only; ::1 is no
// NodePort address, as in kube-proxy's other modes.
import type { NodeFacts } from '../../model/node-facts.js';
import { hostPort, ipFamilyOf } from '../../model/address.js';
import type { ServicePortState } from '../../model/types.js';
import type { Jump } from '../../netfilter/kube-chains.js';
import type { IPFamily } from '../../sources/types.js';
import { kubeServicePortName } from '../iptables/names.js';

export const KUBE_PORTALS_CONTAINER = 'KUBE-PORTALS-CONTAINER';
export const KUBE_PORTALS_HOST = 'KUBE-PORTALS-HOST';
export const KUBE_NODEPORT_CONTAINER = 'KUBE-NODEPORT-CONTAINER';
export const KUBE_NODEPORT_HOST = 'KUBE-NODEPORT-HOST';
export const KUBE_PORTALS_FILTER = 'KUBE-PORTALS-FILTER';

export const USERSPACE_CHAINS = {
  nat: [KUBE_PORTALS_CONTAINER, KUBE_PORTALS_HOST, KUBE_NODEPORT_CONTAINER, KUBE_NODEPORT_HOST],
  filter: [KUBE_PORTALS_FILTER],
} as const;

const LOCAL = '-m addrtype --dst-type LOCAL';
const NEW = '-m conntrack --ctstate NEW';

export const USERSPACE_JUMPS: Jump[] = [
  {
    table: 'nat',
    chain: 'PREROUTING',
    target: KUBE_PORTALS_CONTAINER,
    comment: 'handle ClusterIPs; NOTE: this must be before the NodePort rules',
    extra: '',
  },
  {
    table: 'nat',
    chain: 'OUTPUT',
    target: KUBE_PORTALS_HOST,
    comment: 'handle ClusterIPs; NOTE: this must be before the NodePort rules',
    extra: '',
  },
  {
    table: 'nat',
    chain: 'PREROUTING',
    target: KUBE_NODEPORT_CONTAINER,
    comment: 'handle service NodePorts; NOTE: this must be the last rule in the chain',
    extra: LOCAL,
  },
  {
    table: 'nat',
    chain: 'OUTPUT',
    target: KUBE_NODEPORT_HOST,
    comment: 'handle service NodePorts; NOTE: this must be the last rule in the chain',
    extra: LOCAL,
  },
  {
    table: 'filter',
    chain: 'INPUT',
    target: KUBE_PORTALS_FILTER,
    comment: 'userspace service portals without endpoints',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'FORWARD',
    target: KUBE_PORTALS_FILTER,
    comment: 'userspace service portals without endpoints',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'OUTPUT',
    target: KUBE_PORTALS_FILTER,
    comment: 'userspace service portals without endpoints',
    extra: NEW,
  },
];

/** A frontend class of a service port: the addresses that share a proxy socket and an endpoint set. */
export type FrontendClass = 'internal' | 'external';

/** What a class of a port is served with: its proxy port, or why there is none. */
export type ClassState = { proxyPort: number } | { target: 'REJECT' | 'DROP'; why: string } | undefined;

export interface PortRules {
  nat: string[];
  filter: string[];
}

const q = (s: string) => `"${s.replace(/"/g, '')}"`;

/** The endpoints each class of a port sends to (kube-proxy's policies as the model resolved them). */
export function classEndpoints(sp: ServicePortState, cls: FrontendClass) {
  const local = cls === 'internal' ? sp.internalTrafficPolicy === 'Local' : sp.externalTrafficPolicy === 'Local';
  return (local ? sp.localEndpoints : sp.clusterEndpoints) ?? [];
}

/** The port's ClusterIPs (internal) and external addresses of `family`; NodePort separately. */
export function frontends(sp: ServicePortState, family: IPFamily = 'IPv4') {
  const mine = (ip: string) => ipFamilyOf(ip) === family;
  return {
    internal: sp.clusterIPs.filter(mine),
    external: [...sp.externalIPs.filter(mine), ...sp.loadBalancerIPs.filter(mine)],
    hasExternal: sp.nodePort !== undefined || sp.externalIPs.some(mine) || sp.loadBalancerIPs.some(mine),
  };
}

/** The address the rules send to, and the UDP sockets bind: the node's first address of `family`. */
export const proxyAddress = (node: Pick<NodeFacts, 'addresses'>, family: IPFamily = 'IPv4'): string | undefined =>
  node.addresses.find((a) => ipFamilyOf(a) === family);

export function portRules(
  sp: ServicePortState,
  states: Record<FrontendClass, ClassState>,
  node: Pick<NodeFacts, 'nodePortAddresses' | 'addresses'>,
  family: IPFamily = 'IPv4',
): PortRules {
  const out: PortRules = { nat: [], filter: [] };
  const host = family === 'IPv6' ? '/128' : '/32';
  const name = kubeServicePortName(sp);
  const proto = sp.protocol.toLowerCase();
  const match = `-p ${proto} -m ${proto}`;
  const f = frontends(sp, family);
  const lbIPs = new Set(sp.loadBalancerIPs);
  const ranges = sp.loadBalancerSourceRanges;

  const nodeIP = proxyAddress(node, family);
  const toProxy = (port: number) =>
    nodeIP ? `-j DNAT --to-destination ${hostPort(nodeIP, port)}` : `-j REDIRECT --to-ports ${port}`;
  const redirect = (chain: string, dst: string, port: number, what: string, src = '') =>
    `-A ${chain} -m comment --comment ${q(`${name} ${what}`)}${src} ${match} ${dst} ${toProxy(port)}`;
  const refuse = (dst: string, s: { target: 'REJECT' | 'DROP'; why: string }) =>
    `-A ${KUBE_PORTALS_FILTER} -m comment --comment ${q(`${name} ${s.why}`)} ${match} ${dst} -j ${s.target}`;

  const internal = states.internal;
  for (const ip of f.internal) {
    const dst = `-d ${ip}${host} --dport ${sp.port}`;
    if (internal && 'proxyPort' in internal) {
      out.nat.push(redirect(KUBE_PORTALS_CONTAINER, dst, internal.proxyPort, 'cluster IP'));
      out.nat.push(redirect(KUBE_PORTALS_HOST, dst, internal.proxyPort, 'cluster IP'));
    } else if (internal) out.filter.push(refuse(dst, internal));
  }

  const external = states.external;
  for (const ip of f.external) {
    const dst = `-d ${ip}${host} --dport ${sp.port}`;
    const what = lbIPs.has(ip) ? 'loadbalancer IP' : 'external IP';
    if (external && 'proxyPort' in external) {
      if (lbIPs.has(ip) && ranges.length > 0) {
        // Only the listed sources are redirected; the rest are dropped where they would be routed on.
        for (const cidr of ranges) {
          out.nat.push(redirect(KUBE_PORTALS_CONTAINER, dst, external.proxyPort, what, ` -s ${cidr}`));
          out.nat.push(redirect(KUBE_PORTALS_HOST, dst, external.proxyPort, what, ` -s ${cidr}`));
        }
        out.filter.push(refuse(dst, { target: 'DROP', why: 'traffic not accepted by loadBalancerSourceRanges' }));
      } else {
        out.nat.push(redirect(KUBE_PORTALS_CONTAINER, dst, external.proxyPort, what));
        out.nat.push(redirect(KUBE_PORTALS_HOST, dst, external.proxyPort, what));
      }
    } else if (external) out.filter.push(refuse(dst, external));
  }

  if (sp.nodePort !== undefined) {
    const listed = node.nodePortAddresses[family]?.filter((a) => !(family === 'IPv6' && a === '::1'));
    const anyButLoopback6 = family === 'IPv6' ? '! -d ::1/128 ' : '';
    const dsts = listed
      ? listed.map((a) => `-d ${a}${host} --dport ${sp.nodePort}`)
      : [`${anyButLoopback6}--dport ${sp.nodePort}`];
    for (const dst of dsts) {
      if (external && 'proxyPort' in external) {
        out.nat.push(redirect(KUBE_NODEPORT_CONTAINER, dst, external.proxyPort, 'node port'));
        out.nat.push(redirect(KUBE_NODEPORT_HOST, dst, external.proxyPort, 'node port'));
      } else if (external) out.filter.push(refuse(`${LOCAL} ${dst}`, external));
    }
  }
  return out;
}
