// The kernelspace mode's vocabulary: what the planner (plan.ts) is given of
// the node and HNS, and the HNS objects it plans, which the reconciler
// (reconcile.ts) turns into HCN calls. Pure data, imported by both and by
// nothing that does I/O.
import type { ServicePortName } from '../../model/types.js';
import type { IPFamily } from '../../sources/types.js';
import type { HnsFeatures, RemoteSubnetRoute } from './hcn/schema.js';

/** The HNS network kinds winkernel serves; any other network type is refused at start-up. */
export type HnsNetworkType = 'overlay' | 'l2bridge';

/** What the planner knows of the node and HNS, for one IP family. */
export interface HnsNodeContext {
  family: IPFamily;
  networkType: HnsNetworkType;
  /** The node's IP of this family (the Node object's first address of the family). */
  nodeIP: string;
  /** --source-vip / winkernel.sourceVip: the SNAT address of non-DSR load balancers on overlay. */
  sourceVip?: string;
  /** The MAC of the node-IP interface, "00-15-5D-…" (overlay's source-VIP and service-VIP endpoints). */
  hostMac?: string;
  /** The network's RemoteSubnetRoute policies (overlay): another node's pod subnet → its provider address. */
  remoteSubnets: readonly RemoteSubnetRoute[];
  features: HnsFeatures;
  /** --enable-dsr / winkernel.enableDSR, already checked against features.dsr at start-up. */
  enableDSR: boolean;
  /** --forward-healthcheck-vip with the root HNS endpoint found: the ingress IPs' health-check load balancers. */
  forwardHealthCheckVip: boolean;
  /** The port of --healthz-bind-address (10256 by default): the health-check LB's port when a service has no healthCheckNodePort. */
  healthzPort: number;
}

/** Where a load balancer's backend is, before HNS IDs are known. */
export type BackendRef =
  /** A pod on this node: its endpoint is the CNI's, found in HNS by IP. */
  | { kind: 'local'; ip: string }
  /** A pod elsewhere: a remote endpoint this mode creates (PlannedEndpoint). */
  | { kind: 'remote'; ip: string }
  /** The root namespace's HNS endpoint (--root-hnsendpoint-name): health-check forwarding. */
  | { kind: 'root' };

/** An HNS endpoint the mode creates when HNS does not hold it yet. */
export interface PlannedEndpoint {
  ip: string;
  /** remote: Flags RemoteEndpoint, created on the network; local: the overlay's source-VIP endpoint. */
  kind: 'local' | 'remote';
  role: 'backend' | 'source-vip' | 'service-vip';
  /** "02-11-" + the IPv4 bytes for backends (winkernel's conjureMac); the host MAC for the VIP endpoints. */
  macAddress: string;
  /** Overlay only: the ProviderAddress endpoint policy (the other node's PA, or the node IP). */
  providerAddress?: string;
  /** The service ports whose load balancers (or VIP) need it. */
  users: ServicePortName[];
}

export type LoadBalancerRole = 'cluster-ip' | 'node-port' | 'external-ip' | 'ingress-ip' | 'health-check';

/** One HostComputeLoadBalancer the mode wants, with backends by address. */
export interface PlannedLoadBalancer {
  /**
   * The frontend identity, unique on a host (HNS refuses a second load
   * balancer on it): "IPv4/6/10.96.0.10/53", "IPv4/6/*\/30080" for a NodePort.
   */
  key: string;
  servicePort: ServicePortName;
  role: LoadBalancerRole;
  family: IPFamily;
  /** Absent for NodePorts (every node address). */
  frontendVip?: string;
  /** IP protocol number (6, 17, 132). */
  protocol: number;
  internalPort: number;
  externalPort: number;
  /** LbFlags bits: DSR, IPv6. */
  flags: number;
  /** PortMappingFlags bits. */
  portMappingFlags: number;
  /** Distribution: SourceIP for ClientIP affinity, else None. */
  distributionType: number;
  sourceVip?: string;
  /** In the order HNS is given them; never empty (HNS refuses a load balancer without backends). */
  backends: BackendRef[];
}

/** Everything the mode wants HNS to hold for one family, and what it could not plan. */
export interface HnsPlan {
  loadBalancers: PlannedLoadBalancer[];
  /** The endpoints to create where missing: remote backends, and the overlay's VIP endpoints. */
  endpoints: PlannedEndpoint[];
  /** Service ports (or one of their frontends) not programmed, with why. */
  skipped: Array<{ name: ServicePortName; reason: string }>;
  /**
   * From the planner that made `previous`, when this plan only changed it
   * port by port: the endpoints newly needed, the ones (by lower-case IP) no
   * longer needed, and whether the plan needs an IP. A reconciler that last
   * applied `previous` and has not read HNS since need look at no others.
   */
  delta?: {
    previous: HnsPlan;
    added: PlannedEndpoint[];
    removed: string[];
    has: (ip: string) => boolean;
  };
}
