// What the model hands the proxiers: one ServicePortState per (service, port),
// holding everything a dataplane needs to program that port and everything the
// ops API shows about it. Pure data; built by control/model/service-port.ts.
import type { IPFamily, Protocol, ServiceType, TrafficPolicy } from '../sources/types.js';

/** "namespace/name:portName/protocol", kube-proxy's ServicePortName. Unique per service port. */
export type ServicePortName = string;

export interface EndpointState {
  ip: string;
  /** The target port resolved for this service port through the slice's ports. */
  port: number;
  family: IPFamily;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  /** On this node (endpoint.nodeName equals the node the proxy runs on). */
  isLocal: boolean;
  zoneHints: readonly string[];
  nodeHints: readonly string[];
}

export interface ServicePortState {
  name: ServicePortName;
  namespace: string;
  service: string;
  portName: string;
  protocol: Protocol;
  type: ServiceType;
  /** All ClusterIPs, both families when dual-stack. */
  clusterIPs: string[];
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  /** ClientIP session affinity timeout; undefined when sessionAffinity is None. */
  affinityTimeoutSeconds?: number;
  /** The service's "preserve-destination: true" annotation (winkernel's PreserveDIP; the kernelspace mode only). */
  preserveDestination?: true;
  internalTrafficPolicy: TrafficPolicy;
  externalTrafficPolicy: TrafficPolicy;
  /** NodePort, LoadBalancer or externalIPs: reachable from outside the cluster. */
  externallyAccessible: boolean;
  healthCheckNodePort?: number;
  /** Every endpoint of the service for this port, merged across slices, deduplicated, sorted by ip. */
  endpoints: EndpointState[];
  /**
   * kube-proxy's categorizeEndpoints: the endpoints traffic taking the
   * cluster path may use, or null when no traffic of this service takes it.
   * The same objects as in `endpoints`, ordered as kube-proxy orders its
   * "ip:port" strings (IPv6 as "[ip]:port"), which the API shows.
   */
  clusterEndpoints: EndpointState[] | null;
  /** The endpoints for traffic taking the local path (policy Local), or null when unused. */
  localEndpoints: EndpointState[] | null;
  /** Any ready or serving-terminating endpoint anywhere: if false, traffic is rejected rather than dropped. */
  hasAnyEndpoints: boolean;
  /** The topology mode categorizeEndpoints applied to the cluster path: "", "PreferSameZone" or "PreferSameNode". */
  topologyMode: '' | 'PreferSameZone' | 'PreferSameNode';
}

/** What the proxy runs as: kube-proxy's node-scoped inputs to the model. */
export interface NodeContext {
  nodeName: string;
  /** The zone label of this node's Node object, if known. */
  zone?: string;
}
