// Every flag `switchyard` accepts: kube-proxy's where kube-proxy has one (same
// name, same syntax, same default), our own additions, and kube-proxy flags we
// accept only so that existing kube-proxy command lines keep working. The
// parser (flags.ts) and --help are generated from this one table.
import { isIP } from 'node:net';
import { DURATION_EXAMPLES, parseGoDuration } from './duration.js';
import { ValueError } from './errors.js';
import { defaultObjectDir } from './install.js';
import type { ProxyOptions } from './options.js';
import * as v from './values.js';
import { MODES } from '../proxiers/modes.js';
import { parsePortRange } from '../proxiers/userspace/ports.js';

export type FlagSection = 'general' | 'kube-proxy' | 'switchyard' | 'ignored';

export interface FlagDef<T = unknown> {
  name: string;
  short?: string;
  /** pflag's type name, shown by --help; absent for booleans. */
  type?: string;
  /** The default as --help shows it. */
  default?: string | (() => string);
  /** What the flag does, for --help; ignored flags show why they are ignored instead. */
  usage?: string;
  section: FlagSection;
  /** Booleans take no separate value: `--flag` or `--flag=false`, never `--flag false` (pflag). */
  bool?: boolean;
  parse(raw: string): T;
  /** How a repeated flag combines with the earlier value (lists append, as pflag's slices do); else the last wins. */
  merge?(earlier: T, later: T): T;
  /** Puts the value into the options; absent for flags the loader handles itself (--config, --help) or ignores. */
  apply?(o: ProxyOptions, value: T): void;
  /**
   * The KubeProxyConfiguration field that replaces this flag when --config is
   * given: kube-proxy reads such flags only without a config file.
   */
  configField?: string;
  /** Why the flag is accepted yet has no effect; it becomes a note the daemon logs. */
  ignored?: string;
}

// The table holds flags of many value types; each entry is checked against its
// own T here, then stored without it.
const flag = <T>(def: FlagDef<T>) => def as unknown as FlagDef;

const HEALTHZ_PORT = 10256;
const METRICS_PORT = 10249;

const duration = (raw: string) => {
  const ms = parseGoDuration(raw);
  if (ms < 0) throw new ValueError(`expected a non-negative duration (${DURATION_EXAMPLES})`);
  return ms;
};
const parsePort = (raw: string) => {
  const n = v.parseInt32(raw);
  if (n < 0 || n > 65535) throw new ValueError('expected a port number 0-65535');
  return n;
};
const positiveDuration = (raw: string) => {
  const ms = parseGoDuration(raw);
  if (ms <= 0) throw new ValueError(`expected a duration greater than 0 (${DURATION_EXAMPLES})`);
  return ms;
};
const append = <T>(a: T[], b: T[]) => [...a, ...b];
const string = (raw: string) => raw;
// Paths where an empty value means "not set", as in kube-proxy.
const trimmed = (raw: string) => raw.trim();

const NOT_CONNTRACK = 'switchyard does not tune the kernel conntrack table (the ebpf mode tracks flows in its own map)';
const NOT_CLIENT = 'switchyard uses its Kubernetes client defaults';
const NOT_LOG = 'switchyard logs through pino; only -v and --logging-format apply';

export const FLAGS: readonly FlagDef[] = [
  // General.
  flag({
    name: 'help',
    short: 'h',
    bool: true,
    section: 'general',
    usage: 'Show this help and exit.',
    parse: v.parseBool,
  }),
  flag<string>({
    name: 'version',
    section: 'general',
    usage: 'Print the version and exit (--version=raw prints only the version).',
    // pflag's NoOptDefVal: `--version` alone means true, and `--version raw` is not read as a value.
    bool: true,
    parse: (raw) => {
      if (raw === 'raw') return 'raw';
      return v.parseBool(raw) ? 'true' : 'false';
    },
  }),
  flag({
    name: 'config',
    type: 'string',
    section: 'general',
    usage:
      'Path to a KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1, YAML or JSON). As with kube-proxy, the file replaces the flags that have a field in it.',
    parse: trimmed,
  }),
  flag<boolean>({
    name: 'cleanup',
    bool: true,
    section: 'general',
    usage: 'Remove what the selected mode programs (BPF maps and links, iptables rules, IPVS services) and exit.',
    parse: v.parseBool,
    apply: (o, x) => (o.cleanup = x),
  }),

  // kube-proxy's flags, with its names, syntax and defaults.
  flag({
    name: 'proxy-mode',
    type: 'ProxyMode',
    default: 'ebpf',
    section: 'kube-proxy',
    configField: 'mode',
    usage: `Which proxy mode to use: ${MODES.map((m) => `'${m.name}' (${m.summary}${'planned' in m ? `; ${m.planned}` : ''})`).join(', ')}. kube-proxy's 'nftables' is not supported.`,
    parse: v.parseMode,
    apply: (o, x) => (o.mode = x),
  }),
  flag({
    name: 'kubeconfig',
    type: 'string',
    section: 'kube-proxy',
    configField: 'clientConnection.kubeconfig',
    usage: 'Path to a kubeconfig file with the API server address and credentials (--master overrides the address).',
    parse: trimmed,
    apply: (o, x) => (o.kubeconfig = x || undefined),
  }),
  flag({
    name: 'master',
    type: 'string',
    section: 'kube-proxy',
    usage: 'The address of the Kubernetes API server (overrides the one in the kubeconfig).',
    parse: trimmed,
    apply: (o, x) => (o.master = x || undefined),
  }),
  flag({
    name: 'hostname-override',
    type: 'string',
    section: 'kube-proxy',
    usage: "The name of the Node this proxy runs on, if not the machine's host name.",
    parse: string,
  }),
  flag({
    name: 'cluster-cidr',
    type: 'string',
    section: 'kube-proxy',
    configField: 'clusterCIDR',
    usage:
      'The CIDR range of the pods in the cluster (a dual-stack pair may be given, comma-separated). Traffic to a service from outside it is masqueraded.',
    parse: v.parseClusterCidrs,
    apply: (o, x) => (o.clusterCIDRs = x),
  }),
  flag({
    name: 'masquerade-all',
    bool: true,
    section: 'kube-proxy',
    configField: 'iptables.masqueradeAll',
    usage: 'SNAT all traffic sent to service cluster IPs.',
    parse: v.parseBool,
    apply: (o, x) => (o.masqueradeAll = x),
  }),
  flag({
    name: 'healthz-bind-address',
    type: 'ipport',
    default: `0.0.0.0:${HEALTHZ_PORT}`,
    section: 'kube-proxy',
    configField: 'healthzBindAddress',
    usage: 'IP address and port for the health check server. Set empty to disable.',
    parse: (raw) => v.parseBindAddress(raw, HEALTHZ_PORT),
    apply: (o, x) => (o.healthzBindAddress = x),
  }),
  flag({
    name: 'metrics-bind-address',
    type: 'ipport',
    default: `127.0.0.1:${METRICS_PORT}`,
    section: 'kube-proxy',
    configField: 'metricsBindAddress',
    usage:
      'IP address and port for the metrics server and the ops API (use 0.0.0.0:10249 or [::]:10249 for all interfaces). Set empty to disable.',
    parse: (raw) => v.parseBindAddress(raw, METRICS_PORT),
    apply: (o, x) => (o.metricsBindAddress = x),
  }),
  flag({
    name: 'healthz-port',
    type: 'int32',
    section: 'kube-proxy',
    configField: 'healthzBindAddress',
    usage: 'Deprecated: the port of --healthz-bind-address; 0 disables the health check server.',
    parse: parsePort,
    apply: (o, x) => (o.healthzBindAddress = v.withPort(o.healthzBindAddress, x, '0.0.0.0')),
  }),
  flag({
    name: 'metrics-port',
    type: 'int32',
    section: 'kube-proxy',
    configField: 'metricsBindAddress',
    usage: 'Deprecated: the port of --metrics-bind-address; 0 disables the metrics server.',
    parse: parsePort,
    apply: (o, x) => (o.metricsBindAddress = v.withPort(o.metricsBindAddress, x, '127.0.0.1')),
  }),
  flag({
    name: 'iptables-sync-period',
    type: 'duration',
    default: '30s',
    section: 'kube-proxy',
    configField: 'iptables.syncPeriod',
    usage:
      'The longest wait between two syncs of the iptables rules (e.g. 5s, 1m, 2h22m); must be greater than 0. As in kube-proxy, a periodic sync carries what changed; a full one runs at start-up, after a failure and once an hour. In the ebpf, userspace and kernelspace modes it sets their period, as it does for kube-proxy modes other than ipvs.',
    parse: positiveDuration,
    apply: (o, x) => (o.iptables.syncPeriodMs = x),
  }),
  flag({
    name: 'iptables-min-sync-period',
    type: 'duration',
    default: '1s',
    section: 'kube-proxy',
    configField: 'iptables.minSyncPeriod',
    usage:
      'Minimum interval between iptables rule syncs; 0 syncs on every change. Also the minimum for the ebpf, userspace and kernelspace modes (ebpf default 0: changes within one event-loop turn coalesce).',
    parse: duration,
    apply: (o, x) => (o.iptables.minSyncPeriodMs = x),
  }),
  flag({
    name: 'iptables-masquerade-bit',
    type: 'int32',
    default: '14',
    section: 'kube-proxy',
    configField: 'iptables.masqueradeBit',
    usage:
      'The bit of the fwmark space that marks packets needing SNAT (iptables and ipvs modes). Must be within [0, 31].',
    parse: (raw) => {
      const n = v.parseInt32(raw);
      if (n < 0 || n > 31) throw new ValueError('expected an integer within [0, 31]');
      return n;
    },
    apply: (o, x) => (o.iptables.masqueradeBit = x),
  }),
  flag({
    name: 'iptables-localhost-nodeports',
    bool: true,
    default: 'true',
    section: 'kube-proxy',
    configField: 'iptables.localhostNodePorts',
    usage: 'If false, NodePort services cannot be reached through localhost (iptables mode, IPv4).',
    parse: v.parseBool,
    apply: (o, x) => (o.iptables.localhostNodePorts = x),
  }),
  flag({
    name: 'ipvs-scheduler',
    type: 'string',
    section: 'kube-proxy',
    configField: 'ipvs.scheduler',
    usage: `The IPVS scheduler in ipvs mode: ${v.IPVS_SCHEDULERS.join(', ')}; empty means rr.`,
    parse: v.parseScheduler,
    apply: (o, x) => (o.ipvs.scheduler = x),
  }),
  flag({
    name: 'ipvs-sync-period',
    type: 'duration',
    default: '30s',
    section: 'kube-proxy',
    configField: 'ipvs.syncPeriod',
    usage: 'The longest wait between two syncs of the IPVS rules; must be greater than 0.',
    parse: positiveDuration,
    apply: (o, x) => (o.ipvs.syncPeriodMs = x),
  }),
  flag({
    name: 'ipvs-min-sync-period',
    type: 'duration',
    section: 'kube-proxy',
    configField: 'ipvs.minSyncPeriod',
    usage: 'Minimum interval between IPVS rule syncs; 0 syncs on every change.',
    parse: duration,
    apply: (o, x) => (o.ipvs.minSyncPeriodMs = x),
  }),
  flag({
    name: 'ipvs-exclude-cidrs',
    type: 'strings',
    section: 'kube-proxy',
    configField: 'ipvs.excludeCIDRs',
    usage: 'Comma-separated CIDRs whose IPVS rules the ipvs mode leaves alone when cleaning up.',
    parse: v.parseCidrList,
    merge: append,
    apply: (o, x) => (o.ipvs.excludeCIDRs = x),
  }),
  flag({
    name: 'ipvs-strict-arp',
    bool: true,
    section: 'kube-proxy',
    configField: 'ipvs.strictARP',
    usage: 'Set arp_ignore=1 and arp_announce=2 so the node does not answer ARP for service addresses.',
    parse: v.parseBool,
    apply: (o, x) => (o.ipvs.strictARP = x),
  }),
  flag({
    name: 'ipvs-tcp-timeout',
    type: 'duration',
    section: 'kube-proxy',
    configField: 'ipvs.tcpTimeout',
    usage: 'Idle timeout for IPVS TCP connections; 0 leaves the kernel value.',
    parse: duration,
    apply: (o, x) => (o.ipvs.tcpTimeoutMs = x),
  }),
  flag({
    name: 'ipvs-tcpfin-timeout',
    type: 'duration',
    section: 'kube-proxy',
    configField: 'ipvs.tcpFinTimeout',
    usage: 'Timeout for IPVS TCP connections after a FIN; 0 leaves the kernel value.',
    parse: duration,
    apply: (o, x) => (o.ipvs.tcpFinTimeoutMs = x),
  }),
  flag({
    name: 'ipvs-udp-timeout',
    type: 'duration',
    section: 'kube-proxy',
    configField: 'ipvs.udpTimeout',
    usage: 'Timeout for IPVS UDP flows; 0 leaves the kernel value.',
    parse: duration,
    apply: (o, x) => (o.ipvs.udpTimeoutMs = x),
  }),
  flag({
    name: 'v',
    short: 'v',
    type: 'Level',
    default: '0',
    section: 'kube-proxy',
    usage: 'Log verbosity (klog levels): 0-1 info, 2-3 debug, 4 and above trace.',
    parse: v.parseUint32,
    apply: (o, x) => (o.logLevel = v.logLevelForVerbosity(x)),
  }),
  flag({
    name: 'logging-format',
    type: 'string',
    default: 'text',
    section: 'kube-proxy',
    usage: 'Log format: text or json.',
    parse: v.parseLogFormat,
    apply: (o, x) => (o.logFormat = x),
  }),

  // Switchyard's own.
  flag({
    name: 'manifests',
    type: 'string',
    section: 'switchyard',
    usage:
      'Standalone mode: read Services, EndpointSlices and Nodes from this file or folder (YAML or JSON) and follow its changes, instead of an API server. Excludes --kubeconfig and --master.',
    parse: trimmed,
    apply: (o, x) => (o.manifests = x || undefined),
  }),
  flag({
    name: 'service-proxy-name',
    type: 'string',
    section: 'switchyard',
    usage:
      'Serve the services labelled service.kubernetes.io/service-proxy-name with this value; empty serves the services without the label.',
    parse: string,
    apply: (o, x) => (o.serviceProxyName = x.trim()),
  }),
  flag({
    name: 'bpffs-root',
    type: 'string',
    default: '/sys/fs/bpf/switchyard',
    section: 'switchyard',
    usage: 'bpffs folder where the ebpf mode pins its maps and links, so they survive a restart.',
    parse: v.parseAbsolutePath,
    apply: (o, x) => (o.ebpf.bpffsRoot = x),
  }),
  flag({
    name: 'bpf-object-dir',
    type: 'string',
    default: defaultObjectDir,
    section: 'switchyard',
    usage: 'Folder with the compiled BPF objects (tc.bpf.o, sock.bpf.o).',
    parse: v.parsePath,
    apply: (o, x) => (o.ebpf.objectDir = x),
  }),
  flag({
    name: 'devices',
    type: 'strings',
    section: 'switchyard',
    usage:
      'Comma-separated interfaces to attach the tc programs to: names, or prefixes ending in "+" (e.g. eth0,veth+). Default: every non-loopback interface, including ones added later.',
    parse: v.parseDevices,
    merge: append,
    apply: (o, x) => (o.ebpf.devices = x),
  }),
  flag({
    name: 'bpf-lb-acceleration',
    type: 'string',
    default: 'best-effort',
    section: 'switchyard',
    usage:
      "XDP on the node's uplinks (interfaces with a global IPv4 address) for traffic from outside the cluster: best-effort (native XDP where the driver has it and no other program holds the hook, tc ingress elsewhere), native (an uplink without it is refused: nothing attached there, logged), or disabled (tc ingress everywhere).",
    parse: v.parseLbAcceleration,
    apply: (o, x) => (o.ebpf.acceleration = x),
  }),
  flag({
    name: 'bpf-lb-algorithm',
    type: 'string',
    default: 'random',
    section: 'switchyard',
    usage:
      'How the ebpf mode picks the backend of a new flow to an external address (NodePort, load-balancer IP, externalIP): random, or maglev (consistent hashing of the flow, the same on every node, so a client reaches the same backend whichever node receives it). ClusterIPs are always random, as Cilium.',
    parse: v.parseLbAlgorithm,
    apply: (o, x) => (o.ebpf.lbAlgorithm = x),
  }),
  flag({
    name: 'bpf-lb-maglev-table-size',
    type: 'string',
    default: '16381',
    section: 'switchyard',
    usage:
      "Entries of each Maglev table: one of 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521 (more than 100 × a service's backends keeps disruption near 1%). Each external address with maglev takes this many sy_slots entries.",
    parse: v.parseMaglevTableSize,
    apply: (o, x) => (o.ebpf.maglevTableSize = x),
  }),
  flag({
    name: 'cgroup-root',
    type: 'string',
    section: 'switchyard',
    usage:
      "cgroup v2 folder whose processes get the socket hooks (service translation at connect/sendmsg for the node's own traffic). Unset: no socket hooks.",
    parse: (raw) => (raw.trim() === '' ? '' : v.parseAbsolutePath(raw)),
    apply: (o, x) => (o.ebpf.cgroupRoot = x || undefined),
  }),
  flag({
    name: 'bpf-map-sizes',
    type: 'mapStringInt',
    section: 'switchyard',
    usage: 'Capacities of the BPF maps, e.g. services=65536,backends=262144 (names with or without the "sy_" prefix).',
    parse: v.parseMapSizes,
    merge: (a, b) => ({ ...a, ...b }),
    apply: (o, x) => (o.ebpf.mapSizes = x),
  }),

  // kube-proxy flags accepted so that its command lines keep working; they have no effect.
  flag({
    name: 'bind-address',
    type: 'ip',
    default: '0.0.0.0',
    section: 'ignored',
    configField: 'bindAddress',
    ignored: 'switchyard takes the node IPs from the Node object',
    parse: (raw) => {
      if (isIP(raw.trim())) return raw.trim();
      throw new ValueError('expected an IP address');
    },
  }),
  flag({
    name: 'bind-address-hard-fail',
    bool: true,
    section: 'ignored',
    configField: 'bindAddressHardFail',
    ignored: 'switchyard always fails when it cannot bind its servers',
    parse: v.parseBool,
  }),
  flag({
    name: 'profiling',
    bool: true,
    section: 'ignored',
    configField: 'enableProfiling',
    ignored: 'switchyard serves no pprof handlers (use node --inspect)',
    parse: v.parseBool,
  }),
  flag({
    name: 'show-hidden-metrics-for-version',
    type: 'string',
    section: 'ignored',
    configField: 'showHiddenMetricsForVersion',
    ignored: 'switchyard has no hidden metrics',
    parse: string,
  }),
  flag({
    name: 'feature-gates',
    type: 'mapStringBool',
    section: 'ignored',
    configField: 'featureGates',
    ignored: "switchyard has none of kube-proxy's feature gates",
    parse: v.parseMapStringBool,
    merge: (a, b) => ({ ...a, ...b }),
  }),
  flag({
    name: 'kube-api-content-type',
    type: 'string',
    default: 'application/vnd.kubernetes.protobuf',
    section: 'ignored',
    configField: 'clientConnection.contentType',
    ignored: NOT_CLIENT,
    parse: string,
  }),
  flag({
    name: 'kube-api-qps',
    type: 'float32',
    default: '5',
    section: 'ignored',
    configField: 'clientConnection.qps',
    ignored: NOT_CLIENT,
    parse: v.parseFloat32,
  }),
  flag({
    name: 'kube-api-burst',
    type: 'int32',
    default: '10',
    section: 'ignored',
    configField: 'clientConnection.burst',
    ignored: NOT_CLIENT,
    parse: v.parseInt32,
  }),
  flag({
    name: 'config-sync-period',
    type: 'duration',
    default: '15m0s',
    section: 'ignored',
    configField: 'configSyncPeriod',
    ignored: 'switchyard watches the API server and does not re-list on a timer',
    parse: duration,
  }),
  flag({
    name: 'detect-local-mode',
    type: 'LocalMode',
    section: 'ignored',
    configField: 'detectLocalMode',
    ignored: 'switchyard tells local traffic by --cluster-cidr',
    parse: string,
  }),
  flag({
    name: 'pod-bridge-interface',
    type: 'string',
    section: 'ignored',
    configField: 'detectLocal.bridgeInterface',
    ignored: 'switchyard tells local traffic by --cluster-cidr',
    parse: string,
  }),
  flag({
    name: 'pod-interface-name-prefix',
    type: 'string',
    section: 'ignored',
    configField: 'detectLocal.interfaceNamePrefix',
    ignored: 'switchyard tells local traffic by --cluster-cidr',
    parse: string,
  }),
  flag({
    name: 'nodeport-addresses',
    type: 'strings',
    section: 'kube-proxy',
    configField: 'nodePortAddresses',
    usage:
      "The addresses NodePorts answer on: comma-separated CIDRs (the node's addresses within them), or 'primary' (the node's primary IPs, one per family). Empty: every local address.",
    parse: v.parseNodePortAddresses,
    merge: append,
    apply: (o, x) => (o.nodePortAddresses = x),
  }),
  flag({
    name: 'oom-score-adj',
    type: 'int32',
    default: '-999',
    section: 'ignored',
    configField: 'oomScoreAdj',
    ignored: "switchyard leaves its OOM score to the pod's QoS class",
    parse: v.parseInt32,
  }),
  flag({
    name: 'conntrack-max-per-core',
    type: 'int32',
    default: '32768',
    section: 'ignored',
    configField: 'conntrack.maxPerCore',
    ignored: NOT_CONNTRACK,
    parse: v.parseInt32,
  }),
  flag({
    name: 'conntrack-min',
    type: 'int32',
    default: '131072',
    section: 'ignored',
    configField: 'conntrack.min',
    ignored: NOT_CONNTRACK,
    parse: v.parseInt32,
  }),
  flag({
    name: 'conntrack-tcp-timeout-established',
    type: 'duration',
    default: '24h0m0s',
    section: 'ignored',
    configField: 'conntrack.tcpEstablishedTimeout',
    ignored: NOT_CONNTRACK,
    parse: duration,
  }),
  flag({
    name: 'conntrack-tcp-timeout-close-wait',
    type: 'duration',
    default: '1h0m0s',
    section: 'ignored',
    configField: 'conntrack.tcpCloseWaitTimeout',
    ignored: NOT_CONNTRACK,
    parse: duration,
  }),
  flag({
    name: 'conntrack-tcp-be-liberal',
    bool: true,
    section: 'ignored',
    configField: 'conntrack.tcpBeLiberal',
    ignored: NOT_CONNTRACK,
    parse: v.parseBool,
  }),
  flag({
    name: 'conntrack-udp-timeout',
    type: 'duration',
    section: 'ignored',
    configField: 'conntrack.udpTimeout',
    ignored: NOT_CONNTRACK,
    parse: duration,
  }),
  flag({
    name: 'conntrack-udp-timeout-stream',
    type: 'duration',
    section: 'ignored',
    configField: 'conntrack.udpStreamTimeout',
    ignored: NOT_CONNTRACK,
    parse: duration,
  }),
  flag({
    name: 'init-only',
    bool: true,
    section: 'ignored',
    ignored: 'switchyard has no separate privileged init step; note that it goes on to run instead of exiting',
    parse: v.parseBool,
  }),
  flag({
    name: 'write-config-to',
    type: 'string',
    section: 'ignored',
    ignored: 'switchyard does not write a default configuration; note that it goes on to run instead of exiting',
    parse: string,
  }),
  // kube-proxy's userspace flags (the userspace mode).
  flag<string>({
    name: 'proxy-port-range',
    type: 'string',
    section: 'kube-proxy',
    configField: 'portRange',
    usage:
      'userspace mode: the host ports (begin-end, a single port, or begin+offset, inclusive) the proxy may take to proxy service traffic; empty, 0 or 0-0 lets the kernel choose.',
    parse: (raw) => {
      parsePortRange(raw);
      return raw.trim();
    },
    apply: (o, x) => (o.userspace.portRange = x),
  }),
  flag<number>({
    name: 'udp-timeout',
    type: 'duration',
    default: '250ms',
    section: 'kube-proxy',
    configField: 'udpIdleTimeout',
    usage: "userspace mode: how long an idle UDP session is kept open (e.g. '250ms', '2s'); must be greater than 0.",
    parse: positiveDuration,
    apply: (o, x) => (o.userspace.udpTimeoutMs = x),
  }),
  // kube-proxy's Windows flags (the kernelspace mode).
  flag<string>({
    name: 'network-name',
    type: 'string',
    section: 'kube-proxy',
    configField: 'winkernel.networkName',
    usage: 'kernelspace mode: the HNS network the pods are on; empty takes $KUBE_NETWORK.',
    parse: trimmed,
    apply: (o, x) => (o.winkernel.networkName = x),
  }),
  flag<string>({
    name: 'source-vip',
    type: 'string',
    section: 'kube-proxy',
    configField: 'winkernel.sourceVip',
    usage:
      'kernelspace mode: the IP address of the source VIP for non-DSR load balancers (required on overlay networks).',
    parse: v.parseOptionalIp,
    apply: (o, x) => (o.winkernel.sourceVip = x),
  }),
  flag<boolean>({
    name: 'enable-dsr',
    bool: true,
    section: 'kube-proxy',
    configField: 'winkernel.enableDSR',
    usage: 'kernelspace mode: make ClusterIP load balancers direct server return (HNS must support DSR).',
    parse: v.parseBool,
    apply: (o, x) => (o.winkernel.enableDSR = x),
  }),
  flag<string>({
    name: 'root-hnsendpoint-name',
    type: 'string',
    default: 'cbr0',
    section: 'kube-proxy',
    configField: 'winkernel.rootHnsEndpointName',
    usage: 'kernelspace mode: the name of the HNS endpoint of the root namespace on an l2bridge network.',
    parse: trimmed,
    apply: (o, x) => (o.winkernel.rootHnsEndpointName = x || 'cbr0'),
  }),
  flag<boolean>({
    name: 'forward-healthcheck-vip',
    bool: true,
    section: 'kube-proxy',
    configField: 'winkernel.forwardHealthCheckVip',
    usage: 'kernelspace mode: forward the health-check port of each load-balancer ingress IP to the node.',
    parse: v.parseBool,
    apply: (o, x) => (o.winkernel.forwardHealthCheckVip = x),
  }),
  flag({
    name: 'windows-service',
    bool: true,
    section: 'ignored',
    configField: 'windowsRunAsService',
    ignored: 'switchyard does not run as a Windows service',
    parse: v.parseBool,
  }),
  flag({ name: 'vmodule', type: 'pattern=N,...', section: 'ignored', ignored: NOT_LOG, parse: string }),
  flag({
    name: 'log-flush-frequency',
    type: 'duration',
    default: '5s',
    section: 'ignored',
    ignored: NOT_LOG,
    parse: duration,
  }),
  flag({ name: 'log-text-split-stream', bool: true, section: 'ignored', ignored: NOT_LOG, parse: v.parseBool }),
  flag({ name: 'log-text-info-buffer-size', type: 'quantity', section: 'ignored', ignored: NOT_LOG, parse: string }),
  flag({ name: 'log-json-split-stream', bool: true, section: 'ignored', ignored: NOT_LOG, parse: v.parseBool }),
  flag({ name: 'log-json-info-buffer-size', type: 'quantity', section: 'ignored', ignored: NOT_LOG, parse: string }),
];
