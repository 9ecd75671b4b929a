// The options before any flag or file: kube-proxy's defaults where kube-proxy
// has the setting, ours for the rest.
import { hostname as osHostname } from 'node:os';
import { defaultObjectDir } from './install.js';
import type { ProxyOptions } from './options.js';

/**
 * The ebpf mode's periods: a map write costs microseconds, so changes are
 * applied as soon as the event loop has gathered a turn's worth (min 0), and
 * the full resync only repairs drift.
 */
export const EBPF_SYNC = { syncPeriodMs: 30_000, minSyncPeriodMs: 0 } as const;

export interface DefaultsEnv {
  /** The machine's host name (default: os.hostname()). */
  hostname?: () => string;
  /** The default --bpf-object-dir (default: <install root>/build/bpf). */
  objectDir?: string;
}

export function defaultOptions(env: DefaultsEnv = {}): ProxyOptions {
  return {
    mode: 'ebpf',
    hostname: (env.hostname ?? osHostname)().trim().toLowerCase(),
    clusterCIDRs: [],
    nodePortAddresses: [],
    masqueradeAll: false,
    healthzBindAddress: '0.0.0.0:10256',
    metricsBindAddress: '127.0.0.1:10249',
    cleanup: false,
    serviceProxyName: '',
    sync: { ...EBPF_SYNC },
    // kube-proxy v1alpha1 defaults (pkg/proxy/apis/config/v1alpha1/defaults.go).
    iptables: { syncPeriodMs: 30_000, minSyncPeriodMs: 1000, masqueradeBit: 14, localhostNodePorts: true },
    ipvs: {
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 0,
      scheduler: 'rr',
      excludeCIDRs: [],
      strictARP: false,
      tcpTimeoutMs: 0,
      tcpFinTimeoutMs: 0,
      udpTimeoutMs: 0,
    },
    ebpf: {
      bpffsRoot: '/sys/fs/bpf/switchyard',
      objectDir: env.objectDir ?? defaultObjectDir(),
      devices: [],
      acceleration: 'best-effort',
      lbAlgorithm: 'random',
      maglevTableSize: 16381,
      mapSizes: {},
    },
    // kube-proxy's Windows flag defaults (cmd/kube-proxy/app/server_windows.go).
    winkernel: {
      networkName: '',
      sourceVip: '',
      enableDSR: false,
      rootHnsEndpointName: 'cbr0',
      forwardHealthCheckVip: false,
    },
    // kube-proxy's userspace flag defaults (--proxy-port-range "", --udp-timeout 250ms).
    userspace: { portRange: '', udpTimeoutMs: 250 },
    logLevel: 'info',
    logFormat: 'text',
  };
}
