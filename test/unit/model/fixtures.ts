// Builders for the model's inputs: the defaults are a plain single-stack
// ClusterIP service "ns/web" with one port "http" 80 → 8080/TCP, so each test
// spells out only what it is about.
import type { Endpoint, EndpointPort, EndpointSlice, IPFamily, Service } from '../../../control/sources/types.js';
import type { EndpointState, NodeContext } from '../../../control/model/types.js';
import { hostPort } from '../../../control/model/address.js';

export const NODE: NodeContext = { nodeName: 'node-a', zone: 'zone-a' };

export function service(overrides: Partial<Service> = {}): Service {
  return {
    namespace: 'ns',
    name: 'web',
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.10'],
    headless: false,
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    ...overrides,
  };
}

/** Endpoint conditions by the names the EndpointSlice API gives their combinations. */
export const READY = { ready: true, serving: true, terminating: false } as const;
export const NOT_READY = { ready: false, serving: false, terminating: false } as const;
export const SERVING_TERMINATING = { ready: false, serving: true, terminating: true } as const;
export const NOT_SERVING_TERMINATING = { ready: false, serving: false, terminating: true } as const;

export function endpoint(address: string, overrides: Partial<Endpoint> = {}): Endpoint {
  return { addresses: [address], ...READY, nodeName: 'node-b', ...overrides };
}

export function slice(
  name: string,
  endpoints: Endpoint[],
  options: { ports?: EndpointPort[]; addressType?: IPFamily; serviceName?: string; namespace?: string } = {},
): EndpointSlice {
  return {
    namespace: options.namespace ?? 'ns',
    name,
    serviceName: options.serviceName ?? 'web',
    addressType: options.addressType ?? 'IPv4',
    ports: options.ports ?? [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints,
  };
}

/** A merged endpoint as categorizeEndpoints sees it: ready, remote, port 80, no hints. */
export function ep(ip: string, overrides: Partial<EndpointState> = {}): EndpointState {
  return {
    ip,
    port: 80,
    family: ip.includes(':') ? 'IPv6' : 'IPv4',
    ...READY,
    isLocal: false,
    zoneHints: [],
    nodeHints: [],
    ...overrides,
  };
}

/** The categorized lists as the API shows them ("ip:port"), for comparing with kube-proxy's strings. */
export function asText<T extends { clusterEndpoints: EndpointState[] | null; localEndpoints: EndpointState[] | null }>(
  x: T,
): Omit<T, 'clusterEndpoints' | 'localEndpoints'> & {
  clusterEndpoints: string[] | null;
  localEndpoints: string[] | null;
} {
  const text = (eps: EndpointState[] | null) => (eps === null ? null : eps.map((e) => hostPort(e.ip, e.port)));
  return { ...x, clusterEndpoints: text(x.clusterEndpoints), localEndpoints: text(x.localEndpoints) };
}
