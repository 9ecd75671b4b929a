// The ebpf proxier's shared words: a service port as the dataplane programs
// it, its backends, and what is known of one once programmed. Types and pure
// helpers only; every other module of the proxier imports them from here, and
// this module imports nothing of theirs, so no two of them depend on each
// other in a circle (test/unit/proxiers/ebpf-imports.test.ts checks).
import { hostPort } from './addresses.js';
import type { Protocol } from './protocol.js';

export interface ServicePortKey {
  address: string;
  port: number;
  protocol: Protocol;
}

export interface Backend {
  address: string;
  port: number;
}

export interface ServicePortSpec extends ServicePortKey {
  /** The endpoints new flows may go to; empty means refuse. */
  backends: Backend[];
  /** ClientIP session affinity with this timeout, when set. */
  affinityTimeoutSeconds?: number;
  /**
   * With no backends: drop new flows instead of refusing them (endpoints
   * exist, but none this path may use, e.g. internalTrafficPolicy Local).
   */
  dropWhenEmpty?: boolean;
  /**
   * Source NAT of new flows to the node's address: 'always' (an external
   * address under externalTrafficPolicy Cluster, a ClusterIP with
   * --masquerade-all), or 'off-cluster' (a ClusterIP with --cluster-cidr:
   * clients outside the pod ranges).
   */
  snat?: 'always' | 'off-cluster';
  /**
   * externalTrafficPolicy Local on an external address: the backends are the
   * node's own, for clients outside the cluster; a pod is given this
   * ClusterIP entry instead (kube-proxy's short-circuit).
   */
  internal?: { address: string; port: number };
  /**
   * The address is one of the node's own (a NodePort): replies leave from
   * it, so the programs route them themselves (the kernel drops a forwarded
   * packet from a local address).
   */
  nodeAddress?: boolean;
  /**
   * Maglev with a table of this many entries (a prime): backends chosen by a
   * hash of the flow every node computes alike, not at random; the backends
   * then in endpointOf() order (the table's).
   */
  maglev?: number;
  /** loadBalancerSourceRanges of a load-balancer IP, as "network/bits", sorted; new flows from elsewhere are dropped. */
  sourceRanges?: string[];
}

/** A service port as programmed (or as read back from the maps), with its service id. */
export interface ProgrammedServicePort extends ServicePortSpec {
  id: number;
}

/** A programmed service port as this process knows it. */
export interface ServiceState {
  id: number;
  spec: ServicePortSpec;
  /** Backend id by endpointOf() ("ip:port"), and the backend id in each slot. */
  backendIds: Map<string, number>;
  slots: number[];
}

/** A service port's identity in the dataplane: address, port and protocol. */
export const keyOf = (k: ServicePortKey) => `${k.address}|${k.port}|${k.protocol}`;

/** An endpoint as text, "ip:port" ("[ip]:port" for IPv6): how backends are told apart. */
export const endpointOf = (b: Backend) => hostPort(b.address, b.port);
