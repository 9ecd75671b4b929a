// /configz: the configuration in effect, as kube-proxy serves it
// ({"kubeproxy.config.k8s.io": KubeProxyConfiguration}), so tools that read
// kube-proxy's /configz read ours. Switchyard's own settings, which have no
// field in KubeProxyConfiguration, are under "switchyard".
import { formatGoDuration } from '../config/duration.js';
import type { ProxyOptions } from '../config/options.js';

export function configz(o: ProxyOptions): Record<string, unknown> {
  const d = formatGoDuration;
  return {
    'kubeproxy.config.k8s.io': {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: o.mode,
      hostnameOverride: o.hostname,
      clusterCIDR: o.clusterCIDRs.join(','),
      healthzBindAddress: o.healthzBindAddress,
      metricsBindAddress: o.metricsBindAddress,
      clientConnection: { kubeconfig: o.kubeconfig ?? '' },
      syncPeriod: d(o.sync.syncPeriodMs),
      minSyncPeriod: d(o.sync.minSyncPeriodMs),
      iptables: {
        masqueradeAll: o.masqueradeAll,
        masqueradeBit: o.iptables.masqueradeBit,
        localhostNodePorts: o.iptables.localhostNodePorts,
        syncPeriod: d(o.iptables.syncPeriodMs),
        minSyncPeriod: d(o.iptables.minSyncPeriodMs),
      },
      ipvs: {
        scheduler: o.ipvs.scheduler,
        excludeCIDRs: o.ipvs.excludeCIDRs,
        strictARP: o.ipvs.strictARP,
        syncPeriod: d(o.ipvs.syncPeriodMs),
        minSyncPeriod: d(o.ipvs.minSyncPeriodMs),
        tcpTimeout: d(o.ipvs.tcpTimeoutMs),
        tcpFinTimeout: d(o.ipvs.tcpFinTimeoutMs),
        udpTimeout: d(o.ipvs.udpTimeoutMs),
      },
      logging: { format: o.logFormat },
    },
    switchyard: {
      manifests: o.manifests ?? null,
      master: o.master ?? null,
      serviceProxyName: o.serviceProxyName,
      configFile: o.configFile ?? null,
      logLevel: o.logLevel,
      ebpf: {
        bpffsRoot: o.ebpf.bpffsRoot,
        objectDir: o.ebpf.objectDir,
        devices: o.ebpf.devices,
        cgroupRoot: o.ebpf.cgroupRoot ?? null,
        mapSizes: o.ebpf.mapSizes,
      },
    },
  };
}
