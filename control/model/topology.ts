// Which endpoints traffic to a service port may use from this node: a port of
// kube-proxy's pkg/proxy/topology.go (CategorizeEndpoints,
// topologyModeFromHints, availableForTopology) and of the traffic-policy
// predicates in pkg/proxy/serviceport.go. Pure: endpoints and policies in,
// endpoint lists out.
import type { IPFamily } from '../sources/types.js';
import { hostPort, ipFamilyOf } from './address.js';
import type { EndpointState, NodeContext, ServicePortState } from './types.js';

export type TopologyMode = ServicePortState['topologyMode'];

/** The parts of a service port that decide how its endpoints are categorized. */
export type CategorizeInput = Pick<
  ServicePortState,
  'clusterIPs' | 'internalTrafficPolicy' | 'externalTrafficPolicy' | 'externallyAccessible'
>;

export interface CategorizedEndpoints {
  clusterEndpoints: EndpointState[] | null;
  localEndpoints: EndpointState[] | null;
  hasAnyEndpoints: boolean;
  topologyMode: TopologyMode;
}

type Policies = Omit<CategorizeInput, 'clusterIPs'>;

/**
 * The port sends some traffic by the "Cluster" policy: internal traffic when
 * internalTrafficPolicy is Cluster, and any external traffic at all — even
 * with externalTrafficPolicy Local, because traffic from pods on this node to
 * an external address short-circuits to the cluster path.
 */
export function usesClusterEndpoints(svc: Policies): boolean {
  return svc.internalTrafficPolicy === 'Cluster' || svc.externallyAccessible;
}

/**
 * The port sends some traffic by the "Local" policy: internal traffic when
 * internalTrafficPolicy is Local, external traffic when externalTrafficPolicy
 * is Local and the port is reachable from outside (otherwise the external
 * policy has nothing to apply to).
 */
export function usesLocalEndpoints(svc: Policies): boolean {
  return svc.internalTrafficPolicy === 'Local' || (svc.externalTrafficPolicy === 'Local' && svc.externallyAccessible);
}

/**
 * Categorizes a service port's endpoints for this node. Returns:
 *
 * - clusterEndpoints: the endpoints "Cluster"-policy traffic may use, taking
 *   topology hints into account. null when the port never uses the Cluster
 *   policy (see usesClusterEndpoints).
 * - localEndpoints: the endpoints "Local"-policy traffic may use: endpoints on
 *   this node only. null when the port never uses the Local policy.
 * - hasAnyEndpoints: whether any usable endpoint exists anywhere in the
 *   cluster. This may be true while localEndpoints is empty: the endpoints are
 *   on other nodes, so Local traffic arriving here is dropped, not rejected.
 * - topologyMode: the hint mode applied to clusterEndpoints ("" when none).
 *
 * "Usable" means Ready. When no endpoint qualifies, each list falls back —
 * independently — to endpoints that are serving but terminating, so that
 * connections keep working while the last pods of a rollout drain instead of
 * being refused:
 *
 * - Cluster: ready endpoints allowed by the topology mode; if there are none,
 *   every serving-terminating endpoint, ignoring topology. (A topology mode is
 *   only chosen when a ready endpoint matches it, so an empty result means no
 *   ready endpoint exists anywhere.)
 * - Local: the ready endpoints on this node; if there are none, the
 *   serving-terminating endpoints on this node. Topology never applies:
 *   Local already is the narrowest scope.
 *
 * kube-proxy runs one proxier per IP family, so it categorizes each family on
 * its own; we do the same and concatenate, so a dual-stack service whose IPv6
 * pods are all terminating still falls back for IPv6 while IPv4 uses its ready
 * pods. Lists hold the endpoints themselves, in the order of their "ip:port"
 * ("[ip]:port" for IPv6) text, as kube-proxy sorts them. A path that is
 * used but has nothing is [] (kube-proxy returns nil for both when there are
 * no endpoints at all; its callers only look at the length).
 */
export function categorizeEndpoints(
  endpoints: readonly EndpointState[],
  svc: CategorizeInput,
  node: NodeContext,
): CategorizedEndpoints {
  const usesCluster = usesClusterEndpoints(svc);
  const usesLocal = usesLocalEndpoints(svc);
  const cluster: EndpointState[] = [];
  const local: EndpointState[] = [];
  let hasAnyEndpoints = false;
  let topologyMode: TopologyMode | undefined;

  for (const family of familiesInOrder(endpoints, svc.clusterIPs)) {
    const ofFamily = endpoints.filter((ep) => ep.family === family);
    const result = categorizeFamily(ofFamily, usesCluster, usesLocal, node);
    cluster.push(...result.cluster);
    local.push(...result.local);
    hasAnyEndpoints ||= result.hasAnyEndpoints;
    // The primary family's mode is reported; the EndpointSlice controller
    // hints both families alike, so they disagree only transiently.
    topologyMode ??= result.topologyMode;
  }

  return {
    clusterEndpoints: usesCluster ? byHostPort(cluster) : null,
    localEndpoints: usesLocal ? byHostPort(local) : null,
    hasAnyEndpoints,
    topologyMode: topologyMode ?? '',
  };
}

interface FamilyResult {
  cluster: EndpointState[];
  local: EndpointState[];
  hasAnyEndpoints: boolean;
  topologyMode: TopologyMode;
}

/** CategorizeEndpoints for the endpoints of one IP family. */
function categorizeFamily(
  endpoints: readonly EndpointState[],
  usesCluster: boolean,
  usesLocal: boolean,
  node: NodeContext,
): FamilyResult {
  const result: FamilyResult = { cluster: [], local: [], hasAnyEndpoints: false, topologyMode: '' };
  if (endpoints.length === 0) return result;

  if (usesCluster) {
    result.topologyMode = topologyModeFromHints(endpoints, node);
    let chosen = endpoints.filter((ep) => ep.ready && availableForTopology(ep, result.topologyMode, node));
    if (chosen.length === 0) {
      // No ready endpoint anywhere (topology would have been dropped if it
      // had excluded them all): try the serving-terminating ones.
      chosen = endpoints.filter(isServingTerminating);
    }
    result.cluster = chosen;
    // If a ready endpoint exists anywhere, clusterEndpoints holds one.
    result.hasAnyEndpoints = chosen.length > 0;
  }

  if (usesLocal) {
    let hasLocalReady = false;
    let hasLocalServingTerminating = false;
    for (const ep of endpoints) {
      if (ep.ready) {
        result.hasAnyEndpoints = true;
        hasLocalReady ||= ep.isLocal;
      } else if (isServingTerminating(ep)) {
        result.hasAnyEndpoints = true;
        hasLocalServingTerminating ||= ep.isLocal;
      }
    }
    if (hasLocalReady) {
      result.local = endpoints.filter((ep) => ep.isLocal && ep.ready);
    } else if (hasLocalServingTerminating) {
      result.local = endpoints.filter((ep) => ep.isLocal && isServingTerminating(ep));
    }
  }

  return result;
}

/**
 * The topology mode the hints on the ready endpoints allow:
 *
 * - "PreferSameNode" if every ready endpoint has a node hint and at least one
 *   is hinted for this node (kube-proxy's PreferSameTrafficDistribution gate,
 *   taken as enabled);
 * - else "PreferSameZone" if every ready endpoint has a zone hint and at least
 *   one is hinted for this node's zone (never, when the node has no zone);
 * - else "": no topology, every ready endpoint.
 *
 * The service's trafficDistribution is not read: the EndpointSlice controller
 * turns it into hints, and hints are what kube-proxy trusts.
 */
export function topologyModeFromHints(endpoints: readonly EndpointState[], node: NodeContext): TopologyMode {
  let hasReady = false;
  let allHaveNodeHints = true;
  let hasEndpointForNode = false;
  let allHaveZoneHints = true;
  let hasEndpointForZone = false;

  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (ep.nodeHints.length === 0) allHaveNodeHints = false;
    else if (ep.nodeHints.includes(node.nodeName)) hasEndpointForNode = true;
    if (ep.zoneHints.length === 0) allHaveZoneHints = false;
    else if (node.zone !== undefined && ep.zoneHints.includes(node.zone)) hasEndpointForZone = true;
  }

  if (!hasReady) return '';
  if (allHaveNodeHints && hasEndpointForNode) return 'PreferSameNode';
  if (allHaveZoneHints && hasEndpointForZone) return 'PreferSameZone';
  return '';
}

/**
 * Whether an endpoint may serve this node under a topology mode. There is no
 * fallback here: falling back happens when the mode is chosen.
 */
export function availableForTopology(ep: EndpointState, mode: TopologyMode, node: NodeContext): boolean {
  switch (mode) {
    case '':
      return true;
    case 'PreferSameNode':
      return ep.nodeHints.includes(node.nodeName);
    case 'PreferSameZone':
      return node.zone !== undefined && ep.zoneHints.includes(node.zone);
  }
}

function isServingTerminating(ep: EndpointState): boolean {
  return ep.serving && ep.terminating;
}

/**
 * Sorted by "ip:port" text, as kube-proxy sorts its endpoint strings (so
 * "10.0.0.10:80" comes before "10.0.0.1:9"): the order the iptables mode's
 * probability chains and the API follow.
 */
function byHostPort(endpoints: EndpointState[]): EndpointState[] {
  if (endpoints.length < 2) return endpoints;
  return endpoints
    .map((ep) => ({ key: hostPort(ep.ip, ep.port), ep }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => e.ep);
}

/** The service's families first (primary, then secondary), then any other present. */
function familiesInOrder(endpoints: readonly EndpointState[], clusterIPs: readonly string[]): IPFamily[] {
  const families: IPFamily[] = [];
  for (const family of [...clusterIPs.map(ipFamilyOf), ...endpoints.map((ep) => ep.family)]) {
    if (!families.includes(family)) families.push(family);
  }
  return families;
}
