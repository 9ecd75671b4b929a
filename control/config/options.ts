// The daemon's resolved configuration: defaults, then the --config file
// (KubeProxyConfiguration), then command-line flags, as kube-proxy merges
// them. Built by control/config/load.ts; everything after start-up reads this.

import { MODE_NAMES, type ModeName } from '../proxiers/modes.js';
import type { LbAcceleration, LbAlgorithm } from './values.js';

/** --proxy-mode's values: the mode registry's names (kube-proxy's, and ebpf). */
export const PROXY_MODES = MODE_NAMES;
export type ProxyMode = ModeName;

export interface SyncPeriods {
  /** Full resync interval in ms. */
  syncPeriodMs: number;
  /** Minimum interval between syncs in ms (bursts coalesce). */
  minSyncPeriodMs: number;
}

export interface ProxyOptions {
  mode: ProxyMode;
  /** Standalone mode: a file or directory of manifests instead of an API server. */
  manifests?: string;
  kubeconfig?: string;
  master?: string;
  /** The node this proxy runs for (--hostname-override, else the host name). */
  hostname: string;
  clusterCIDRs: string[];
  /** --nodeport-addresses: CIDRs, or ["primary"]; empty for every local address. */
  nodePortAddresses: string[];
  masqueradeAll: boolean;
  /** host:port, or "" to disable. */
  healthzBindAddress: string;
  metricsBindAddress: string;
  cleanup: boolean;
  /** The service.kubernetes.io/service-proxy-name this proxy serves; "" serves services without the label. */
  serviceProxyName: string;
  /** The config file the options came from, if any. */
  configFile?: string;

  /** Generic periods used by the ebpf (and userspace) modes. */
  sync: SyncPeriods;
  iptables: SyncPeriods & { masqueradeBit: number; localhostNodePorts: boolean };
  ipvs: SyncPeriods & {
    scheduler: string;
    excludeCIDRs: string[];
    strictARP: boolean;
    tcpTimeoutMs: number;
    tcpFinTimeoutMs: number;
    udpTimeoutMs: number;
  };

  ebpf: {
    /** Where maps (and links) are pinned. */
    bpffsRoot: string;
    /** Folder with the compiled BPF objects. */
    objectDir: string;
    /**
     * Interfaces to attach tc programs to: names, or prefixes ending in "+"
     * (iptables' wildcard). Empty means every non-loopback interface of the
     * network namespace, including ones that appear later.
     */
    devices: string[];
    /**
     * XDP on the uplinks (interfaces holding a global IPv4 address):
     * best-effort where the driver has native XDP and no other program holds
     * the hook, tc elsewhere; native: an uplink without it is refused (logged,
     * nothing attached); disabled: tc everywhere.
     */
    acceleration: LbAcceleration;
    /** random (default), or maglev for external addresses (NodePorts, LB IPs, externalIPs), as Cilium. */
    lbAlgorithm: LbAlgorithm;
    /** Entries of each Maglev table (a prime; Cilium's default 16381). */
    maglevTableSize: number;
    /** cgroup v2 folder for the socket hooks (node processes); undefined leaves them off. */
    cgroupRoot?: string;
    /** Map capacities by map name. */
    mapSizes: Record<string, number>;
  };

  /**
   * The kernelspace mode (Windows, HNS): kube-proxy's winkernel settings,
   * from its Windows flags or the config file's winkernel section.
   */
  winkernel: {
    /** --network-name: the HNS network pods are on; "" takes $KUBE_NETWORK, as kube-proxy. */
    networkName: string;
    /** --source-vip: the address non-DSR load balancers source-NAT to on an overlay network. */
    sourceVip: string;
    /** --enable-dsr: direct server return for ClusterIP load balancers (HNS must support DSR). */
    enableDSR: boolean;
    /** --root-hnsendpoint-name: the host's endpoint on an l2bridge network (the health-check VIP's backend). */
    rootHnsEndpointName: string;
    /** --forward-healthcheck-vip: a load balancer per ingress IP forwarding the health-check port to the host. */
    forwardHealthCheckVip: boolean;
  };

  /** The userspace mode: kube-proxy's userspace settings (its flags, or the config file's portRange and udpIdleTimeout). */
  userspace: {
    /** --proxy-port-range: "begin-end", "port" or "begin+offset"; "" (or 0, 0-0) lets the kernel choose. */
    portRange: string;
    /** --udp-timeout: how long an idle UDP session is kept. */
    udpTimeoutMs: number;
  };

  /** pino level: trace, debug, info, warn, error. kube-proxy's -v maps onto it. */
  logLevel: string;
  logFormat: 'json' | 'text';
}
