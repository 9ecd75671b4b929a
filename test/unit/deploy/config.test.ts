// The DaemonSet's command line and the ConfigMap's KubeProxyConfiguration,
// through the daemon's own option loader, as the kubelet would start it on a
// node: every flag accepted, the file read from where --config points, and
// the result what the manifests mean. test/privileged/deploy runs the real
// daemon with the same file.
import { describe, expect, it } from 'vitest';
import { loadOptions, type LoadedOptions } from '../../../control/config/load.js';
import { daemonContainer, readManifests, shippedConfig, type Obj } from '../../harness/deploy.js';
import { kubeletExpand } from './kubelet.js';

const manifests = readManifests();
const container = daemonContainer(manifests);
const config = shippedConfig(manifests);
const NODE = 'worker-7';

/** The container's args after the kubelet's $(VAR) expansion, with spec.nodeName = NODE. */
const kubeletArgs = (): string[] => kubeletExpand(container, container.args as string[], NODE);

function load(): LoadedOptions {
  const loaded = loadOptions(kubeletArgs(), {
    hostname: () => 'the-machine',
    readFile: (path) => {
      if (path !== config.path) throw Object.assign(new Error(`unexpected read of ${path}`), { code: 'ENOENT' });
      return config.text;
    },
  });
  if ('exit' in loaded) throw new Error(`the args made the daemon exit: ${loaded.output}`);
  return loaded;
}

describe('the DaemonSet starts the daemon with the ConfigMap', () => {
  it('accepts every flag and every field, and notes nothing (no flag overridden by the file, no ignored field set)', () => {
    expect(load().notes).toEqual([]);
  });

  it('takes the ConfigMap file and the node name as meant', () => {
    const { options } = load();
    expect(options).toMatchObject({
      configFile: config.path,
      mode: 'ebpf',
      hostname: NODE,
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      clusterCIDRs: [],
      masqueradeAll: false,
      logLevel: 'info',
      logFormat: 'text',
      iptables: { masqueradeBit: 14, localhostNodePorts: true, syncPeriodMs: 30_000, minSyncPeriodMs: 1000 },
      ebpf: { bpffsRoot: '/sys/fs/bpf/switchyard', cgroupRoot: '/run/switchyard/cgroupv2', devices: [] },
    });
    // In-cluster: the service account, at KUBERNETES_SERVICE_HOST.
    expect(options.kubeconfig).toBeUndefined();
    expect(options.manifests).toBeUndefined();
    // The ebpf mode keeps its own periods: the file leaves the iptables ones unset.
    expect(options.sync).toEqual({ syncPeriodMs: 30_000, minSyncPeriodMs: 0 });
  });

  it("probes the health server's port", () => {
    const { options } = load();
    const port = Number(options.healthzBindAddress.split(':').pop());
    const named = new Map((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      const p = probe.httpGet.port;
      expect(typeof p === 'string' ? named.get(p) : p).toBe(port);
    }
    expect([container.livenessProbe.httpGet.path, container.readinessProbe.httpGet.path]).toEqual([
      '/livez',
      '/readyz',
    ]);
  });

  it('fails, naming the field, when the ConfigMap holds a field kube-proxy does not have', () => {
    const broken = config.text.replace('mode: ebpf', 'mode: ebpf\nproxyMode: ebpf');
    expect(() => loadOptions(kubeletArgs(), { readFile: () => broken })).toThrow(/unknown field "proxyMode"/);
  });
});
