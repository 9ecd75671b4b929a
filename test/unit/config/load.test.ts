// Resolving ProxyOptions: defaults, then the --config file, then the flags
// that kube-proxy lets override it; then validation.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadOptions, validateOptions, type LoadEnv } from '../../../control/config/load.js';
import type { ProxyOptions } from '../../../control/config/options.js';

const FILE = '/etc/kube-proxy/config.yaml';
const files: Record<string, string> = {};
const env: LoadEnv = {
  hostname: () => 'Node-A.Example.Com',
  objectDir: '/opt/switchyard/bpf',
  readFile: (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  },
};
function run(argv: string[], e: LoadEnv = env) {
  const loaded = loadOptions(argv, e);
  if ('exit' in loaded) throw new Error(`unexpected early exit for ${argv.join(' ')}`);
  return loaded;
}
const load = (...argv: string[]) => run(argv);
const withFile = (body: string, ...argv: string[]) => {
  files[FILE] = `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n${body}`;
  return load(`--config=${FILE}`, ...argv);
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('no error');
}

describe('defaults', () => {
  it("are kube-proxy's, with the ebpf mode and its sync periods", () => {
    const { options, notes } = load();
    expect(notes).toEqual([]);
    expect(options).toEqual<ProxyOptions>({
      mode: 'ebpf',
      hostname: 'node-a.example.com',
      clusterCIDRs: [],
      nodePortAddresses: [],
      masqueradeAll: false,
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      cleanup: false,
      serviceProxyName: '',
      sync: { syncPeriodMs: 30_000, minSyncPeriodMs: 0 },
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
        objectDir: '/opt/switchyard/bpf',
        devices: [],
        acceleration: 'best-effort',
        lbAlgorithm: 'random',
        maglevTableSize: 16381,
        mapSizes: {},
      },
      winkernel: {
        networkName: '',
        sourceVip: '',
        enableDSR: false,
        rootHnsEndpointName: 'cbr0',
        forwardHealthCheckVip: false,
      },
      userspace: { portRange: '', udpTimeoutMs: 250 },
      logLevel: 'info',
      logFormat: 'text',
    });
  });

  it("find the BPF objects in the repository's build/bpf without a seam", () => {
    expect(run([], { hostname: () => 'n' }).options.ebpf.objectDir).toMatch(/\/build\/bpf$/);
    expect(run([], { hostname: () => 'n' }).options.ebpf.objectDir).not.toMatch(/\/dist\//);
  });
});

describe('the sync loop periods', () => {
  it.each<[string[], { syncPeriodMs: number; minSyncPeriodMs: number }]>([
    [[], { syncPeriodMs: 30_000, minSyncPeriodMs: 0 }],
    [['--iptables-min-sync-period=2s'], { syncPeriodMs: 30_000, minSyncPeriodMs: 2000 }],
    [['--iptables-sync-period=10s'], { syncPeriodMs: 10_000, minSyncPeriodMs: 0 }],
    [['--ipvs-sync-period=10s'], { syncPeriodMs: 30_000, minSyncPeriodMs: 0 }],
    [['--proxy-mode=iptables'], { syncPeriodMs: 30_000, minSyncPeriodMs: 1000 }],
    [['--proxy-mode=userspace', '--iptables-sync-period=1m'], { syncPeriodMs: 60_000, minSyncPeriodMs: 1000 }],
    [
      ['--proxy-mode=ipvs', '--ipvs-sync-period=5s', '--ipvs-min-sync-period=1s', '--iptables-sync-period=1h'],
      { syncPeriodMs: 5000, minSyncPeriodMs: 1000 },
    ],
  ])('%j', (argv, sync) => {
    expect(load(...argv).options.sync).toEqual(sync);
  });

  it('come from the file as kube-proxy takes them: iptables.* outside ipvs mode, a zero keeps the ebpf default', () => {
    expect(withFile('iptables:\n  syncPeriod: 10s\n  minSyncPeriod: 0s\n').options.sync).toEqual({
      syncPeriodMs: 10_000,
      minSyncPeriodMs: 0,
    });
    expect(withFile('iptables:\n  minSyncPeriod: 3s\n').options.sync).toEqual({
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 3000,
    });
    expect(withFile('mode: ipvs\nipvs:\n  syncPeriod: 20s\n  minSyncPeriod: 2s\n').options.sync).toEqual({
      syncPeriodMs: 20_000,
      minSyncPeriodMs: 2000,
    });
  });
});

describe('the node name', () => {
  it('is --hostname-override, else the file, else the host name, lower-cased', () => {
    expect(load().options.hostname).toBe('node-a.example.com');
    expect(withFile('hostnameOverride: File-Node\n').options.hostname).toBe('file-node');
    expect(withFile('hostnameOverride: File-Node\n', '--hostname-override= Flag-Node ').options.hostname).toBe(
      'flag-node',
    );
    expect(withFile('hostnameOverride: ""\n').options.hostname).toBe('node-a.example.com');
  });

  it('may not be blank', () => {
    const e = configError(() => load('--hostname-override=   '));
    expect(e.code).toBe('ERR_CONFIG_FLAG');
    expect(e.message).toMatch(/--hostname-override: it is blank/);
  });
});

describe('precedence with --config (as kube-proxy: the file replaces the flags it has a field for)', () => {
  const FILE_BODY = [
    'mode: ipvs',
    'clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf',
    'hostnameOverride: from-file',
    'clusterCIDR: 10.244.0.0/16',
    'metricsBindAddress: 0.0.0.0:10249',
    'ipvs:\n  scheduler: lc',
    'logging:\n  verbosity: 4\n  format: json',
  ].join('\n');

  it('uses the file over the defaults', () => {
    const { options, notes } = withFile(FILE_BODY);
    expect(options).toMatchObject({
      mode: 'ipvs',
      kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf',
      hostname: 'from-file',
      clusterCIDRs: ['10.244.0.0/16'],
      metricsBindAddress: '0.0.0.0:10249',
      ipvs: { scheduler: 'lc' },
      logLevel: 'trace',
      logFormat: 'json',
      configFile: FILE,
    });
    expect(notes).toEqual([]);
  });

  it('lets --hostname-override, -v, --logging-format, --master, --cleanup and our own flags override the file', () => {
    const { options, notes } = withFile(
      FILE_BODY,
      '--hostname-override=from-flag',
      '-v=0',
      '--logging-format=text',
      '--master=https://10.0.0.1:6443',
      '--cleanup',
      '--bpffs-root=/sys/fs/bpf/other',
      '--devices=eth1',
      '--service-proxy-name=sy',
    );
    expect(options).toMatchObject({
      hostname: 'from-flag',
      logLevel: 'info',
      logFormat: 'text',
      master: 'https://10.0.0.1:6443',
      cleanup: true,
      serviceProxyName: 'sy',
      ebpf: { bpffsRoot: '/sys/fs/bpf/other', devices: ['eth1'] },
    });
    expect(notes).toEqual([]);
  });

  it('ignores the flags the file replaces, and says so in a note', () => {
    const { options, notes } = withFile(
      FILE_BODY,
      '--proxy-mode=iptables',
      '--ipvs-scheduler=sh',
      '--masquerade-all',
      '--cluster-cidr=10.0.0.0/8',
    );
    expect(options).toMatchObject({
      mode: 'ipvs',
      ipvs: { scheduler: 'lc' },
      masqueradeAll: false,
      clusterCIDRs: ['10.244.0.0/16'],
    });
    expect(notes).toEqual([
      `--proxy-mode=iptables is ignored because --config is given: as with kube-proxy, the file's "mode" is used instead (set it in ${FILE})`,
      `--cluster-cidr=10.0.0.0/8 is ignored because --config is given: as with kube-proxy, the file's "clusterCIDR" is used instead (set it in ${FILE})`,
      `--masquerade-all is ignored because --config is given: as with kube-proxy, the file's "iptables.masqueradeAll" is used instead (set it in ${FILE})`,
      `--ipvs-scheduler=sh is ignored because --config is given: as with kube-proxy, the file's "ipvs.scheduler" is used instead (set it in ${FILE})`,
    ]);
  });

  it('a file field left out keeps the default even when a flag gives it', () => {
    const { options } = withFile('mode: iptables\n', '--iptables-sync-period=5s');
    expect(options.iptables.syncPeriodMs).toBe(30_000);
  });

  it('adds the file notes to the flag notes', () => {
    const { notes } = withFile('oomScoreAdj: -500\n', '--profiling');
    expect(notes).toEqual([
      '--profiling is accepted for kube-proxy compatibility but ignored: switchyard serves no pprof handlers (use node --inspect)',
      `config field "oomScoreAdj" (-500) in ${FILE} is accepted for kube-proxy compatibility but ignored: switchyard leaves its OOM score to the pod's QoS class`,
    ]);
  });

  it('--config="" means no file', () => {
    const { options } = load('--config=', '--proxy-mode=ipvs');
    expect(options.mode).toBe('ipvs');
    expect(options.configFile).toBeUndefined();
  });

  it('reads a real file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
    try {
      const path = join(dir, 'config.conf');
      writeFileSync(
        path,
        '{"apiVersion":"kubeproxy.config.k8s.io/v1alpha1","kind":"KubeProxyConfiguration","mode":"userspace"}',
      );
      expect(run([`--config=${path}`], { hostname: () => 'n' }).options.mode).toBe('userspace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file is ERR_CONFIG_FILE', () => {
    const e = configError(() => load('--config=/etc/nope.yaml'));
    expect(e.code).toBe('ERR_CONFIG_FILE');
    expect(e.message).toBe('config file /etc/nope.yaml: cannot be read: no such file (check --config)');
  });
});

describe('sources of Services are exclusive', () => {
  it.each([
    [['--manifests=/m', '--kubeconfig=/k'], /kubeconfig "\/k" is set/],
    [['--manifests=/m', '--master=https://api:6443'], /master "https:\/\/api:6443" is set/],
    [
      ['--manifests=/m', '--kubeconfig=/k', '--master=https://api:6443'],
      /kubeconfig "\/k" and master "https:\/\/api:6443" are set/,
    ],
  ])('%j', (argv, message) => {
    const e = configError(() => load(...argv));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(/^--manifests \(standalone mode\) cannot be combined with an API server/);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/choose one source of Services and EndpointSlices/);
  });

  it("counts the file's clientConnection.kubeconfig, and names the file", () => {
    const e = configError(() => withFile('clientConnection:\n  kubeconfig: /k\n', '--manifests=/m'));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain(`clientConnection.kubeconfig in ${FILE}`);
  });

  it('--manifests alone, or --kubeconfig with --master, is fine', () => {
    expect(load('--manifests=/m').options.manifests).toBe('/m');
    expect(load('--kubeconfig=/k', '--master=https://api:6443').options).toMatchObject({
      kubeconfig: '/k',
      master: 'https://api:6443',
    });
    expect(load('--cleanup', '--manifests=/m').options.cleanup).toBe(true);
  });
});

describe('validateOptions', () => {
  const good = () => load().options;
  it.each<[string, (o: ProxyOptions) => void, RegExp]>([
    [
      'mode',
      (o) => ((o as { mode: string }).mode = 'nftables'),
      /invalid proxy mode "nftables": the nftables mode is not supported/,
    ],
    [
      'bind address',
      (o) => (o.healthzBindAddress = 'localhost:10256'),
      /invalid --healthz-bind-address "localhost:10256"/,
    ],
    ['port', (o) => (o.metricsBindAddress = '127.0.0.1:65536'), /port must be 0-65535/],
    ['cidr', (o) => (o.clusterCIDRs = ['10.0.0.0/40']), /invalid --cluster-cidr "10.0.0.0\/40"/],
    ['exclude cidr', (o) => (o.ipvs.excludeCIDRs = ['x']), /invalid --ipvs-exclude-cidrs "x"/],
    ['scheduler', (o) => (o.ipvs.scheduler = 'fifo'), /invalid --ipvs-scheduler "fifo": expected one of rr, wrr/],
    ['empty scheduler', (o) => (o.ipvs.scheduler = ''), /invalid --ipvs-scheduler ""/],
    ['masquerade bit', (o) => (o.iptables.masqueradeBit = 40), /must be within \[0, 31\]/],
    ['sync period', (o) => (o.sync.syncPeriodMs = 0), /sync period .* must be greater than 0/],
    ['min sync period', (o) => (o.ipvs.minSyncPeriodMs = -1), /minimum sync period for --ipvs-\*/],
    ['ipvs timeout', (o) => (o.ipvs.udpTimeoutMs = -1000), /invalid IPVS udpTimeout -1s/],
    ['bpffs', (o) => (o.ebpf.bpffsRoot = 'bpf'), /--bpffs-root "bpf": expected an absolute path/],
    ['cgroup', (o) => (o.ebpf.cgroupRoot = 'cg'), /--cgroup-root "cg"/],
    ['devices', (o) => (o.ebpf.devices = ['a/b']), /invalid --devices "a\/b"/],
    ['map size', (o) => (o.ebpf.mapSizes = { sy_services_v3: 0 }), /sy_services_v3=0/],
    ['log level', (o) => (o.logLevel = 'verbose'), /invalid log level "verbose"/],
    ['hostname', (o) => (o.hostname = ''), /node name is empty/],
  ])('refuses a bad %s', (_what, spoil, message) => {
    const o = good();
    spoil(o);
    const e = configError(() => validateOptions(o));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(message);
  });

  it('accepts what loadOptions resolves', () => {
    expect(() => validateOptions(good())).not.toThrow();
  });
});
