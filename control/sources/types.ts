// Slim copies of the Kubernetes objects the proxy reads. A source converts
// each object it receives into one of these (control/sources/slim.ts) and
// keeps nothing else, so 10,000 services cost what their ports and endpoints
// cost, not what their managedFields and annotations cost.
//
// Everything here is already validated: addresses parse, ports are in range,
// enums hold one of their values. Defaults the API server would fill in are
// filled in (protocol TCP, sessionAffinity None, traffic policies Cluster, …),
// so manifests written by hand behave as the same objects would in a cluster.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 'IPv4' | 'IPv6';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

/** "namespace/name", the key every store map uses. */
export type ObjectKey = string;

export const objectKey = (namespace: string, name: string): ObjectKey => `${namespace}/${name}`;

export interface ServicePort {
  /** "" for a service with a single unnamed port. */
  name: string;
  protocol: Protocol;
  port: number;
  /** A number, or the name of a container port resolved through EndpointSlice ports. */
  targetPort: number | string;
  nodePort?: number;
}

export interface Service {
  namespace: string;
  name: string;
  type: ServiceType;
  /**
   * spec.clusterIPs (spec.clusterIP when clusterIPs is absent); both families
   * for dual-stack services. Empty for ExternalName.
   */
  clusterIPs: string[];
  /** clusterIP "None": no virtual IP; kube-proxy ignores it. */
  headless: boolean;
  ports: ServicePort[];
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** ClientIP affinity timeout in seconds; undefined when sessionAffinity is None. */
  affinityTimeoutSeconds?: number;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  /** spec.trafficDistribution, e.g. "PreferClose". */
  trafficDistribution?: string;
  healthCheckNodePort?: number;
  /** The service.kubernetes.io/service-proxy-name label, if set. */
  serviceProxyName?: string;
  /**
   * The "preserve-destination" annotation is "true": winkernel keeps the
   * load-balancer IP as the destination (HNS PreserveDIP) and uses local
   * endpoints only. Only the kernelspace mode reads it.
   */
  preserveDestination?: true;
}

export interface EndpointHints {
  forZones: string[];
  forNodes: string[];
}

export interface Endpoint {
  /** Validated addresses of slice.addressType (FQDN slices are dropped). */
  addresses: string[];
  /** conditions.ready; a missing condition counts as true, as the API documents. */
  ready: boolean;
  /** conditions.serving; defaults to the value of ready when absent. */
  serving: boolean;
  /** conditions.terminating; false when absent. */
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  hints?: EndpointHints;
}

export interface EndpointPort {
  /** "" when unnamed. */
  name: string;
  protocol: Protocol;
  port: number;
}

export interface EndpointSlice {
  namespace: string;
  name: string;
  /** The kubernetes.io/service-name label: the service this slice belongs to. */
  serviceName: string;
  addressType: IPFamily;
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

export interface Node {
  name: string;
  /** topology.kubernetes.io/zone, if labelled. */
  zone?: string;
  labels: Record<string, string>;
  /** status.addresses of type InternalIP (then ExternalIP), in order. */
  addresses: string[];
  podCIDRs: string[];
}

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node';
