// What one service port needs from IPVS, as kube-proxy's IPVS proxier lays it
// out (pkg/proxy/ipvs/proxier.go, syncProxyRules): a virtual server for each
// of its addresses (ClusterIP, externalIPs, load-balancer IPs), with the
// endpoints of that address's traffic policy as real servers of weight 1; the
// addresses to bind on kube-ipvs0; and the ipset members its iptables rules
// match. Pure: model in, layout out, so a partial sync recomputes only what
// changed.
import type { AddressKey, RealServer, VirtualServerOptions } from '../../netlink/types.js';
import type { EndpointState, ServicePortState } from '../../model/types.js';
import { ipPortMember, loopBackMember, type SetKey } from './names.js';

export interface LayoutContext {
  /** --ipvs-scheduler, "" meaning rr. */
  scheduler: string;
}

/** kube-proxy programs virtual servers by address, never by firewall mark. */
export type AddressVirtualServer = AddressKey & VirtualServerOptions;

export interface VirtualServerLayout {
  virtualServer: AddressVirtualServer;
  realServers: RealServer[];
}

export interface PortLayout {
  virtualServers: VirtualServerLayout[];
  /** Addresses to bind on kube-ipvs0. */
  addresses: string[];
  /** Members of the mode's ipsets. */
  sets: Partial<Record<SetKey, string[]>>;
  /** Internal / external traffic dropped for want of a local endpoint (kube-proxy's metric). */
  noLocalEndpoints: { internal: boolean; external: boolean };
  /** What this mode cannot program for the port. */
  skipped: string[];
}

/**
 * The layout of one service port, of one family (the dual-stack meta proxier
 * hands this proxier the port's IPv4 share only); what the mode lacks is
 * reported as skipped.
 */
export function portLayout(sp: ServicePortState, ctx: LayoutContext): PortLayout {
  const out: PortLayout = {
    virtualServers: [],
    addresses: [],
    sets: {},
    noLocalEndpoints: { internal: false, external: false },
    skipped: [],
  };
  const add = (key: SetKey, member: string) => (out.sets[key] ??= []).push(member);

  if (sp.nodePort) out.skipped.push(`NodePort ${sp.nodePort} is not programmed by the ipvs mode yet`);
  if (sp.protocol === 'SCTP') {
    out.skipped.push('SCTP is not programmed by the ipvs mode yet');
    return out;
  }
  const sourceRanges = sp.loadBalancerSourceRanges.length > 0;
  if (sourceRanges && sp.loadBalancerIPs.length) {
    out.skipped.push(
      'load-balancer IPs with loadBalancerSourceRanges are not programmed by the ipvs mode yet (no KUBE-LOAD-BALANCER-FW)',
    );
  }

  const clusterIPs = sp.clusterIPs;
  const externalIPs = sp.externalIPs;
  const lbIPs = sourceRanges ? [] : sp.loadBalancerIPs;

  const internalLocal = sp.internalTrafficPolicy === 'Local';
  const externalLocal = sp.externalTrafficPolicy === 'Local';
  const internal = (internalLocal ? sp.localEndpoints : sp.clusterEndpoints) ?? [];
  const external = (externalLocal ? sp.localEndpoints : sp.clusterEndpoints) ?? [];
  // With no endpoint on the path: refused (IPVS answers ICMP port unreachable)
  // when the service has none anywhere, dropped when it has some elsewhere.
  const dropInternal = internal.length === 0 && sp.hasAnyEndpoints;
  const dropExternal = external.length === 0 && sp.hasAnyEndpoints;
  out.noLocalEndpoints.internal = internalLocal && dropInternal;
  out.noLocalEndpoints.external = externalLocal && dropExternal && (externalIPs.length > 0 || lbIPs.length > 0);

  const virtualServer = (address: string, endpoints: readonly EndpointState[]): void => {
    out.virtualServers.push({
      virtualServer: {
        address,
        protocol: sp.protocol,
        port: sp.port,
        scheduler: ctx.scheduler || 'rr',
        // ClientIP affinity is persistence: a client keeps its real server until the timeout passes idle.
        ...(sp.affinityTimeoutSeconds !== undefined
          ? { persistence: { timeoutSeconds: sp.affinityTimeoutSeconds } }
          : {}),
      },
      realServers: endpoints.map((e) => ({ address: e.ip, port: e.port, weight: 1 })),
    });
    out.addresses.push(address);
  };

  for (const ip of clusterIPs) {
    virtualServer(ip, internal);
    add('clusterIP', ipPortMember(ip, sp.protocol, sp.port));
    if (dropInternal) add('noLocalEndpoints', ipPortMember(ip, sp.protocol, sp.port));
  }
  for (const ip of externalIPs) {
    virtualServer(ip, external);
    add(externalLocal ? 'externalIPLocal' : 'externalIP', ipPortMember(ip, sp.protocol, sp.port));
    if (dropExternal) add('noLocalEndpoints', ipPortMember(ip, sp.protocol, sp.port));
  }
  for (const ip of lbIPs) {
    virtualServer(ip, external);
    add('loadBalancer', ipPortMember(ip, sp.protocol, sp.port));
    if (externalLocal) add('loadBalancerLocal', ipPortMember(ip, sp.protocol, sp.port));
    if (dropExternal) add('noLocalEndpoints', ipPortMember(ip, sp.protocol, sp.port));
  }
  // Hairpin: an endpoint that reaches itself through the service is masqueraded.
  // Only this node's endpoints can (kube-proxy adds local ones only): the set
  // stays the size of the node's pods, not of the cluster's endpoints.
  const local = new Set(sp.endpoints.filter((e) => e.isLocal).map((e) => `${e.ip}:${e.port}`));
  const hairpin = new Set<string>();
  for (const e of [...(clusterIPs.length ? internal : []), ...(externalIPs.length || lbIPs.length ? external : [])]) {
    if (local.has(`${e.ip}:${e.port}`)) hairpin.add(loopBackMember(e.ip, sp.protocol, e.port));
  }
  for (const m of hairpin) add('loopBack', m);
  return out;
}
