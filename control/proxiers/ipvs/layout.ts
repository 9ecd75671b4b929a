// What one service port needs from IPVS, as kube-proxy's IPVS proxier lays it
// out (pkg/proxy/ipvs/proxier.go, syncProxyRules): a virtual server for each
// of its addresses (ClusterIP, externalIPs, load-balancer IPs) and, for a
// NodePort, one per address NodePorts answer on, with the endpoints of that
// address's traffic policy as real servers of weight 1; the addresses to bind
// on kube-ipvs0 (service addresses only: node addresses are the node's); and
// the ipset members its iptables rules match. Pure: model and node in, layout
// out, so a partial sync recomputes only what changed. One family at a time:
// the IPv4 and the IPv6 proxier each lay out their own share of a port.
import { canonicalIP } from '../../model/address.js';
import type { EndpointState, ServicePortState } from '../../model/types.js';
import type { AddressKey, RealServer, VirtualServerOptions } from '../../netlink/types.js';
import type { IPFamily, Protocol } from '../../sources/types.js';
import { cidrHolds, parseCidr, type Cidr } from './cidr.js';
import { ipPortMember, ipPortNetMember, loopBackMember, type SetKey } from './names.js';

export interface LayoutContext {
  /** The family of the proxier, and of every address and range it is handed. */
  family: IPFamily;
  /** --ipvs-scheduler, "" meaning rr. */
  scheduler: string;
  /**
   * The node addresses NodePorts answer on (this family's): --nodeport-addresses
   * resolved on the node, or every local address but loopback. None: NodePorts
   * are not programmed, as kube-proxy skips them when it finds no node IP.
   */
  nodePortAddresses: readonly string[];
  /** The node's own addresses of this family: a source range holding one lets a load-balancer IP reach itself. */
  nodeAddresses: readonly string[];
}

/** kube-proxy programs virtual servers by address, never by firewall mark. */
export type AddressVirtualServer = AddressKey & VirtualServerOptions;

export interface VirtualServerLayout {
  virtualServer: AddressVirtualServer;
  realServers: RealServer[];
}

/** A load-balancer IP and port the node's own connections may not reach (KUBE-IPVS-OUT-FILTER). */
export interface NoNodeAccess {
  address: string;
  protocol: Protocol;
  port: number;
}

export interface PortLayout {
  virtualServers: VirtualServerLayout[];
  /** Addresses to bind on kube-ipvs0. */
  addresses: string[];
  /** Members of the mode's ipsets. */
  sets: Partial<Record<SetKey, string[]>>;
  /**
   * Firewalled load-balancer IPs none of whose source ranges holds a node
   * address: a connection from the node itself would never meet the INPUT
   * firewall (IPVS takes it at LOCAL_OUT), so it is dropped on the way out.
   */
  noNodeAccess: NoNodeAccess[];
  /** Internal / external traffic dropped for want of a local endpoint (kube-proxy's metric). */
  noLocalEndpoints: { internal: boolean; external: boolean };
  /** What this mode cannot program for the port. */
  skipped: string[];
  /**
   * Set when nothing of the port may be programmed: a source range that does
   * not parse would leave its load-balancer IPs open to every source. The
   * proxier keeps what it programmed for the port before.
   */
  invalid?: string;
}

/**
 * The layout of one service port, of one family (the dual-stack meta proxier
 * hands each family's proxier that family's share of the port); what the
 * mode lacks is reported as skipped. Service addresses are written as the
 * kernel prints them back (IPv6 compressed, lower-case), so a virtual server
 * read back from IPVS matches the one laid out.
 */
export function portLayout(sp: ServicePortState, ctx: LayoutContext): PortLayout {
  const out: PortLayout = {
    virtualServers: [],
    addresses: [],
    sets: {},
    noNodeAccess: [],
    noLocalEndpoints: { internal: false, external: false },
    skipped: [],
  };
  const add = (key: SetKey, member: string) => (out.sets[key] ??= []).push(member);

  if (sp.protocol === 'SCTP') {
    out.skipped.push('SCTP is not programmed by the ipvs mode yet');
    return out;
  }

  const clusterIPs = sp.clusterIPs.map(canonicalIP);
  const externalIPs = sp.externalIPs.map(canonicalIP);
  const lbIPs = sp.loadBalancerIPs.map(canonicalIP);
  // The model drops ranges that are not CIDRs; one that still does not parse
  // here must not leave the load-balancer IPs open to all.
  const ranges: Cidr[] = [];
  if (lbIPs.length) {
    for (const text of sp.loadBalancerSourceRanges) {
      const range = parseCidr(text, ctx.family);
      if (!range) {
        out.invalid = `loadBalancerSourceRanges entry ${JSON.stringify(text)} is not an ${ctx.family} CIDR: the service port is not programmed (what it had stays)`;
        out.skipped.push(out.invalid);
        return out;
      }
      ranges.push(range);
    }
  }
  // A range of prefix 0 admits every source: no firewall at all, as without
  // ranges (ipsets cannot hold a /0 either, kubernetes#132719): 0.0.0.0/0, ::/0.
  const firewalled = ranges.length > 0 && !ranges.some((r) => r.bits === 0);
  const nodePort = sp.nodePort !== undefined && ctx.nodePortAddresses.length > 0 ? sp.nodePort : undefined;

  const internalLocal = sp.internalTrafficPolicy === 'Local';
  const externalLocal = sp.externalTrafficPolicy === 'Local';
  const localEndpoints = sp.localEndpoints ?? [];
  const clusterEndpoints = sp.clusterEndpoints ?? [];
  const internal = internalLocal ? localEndpoints : clusterEndpoints;
  // externalTrafficPolicy Local with no endpoint here: kube-proxy's IPVS mode
  // gives the external virtual servers every endpoint (kubernetes#97081), so
  // pods on this node still reach the service by its external address, as
  // they do in the iptables mode; KUBE-NO-LOCAL-EXTERNAL drops the rest.
  const shortCircuit =
    externalLocal && localEndpoints.length === 0 && sp.hasAnyEndpoints && clusterEndpoints.length > 0;
  const external = externalLocal && !shortCircuit ? localEndpoints : clusterEndpoints;
  // With no endpoint on the path: refused (IPVS answers ICMP port unreachable)
  // when the service has none anywhere, dropped when it has some elsewhere.
  const dropInternal = internal.length === 0 && sp.hasAnyEndpoints;
  const dropExternal = external.length === 0 && sp.hasAnyEndpoints;
  const hasExternal = externalIPs.length > 0 || lbIPs.length > 0 || nodePort !== undefined;
  out.noLocalEndpoints.internal = internalLocal && dropInternal;
  out.noLocalEndpoints.external = externalLocal && localEndpoints.length === 0 && sp.hasAnyEndpoints && hasExternal;
  /** An external address and port with no endpoint for it here: dropped (from outside only, when pods may short-circuit). */
  const noEndpointHere = (m: string) => {
    if (shortCircuit) add('noLocalExternal', m);
    else if (dropExternal) add('noLocalEndpoints', m);
  };

  const virtualServer = (address: string, port: number, endpoints: readonly EndpointState[], bind: boolean) => {
    out.virtualServers.push({
      virtualServer: {
        address,
        protocol: sp.protocol,
        port,
        scheduler: ctx.scheduler || 'rr',
        // ClientIP affinity is persistence: a client keeps its real server until the timeout passes idle.
        ...(sp.affinityTimeoutSeconds !== undefined
          ? { persistence: { timeoutSeconds: sp.affinityTimeoutSeconds } }
          : {}),
      },
      realServers: endpoints.map((e) => ({ address: e.ip, port: e.port, weight: 1 })),
    });
    if (bind) out.addresses.push(address);
  };
  const member = (ip: string, port = sp.port) => ipPortMember(ip, sp.protocol, port);

  for (const ip of clusterIPs) {
    virtualServer(ip, sp.port, internal, true);
    add('clusterIP', member(ip));
    if (dropInternal) add('noLocalEndpoints', member(ip));
  }
  for (const ip of externalIPs) {
    virtualServer(ip, sp.port, external, true);
    add(externalLocal ? 'externalIPLocal' : 'externalIP', member(ip));
    noEndpointHere(member(ip));
  }
  const allowFromNode = ranges.some((r) => ctx.nodeAddresses.some((a) => cidrHolds(r, a)));
  for (const ip of lbIPs) {
    virtualServer(ip, sp.port, external, true);
    add('loadBalancer', member(ip));
    if (externalLocal) add('loadBalancerLocal', member(ip));
    noEndpointHere(member(ip));
    if (!firewalled) continue;
    // KUBE-PROXY-FIREWALL sends this IP and port to KUBE-SOURCE-RANGES-FIREWALL,
    // which lets the listed sources through and drops the rest.
    add('loadBalancerFW', member(ip));
    for (const r of ranges) add('loadBalancerSourceCIDR', ipPortNetMember(ip, sp.protocol, sp.port, r.text));
    // A packet the node sends to a VIP it holds leaves with the VIP as source.
    if (allowFromNode) add('loadBalancerSourceIP', loopBackMember(ip, sp.protocol, sp.port));
    else out.noNodeAccess.push({ address: ip, protocol: sp.protocol, port: sp.port });
  }
  if (nodePort !== undefined) {
    // The sets hold the port alone (bitmap:port): KUBE-NODE-PORT matches it
    // on any local destination and masquerades unless the policy is Local.
    const tcp = sp.protocol === 'TCP';
    add(tcp ? 'nodePortTCP' : 'nodePortUDP', String(nodePort));
    if (externalLocal) add(tcp ? 'nodePortLocalTCP' : 'nodePortLocalUDP', String(nodePort));
    for (const ip of ctx.nodePortAddresses) {
      // A node address is the node's: it gets a virtual server, never a binding on kube-ipvs0.
      virtualServer(ip, nodePort, external, false);
      noEndpointHere(member(ip, nodePort));
    }
  }
  // Hairpin: an endpoint that reaches itself through the service is masqueraded.
  // Only this node's endpoints can (kube-proxy adds local ones only): the set
  // stays the size of the node's pods, not of the cluster's endpoints.
  const local = new Set(sp.endpoints.filter((e) => e.isLocal).map((e) => `${e.ip}:${e.port}`));
  const hairpin = new Set<string>();
  for (const e of [...(clusterIPs.length ? internal : []), ...(hasExternal ? external : [])]) {
    if (local.has(`${e.ip}:${e.port}`)) hairpin.add(loopBackMember(e.ip, sp.protocol, e.port));
  }
  for (const m of hairpin) add('loopBack', m);
  return out;
}
