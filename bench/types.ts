// The load test's report: what bench/run.ts writes as JSON, and what the
// table, the chart and the README section are rendered from.
import type { IPFamily } from '../control/sources/types.js';
import type { ConnrateResult } from './connrate.js';
import type { UdprateResult } from './udprate.js';

export type BenchMode = 'ebpf' | 'iptables' | 'ipvs' | 'userspace';
export type ChangeKind = 'addEndpoint' | 'removeEndpoint' | 'addService' | 'removeService';

export interface Percentiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Connections {
  /** Services the node had programmed while measuring. */
  services: number;
  target: 'clusterIP' | 'podIP';
  /** The target's family: the service's IPv6 ClusterIP or the pod's IPv6 address. Absent: IPv4 (every report before IPv6). */
  family?: IPFamily;
  /**
   * The daemon's own word that it did not program the target (its "service
   * port not programmed by this mode" warning's reason, e.g. a mode that
   * serves IPv4 only): the figure is shown as "—" with this, whatever
   * `result` holds.
   */
  notServed?: string;
  result: ConnrateResult;
}

/**
 * North-south: an outside client (on the nodes' L2, not in the cluster) to a
 * NodePort on node n1, externalTrafficPolicy Cluster, so source-NATed to the
 * node. `otherNode`: the backend is a pod on n2 (the SNAT path: n1 sends it
 * on, the reply comes back through n1); `sameNode`: a pod on n1.
 */
export type NorthSouthBackend = 'otherNode' | 'sameNode';

/**
 * The same outside client reaching the same pods by their own addresses,
 * routed through n1 (the client's route to the pod CIDR), no proxy running:
 * what a NodePort's figures are against ("routed-direct").
 */
export interface NorthSouthDirect {
  tcp: Record<NorthSouthBackend, ConnrateResult>;
  /** Datagrams to the pod on n2. */
  udp: UdprateResult;
}

/**
 * One dataplane's north-south figures: a mode, or a variant of one (the ebpf
 * mode with XDP on the uplink, and on tc only), each at 10 services and at
 * the mode's full size.
 */
export interface NorthSouthVariant {
  /** As the table heads it: "ebpf (XDP)", "ebpf (tc)", "iptables", "ipvs". */
  name: string;
  /** The flags it ran with besides the mode's. */
  args: string[];
  /** The hook the uplink (n1's wire) had while measured, as `ip link` and `tc filter` showed it (the ebpf variants). */
  hook?: 'xdp' | 'tc';
  /** New connections from the outside client to the NodePort. */
  tcp: Array<{ services: number; backend: NorthSouthBackend; result: ConnrateResult }>;
  /** Datagrams from the outside client to a UDP NodePort whose backend is on n2. */
  udp: Array<{ services: number; result: UdprateResult }>;
  /** Where and why it stopped; its later figures are missing. */
  failed?: string;
  /** Wall time of its own daemon runs (the ebpf variants), s. */
  phaseSec?: Record<string, number>;
}

export interface Machine {
  cpus: number;
  kernel: string;
  memoryGiB: number;
}

export interface ModeReport {
  mode: BenchMode;
  /** Measured under qemu software emulation (the IPVS column), not comparable in absolute terms. */
  emulated?: boolean;
  /**
   * New connections straight to the backend pod, no proxy, measured in the
   * same place as this mode (the VM run of an emulated mode): its "× direct"
   * ratios are against this. Absent: the report's `direct`.
   */
  direct?: ConnrateResult;
  /** Its IPv6 twin: new connections to the backend pod's IPv6 address, measured with `direct`. A mode with its own `direct` takes its IPv6 ratios against this only. */
  directIPv6?: ConnrateResult;
  /** Where the mode ran, when not on the report's machine (the VM: vCPUs, its kernel, its memory). */
  machine?: Machine;
  /** Services at full size, when the mode ran at another size than `params.services` (--ipvs-services). */
  services?: number;
  /** Wall time of each phase, in seconds (in the order run; an emulated mode's includes the VM's boot and exit). */
  phaseSec?: Record<string, number>;
  /** Flags given besides the mode (kube-proxy's defaults otherwise). */
  args: string[];
  fullSync: {
    /** Service ports in the first sync. */
    servicePorts: number;
    /** Process start to the first sync's end (dataplane programmed). */
    startToProgrammedMs: number;
    /** The first sync itself, from a listed source: the model and the proxier (the design's "full sync"). */
    syncMs: number;
    /** Process start to /readyz answering 200. */
    startToReadyMs: number;
  };
  incremental: Record<ChangeKind, Percentiles>;
  /** At rest with every service programmed; fds: the daemon's open file descriptors (the userspace mode holds a socket per service port). */
  steady: { rssMB: number; cpuPercent: number; windowSec: number; fds?: number };
  connections: Connections[];
  /** North-south, per variant of this mode (ebpf: XDP and tc; the others: one). Absent: not measured. */
  northSouth?: NorthSouthVariant[];
  /** The routed-direct baseline measured where this mode ran, when not the report's (the VM run of an emulated mode). */
  northSouthDirect?: NorthSouthDirect;
  /** The phase that failed or timed out, and why; figures from there on are NaN. */
  failed?: string;
}

export interface BenchReport {
  version: 1;
  startedAt: string;
  durationSec: number;
  command: string;
  machine: Machine;
  params: {
    services: number;
    endpoints: number;
    changesPerKind: number;
    connDurationSec: number;
    /** The warm-up before each measured window, when not 1 s. */
    connWarmupSec?: number;
    concurrency: number;
    mix: { udp: number; nodePort: number };
    /** ['IPv4', 'IPv6']: every service dual-stack, and the ClusterIP rate measured over IPv6 too. Absent: IPv4 only (single-stack). */
    families?: IPFamily[];
  };
  /** New connections straight to the backend pod, no proxy running: the physical limit. */
  direct: ConnrateResult;
  /** Dual-stack: new connections straight to the backend pod's IPv6 address, no proxy running: the IPv6 rows' limit ("IPv6 direct"). */
  directIPv6?: ConnrateResult;
  /** North-south's baseline: the outside client to the pods through n1, no proxy running. Absent: not measured. */
  northSouthDirect?: NorthSouthDirect;
  modes: ModeReport[];
  /** Modes taken from an earlier report (--merge-from) rather than measured by this run, with that run's own line. */
  merged?: { from: string; startedAt: string; durationSec: number; command: string; modes: BenchMode[] };
}

export function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN);
  return { n: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: s.at(-1) ?? NaN };
}
