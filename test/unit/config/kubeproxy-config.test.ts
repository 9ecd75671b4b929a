// The --config file: kube-proxy's KubeProxyConfiguration v1alpha1, strictly decoded.
import { describe, expect, it } from 'vitest';
import { defaultOptions } from '../../../control/config/defaults.js';
import { ConfigError } from '../../../control/config/errors.js';
import {
  IGNORED_FIELDS,
  KUBE_PROXY_CONFIGURATION,
  USED_FIELDS,
  applyKubeProxyConfiguration,
  parseKubeProxyConfiguration,
  readKubeProxyConfiguration,
} from '../../../control/config/kubeproxy-config.js';
import { leafPaths } from '../../../control/config/strict-decode.js';

const SOURCE = '/var/lib/kube-proxy/config.conf';

// What kubeadm puts in the kube-proxy ConfigMap, with a few settings changed
// as an operator would: ipvs mode, a dual-stack cluster, a larger conntrack table.
const KUBEADM_CONFIG = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 5
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 65536
  min: 131072
  tcpBeLiberal: false
  tcpCloseWaitTimeout: 1h0m0s
  tcpEstablishedTimeout: 24h0m0s
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
featureGates: {}
healthzBindAddress: 0.0.0.0:10256
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: true
  masqueradeBit: null
  minSyncPeriod: 2s
  syncPeriod: 1m0s
ipvs:
  excludeCIDRs:
  - 10.96.0.0/12
  minSyncPeriod: 0s
  scheduler: wrr
  strictARP: true
  syncPeriod: 45s
  tcpFinTimeout: 2m
  tcpTimeout: 15m
  udpTimeout: 300s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 2
metricsBindAddress: 0.0.0.0:10249
mode: ipvs
nftables:
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
`;

const minimal = (body = '') => `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n${body}`;

function fileError(text: string): ConfigError {
  try {
    const { config } = parseKubeProxyConfiguration(text, SOURCE);
    applyKubeProxyConfiguration(defaultOptions({ hostname: () => 'n', objectDir: '/o' }), config, SOURCE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('ERR_CONFIG_FILE');
    expect((e as ConfigError).message).toMatch(new RegExp(`^config file ${SOURCE}: `));
    return e as ConfigError;
  }
  throw new Error('no error');
}

function applied(text: string) {
  const o = defaultOptions({ hostname: () => 'n', objectDir: '/o' });
  const { config, notes } = parseKubeProxyConfiguration(text, SOURCE);
  const extra = applyKubeProxyConfiguration(o, config, SOURCE);
  return { o, notes, extra };
}

describe('a full KubeProxyConfiguration', () => {
  it('is accepted and mapped onto the options', () => {
    const { o, extra } = applied(KUBEADM_CONFIG);
    expect(o).toMatchObject({
      mode: 'ipvs',
      kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      masqueradeAll: true,
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '0.0.0.0:10249',
      iptables: { syncPeriodMs: 60_000, minSyncPeriodMs: 2000, masqueradeBit: 14, localhostNodePorts: true },
      ipvs: {
        syncPeriodMs: 45_000,
        minSyncPeriodMs: 0,
        scheduler: 'wrr',
        excludeCIDRs: ['10.96.0.0/12'],
        strictARP: true,
        tcpTimeoutMs: 900_000,
        tcpFinTimeoutMs: 120_000,
        udpTimeoutMs: 300_000,
      },
      logLevel: 'debug',
      logFormat: 'text',
    });
    expect(extra).toEqual({ hostnameOverride: undefined, iptablesSyncPeriodSet: true, iptablesMinSyncPeriodSet: true });
  });

  it('notes only the ignored fields set away from their kube-proxy default', () => {
    const { notes } = applied(KUBEADM_CONFIG);
    expect(notes).toEqual([
      `config field "conntrack.maxPerCore" (65536) in ${SOURCE} is accepted for kube-proxy compatibility but ignored: ` +
        'switchyard does not tune the kernel conntrack table (the ebpf mode tracks flows in its own map)',
    ]);
  });

  it('is accepted as JSON too', () => {
    const json = JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      iptables: { syncPeriod: '10s', minSyncPeriod: '500ms', masqueradeBit: 13 },
      conntrack: { tcpEstablishedTimeout: '2h', maxPerCore: null },
      logging: {
        format: 'json',
        verbosity: 5,
        flushFrequency: '5s',
        vmodule: [{ filePattern: 'proxier', verbosity: 6 }],
      },
      featureGates: { SomeGate: true },
    });
    const { o, notes } = applied(json);
    expect(o).toMatchObject({
      mode: 'iptables',
      iptables: { syncPeriodMs: 10_000, minSyncPeriodMs: 500, masqueradeBit: 13 },
      logLevel: 'trace',
      logFormat: 'json',
    });
    expect(notes.map((n) => /"([^"]+)"/.exec(n)![1])).toEqual([
      'featureGates',
      'logging.vmodule',
      'conntrack.tcpEstablishedTimeout',
    ]);
  });

  it('accepts every field of the v1alpha1 type', () => {
    // k8s.io/kube-proxy/config/v1alpha1 KubeProxyConfiguration, and its nested types.
    const fields = [
      'apiVersion',
      'kind',
      'featureGates',
      'clientConnection.kubeconfig',
      'clientConnection.acceptContentTypes',
      'clientConnection.contentType',
      'clientConnection.qps',
      'clientConnection.burst',
      'logging.format',
      'logging.flushFrequency',
      'logging.verbosity',
      'logging.vmodule',
      'logging.options.text.splitStream',
      'logging.options.text.infoBufferSize',
      'logging.options.json.splitStream',
      'logging.options.json.infoBufferSize',
      'hostnameOverride',
      'bindAddress',
      'healthzBindAddress',
      'metricsBindAddress',
      'bindAddressHardFail',
      'enableProfiling',
      'showHiddenMetricsForVersion',
      'mode',
      'iptables.masqueradeBit',
      'iptables.masqueradeAll',
      'iptables.localhostNodePorts',
      'iptables.snatNodeInternalIP',
      'iptables.syncPeriod',
      'iptables.minSyncPeriod',
      'ipvs.syncPeriod',
      'ipvs.minSyncPeriod',
      'ipvs.scheduler',
      'ipvs.excludeCIDRs',
      'ipvs.strictARP',
      'ipvs.tcpTimeout',
      'ipvs.tcpFinTimeout',
      'ipvs.udpTimeout',
      'nftables.masqueradeBit',
      'nftables.masqueradeAll',
      'nftables.syncPeriod',
      'nftables.minSyncPeriod',
      'winkernel.networkName',
      'winkernel.sourceVip',
      'winkernel.enableDSR',
      'winkernel.rootHnsEndpointName',
      'winkernel.forwardHealthCheckVip',
      'detectLocalMode',
      'detectLocal.bridgeInterface',
      'detectLocal.interfaceNamePrefix',
      'clusterCIDR',
      'nodePortAddresses',
      'oomScoreAdj',
      'conntrack.maxPerCore',
      'conntrack.min',
      'conntrack.tcpEstablishedTimeout',
      'conntrack.tcpCloseWaitTimeout',
      'conntrack.tcpBeLiberal',
      'conntrack.udpTimeout',
      'conntrack.udpStreamTimeout',
      'configSyncPeriod',
      'portRange',
      'windowsRunAsService',
    ];
    expect(leafPaths(KUBE_PROXY_CONFIGURATION)).toEqual(expect.arrayContaining(fields));
  });

  it('maps or explains every field it accepts', () => {
    const handled = new Set<string>([...USED_FIELDS, ...Object.keys(IGNORED_FIELDS)]);
    expect(leafPaths(KUBE_PROXY_CONFIGURATION).filter((p) => !handled.has(p))).toEqual([]);
    expect([...handled].filter((p) => !leafPaths(KUBE_PROXY_CONFIGURATION).includes(p))).toEqual([]);
  });

  it('accepts fields removed from v1alpha1 that old ConfigMaps still carry, with a note', () => {
    const { notes } = applied(minimal('resourceContainer: /kube-proxy/x\nconntrack:\n  max: 100000\n'));
    expect(notes.map((n) => /"([^"]+)"/.exec(n)![1])).toEqual(['conntrack.max', 'resourceContainer']);
  });

  it("reads the userspace mode's portRange and udpIdleTimeout (removed from v1alpha1, still in old ConfigMaps)", () => {
    const { o, notes } = applied(minimal('portRange: 30000+99\nudpIdleTimeout: 100ms\n'));
    expect(o.userspace).toEqual({ portRange: '30000+99', udpTimeoutMs: 100 });
    expect(notes).toEqual([]);
    expect(() => applied(minimal('portRange: 1-2-3\n'))).toThrow(/field "portRange": invalid value "1-2-3"/);
  });
});

describe("Go's zero values keep kube-proxy's defaults", () => {
  it('0s periods, null pointers and empty addresses are "unset"', () => {
    const { o, extra } = applied(
      minimal(
        'iptables:\n  syncPeriod: 0s\n  minSyncPeriod: 0s\n  masqueradeBit: null\nhealthzBindAddress: ""\nmetricsBindAddress: ""\nmode: ""\n',
      ),
    );
    expect(o.iptables).toEqual({
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 1000,
      masqueradeBit: 14,
      localhostNodePorts: true,
    });
    expect(o.healthzBindAddress).toBe('0.0.0.0:10256');
    expect(o.metricsBindAddress).toBe('127.0.0.1:10249');
    expect(o.mode).toBe('ebpf');
    expect(extra).toMatchObject({ iptablesSyncPeriodSet: false, iptablesMinSyncPeriodSet: false });
  });

  it('a bare IP gets the default port, as kube-proxy appends it', () => {
    const { o } = applied(minimal('healthzBindAddress: 10.0.0.5\nmetricsBindAddress: "::"\n'));
    expect(o.healthzBindAddress).toBe('10.0.0.5:10256');
    expect(o.metricsBindAddress).toBe('[::]:10249');
  });

  it("reads YAML 1.1 booleans as kube-proxy's YAML library does, and leaves 1.1 base-60 numbers as text", () => {
    const { o } = applied(
      minimal('iptables:\n  masqueradeAll: yes\nipvs:\n  strictARP: on\nhostnameOverride: 10:20\n'),
    );
    expect(o.masqueradeAll).toBe(true);
    expect(o.ipvs.strictARP).toBe(true);
    const { config } = parseKubeProxyConfiguration(minimal('hostnameOverride: 10:20\n'), SOURCE);
    expect(config.hostnameOverride).toBe('10:20');
  });
});

describe('strict decoding', () => {
  it.each([
    ['foo: bar\n', 'unknown field "foo"'],
    ['ipvs:\n  schedular: rr\n', 'unknown field "ipvs.schedular" (did you mean "ipvs.scheduler"?)'],
    ['conntrack:\n  maxPerCPU: 1\n', 'unknown field "conntrack.maxPerCPU" (did you mean "conntrack.maxPerCore"?)'],
    ['logging:\n  vmodule:\n  - filePattern: x\n    level: 2\n', 'unknown field "logging.vmodule[0].level"'],
    ['Mode: ipvs\n', 'unknown field "Mode" (did you mean "mode"?)'],
    ['metadata:\n  name: kube-proxy\n', 'unknown field "metadata"'],
  ])('refuses an unknown field: %j', (body, message) => {
    expect(fileError(minimal(body)).message).toBe(`config file ${SOURCE}: ${message}`);
  });

  it.each([
    [
      'iptables:\n  masqueradeBit: "14"\n',
      'field "iptables.masqueradeBit": expected an integer (int32), got string "14"',
    ],
    [
      'iptables:\n  masqueradeBit: 1.5\n',
      'field "iptables.masqueradeBit": expected an integer (int32), got number 1.5',
    ],
    ['ipvs:\n  syncPeriod: 30\n', 'field "ipvs.syncPeriod": expected a duration string such as "30s", got number 30'],
    ['ipvs:\n  syncPeriod: 30 seconds\n', 'field "ipvs.syncPeriod": invalid duration "30 seconds"'],
    ['ipvs:\n  excludeCIDRs: 10.0.0.0/8\n', 'field "ipvs.excludeCIDRs": expected a list, got string "10.0.0.0/8"'],
    ['iptables: true\n', 'field "iptables": expected an object, got boolean true'],
    ['ipvs:\n  strictARP: "true"\n', 'field "ipvs.strictARP": expected true or false, got string "true"'],
    ['hostnameOverride: 42\n', 'field "hostnameOverride": expected a string, got number 42'],
    ['logging:\n  verbosity: -1\n', 'field "logging.verbosity": -1 is out of range for a non-negative integer'],
    [
      'featureGates:\n  Foo: "yes please"\n',
      'field "featureGates.Foo": expected true or false, got string "yes please"',
    ],
    ['oomScoreAdj: 3000000000\n', 'field "oomScoreAdj": 3000000000 is out of range for an integer (int32)'],
  ])('refuses a wrong type: %j', (body, message) => {
    expect(fileError(minimal(body)).message).toMatch(`config file ${SOURCE}: ${message}`);
  });

  it.each([
    ['mode: nftables\n', 'field "mode": invalid value "nftables": the nftables mode is not supported by switchyard'],
    ['mode: IPVS\n', 'field "mode": invalid value "IPVS": expected one of ebpf, iptables, ipvs'],
    ['clusterCIDR: 10.244.0.0\n', 'field "clusterCIDR": invalid value "10.244.0.0": expected a CIDR block'],
    ['healthzBindAddress: "0.0.0.0:99999"\n', 'field "healthzBindAddress": invalid value "0.0.0.0:99999"'],
    ['ipvs:\n  scheduler: fifo\n', 'field "ipvs.scheduler": invalid value "fifo": expected one of rr'],
    ['ipvs:\n  excludeCIDRs: [10.0.0.0/8, nope]\n', 'field "ipvs.excludeCIDRs[1]": invalid value "nope"'],
    ['iptables:\n  masqueradeBit: 32\n', 'field "iptables.masqueradeBit": 32 must be within [0, 31]'],
    ['iptables:\n  syncPeriod: -5s\n', 'field "iptables.syncPeriod": -5s must be greater than 0'],
    ['ipvs:\n  udpTimeout: -1s\n', 'field "ipvs.udpTimeout": -1s must be at least 0'],
    ['logging:\n  format: yaml\n', 'field "logging.format": invalid value "yaml": expected text or json'],
  ])('refuses an invalid value: %j', (body, message) => {
    expect(fileError(minimal(body)).message).toMatch(`config file ${SOURCE}: ${message}`);
  });

  it.each([
    [
      'kind: KubeProxyConfiguration\n',
      'expected apiVersion kubeproxy.config.k8s.io/v1alpha1 and kind KubeProxyConfiguration, got apiVersion "", kind "KubeProxyConfiguration"',
    ],
    [
      'apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration\n',
      'got apiVersion "kubeproxy.config.k8s.io/v1alpha2"',
    ],
    ['apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n', 'kind "KubeletConfiguration"'],
    [`${minimal()}---\n${minimal()}`, 'holds 2 documents; expected exactly one KubeProxyConfiguration'],
    ['', 'holds 0 documents'],
    ['mode: [ipvs\n', 'not valid YAML or JSON: '],
    ['{"apiVersion": "kubeproxy.config.k8s.io/v1alpha1",\n', 'not valid YAML or JSON: '],
    [`${minimal('mode: ipvs\nmode: iptables\n')}`, 'not valid YAML or JSON: Map keys must be unique'],
    ['- a\n- b\n', 'field "(top level)": expected an object, got a list'],
  ])('refuses a document that is not one KubeProxyConfiguration: %j', (text, message) => {
    expect(fileError(text).message).toContain(message);
  });

  it('says when the file cannot be read', () => {
    let err: unknown;
    try {
      readKubeProxyConfiguration('/nonexistent/kube-proxy.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({
      code: 'ERR_CONFIG_FILE',
      message: 'config file /nonexistent/kube-proxy.yaml: cannot be read: no such file (check --config)',
    });
  });
});

describe('notes for ignored fields', () => {
  it('count any feature gate set, even to false', () => {
    const { notes } = applied(minimal('featureGates:\n  SomeGate: false\n'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('config field "featureGates" ({"SomeGate":false})');
  });

  it('skip empty maps and lists', () => {
    expect(applied(minimal('featureGates: {}\nnodePortAddresses: []\nlogging:\n  vmodule: []\n')).notes).toEqual([]);
  });
});
