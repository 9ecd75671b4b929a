// From a Service and its EndpointSlices to one ServicePortState per service
// port: what kube-proxy's service change tracker (servicechangetracker.go,
// serviceport.go) and endpoint cache together hand a proxier, computed in one
// pure step.
import type { EndpointSlice, Protocol, Service, ServicePort } from '../sources/types.js';
import { endpointsForServicePort } from './endpoints.js';
import { categorizeEndpoints } from './topology.js';
import type { NodeContext, ServicePortName, ServicePortState } from './types.js';

/** The label by which a service asks for a proxy other than the default one. */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';

/**
 * Whether this proxy serves the service at all. kube-proxy's informers select
 * only services without the service-proxy-name label (any value, even "",
 * counts as set) and without the headless label. Configured with a name of our
 * own we act as that alternative proxy instead: only services whose label
 * equals the name are ours; unlabelled ones belong to the default proxy.
 */
export function shouldProxy(svc: Service, serviceProxyName: string): boolean {
  if (svc.headless) return false;
  if (serviceProxyName === '') return svc.serviceProxyName === undefined;
  return svc.serviceProxyName === serviceProxyName;
}

/**
 * kube-proxy's ShouldSkipService: no virtual IP to proxy. Headless services
 * (clusterIP None) and services without a ClusterIP have none; ExternalName
 * services are DNS-only even if a ClusterIP is set.
 */
export function shouldSkipService(svc: Service): boolean {
  return svc.headless || svc.clusterIPs.length === 0 || svc.type === 'ExternalName';
}

/**
 * "namespace/name:portName/protocol". kube-proxy's ServicePortName is the
 * triple (service, port name, protocol) and prints the port name only when it
 * is set (fmtPortName), so a single unnamed port is "namespace/name/TCP".
 */
export function servicePortName(
  namespace: string,
  name: string,
  portName: string,
  protocol: Protocol,
): ServicePortName {
  return `${namespace}/${name}${portName === '' ? '' : `:${portName}`}/${protocol}`;
}

/**
 * kube-proxy's ServicePort.ExternallyAccessible: reachable by something other
 * than the ClusterIP — a node port, a load-balancer VIP or an external IP.
 * It asks whether those exist, not what the type says: a LoadBalancer with
 * allocateLoadBalancerNodePorts false and no ingress IP yet is ClusterIP-only.
 */
export function isExternallyAccessible(svc: Service, port: ServicePort): boolean {
  return port.nodePort !== undefined || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
}

/**
 * One ServicePortState per port of a proxied service, with its endpoints
 * merged from `slices` (any slices: those of other services are ignored) and
 * categorized for this node. Returns [] for services kube-proxy skips.
 */
export function buildServicePorts(
  svc: Service,
  slices: readonly EndpointSlice[],
  node: NodeContext,
): ServicePortState[] {
  if (shouldSkipService(svc)) return [];
  return svc.ports.map((port) => buildServicePort(svc, port, slices, node));
}

function buildServicePort(
  svc: Service,
  port: ServicePort,
  slices: readonly EndpointSlice[],
  node: NodeContext,
): ServicePortState {
  const endpoints = endpointsForServicePort(svc, port, slices, node);
  const policies = {
    clusterIPs: [...svc.clusterIPs],
    internalTrafficPolicy: svc.internalTrafficPolicy,
    externalTrafficPolicy: svc.externalTrafficPolicy,
    externallyAccessible: isExternallyAccessible(svc, port),
  };
  const state: ServicePortState = {
    name: servicePortName(svc.namespace, svc.name, port.name, port.protocol),
    namespace: svc.namespace,
    service: svc.name,
    portName: port.name,
    protocol: port.protocol,
    type: svc.type,
    port: port.port,
    externalIPs: [...svc.externalIPs],
    loadBalancerIPs: [...svc.loadBalancerIPs],
    loadBalancerSourceRanges: [...svc.loadBalancerSourceRanges],
    ...policies,
    endpoints,
    ...categorizeEndpoints(endpoints, policies, node),
  };
  if (port.nodePort !== undefined) state.nodePort = port.nodePort;
  if (svc.affinityTimeoutSeconds !== undefined) state.affinityTimeoutSeconds = svc.affinityTimeoutSeconds;
  if (svc.preserveDestination) state.preserveDestination = true;
  // kube-proxy's NeedsHealthCheck: only a LoadBalancer with externalTrafficPolicy
  // Local tells the load balancer which nodes have endpoints.
  if (svc.type === 'LoadBalancer' && svc.externalTrafficPolicy === 'Local' && svc.healthCheckNodePort !== undefined) {
    state.healthCheckNodePort = svc.healthCheckNodePort;
  }
  return state;
}
