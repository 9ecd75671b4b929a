// kube-proxy's IPVS-mode names, byte for byte (pkg/proxy/ipvs): the dummy
// interface that holds the service addresses, the ipsets its few iptables
// rules match on, and the chains. Operators' runbooks grep for these.
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
} as const satisfies Record<string, IpsetSpec>;

export type SetKey = keyof typeof SETS;
export const SET_KEYS = Object.keys(SETS) as SetKey[];

/** The ipvs mode's own chains (KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ and KUBE-FORWARD it shares with the iptables mode). */
export const KUBE_LOAD_BALANCER = 'KUBE-LOAD-BALANCER';
export const KUBE_IPVS_FILTER = 'KUBE-IPVS-FILTER';
/** Ours, in the raw table: drops what KUBE-NO-LOCAL-ENDPOINTS holds before IPVS (at LOCAL_IN and LOCAL_OUT) can refuse it. */
export const KUBE_IPVS_DROP = 'KUBE-IPVS-DROP';

/** "10.96.0.10,tcp:80": how hash:ip,port members are written and printed. */
export function ipPortMember(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol.toLowerCase()}:${port}`;
}

/** "10.244.1.5,tcp:8080,10.244.1.5": an endpoint reaching itself through its service (hairpin). */
export function loopBackMember(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol.toLowerCase()}:${port},${ip}`;
}
