// The address plan of the end-to-end suite: for each IP family, where its
// services, load balancers and clients are, and the services every test
// starts from. Every service carries the addresses of each family the suite
// runs (both by default: RequireDualStack, a ClusterIP of each family,
// externalIPs, load-balancer ingress and source ranges of both), as a
// dual-stack cluster's API server and cloud controller would write them.
import {
  CLIENT_IP,
  CLIENT_IP6,
  CLIENT_SECOND_IP,
  CLIENT_SECOND_IP6,
  hostPort,
  type IPFamily,
  type Node,
  type Pod,
} from '../../harness/cluster.js';
import type { ServiceSpec } from './fixtures.js';

/** One family's addresses. IPv6 mirrors IPv4: 10.96.0.10 is fd00:10:96::10, 198.51.100.10 is 2001:db8:100::10. */
export interface AddressPlan {
  family: IPFamily;
  /** The ClusterIP numbered `n`: 10.96.0.<n>, fd00:10:96::<n>. */
  clusterIP(n: number): string;
  /** 'lb': ingress `lb` (ipMode VIP) and `lbProxy` (ipMode Proxy). */
  lb: string;
  lbProxy: string;
  /** 'external-ip' (TCP 80) and 'external-ip-udp' (UDP 53) share this spec.externalIPs address. */
  externalIP: string;
  /** 'source-ranges': a LoadBalancer open to the client's own address only. */
  rangesLb: string;
  /** 'health-check': a Local LoadBalancer's ingress. */
  healthCheckLb: string;
  /** The outside client's address (its connections leave from it), and its second one. */
  client: string;
  clientSecond: string;
  /** A single address as a source range. */
  hostCidr(ip: string): string;
  /** The loopback address, where kube-proxy serves NodePorts in IPv4 only (--iptables-localhost-nodeports). */
  loopback: string;
  pod(p: Pod): string;
  node(n: Node): string;
}

export const PLANS: Record<IPFamily, AddressPlan> = {
  IPv4: {
    family: 'IPv4',
    clusterIP: (n) => `10.96.0.${n}`,
    lb: '198.51.100.10',
    lbProxy: '198.51.100.11',
    externalIP: '198.51.100.20',
    rangesLb: '198.51.100.30',
    healthCheckLb: '198.51.100.40',
    client: CLIENT_IP,
    clientSecond: CLIENT_SECOND_IP,
    hostCidr: (ip) => `${ip}/32`,
    loopback: '127.0.0.1',
    pod: (p) => p.ip,
    node: (n) => n.wireIp,
  },
  IPv6: {
    family: 'IPv6',
    clusterIP: (n) => `fd00:10:96::${n}`,
    lb: '2001:db8:100::10',
    lbProxy: '2001:db8:100::11',
    externalIP: '2001:db8:100::20',
    rangesLb: '2001:db8:100::30',
    healthCheckLb: '2001:db8:100::40',
    client: CLIENT_IP6,
    clientSecond: CLIENT_SECOND_IP6,
    hostCidr: (ip) => `${ip}/128`,
    loopback: '::1',
    pod: (p) => p.ip6,
    node: (n) => n.wireIp6,
  },
};

/** Each service's ClusterIP number: the last part of its address in every family. */
const NUMBER = {
  web: 10,
  empty: 11,
  dns: 12,
  self: 13,
  sticky: 14,
  local: 15,
  draining: 16,
  'local-n1': 17,
  scale: 20,
  'empty-udp': 21,
  // North-south: each service has a ClusterIP too, as the API server gives every one.
  nodeport: 30,
  'nodeport-udp': 31,
  lb: 32,
  'external-ip': 33,
  'external-ip-udp': 34,
  'external-local': 35,
  'source-ranges': 36,
  'health-check': 37,
} as const;

export const NODE_PORT = 30080; // 'nodeport'
export const NODE_PORT_UDP = 30053; // 'nodeport-udp'
export const LOCAL_NODE_PORT = 30082; // 'external-local', externalTrafficPolicy Local, endpoints on n1 only
export const RANGES_NODE_PORT = 30083; // 'source-ranges'
export const HC_NODE_PORT = 32100; // 'health-check'

/** The ClusterIP targets of one family ("ip:port", "[ip]:port"). */
export function clusterTargets(plan: AddressPlan) {
  const at = (name: keyof typeof NUMBER, port: number) => hostPort(plan.clusterIP(NUMBER[name]), port);
  return {
    WEB: at('web', 80),
    EMPTY: at('empty', 80),
    DNS: at('dns', 53),
    SELF: at('self', 80),
    STICKY: at('sticky', 80),
    LOCAL: at('local', 80),
    DRAINING: at('draining', 80),
    LOCAL_N1: at('local-n1', 80),
    SCALE: at('scale', 80),
    EMPTY_UDP: at('empty-udp', 53),
  };
}

export const ALL = ['n1p1', 'n1p2', 'n2p1', 'n2p2'];

/** The services at the start of every test, with the addresses of `families` (primary first). */
export function services(pod: (name: string) => Pod, families: readonly IPFamily[]): ServiceSpec[] {
  const plans = families.map((f) => PLANS[f]);
  const all = ALL.map(pod);
  const ips = (name: keyof typeof NUMBER) => ({ name, clusterIPs: plans.map((p) => p.clusterIP(NUMBER[name])) });
  return [
    { ...ips('web'), endpoints: all },
    { ...ips('empty'), endpoints: [] },
    { ...ips('dns'), protocol: 'UDP', port: 53, endpoints: all },
    { ...ips('self'), endpoints: [pod('n1p1')] },
    { ...ips('sticky'), endpoints: all, affinitySeconds: 300 },
    { ...ips('local'), internalTrafficPolicy: 'Local', endpoints: [pod('n1p1'), pod('n2p1'), pod('n2p2')] },
    { ...ips('local-n1'), internalTrafficPolicy: 'Local', endpoints: [pod('n1p1')] },
    {
      ...ips('draining'),
      // Every endpoint is shutting down and one still serves: kube-proxy falls back to it.
      endpoints: [
        { pod: pod('n2p2'), ready: false, serving: true, terminating: true },
        { pod: pod('n2p1'), ready: false, serving: false, terminating: true },
      ],
    },
    { ...ips('scale'), endpoints: [pod('n2p1')] },
    { ...ips('empty-udp'), protocol: 'UDP', port: 53, endpoints: [] },
    { ...ips('nodeport'), type: 'NodePort', nodePort: NODE_PORT, endpoints: all },
    { ...ips('nodeport-udp'), type: 'NodePort', protocol: 'UDP', port: 53, nodePort: NODE_PORT_UDP, endpoints: all },
    {
      ...ips('lb'),
      type: 'LoadBalancer',
      nodePort: 30081,
      // The second load balancer of each family proxies itself (KEP-1860): the node must leave its IP alone.
      loadBalancerIngress: plans.flatMap((p) => [
        { ip: p.lb, ipMode: 'VIP' as const },
        { ip: p.lbProxy, ipMode: 'Proxy' as const },
      ]),
      endpoints: all,
    },
    { ...ips('external-ip'), externalIPs: plans.map((p) => p.externalIP), endpoints: all },
    {
      ...ips('external-ip-udp'),
      protocol: 'UDP',
      port: 53,
      externalIPs: plans.map((p) => p.externalIP),
      endpoints: all,
    },
    {
      ...ips('external-local'),
      type: 'NodePort',
      nodePort: LOCAL_NODE_PORT,
      externalTrafficPolicy: 'Local',
      endpoints: [pod('n1p1'), pod('n1p2')],
    },
    {
      ...ips('source-ranges'),
      type: 'LoadBalancer',
      nodePort: RANGES_NODE_PORT,
      loadBalancerIngress: plans.map((p) => ({ ip: p.rangesLb, ipMode: 'VIP' as const })),
      loadBalancerSourceRanges: plans.map((p) => p.hostCidr(p.client)),
      endpoints: all,
    },
    {
      ...ips('health-check'),
      type: 'LoadBalancer',
      nodePort: 30084,
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: HC_NODE_PORT,
      loadBalancerIngress: plans.map((p) => ({ ip: p.healthCheckLb, ipMode: 'VIP' as const })),
      endpoints: [pod('n1p1')],
    },
  ];
}
