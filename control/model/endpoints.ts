// A service port's endpoints, merged from its EndpointSlices: a port of the
// parts of kube-proxy's pkg/proxy/endpointslicecache.go and
// endpointschangetracker.go that decide which slice entries become endpoints.
import type { EndpointPort, EndpointSlice, IPFamily, Service, ServicePort } from '../sources/types.js';
import { canonicalIP, hostPort, ipFamilyOf } from './address.js';
import type { EndpointState, NodeContext } from './types.js';

/**
 * The endpoints of one service port, merged across the service's slices.
 *
 * - Slices belong to the service by namespace and the kubernetes.io/service-name
 *   label. A slice whose address family is not one of the service's ClusterIP
 *   families is left out: kube-proxy runs a proxier per family, each reading
 *   only slices of its family, and a family without a ClusterIP has no proxier
 *   rules for the service at all.
 * - A slice contributes to this port through its ports with the same name and
 *   protocol. The slice already carries the resolved port number, so a named
 *   targetPort ("http" → 8080 in one pod, 8081 in another) and a numeric one
 *   are handled alike; the service's targetPort is never read. A slice without
 *   a port of that name contributes nothing to this port.
 * - Only an endpoint's first address is used, as the API documents.
 * - Endpoints are keyed by "ip:port". An endpoint seen twice — moving between
 *   slices, or a new pod reusing the IP of a terminating one — keeps the first
 *   entry unless a later one is not terminating, which replaces it: the running
 *   pod wins over the terminating one. kube-proxy walks slices in map order,
 *   so which of two non-terminating duplicates wins is undefined there; we walk
 *   slices by name, so the later slice by name wins, every time.
 * - isLocal: the endpoint's nodeName is this node's (never when ours is "").
 *
 * Sorted by address, then port.
 */
export function endpointsForServicePort(
  svc: Service,
  port: ServicePort,
  slices: readonly EndpointSlice[],
  node: NodeContext,
): EndpointState[] {
  const families = new Set<IPFamily>(svc.clusterIPs.map(ipFamilyOf));
  const ours = slicesOfService(svc, slices).filter((slice) => families.has(slice.addressType));
  const byHostPort = new Map<string, EndpointState>();

  for (const slice of ours) {
    for (const slicePort of slice.ports) {
      if (!matchesServicePort(slicePort, port)) continue;
      for (const endpoint of slice.endpoints) {
        const first = endpoint.addresses[0];
        if (first === undefined) continue;
        const state: EndpointState = {
          ip: canonicalIP(first),
          port: slicePort.port,
          family: slice.addressType,
          ready: endpoint.ready,
          serving: endpoint.serving,
          terminating: endpoint.terminating,
          isLocal: node.nodeName !== '' && endpoint.nodeName === node.nodeName,
          zoneHints: unique(endpoint.hints?.forZones),
          nodeHints: unique(endpoint.hints?.forNodes),
          // Set even when undefined: in the object itself, not in a property array beside it.
          nodeName: endpoint.nodeName,
          zone: endpoint.zone,
        };

        const key = hostPort(state.ip, state.port);
        if (!byHostPort.has(key) || !state.terminating) byHostPort.set(key, state);
      }
    }
  }

  return [...byHostPort.values()].sort(byAddressThenPort);
}

/** The service's slices, in a fixed order (by name) so merging is deterministic. */
export function slicesOfService(svc: Service, slices: readonly EndpointSlice[]): EndpointSlice[] {
  return slices
    .filter((slice) => slice.namespace === svc.namespace && slice.serviceName === svc.name)
    .sort((a, b) => compare(a.name, b.name));
}

/**
 * kube-proxy joins a slice port to a service port through the ServicePortName
 * (service, port name, protocol): same name and same protocol.
 */
function matchesServicePort(slicePort: EndpointPort, port: ServicePort): boolean {
  return slicePort.name === port.name && slicePort.protocol === port.protocol && slicePort.port > 0;
}

function byAddressThenPort(a: EndpointState, b: EndpointState): number {
  return compare(a.ip, b.ip) || a.port - b.port;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** No hints: one shared, frozen list rather than two empty arrays per endpoint. */
const NO_HINTS: readonly string[] = Object.freeze([]);

function unique(values: readonly string[] | undefined): readonly string[] {
  return values?.length ? [...new Set(values)] : NO_HINTS;
}
