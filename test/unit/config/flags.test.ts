// The daemon's command line: kube-proxy's syntax and names, our additions,
// and kube-proxy flags accepted without effect.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../control/config/errors.js';
import { FLAGS, helpText, parseFlags } from '../../../control/config/flags.js';
import { packageVersion } from '../../../control/config/install.js';
import { loadOptions } from '../../../control/config/load.js';
import type { ProxyOptions } from '../../../control/config/options.js';

const env = { hostname: () => 'node-a', objectDir: '/opt/switchyard/bpf' };
function load(...argv: string[]) {
  const loaded = loadOptions(argv, env);
  if ('exit' in loaded) throw new Error(`unexpected early exit for ${argv.join(' ')}`);
  return loaded;
}

function flagError(argv: string[]): ConfigError {
  try {
    parseFlags(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('ERR_CONFIG_FLAG');
    return e as ConfigError;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

// flag, value as written, where it lands, what it becomes
const VALUE_FLAGS: [string, string, (o: ProxyOptions) => unknown, unknown][] = [
  ['proxy-mode', 'iptables', (o) => o.mode, 'iptables'],
  ['kubeconfig', '/var/lib/kube-proxy/kubeconfig.conf', (o) => o.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf'],
  ['master', 'https://10.0.0.1:6443', (o) => o.master, 'https://10.0.0.1:6443'],
  ['hostname-override', 'Worker-1.Example', (o) => o.hostname, 'worker-1.example'],
  ['cluster-cidr', '10.244.0.0/16,fd00:10:244::/56', (o) => o.clusterCIDRs, ['10.244.0.0/16', 'fd00:10:244::/56']],
  ['nodeport-addresses', '10.0.0.0/8,fd00::/64', (o) => o.nodePortAddresses, ['10.0.0.0/8', 'fd00::/64']],
  ['healthz-bind-address', '127.0.0.1:10266', (o) => o.healthzBindAddress, '127.0.0.1:10266'],
  ['metrics-bind-address', '[::]:9100', (o) => o.metricsBindAddress, '[::]:9100'],
  ['healthz-port', '0', (o) => o.healthzBindAddress, ''],
  ['metrics-port', '9101', (o) => o.metricsBindAddress, '127.0.0.1:9101'],
  ['iptables-sync-period', '1m0s', (o) => o.iptables.syncPeriodMs, 60_000],
  ['iptables-min-sync-period', '500ms', (o) => o.iptables.minSyncPeriodMs, 500],
  ['iptables-masquerade-bit', '15', (o) => o.iptables.masqueradeBit, 15],
  ['ipvs-scheduler', 'wlc', (o) => o.ipvs.scheduler, 'wlc'],
  ['ipvs-sync-period', '1h2m', (o) => o.ipvs.syncPeriodMs, 3_720_000],
  ['ipvs-min-sync-period', '2s', (o) => o.ipvs.minSyncPeriodMs, 2000],
  ['ipvs-exclude-cidrs', '10.0.0.0/8,192.168.0.0/16', (o) => o.ipvs.excludeCIDRs, ['10.0.0.0/8', '192.168.0.0/16']],
  ['ipvs-tcp-timeout', '15m', (o) => o.ipvs.tcpTimeoutMs, 900_000],
  ['ipvs-tcpfin-timeout', '2m', (o) => o.ipvs.tcpFinTimeoutMs, 120_000],
  ['ipvs-udp-timeout', '300s', (o) => o.ipvs.udpTimeoutMs, 300_000],
  ['v', '3', (o) => o.logLevel, 'debug'],
  ['logging-format', 'json', (o) => o.logFormat, 'json'],
  ['manifests', '/etc/switchyard/cluster.yaml', (o) => o.manifests, '/etc/switchyard/cluster.yaml'],
  ['service-proxy-name', 'switchyard', (o) => o.serviceProxyName, 'switchyard'],
  ['bpffs-root', '/sys/fs/bpf/sy-test', (o) => o.ebpf.bpffsRoot, '/sys/fs/bpf/sy-test'],
  ['bpf-object-dir', '/usr/lib/switchyard/bpf', (o) => o.ebpf.objectDir, '/usr/lib/switchyard/bpf'],
  ['devices', 'eth0,veth+', (o) => o.ebpf.devices, ['eth0', 'veth+']],
  ['bpf-lb-acceleration', 'native', (o) => o.ebpf.acceleration, 'native'],
  ['bpf-lb-algorithm', 'maglev', (o) => o.ebpf.lbAlgorithm, 'maglev'],
  ['bpf-lb-maglev-table-size', '251', (o) => o.ebpf.maglevTableSize, 251],
  ['cgroup-root', '/sys/fs/cgroup/switchyard.slice', (o) => o.ebpf.cgroupRoot, '/sys/fs/cgroup/switchyard.slice'],
  ['network-name', 'Calico', (o) => o.winkernel.networkName, 'Calico'],
  ['proxy-port-range', '30000-30100', (o) => o.userspace.portRange, '30000-30100'],
  ['udp-timeout', '2s', (o) => o.userspace.udpTimeoutMs, 2000],
  ['source-vip', '10.244.1.254', (o) => o.winkernel.sourceVip, '10.244.1.254'],
  ['root-hnsendpoint-name', 'cbr1', (o) => o.winkernel.rootHnsEndpointName, 'cbr1'],
  [
    'bpf-map-sizes',
    'services=65536,sy_backends_v2=262144',
    (o) => o.ebpf.mapSizes,
    { sy_services_v3: 65536, sy_backends_v2: 262144 },
  ],
];

// flag, where it lands, its default
const BOOL_FLAGS: [string, (o: ProxyOptions) => boolean, boolean][] = [
  ['masquerade-all', (o) => o.masqueradeAll, false],
  ['cleanup', (o) => o.cleanup, false],
  ['ipvs-strict-arp', (o) => o.ipvs.strictARP, false],
  ['iptables-localhost-nodeports', (o) => o.iptables.localhostNodePorts, true],
  ['enable-dsr', (o) => o.winkernel.enableDSR, false],
  ['forward-healthcheck-vip', (o) => o.winkernel.forwardHealthCheckVip, false],
];

// A valid value for each type of ignored flag.
const SAMPLE_BY_TYPE: Record<string, string> = {
  int32: '5',
  float32: '20',
  duration: '10s',
  string: 'x',
  strings: '10.0.0.0/8,primary',
  mapStringBool: 'SomeGate=true,Other=false',
  ip: '10.0.0.1',
  LocalMode: 'InterfaceNamePrefix',
  quantity: '64Ki',
  'pattern=N,...': 'proxier=4',
};

describe('flags with values', () => {
  it.each(VALUE_FLAGS)('--%s=%s', (name, raw, get, want) => {
    expect(get(load(`--${name}=${raw}`).options)).toEqual(want);
  });

  it.each(VALUE_FLAGS)('--%s %s', (name, raw, get, want) => {
    expect(get(load(`--${name}`, raw).options)).toEqual(want);
  });

  it('-v has its shorthand forms', () => {
    for (const argv of [['-v', '4'], ['-v=4'], ['-v4'], ['--v=4'], ['--v', '4']]) {
      expect(load(...argv).options.logLevel, argv.join(' ')).toBe('trace');
    }
  });

  it.each([
    [0, 'info'],
    [1, 'info'],
    [2, 'debug'],
    [3, 'debug'],
    [4, 'trace'],
    [10, 'trace'],
  ])('-v=%i logs at %s', (level, want) => {
    expect(load(`-v=${level}`).options.logLevel).toBe(want);
  });

  it('treats "_" in names as "-", as kube-proxy does', () => {
    expect(load('--hostname_override=node-b').options.hostname).toBe('node-b');
  });

  it('appends repeated list flags and lets the last scalar win', () => {
    const o = load(
      '--ipvs-exclude-cidrs=10.0.0.0/8',
      '--ipvs-exclude-cidrs',
      '172.16.0.0/12',
      '--proxy-mode=ipvs',
      '--proxy-mode=iptables',
    ).options;
    expect(o.ipvs.excludeCIDRs).toEqual(['10.0.0.0/8', '172.16.0.0/12']);
    expect(o.mode).toBe('iptables');
  });

  it('takes the next argument as the value even if it starts with a dash, as pflag does', () => {
    expect(parseFlags(['--service-proxy-name', '-odd']).given.get('service-proxy-name')?.value).toBe('-odd');
  });

  it('reads "" as the default for --proxy-mode and as "not set" for paths', () => {
    const o = load('--proxy-mode=', '--kubeconfig=', '--cgroup-root=').options;
    expect(o.mode).toBe('ebpf');
    expect(o.kubeconfig).toBeUndefined();
    expect(o.ebpf.cgroupRoot).toBeUndefined();
  });

  it('normalises bind addresses: a bare IP gets the default port, "" disables', () => {
    expect(load('--healthz-bind-address=10.1.2.3').options.healthzBindAddress).toBe('10.1.2.3:10256');
    expect(load('--metrics-bind-address', '::').options.metricsBindAddress).toBe('[::]:10249');
    expect(load('--metrics-bind-address=').options.metricsBindAddress).toBe('');
    expect(load('--healthz-bind-address=0.0.0.0:0').options.healthzBindAddress).toBe('0.0.0.0:0');
  });

  it('maps an empty --ipvs-scheduler to rr', () => {
    expect(load('--ipvs-scheduler=').options.ipvs.scheduler).toBe('rr');
  });
});

describe('boolean flags', () => {
  it.each(BOOL_FLAGS)('--%s as --flag, --flag=true and --flag=false', (name, get, dflt) => {
    expect(get(load().options)).toBe(dflt);
    expect(get(load(`--${name}`).options)).toBe(true);
    expect(get(load(`--${name}=true`).options)).toBe(true);
    expect(get(load(`--${name}=false`).options)).toBe(false);
    expect(get(load(`--${name}=0`).options)).toBe(false);
    expect(get(load(`--${name}=T`).options)).toBe(true);
  });

  it('does not take the next argument as a boolean value', () => {
    expect(flagError(['--cleanup', 'false']).message).toMatch(/takes no arguments.*--cleanup=false/);
  });
});

describe('general flags', () => {
  it('--help stops parsing, like pflag', () => {
    expect(parseFlags(['--help', '--no-such-flag']).help).toBe(true);
    expect(parseFlags(['-h']).help).toBe(true);
    flagError(['--no-such-flag', '--help']);
  });

  it('loadOptions answers --help and --version without reading --config', () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(loadOptions(['--config=/nonexistent', '--help'], env)).toEqual({ output: helpText(), exit: 0 });
    expect(loadOptions(['--version', '--config=/nonexistent'], env)).toEqual({
      output: `switchyard v${packageVersion()}\n`,
      exit: 0,
    });
    expect(loadOptions(['--version=raw'], env)).toEqual({ output: `${packageVersion()}\n`, exit: 0 });
  });

  it('--version and --version=raw', () => {
    expect(parseFlags([]).version).toBe(false);
    expect(parseFlags(['--version']).version).toBe('true');
    expect(parseFlags(['--version=raw']).version).toBe('raw');
    expect(parseFlags(['--version=false']).version).toBe(false);
  });

  it('--config names the file', () => {
    expect(parseFlags(['--config', '/etc/kube-proxy/config.conf']).given.get('config')?.value).toBe(
      '/etc/kube-proxy/config.conf',
    );
  });

  it('every flag in the table is covered here', () => {
    const covered = new Set([
      ...VALUE_FLAGS.map((c) => c[0]),
      ...BOOL_FLAGS.map((c) => c[0]),
      'help',
      'version',
      'config',
    ]);
    const missing = FLAGS.filter((f) => !f.ignored && !covered.has(f.name)).map((f) => f.name);
    expect(missing).toEqual([]);
  });
});

describe('unknown flags', () => {
  it.each([
    ['--proxy-mod=ipvs', '--proxy-mod', '--proxy-mode'],
    ['--hostname-overide', '--hostname-overide', '--hostname-override'],
    ['--iptables-sync=1s', '--iptables-sync', '--iptables-sync-period'],
    ['--masquerade_al', '--masquerade_al', '--masquerade-all'],
    ['--bpf-map-size=services=1', '--bpf-map-size', '--bpf-map-sizes'],
  ])('%s: names %s and suggests %s', (arg, named, suggestion) => {
    const e = flagError([arg]);
    expect(e.message).toContain(`unknown flag: ${named}`);
    expect(e.message).toContain(`did you mean ${suggestion}?`);
  });

  it('suggests nothing when nothing is close', () => {
    const e = flagError(['--frobnicate']);
    expect(e.message).toMatch(/^unknown flag: --frobnicate; run switchyard --help/);
  });

  it('points single-dash long flags at the double-dash form', () => {
    expect(flagError(['-proxy-mode=ipvs']).message).toMatch(
      /unknown shorthand flag: 'p' in -proxy-mode=ipvs \(did you mean --proxy-mode\?\)/,
    );
  });

  it('refuses positional arguments and a missing value', () => {
    expect(flagError(['ipvs']).message).toMatch(/takes no arguments, got "ipvs"/);
    expect(flagError(['--', 'x']).message).toMatch(/takes no arguments/);
    expect(flagError(['--kubeconfig']).message).toBe('flag needs an argument: --kubeconfig (string)');
    expect(flagError(['-v']).message).toMatch(/flag needs an argument: -v/);
  });
});

describe('invalid values', () => {
  it.each([
    ['--iptables-sync-period=30', /"30" for --iptables-sync-period: missing unit; expected a duration/],
    ['--iptables-sync-period=0s', /"0s" for --iptables-sync-period: expected a duration greater than 0/],
    ['--ipvs-min-sync-period=-1s', /"-1s" for --ipvs-min-sync-period: expected a non-negative duration/],
    ['--iptables-masquerade-bit=32', /"32" for --iptables-masquerade-bit: expected an integer within \[0, 31\]/],
    ['--healthz-bind-address=0.0.0.0:70000', /"0.0.0.0:70000" for --healthz-bind-address: .*port must be 0-65535/],
    ['--metrics-bind-address=localhost:10249', /"localhost:10249" for --metrics-bind-address: expected IP:port/],
    ['--cluster-cidr=10.0.0.0/33', /"10.0.0.0\/33" for --cluster-cidr: expected a CIDR block/],
    ['--cluster-cidr=10.0.0.0/8,10.1.0.0/16', /two CIDRs must be a dual-stack pair/],
    ['--ipvs-exclude-cidrs=10.0.0.1', /"10.0.0.1" for --ipvs-exclude-cidrs: expected a CIDR block/],
    [
      '--ipvs-scheduler=fifo',
      /"fifo" for --ipvs-scheduler: expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh/,
    ],
    ['--proxy-mode=nftables', /"nftables" for --proxy-mode: the nftables mode is not supported by switchyard/],
    ['--proxy-mode=fast', /"fast" for --proxy-mode: expected one of ebpf, iptables, ipvs, kernelspace, userspace/],
    ['-v=high', /"high" for --v: expected a non-negative integer/],
    ['--logging-format=yaml', /"yaml" for --logging-format: expected text or json/],
    ['--bpf-lb-algorithm=hash', /"hash" for --bpf-lb-algorithm: expected random or maglev/],
    ['--bpf-lb-maglev-table-size=1000', /"1000" for --bpf-lb-maglev-table-size: expected one of 251, 509/],
    ['--bpf-lb-acceleration=fast', /"fast" for --bpf-lb-acceleration: expected disabled, best-effort or native/],
    ['--masquerade-all=maybe', /"maybe" for --masquerade-all: expected true or false/],
    ['--devices=eth0,a-name-far-too-long', /"a-name-far-too-long"/],
    ['--bpf-map-sizes=services', /expected name=size pairs/],
    ['--proxy-port-range=30100-30000', /"30100-30000" for --proxy-port-range: .*the first no greater than the last/],
    [
      '--proxy-port-range=ports',
      /"ports" for --proxy-port-range: .*expected begin-end, a single port, or begin\+offset/,
    ],
    ['--udp-timeout=0s', /"0s" for --udp-timeout: expected a duration greater than 0/],
    ['--bpf-map-sizes=services=0', /sizes from 1 to 4294967295/],
    ['--bpffs-root=sys/fs/bpf', /"sys\/fs\/bpf" for --bpffs-root: expected an absolute path/],
    ['--oom-score-adj=lots', /"lots" for --oom-score-adj: expected an integer/],
    ['--feature-gates=Foo', /expected key=true\|false pairs/],
  ])('%s', (arg, message) => {
    const e = flagError([arg]);
    expect(e.message).toMatch(/^invalid value "/);
    expect(e.message).toMatch(message);
  });
});

describe('kube-proxy flags we do not implement', () => {
  const ignored = FLAGS.filter((f) => f.ignored);

  it('are the ones the brief and kube-proxy list', () => {
    expect(ignored.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'oom-score-adj',
        'conntrack-max-per-core',
        'conntrack-min',
        'conntrack-tcp-timeout-established',
        'conntrack-tcp-timeout-close-wait',
        'conntrack-tcp-be-liberal',
        'conntrack-udp-timeout',
        'conntrack-udp-timeout-stream',
        'profiling',
        'detect-local-mode',
        'bind-address',
        'bind-address-hard-fail',
        'feature-gates',
        'kube-api-qps',
        'kube-api-burst',
        'kube-api-content-type',
        'config-sync-period',
        'pod-bridge-interface',
        'pod-interface-name-prefix',
        'show-hidden-metrics-for-version',
        'write-config-to',
        'init-only',
        'windows-service',
      ]),
    );
  });

  it.each(ignored.map((f) => [f.name, f] as const))('--%s is accepted with a note', (name, def) => {
    const argv = def.bool ? [`--${name}`] : [`--${name}=${SAMPLE_BY_TYPE[def.type!]}`];
    const { options, notes } = load(...argv);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(new RegExp(`^--${name}\\b.* is accepted for kube-proxy compatibility but ignored: `));
    expect(options).toEqual(load().options);
  });

  it('a kube-proxy command line from a real DaemonSet still starts', () => {
    const { options, notes } = load(
      '--kubeconfig=/var/lib/kube-proxy/kubeconfig.conf',
      '--hostname-override=Node-7',
      '--proxy-mode=ipvs',
      '--cluster-cidr=10.244.0.0/16',
      '--conntrack-max-per-core=0',
      '--oom-score-adj=-998',
      '--v=2',
      '--feature-gates=SomeGate=true',
      '--masquerade-all',
    );
    expect(options).toMatchObject({
      mode: 'ipvs',
      hostname: 'node-7',
      clusterCIDRs: ['10.244.0.0/16'],
      masqueradeAll: true,
      logLevel: 'debug',
    });
    expect(notes.map((n) => n.split(' ')[0])).toEqual([
      '--conntrack-max-per-core=0',
      '--oom-score-adj=-998',
      '--feature-gates=SomeGate=true',
    ]);
  });
});

describe('--help', () => {
  const text = helpText();

  it('lists every flag with its type and default', () => {
    for (const f of FLAGS) expect(text, f.name).toMatch(new RegExp(`--${f.name}\\b`));
    expect(text).toContain('-v, --v Level');
    expect(text).toContain('-h, --help');
    expect(text).toMatch(/--iptables-sync-period duration +.*/);
    expect(text).toContain('(default 0.0.0.0:10256)');
    expect(text).toContain('(default 127.0.0.1:10249)');
    expect(text).toContain('(default /sys/fs/bpf/switchyard)');
    expect(text).toMatch(/--bpf-object-dir string[\s\S]*\(default \/\S+\/build\/bpf\)/);
  });

  it('keeps lines within 100 columns', () => {
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });
});
