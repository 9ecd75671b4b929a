// kube-proxy's IPVS-mode names, byte for byte (pkg/proxy/ipvs): the dummy
// interface that holds the service addresses, the ipsets its few iptables
// rules match on, and the chains. Operators' runbooks grep for these.
//
// Each family's proxier has its own sets (an ipset holds one family), named
// as kube-proxy's NewIPSet names them so both coexist: the IPv4 sets keep
// their names, the IPv6 ones take "KUBE-6-" for the leading "KUBE-", cut to
// the kernel's 31 characters. The chains keep one name: each family's are in
// its own tables (iptables, ip6tables).
import type { IPFamily } from '../../sources/types.js';
import type { IpsetSpec } from './ipset.js';

/** Every service address is bound here, so the kernel takes packets to it as local and IPVS sees them. */
export { KUBE_IPVS0 } from './dummy.js';

/** The ipsets of the ipvs mode, each with what kube-proxy's comment says it holds. */
export const SETS = {
  clusterIP: {
    name: 'KUBE-CLUSTER-IP',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service cluster ip + port for masquerade purpose',
  },
  loopBack: {
    name: 'KUBE-LOOP-BACK',
    type: 'hash:ip,port,ip',
    family: 'inet',
    comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose',
  },
  externalIP: {
    name: 'KUBE-EXTERNAL-IP',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service external ip + port for masquerade and filter purpose',
  },
  externalIPLocal: {
    name: 'KUBE-EXTERNAL-IP-LOCAL',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local',
  },
  loadBalancer: {
    name: 'KUBE-LOAD-BALANCER',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service lb portal',
  },
  loadBalancerLocal: {
    name: 'KUBE-LOAD-BALANCER-LOCAL',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local',
  },
  /** Load-balancer IPs and ports with loadBalancerSourceRanges: their traffic enters KUBE-SOURCE-RANGES-FIREWALL. */
  loadBalancerFW: {
    name: 'KUBE-LOAD-BALANCER-FW',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange',
  },
  /** (LB IP, port, source range): the sources each firewalled load-balancer IP accepts. */
  loadBalancerSourceCIDR: {
    name: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
    type: 'hash:ip,port,net',
    family: 'inet',
    comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose',
  },
  /** (LB IP, port, LB IP): a range holds a node address, so the VIP looping back to itself is accepted too. */
  loadBalancerSourceIP: {
    name: 'KUBE-LOAD-BALANCER-SOURCE-IP',
    type: 'hash:ip,port,ip',
    family: 'inet',
    comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose',
  },
  /** NodePorts (bitmap:port: the port alone, on whichever node address it arrives). */
  nodePortTCP: {
    name: 'KUBE-NODE-PORT-TCP',
    type: 'bitmap:port',
    family: 'inet',
    comment: 'Kubernetes nodeport TCP port for masquerade purpose',
  },
  nodePortLocalTCP: {
    name: 'KUBE-NODE-PORT-LOCAL-TCP',
    type: 'bitmap:port',
    family: 'inet',
    comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local',
  },
  nodePortUDP: {
    name: 'KUBE-NODE-PORT-UDP',
    type: 'bitmap:port',
    family: 'inet',
    comment: 'Kubernetes nodeport UDP port for masquerade purpose',
  },
  nodePortLocalUDP: {
    name: 'KUBE-NODE-PORT-LOCAL-UDP',
    type: 'bitmap:port',
    family: 'inet',
    comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local',
  },
  ipvsIPs: { name: 'KUBE-IPVS-IPS', type: 'hash:ip', family: 'inet', comment: 'IPVS service ip' },
  /**
   * Ours, not kube-proxy's: service addresses and ports whose traffic policy
   * is Local while this node has no endpoint for them. kube-proxy's iptables
   * mode drops such traffic (KEP-2086); IPVS alone would refuse it, since a
   * virtual server without real servers answers ICMP port unreachable.
   */
  noLocalEndpoints: {
    name: 'KUBE-NO-LOCAL-ENDPOINTS',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'service ip + port with traffic policy Local and no endpoint on this node: dropped',
  },
  /**
   * Ours too: external addresses and ports (NodePorts on each node address,
   * externalIPs, load-balancer IPs) whose externalTrafficPolicy is Local while
   * this node has no endpoint. Their virtual servers send to every endpoint,
   * as kube-proxy's IPVS mode does (kubernetes#97081), so that pods (the
   * cluster CIDR) and the node itself reach them; traffic from anywhere else
   * is dropped, as the iptables mode drops it.
   */
  noLocalExternal: {
    name: 'KUBE-NO-LOCAL-EXTERNAL',
    type: 'hash:ip,port',
    family: 'inet',
    comment: 'external ip + port with externalTrafficPolicy Local and no endpoint on this node: dropped from outside',
  },
} as const satisfies Record<string, IpsetSpec>;

export type SetKey = keyof typeof SETS;
export const SET_KEYS = Object.keys(SETS) as SetKey[];

/** The kernel's IPSET_MAXNAMELEN is 32 with the NUL. */
const MAX_SET_NAME = 31;

/**
 * The IPv6 proxier's name for a set: "KUBE-" becomes "KUBE-6-", cut to 31
 * characters (kube-proxy's NewIPSet: KUBE-LOAD-BALANCER-SOURCE-CIDR becomes
 * KUBE-6-LOAD-BALANCER-SOURCE-CID). The IPv4 names stay as they were, so an
 * upgraded node keeps its sets.
 */
export function ipv6SetName(name: string): string {
  return name.startsWith('KUBE-') ? `KUBE-6-${name.slice(5)}`.slice(0, MAX_SET_NAME) : name;
}

export type IpvsSets = { readonly [K in SetKey]: IpsetSpec };

/**
 * The IPv6 proxier's sets: the same types with family inet6. bitmap:port
 * sets (the NodePorts) hold ports, not addresses, so they have no family,
 * but kube-proxy still gives each family's proxier its own (KUBE-6-NODE-PORT-TCP):
 * each family's rules match their own proxier's ports.
 */
const IPV6_SETS = Object.fromEntries(
  SET_KEYS.map((k) => [k, { ...SETS[k], name: ipv6SetName(SETS[k].name), family: 'inet6' }]),
) as unknown as IpvsSets;

/** The sets of one family's proxier. */
export function setsOf(family: IPFamily): IpvsSets {
  return family === 'IPv6' ? IPV6_SETS : SETS;
}

/**
 * Sets kube-proxy's IPVS mode creates and this one does not (SCTP NodePorts,
 * health-check node ports), by family: removed with the mode's own on clean-up.
 */
const KUBE_PROXY_ONLY = ['KUBE-NODE-PORT-SCTP-HASH', 'KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'KUBE-HEALTH-CHECK-NODE-PORT'];
export const KUBE_PROXY_ONLY_SETS: Record<IPFamily, readonly string[]> = {
  IPv4: KUBE_PROXY_ONLY,
  IPv6: KUBE_PROXY_ONLY.map(ipv6SetName),
};

/** Every set name the ipvs mode (this one or kube-proxy's) may leave for `family`. */
export function setNamesOf(family: IPFamily): string[] {
  return [...Object.values(setsOf(family)).map((s) => s.name), ...KUBE_PROXY_ONLY_SETS[family]];
}

/**
 * The ipvs mode's own chains. KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ,
 * KUBE-FORWARD and KUBE-PROXY-FIREWALL (filter) it shares, by name, with the
 * iptables mode; each mode rewrites them whole.
 */
export const KUBE_LOAD_BALANCER = 'KUBE-LOAD-BALANCER';
/** nat: NodePort traffic, marked for masquerading unless its policy is Local. */
export const KUBE_NODE_PORT = 'KUBE-NODE-PORT';
/** filter: what KUBE-PROXY-FIREWALL sends here (a firewalled LB IP and port) is dropped unless its source is allowed. */
export const KUBE_SOURCE_RANGES_FIREWALL = 'KUBE-SOURCE-RANGES-FIREWALL';
/** filter OUTPUT: the node's own connections to a firewalled LB IP whose ranges do not hold the node (kubernetes#119656). */
export const KUBE_IPVS_OUT_FILTER = 'KUBE-IPVS-OUT-FILTER';
export const KUBE_IPVS_FILTER = 'KUBE-IPVS-FILTER';
/** Ours, in the raw table: drops what KUBE-NO-LOCAL-ENDPOINTS holds before IPVS (at LOCAL_IN and LOCAL_OUT) can refuse it. */
export const KUBE_IPVS_DROP = 'KUBE-IPVS-DROP';

/** "10.96.0.10,tcp:80", "fd00:10:96::a,tcp:80": how hash:ip,port members are written and printed. */
export function ipPortMember(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol.toLowerCase()}:${port}`;
}

/** "10.244.1.5,tcp:8080,10.244.1.5": an endpoint reaching itself through its service (hairpin). */
export function loopBackMember(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol.toLowerCase()}:${port},${ip}`;
}

/** "198.51.100.4,tcp:80,10.0.0.0/8": a firewalled LB IP and port with one source range it accepts. */
export function ipPortNetMember(ip: string, protocol: string, port: number, net: string): string {
  return `${ip},${protocol.toLowerCase()}:${port},${net}`;
}
