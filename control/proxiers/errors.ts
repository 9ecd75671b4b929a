// The one catalogue of the proxiers' own errors: a mode that cannot run on this
// node, and the failures of a mode's set-up or sync that are not a tool's
// (control/netfilter/errors.ts) or a kernel interface's (control/bpf/errors.ts,
// control/ipvs/errors.ts). Codes never change meaning once released.

export const ProxierErrorCode = {
  /** --proxy-mode names a mode this build or node cannot run (daemon.ts UnsupportedModeError). */
  ModeUnsupported: 'ERR_PROXY_MODE_UNSUPPORTED',
  /** The mode runs on another operating system (kernelspace off Windows, ebpf/iptables/ipvs off Linux). */
  ModePlatform: 'ERR_PROXY_MODE_PLATFORM',
  /** kernelspace: HNS cannot be loaded or reached, or its version lacks the V2 API or a feature asked for. */
  HnsUnavailable: 'ERR_HNS_UNAVAILABLE',
  /** kernelspace: the HNS network is missing, of a type the mode does not serve, or lacks what its type needs. */
  HnsNetwork: 'ERR_HNS_NETWORK',
  /** userspace: --proxy-port-range has no free port left for a service port's proxy socket (that port is skipped). */
  ProxyPortRange: 'ERR_PROXY_PORT_RANGE',
  /** userspace: the open-file limit, less a reserve, has no descriptor left for a service port's proxy socket (that port is skipped). */
  ProxyOpenFiles: 'ERR_PROXY_OPEN_FILES',
  /** ebpf: the pin root is not on a BPF filesystem (BpffsError). */
  BpffsMissing: 'ERR_BPFFS_MISSING',
  /** ipvs: a sync could not bring IPVS to the wanted state (IpvsSyncError). */
  IpvsSync: 'ERR_IPVS_SYNC',
  /** ipvs: a required sysctl cannot be set (SysctlError). */
  IpvsSysctl: 'ERR_IPVS_SYSCTL',
} as const;
export type ProxierErrorCode = (typeof ProxierErrorCode)[keyof typeof ProxierErrorCode];
