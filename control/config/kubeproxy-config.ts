// kube-proxy's config file: a KubeProxyConfiguration
// (kubeproxy.config.k8s.io/v1alpha1) in YAML or JSON. Every field of the real
// type is accepted (k8s.io/kube-proxy/config/v1alpha1/types.go, with
// component-base's ClientConnectionConfiguration and LoggingConfiguration);
// an unknown field or a wrong type is an error naming the field, as with
// kube-proxy's strict decoding. Fields we use go onto ProxyOptions; fields we
// do not use become notes when they are set to something other than
// kube-proxy's default, since the operator then expected an effect.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, type Tags } from 'yaml';
import { formatGoDuration } from './duration.js';
import { ConfigError, ConfigErrorCode, ValueError } from './errors.js';
import type { ProxyOptions } from './options.js';
import { DecodeError, decode, t, valueAt, type Decoded } from './strict-decode.js';
import * as v from './values.js';
import { parsePortRange } from '../proxiers/userspace/ports.js';

export const API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KIND = 'KubeProxyConfiguration';

const outputRouting = t.object({ splitStream: t.bool, infoBufferSize: t.quantity });
const syncPeriods = { syncPeriod: t.duration, minSyncPeriod: t.duration };

export const KUBE_PROXY_CONFIGURATION = t.object({
  apiVersion: t.string,
  kind: t.string,
  featureGates: t.map(t.bool),
  clientConnection: t.object({
    kubeconfig: t.string,
    acceptContentTypes: t.string,
    contentType: t.string,
    qps: t.float,
    burst: t.int32,
  }),
  logging: t.object({
    format: t.string,
    flushFrequency: t.timeOrDuration,
    verbosity: t.uint32,
    vmodule: t.list(t.object({ filePattern: t.string, verbosity: t.uint32 })),
    options: t.object({ text: outputRouting, json: outputRouting }),
  }),
  hostnameOverride: t.string,
  bindAddress: t.string,
  healthzBindAddress: t.string,
  metricsBindAddress: t.string,
  bindAddressHardFail: t.bool,
  enableProfiling: t.bool,
  showHiddenMetricsForVersion: t.string,
  mode: t.string,
  iptables: t.object({
    masqueradeBit: t.int32,
    masqueradeAll: t.bool,
    localhostNodePorts: t.bool,
    snatNodeInternalIP: t.bool,
    ...syncPeriods,
  }),
  ipvs: t.object({
    ...syncPeriods,
    scheduler: t.string,
    excludeCIDRs: t.list(t.string),
    strictARP: t.bool,
    tcpTimeout: t.duration,
    tcpFinTimeout: t.duration,
    udpTimeout: t.duration,
  }),
  nftables: t.object({ masqueradeBit: t.int32, masqueradeAll: t.bool, ...syncPeriods }),
  winkernel: t.object({
    networkName: t.string,
    sourceVip: t.string,
    enableDSR: t.bool,
    rootHnsEndpointName: t.string,
    forwardHealthCheckVip: t.bool,
  }),
  detectLocalMode: t.string,
  detectLocal: t.object({ bridgeInterface: t.string, interfaceNamePrefix: t.string }),
  clusterCIDR: t.string,
  nodePortAddresses: t.list(t.string),
  oomScoreAdj: t.int32,
  conntrack: t.object({
    maxPerCore: t.int32,
    min: t.int32,
    tcpEstablishedTimeout: t.duration,
    tcpCloseWaitTimeout: t.duration,
    tcpBeLiberal: t.bool,
    udpTimeout: t.duration,
    udpStreamTimeout: t.duration,
    // Removed from v1alpha1 in later releases; older ConfigMaps still carry them.
    max: t.int32,
  }),
  configSyncPeriod: t.duration,
  portRange: t.string,
  windowsRunAsService: t.bool,
  // Removed from v1alpha1 with the old userspace proxy (older ConfigMaps still carry them; the userspace mode reads them).
  udpIdleTimeout: t.duration,
  resourceContainer: t.string,
});
export type KubeProxyConfiguration = Decoded<typeof KUBE_PROXY_CONFIGURATION>;

/** The fields mapped onto ProxyOptions (apiVersion and kind are checked, not mapped). */
export const USED_FIELDS = [
  'apiVersion',
  'kind',
  'mode',
  'hostnameOverride',
  'clusterCIDR',
  'nodePortAddresses',
  'healthzBindAddress',
  'metricsBindAddress',
  'clientConnection.kubeconfig',
  'logging.verbosity',
  'logging.format',
  'iptables.masqueradeBit',
  'iptables.masqueradeAll',
  'iptables.localhostNodePorts',
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
  'winkernel.networkName',
  'winkernel.sourceVip',
  'winkernel.enableDSR',
  'winkernel.rootHnsEndpointName',
  'winkernel.forwardHealthCheckVip',
  'portRange',
  'udpIdleTimeout',
] as const;

const CONNTRACK = 'switchyard does not tune the kernel conntrack table (the ebpf mode tracks flows in its own map)';
const CLIENT = 'switchyard uses its Kubernetes client defaults';
const LOGGING = 'switchyard logs through pino; only logging.verbosity and logging.format apply';
const LOCAL = 'switchyard tells local traffic by clusterCIDR';
const NFTABLES = 'switchyard has no nftables mode';
const REMOVED = 'the field is no longer part of KubeProxyConfiguration';

/** Fields accepted and ignored: why, and kube-proxy's default (a default value draws no note). Durations in ms. */
export const IGNORED_FIELDS: Readonly<Record<string, { reason: string; default?: unknown }>> = {
  featureGates: { reason: "switchyard has none of kube-proxy's feature gates" },
  'clientConnection.acceptContentTypes': { reason: CLIENT },
  'clientConnection.contentType': { reason: CLIENT, default: 'application/vnd.kubernetes.protobuf' },
  'clientConnection.qps': { reason: CLIENT, default: 5 },
  'clientConnection.burst': { reason: CLIENT, default: 10 },
  'logging.flushFrequency': { reason: LOGGING, default: 5000 },
  'logging.vmodule': { reason: LOGGING },
  'logging.options.text.splitStream': { reason: LOGGING },
  'logging.options.text.infoBufferSize': { reason: LOGGING, default: '0' },
  'logging.options.json.splitStream': { reason: LOGGING },
  'logging.options.json.infoBufferSize': { reason: LOGGING, default: '0' },
  bindAddress: { reason: 'switchyard takes the node IPs from the Node object', default: '0.0.0.0' },
  bindAddressHardFail: { reason: 'switchyard always fails when it cannot bind its servers' },
  enableProfiling: { reason: 'switchyard serves no pprof handlers' },
  showHiddenMetricsForVersion: { reason: 'switchyard has no hidden metrics' },
  'iptables.snatNodeInternalIP': { reason: 'the iptables mode masquerades with the egress address' },
  'nftables.masqueradeBit': { reason: NFTABLES, default: 14 },
  'nftables.masqueradeAll': { reason: NFTABLES },
  'nftables.syncPeriod': { reason: NFTABLES, default: 30_000 },
  'nftables.minSyncPeriod': { reason: NFTABLES, default: 1000 },
  detectLocalMode: { reason: LOCAL, default: 'ClusterCIDR' },
  'detectLocal.bridgeInterface': { reason: LOCAL },
  'detectLocal.interfaceNamePrefix': { reason: LOCAL },
  oomScoreAdj: { reason: "switchyard leaves its OOM score to the pod's QoS class", default: -999 },
  'conntrack.maxPerCore': { reason: CONNTRACK, default: 32768 },
  'conntrack.min': { reason: CONNTRACK, default: 131072 },
  'conntrack.tcpEstablishedTimeout': { reason: CONNTRACK, default: 86_400_000 },
  'conntrack.tcpCloseWaitTimeout': { reason: CONNTRACK, default: 3_600_000 },
  'conntrack.tcpBeLiberal': { reason: CONNTRACK },
  'conntrack.udpTimeout': { reason: CONNTRACK },
  'conntrack.udpStreamTimeout': { reason: CONNTRACK },
  'conntrack.max': { reason: `${REMOVED}; ${CONNTRACK}` },
  configSyncPeriod: { reason: 'switchyard watches the API server and does not re-list on a timer', default: 900_000 },
  windowsRunAsService: { reason: 'switchyard does not run as a Windows service' },
  resourceContainer: { reason: REMOVED, default: '/kube-proxy' },
};

// YAML 1.1, as kube-proxy's go-yaml reads it (yes/no are booleans), minus
// 1.1's base-60 numbers and timestamps, which go-yaml leaves as strings.
const yaml11 = (tags: Tags) =>
  tags.filter((tag) =>
    typeof tag === 'string'
      ? !['intTime', 'floatTime', 'timestamp'].includes(tag)
      : tag.format !== 'TIME' && tag.tag !== 'tag:yaml.org,2002:timestamp',
  );

const fileError = (source: string, message: string, cause?: unknown) =>
  new ConfigError(ConfigErrorCode.File, `config file ${source}: ${message}`, { cause });

/**
 * Parses and strictly decodes a KubeProxyConfiguration. Returns the decoded
 * object and a note for each ignored field set to a non-default value.
 */
export function parseKubeProxyConfiguration(
  text: string,
  source: string,
): { config: KubeProxyConfiguration; notes: string[] } {
  const docs = parseAllDocuments(text, { version: '1.1', customTags: yaml11 });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) throw fileError(source, `not valid YAML or JSON: ${err.message.split('\n')[0]}`, err);
  }
  const raws = list.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown).filter((r) => r !== null && r !== undefined);
  if (raws.length !== 1) {
    throw fileError(source, `holds ${raws.length} documents; expected exactly one ${KIND}`);
  }
  const raw = raws[0];
  let config: KubeProxyConfiguration;
  try {
    config = decode(raw, KUBE_PROXY_CONFIGURATION) ?? {};
  } catch (e) {
    if (e instanceof DecodeError) throw fileError(source, e.message, e);
    throw e;
  }
  if (config.apiVersion !== API_VERSION || config.kind !== KIND) {
    const got = `apiVersion ${JSON.stringify(config.apiVersion ?? '')}, kind ${JSON.stringify(config.kind ?? '')}`;
    throw fileError(source, `expected apiVersion ${API_VERSION} and kind ${KIND}, got ${got}`);
  }

  const notes: string[] = [];
  for (const [path, { reason, default: dflt }] of Object.entries(IGNORED_FIELDS)) {
    const value = valueAt(config, path);
    if (isZero(value) || JSON.stringify(value) === JSON.stringify(dflt)) continue;
    notes.push(
      `config field "${path}" (${JSON.stringify(valueAt(raw, path))}) in ${source} is accepted for kube-proxy compatibility but ignored: ${reason}`,
    );
  }
  return { config, notes };
}

/** Go's zero values, which mean "unset" in a KubeProxyConfiguration. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === '' || value === false || value === 0) return true;
  if (Array.isArray(value)) return value.length === 0;
  // A map with any entry (featureGates: {Foo: false}) is a choice the operator made.
  if (typeof value === 'object' && value !== null) return Object.keys(value).length === 0;
  return false;
}

export function readKubeProxyConfiguration(
  path: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): { config: KubeProxyConfiguration; notes: string[] } {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw fileError(path, `cannot be read: ${reason} (check --config)`, e);
  }
  return parseKubeProxyConfiguration(text, path);
}

/** What the loader needs to know besides the options the file set. */
export interface AppliedConfiguration {
  hostnameOverride?: string;
  /** The file set these periods (non-zero); otherwise the ebpf mode keeps its own defaults. */
  iptablesSyncPeriodSet: boolean;
  iptablesMinSyncPeriodSet: boolean;
}

/**
 * Puts the file's values onto `o`. As kube-proxy's defaulting does, a zero or
 * absent value keeps the default (so `iptables.minSyncPeriod: 0s` means 1s,
 * and an empty bind address means the default address, not "disabled").
 */
export function applyKubeProxyConfiguration(
  o: ProxyOptions,
  c: KubeProxyConfiguration,
  source: string,
): AppliedConfiguration {
  const field = <T>(path: string, raw: unknown, parse: () => T): T => {
    try {
      return parse();
    } catch (e) {
      if (e instanceof ValueError)
        throw fileError(source, `field "${path}": invalid value ${JSON.stringify(raw)}: ${e.message}`, e);
      throw e;
    }
  };
  const period = (path: string, ms: number | undefined, positive: boolean): number | undefined => {
    if (ms === undefined || ms === 0) return undefined;
    if (ms < 0)
      throw fileError(
        source,
        `field "${path}": ${formatGoDuration(ms)} must be ${positive ? 'greater than 0' : 'at least 0'}`,
      );
    return ms;
  };

  if (c.mode !== undefined) o.mode = field('mode', c.mode, () => v.parseMode(c.mode!));
  if (c.clientConnection?.kubeconfig) o.kubeconfig = c.clientConnection.kubeconfig;
  if (c.clusterCIDR) o.clusterCIDRs = field('clusterCIDR', c.clusterCIDR, () => v.parseClusterCidrs(c.clusterCIDR!));
  if (c.nodePortAddresses?.length)
    o.nodePortAddresses = field('nodePortAddresses', c.nodePortAddresses.join(','), () =>
      v.parseNodePortAddresses(c.nodePortAddresses!.join(',')),
    );
  if (c.healthzBindAddress)
    o.healthzBindAddress = field('healthzBindAddress', c.healthzBindAddress, () =>
      v.parseBindAddress(c.healthzBindAddress!, 10256),
    );
  if (c.metricsBindAddress)
    o.metricsBindAddress = field('metricsBindAddress', c.metricsBindAddress, () =>
      v.parseBindAddress(c.metricsBindAddress!, 10249),
    );
  if (c.logging?.verbosity !== undefined) o.logLevel = v.logLevelForVerbosity(c.logging.verbosity);
  if (c.logging?.format)
    o.logFormat = field('logging.format', c.logging.format, () => v.parseLogFormat(c.logging!.format!));

  const ipt = c.iptables ?? {};
  if (ipt.masqueradeAll !== undefined) o.masqueradeAll = ipt.masqueradeAll;
  if (ipt.localhostNodePorts !== undefined) o.iptables.localhostNodePorts = ipt.localhostNodePorts;
  if (ipt.masqueradeBit !== undefined) {
    if (ipt.masqueradeBit < 0 || ipt.masqueradeBit > 31)
      throw fileError(source, `field "iptables.masqueradeBit": ${ipt.masqueradeBit} must be within [0, 31]`);
    o.iptables.masqueradeBit = ipt.masqueradeBit;
  }
  const iptSync = period('iptables.syncPeriod', ipt.syncPeriod, true);
  const iptMin = period('iptables.minSyncPeriod', ipt.minSyncPeriod, false);
  if (iptSync !== undefined) o.iptables.syncPeriodMs = iptSync;
  if (iptMin !== undefined) o.iptables.minSyncPeriodMs = iptMin;

  const ipvs = c.ipvs ?? {};
  o.ipvs.syncPeriodMs = period('ipvs.syncPeriod', ipvs.syncPeriod, true) ?? o.ipvs.syncPeriodMs;
  o.ipvs.minSyncPeriodMs = period('ipvs.minSyncPeriod', ipvs.minSyncPeriod, false) ?? o.ipvs.minSyncPeriodMs;
  if (ipvs.scheduler !== undefined)
    o.ipvs.scheduler = field('ipvs.scheduler', ipvs.scheduler, () => v.parseScheduler(ipvs.scheduler!));
  if (ipvs.excludeCIDRs)
    o.ipvs.excludeCIDRs = ipvs.excludeCIDRs.map((cidr, i) =>
      field(`ipvs.excludeCIDRs[${i}]`, cidr, () => v.parseCidr(cidr)),
    );
  if (ipvs.strictARP !== undefined) o.ipvs.strictARP = ipvs.strictARP;
  o.ipvs.tcpTimeoutMs = period('ipvs.tcpTimeout', ipvs.tcpTimeout, false) ?? o.ipvs.tcpTimeoutMs;
  o.ipvs.tcpFinTimeoutMs = period('ipvs.tcpFinTimeout', ipvs.tcpFinTimeout, false) ?? o.ipvs.tcpFinTimeoutMs;
  o.ipvs.udpTimeoutMs = period('ipvs.udpTimeout', ipvs.udpTimeout, false) ?? o.ipvs.udpTimeoutMs;

  const win = c.winkernel ?? {};
  if (win.networkName) o.winkernel.networkName = win.networkName.trim();
  if (win.sourceVip)
    o.winkernel.sourceVip = field('winkernel.sourceVip', win.sourceVip, () => v.parseOptionalIp(win.sourceVip!));
  if (win.enableDSR !== undefined) o.winkernel.enableDSR = win.enableDSR;
  if (win.rootHnsEndpointName) o.winkernel.rootHnsEndpointName = win.rootHnsEndpointName.trim();
  if (win.forwardHealthCheckVip !== undefined) o.winkernel.forwardHealthCheckVip = win.forwardHealthCheckVip;

  if (c.portRange !== undefined && c.portRange.trim() !== '')
    o.userspace.portRange = field('portRange', c.portRange, () => {
      parsePortRange(c.portRange!);
      return c.portRange!.trim();
    });
  const udpIdle = period('udpIdleTimeout', c.udpIdleTimeout, true);
  if (udpIdle !== undefined) o.userspace.udpTimeoutMs = udpIdle;

  return {
    hostnameOverride: c.hostnameOverride || undefined,
    iptablesSyncPeriodSet: iptSync !== undefined,
    iptablesMinSyncPeriodSet: iptMin !== undefined,
  };
}
