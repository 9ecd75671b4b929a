// One IP family's share of a service port, as kube-proxy's per-family
// proxiers see it: its service change tracker keeps the ClusterIP, external
// IPs, load-balancer IPs and source ranges of the proxier's family, and its
// endpoints change tracker only the slices of that address type. Pure; the
// dual-stack meta proxier (proxiers/dual-stack.ts) hands each family
// proxier these projections.
import type { IPFamily } from '../sources/types.js';
import { ipFamilyOf } from './address.js';
import { usesClusterEndpoints, usesLocalEndpoints } from './topology.js';
import type { EndpointState, ServicePortState } from './types.js';

const familyOfCIDR = (cidr: string): IPFamily => ipFamilyOf(cidr.split('/')[0]!);

/** Whether every address, range and endpoint of the port is of `family`: its projection is the port itself. */
function onlyOf(sp: ServicePortState, family: IPFamily): boolean {
  return (
    sp.clusterIPs.every((ip) => ipFamilyOf(ip) === family) &&
    sp.externalIPs.every((ip) => ipFamilyOf(ip) === family) &&
    sp.loadBalancerIPs.every((ip) => ipFamilyOf(ip) === family) &&
    sp.loadBalancerSourceRanges.every((c) => familyOfCIDR(c) === family) &&
    sp.endpoints.every((e) => e.family === family)
  );
}

/**
 * The port as a proxier of `family` sees it, or undefined when the port has
 * no ClusterIP of the family (kube-proxy's per-family proxier does not see
 * such a service at all, its NodePort included). Returns the port itself
 * when it is of that family only, so a single-stack cluster copies nothing.
 *
 * The categorized lists are filtered, not recomputed: the model categorizes
 * each family on its own already. hasAnyEndpoints becomes the family's own
 * (a ready or serving-terminating endpoint of the family), as each of
 * kube-proxy's proxiers only knows its family's endpoints; so an IPv4
 * service whose slices are all IPv6 has no endpoints here and is rejected.
 */
export function servicePortOfFamily(sp: ServicePortState, family: IPFamily): ServicePortState | undefined {
  const clusterIPs = sp.clusterIPs.filter((ip) => ipFamilyOf(ip) === family);
  if (clusterIPs.length === 0) return undefined;
  if (onlyOf(sp, family)) return sp;
  const ofFamily = (eps: EndpointState[] | null) => (eps === null ? null : eps.filter((e) => e.family === family));
  const endpoints = sp.endpoints.filter((e) => e.family === family);
  const externalIPs = sp.externalIPs.filter((ip) => ipFamilyOf(ip) === family);
  const loadBalancerIPs = sp.loadBalancerIPs.filter((ip) => ipFamilyOf(ip) === family);
  // kube-proxy's ExternallyAccessible, of this family's addresses: a port
  // whose only external IPs are of the other family is internal here, and a
  // path it no longer takes has no list (it can only narrow).
  const policies = {
    internalTrafficPolicy: sp.internalTrafficPolicy,
    externalTrafficPolicy: sp.externalTrafficPolicy,
    externallyAccessible: sp.nodePort !== undefined || externalIPs.length > 0 || loadBalancerIPs.length > 0,
  };
  return {
    ...sp,
    clusterIPs,
    externalIPs,
    loadBalancerIPs,
    loadBalancerSourceRanges: sp.loadBalancerSourceRanges.filter((c) => familyOfCIDR(c) === family),
    externallyAccessible: policies.externallyAccessible,
    endpoints,
    clusterEndpoints: usesClusterEndpoints(policies) ? ofFamily(sp.clusterEndpoints) : null,
    localEndpoints: usesLocalEndpoints(policies) ? ofFamily(sp.localEndpoints) : null,
    hasAnyEndpoints: endpoints.some((e) => e.ready || (e.serving && e.terminating)),
  };
}

/** The port's addresses of `family` by kind, as a mode that does not serve the family reports them. */
export function addressesOfFamily(
  sp: ServicePortState,
  family: IPFamily,
): Array<{ kind: 'ClusterIP' | 'externalIP' | 'load-balancer IP'; address: string }> {
  const has = (ips: readonly string[]) => ips.some((ip) => ipFamilyOf(ip) === family);
  // The common case, a port with nothing of the family, allocates nothing.
  if (!has(sp.clusterIPs) && !has(sp.externalIPs) && !has(sp.loadBalancerIPs)) return [];
  const of = (kind: 'ClusterIP' | 'externalIP' | 'load-balancer IP', ips: readonly string[]) =>
    ips.filter((ip) => ipFamilyOf(ip) === family).map((address) => ({ kind, address }));
  return [
    ...of('ClusterIP', sp.clusterIPs),
    ...of('externalIP', sp.externalIPs),
    ...of('load-balancer IP', sp.loadBalancerIPs),
  ];
}
