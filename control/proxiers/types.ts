// The interface every mode implements (kube-proxy's Provider, made async).
// A proxier receives the whole desired state plus what changed since the last
// sync it was given, and owns everything it writes. It never decides when to
// sync: the sync loop does.
import type { IPFamily } from '../sources/types.js';
import type { ProxyMode } from '../config/options.js';
import type { NodeFacts } from '../model/node-facts.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';

export interface SyncRequest {
  /** Every service port this node must serve. */
  desired: ReadonlyMap<ServicePortName, ServicePortState>;
  /** Added or modified since the last successful sync. */
  changed: ReadonlySet<ServicePortName>;
  /** Gone since the last successful sync, with the state they had. */
  removed: ReadonlyMap<ServicePortName, ServicePortState>;
  /**
   * Reconcile everything against `desired` (start-up, the periodic resync,
   * after a failure), not only what changed.
   */
  full: boolean;
  /** The node's addresses, pod CIDRs and NodePort addresses as of this sync. */
  node: NodeFacts;
}

export interface SyncResult {
  /** Dataplane entries written and removed by this sync. */
  written: number;
  removed: number;
  /** Service ports this mode cannot program, with the reason (logged once by the loop). */
  skipped: Array<{ name: ServicePortName; reason: string }>;
}

export interface Proxier {
  readonly mode: ProxyMode;
  /** Loads the dataplane and adopts what an earlier run left programmed. */
  start(): Promise<void>;
  sync(req: SyncRequest): Promise<SyncResult>;
  /**
   * Work of the proxier's own that a periodic sync must do even when nothing
   * changed: the ipvs mode's real servers draining at weight 0, deleted by a
   * sync once their connections are gone.
   */
  hasPendingWork?(): boolean;
  /** What is programmed, as this mode sees it: the ops API reads nothing else of a proxier. */
  view(): ProxierView;
  /** Stops watching and releases handles; the dataplane keeps serving. */
  stop(): Promise<void>;
  /** Removes everything this mode created on the node. */
  cleanup(): Promise<void>;
}

/** One dataplane entry a service port owns, as /v1/services shows it. */
export interface ProgrammedEntryView {
  id: number;
  address: string;
  port: number;
  protocol: string;
  /** "ip:port" ("[ip]:port" for IPv6), as the dataplane holds them. */
  backends: string[];
}

/**
 * What a service port owns in a mode's dataplane, merged into its
 * /v1/services item: BPF entries in the ebpf mode, nat chains in the
 * iptables mode; nothing in a mode that shows no per-port detail.
 */
export type ServicePortEntries = { programmed?: ProgrammedEntryView[]; chains?: string[]; proxy?: ProxySocketView[] };

/** The userspace mode: one proxy socket of a service port, with its connections. */
export interface ProxySocketView {
  /** internal: the ClusterIPs; external: NodePort, externalIPs and LB IPs. */
  class: 'internal' | 'external';
  /** The family of the addresses redirected to it (each family's proxier has sockets of its own). */
  family: IPFamily;
  protocol: 'tcp' | 'udp';
  /** The port on this node the class's addresses are redirected to. */
  proxyPort: number;
  /** Connections (UDP: client sessions) open now, accepted and failed since the socket opened. */
  active: number;
  accepted: number;
  failed: number;
}

/** Entries and capacity of one table of a dataplane (a BPF map), for the metrics. */
export interface TableUsage {
  name: string;
  entries: number;
  capacity: number;
}

/**
 * A proxier's self-description for the ops API, which knows no mode by name.
 * Every method answers from memory or from a cheap read; none writes.
 */
export interface ProxierView {
  /**
   * false where the dataplane is this process (the userspace mode): nothing
   * is served while it is stopped or restarting. The kernel modes leave it
   * out (true): their programs, rules or virtual servers keep serving.
   */
  servesWhileStopped?: boolean;
  /** Dataplane entries held (null where the mode does not count them, or before start). */
  programmedCount(): number | null;
  /** BPF maps pinned (null in a mode without maps). */
  mapCount(): number | null;
  /** The interfaces the mode attached programs to. */
  interfaces(): Array<{ name: string; ifindex: number; hook?: string; reason?: string }>;
  /** Per service port, in the order given, what it owns; undefined when the mode shows nothing per port. */
  servicePorts?(ports: readonly ServicePortState[]): ServicePortEntries[] | undefined;
  /** Packets the dataplane dropped, by reason, since its maps were created (absent where the mode counts none). */
  drops?(): Promise<Record<string, bigint>>;
  /** Tables with entries and capacity (the metrics' map gauges); absent in modes without such tables. */
  tableUsage?(): Promise<TableUsage[]>;
}
