// Raw Kubernetes objects (from an API server or a manifest) into the slim
// types of ./types.ts, validated as the API server validates them and with
// the defaults it would fill in.
//
// Bad input never crashes the proxy and never costs it more than it must:
// - an object that cannot be used at all throws an ObjectError naming every
//   problem, so a source skips it and keeps the rest;
// - a usable object with bad parts comes back without those parts and with a
//   warning per part, e.g. one endpoint with a garbage address is dropped
//   while the other endpoints of its slice still get traffic.
// Field paths in messages are the object's own ("spec.ports[1].port").
import { isIP } from 'node:net';
import type {
  Endpoint,
  EndpointPort,
  EndpointSlice,
  IPFamily,
  Node,
  ObjectKind,
  Protocol,
  Service,
  ServicePort,
  ServiceType,
} from './types.js';
import { SourceErrorCode } from './errors.js';

/** An object the proxy cannot use at all; `problems` lists each with its field path. */
export class ObjectError extends Error {
  readonly code = SourceErrorCode.Object;
  readonly kind: string;
  readonly namespace: string;
  /**
   * The object's metadata.name ("" when it has none), not the error class's
   * name: sources log kind/namespace/name together. Use instanceof to test.
   */
  override readonly name: string;
  readonly problems: string[];

  constructor(kind: string, namespace: string, name: string, problems: string[]) {
    super(`${kind} ${namespace ? `${namespace}/` : ''}${name || '(unnamed)'}: ${problems.join('; ')}`);
    this.kind = kind;
    this.namespace = namespace;
    this.name = name;
    this.problems = problems;
  }
}

export interface Slimmed<T> {
  value: T;
  /** Parts dropped or replaced by defaults, each "field.path: what was wrong". */
  warnings: string[];
}

export type SlimObject =
  | { kind: 'Service'; value: Service; warnings: string[] }
  | { kind: 'EndpointSlice'; value: EndpointSlice; warnings: string[] }
  | { kind: 'Node'; value: Node; warnings: string[] };

// The API server's own limits (discovery/v1 validation): bigger slices are
// refused there, so one seen here is corrupt or hostile and is refused whole.
export const MAX_SLICE_ENDPOINTS = 1000;
export const MAX_ENDPOINT_ADDRESSES = 100;
export const MAX_SLICE_PORTS = 100;
// One broken slice of 1000 endpoints must not flood the log with 1000 lines.
const MAX_PROBLEMS = 50;
const DEFAULT_AFFINITY_TIMEOUT = 10800;
const MAX_AFFINITY_TIMEOUT = 86400;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown): v is undefined | null => v === undefined || v === null;
/** A value as it appears in the object, short enough for a log line. */
function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v); // a cycle built from YAML aliases
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isLabel = (s: string, re = DNS1123_LABEL): boolean => s.length <= 63 && re.test(s);
const isSubdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
// A container port name: what a string targetPort must be.
const isIanaSvcName = (s: string): boolean =>
  s.length <= 15 && DNS1123_LABEL.test(s) && !s.includes('--') && /[a-z]/.test(s);
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
// isIP accepts "fe80::1%eth0"; the API server does not, and a zone means nothing to a map key.
const familyOf = (v: unknown): IPFamily | undefined =>
  typeof v !== 'string' || v.includes('%') ? undefined : ({ 4: 'IPv4', 6: 'IPv6' } as const)[isIP(v) as 4 | 6];

function isCIDR(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/');
  const family = familyOf(ip);
  return (
    family !== undefined &&
    rest.length === 0 &&
    bits !== undefined &&
    /^\d{1,3}$/.test(bits) &&
    Number(bits) <= (family === 'IPv4' ? 32 : 128)
  );
}

/** Collects problems; any fatal one makes the object unusable. */
class Problems {
  readonly list: string[] = [];
  fatal = false;
  #more = 0;
  warn(path: string, what: string): undefined {
    if (this.list.length < MAX_PROBLEMS) this.list.push(`${path}: ${what}`);
    else this.#more++;
  }
  /** Fatal problems are few and always listed, past the cap. */
  fail(path: string, what: string): undefined {
    this.fatal = true;
    this.list.push(`${path}: ${what}`);
  }
  all(): string[] {
    return this.#more ? [...this.list, `… and ${this.#more} more`] : this.list;
  }
}

interface Header {
  obj: Rec;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  p: Problems;
}

function readHeader(
  raw: unknown,
  kind: ObjectKind,
  apiVersion: string,
  nameOk: (s: string) => boolean,
  namespaced: boolean,
): Header {
  if (!isRec(raw)) throw new ObjectError(kind, '', '', [`not an object: ${show(raw)}`]);
  const p = new Problems();
  // List items from an API server carry no kind or apiVersion: absent is fine, wrong is not.
  if (!absent(raw.kind) && raw.kind !== kind) p.fail('kind', `${show(raw.kind)} is not ${kind}`);
  if (!absent(raw.apiVersion) && raw.apiVersion !== apiVersion) {
    p.fail('apiVersion', `${show(raw.apiVersion)} is not ${apiVersion}`);
  }
  const meta = isRec(raw.metadata) ? raw.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (!name) p.fail('metadata.name', 'missing');
  else if (!nameOk(name)) p.fail('metadata.name', `${show(name)} is not a valid ${kind} name`);
  let namespace = '';
  if (namespaced) {
    // A manifest without a namespace means "default", as for kubectl apply.
    namespace = absent(meta.namespace) || meta.namespace === '' ? 'default' : String(meta.namespace);
    if (typeof meta.namespace === 'string' ? !isLabel(namespace) : !absent(meta.namespace)) {
      p.fail('metadata.namespace', `${show(meta.namespace)} is not a valid namespace`);
    }
  }
  const labels: Record<string, string> = {};
  if (isRec(meta.labels)) {
    for (const [k, v] of Object.entries(meta.labels)) {
      if (typeof v === 'string') labels[k] = v;
      else p.warn(`metadata.labels[${show(k)}]`, `${show(v)} is not a string`);
    }
  } else if (!absent(meta.labels)) p.warn('metadata.labels', 'not a map');
  return { obj: raw, namespace, name, labels, p };
}

function finish<T>(kind: ObjectKind, h: Header, value: T): Slimmed<T> {
  if (h.p.fatal) throw new ObjectError(kind, h.namespace, h.name, h.p.all());
  return { value, warnings: h.p.all() };
}

function list(v: unknown, path: string, p: Problems): unknown[] {
  if (absent(v)) return [];
  if (Array.isArray(v)) return v;
  p.warn(path, 'not a list');
  return [];
}

function oneOf<T extends string>(
  v: unknown,
  allowed: readonly T[],
  dflt: T,
  path: string,
  p: Problems,
  fatal = false,
): T {
  if (absent(v) || v === '') return dflt;
  if ((allowed as readonly unknown[]).includes(v)) return v as T;
  if (fatal) p.fail(path, `${show(v)} is not one of ${allowed.join(', ')}`);
  else p.warn(path, `${show(v)} is not one of ${allowed.join(', ')}; using ${dflt}`);
  return dflt;
}

/**
 * The items of a list field that `keep` keeps; `keep` warns about the ones it drops.
 * The result is exactly as long as it needs to be: a stored object lives as long as
 * its object does, and an array grown by push from empty has room for 17 (at 100,000
 * endpoints, 13 MB of slots for one address each).
 */
function each<T>(v: unknown, path: string, p: Problems, keep: (item: unknown, at: string) => T | undefined): T[] {
  const items = list(v, path, p);
  const out = items.map((item, i) => keep(item, `${path}[${i}]`));
  return out.includes(undefined) ? out.filter((kept): kept is T => kept !== undefined) : (out as T[]);
}

/** An address of `family` (of either when undefined), or a warning. */
const anIP =
  (p: Problems, family?: IPFamily) =>
  (v: unknown, at: string): string | undefined =>
    (family ? familyOf(v) === family : familyOf(v))
      ? (v as string)
      : p.warn(at, `${show(v)} is not an ${family ?? 'IP'} address`);
const ips = (v: unknown, path: string, p: Problems): string[] => each(v, path, p, anIP(p));
const aCIDR =
  (p: Problems) =>
  (c: unknown, at: string): string | undefined =>
    typeof c === 'string' && isCIDR(c.trim()) ? c.trim() : p.warn(at, `${show(c)} is not a CIDR`);
const cidrs = (v: unknown, path: string, p: Problems): string[] => each(v, path, p, aCIDR(p));

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
const POLICIES = ['Cluster', 'Local'] as const;
const LB_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';
/** winkernel's annotation (no prefix): keep the load-balancer IP as the destination. */
const PRESERVE_DESTINATION_ANNOTATION = 'preserve-destination';

/** name, protocol, port of a service or slice port; undefined (with a warning) when unusable. */
function basePort(
  raw: unknown,
  path: string,
  p: Problems,
): { name: string; protocol: Protocol; port: number } | undefined {
  if (!isRec(raw)) return p.warn(path, 'not an object; port dropped');
  const name = absent(raw.name) ? '' : raw.name;
  if (typeof name !== 'string' || (name !== '' && !isLabel(name))) {
    return p.warn(`${path}.name`, `${show(name)} is not a valid port name; port dropped`);
  }
  if (!PROTOCOLS.includes(raw.protocol as Protocol) && !absent(raw.protocol)) {
    return p.warn(`${path}.protocol`, `${show(raw.protocol)} is not TCP, UDP or SCTP; port dropped`);
  }
  // A slice port without a number means "all ports", which kube-proxy cannot program either.
  if (!isPort(raw.port)) return p.warn(`${path}.port`, `${show(raw.port)} is not a port (1-65535); port dropped`);
  return { name, protocol: (raw.protocol as Protocol | undefined) ?? 'TCP', port: raw.port };
}

// Drops a port whose name, or port and protocol, an earlier port has: two
// service ports with one name would share a ServicePortName, two with one
// port and protocol would share a map key. The API server refuses both.
function unique<T extends { name: string; protocol: Protocol; port: number }>(p: Problems) {
  const names = new Set<string>();
  const numbers = new Set<string>();
  return (port: T | undefined, at: string): T | undefined => {
    if (!port) return undefined;
    const number = `${port.port}/${port.protocol}`;
    if (names.has(port.name))
      return p.warn(`${at}.name`, `${show(port.name)} is used by an earlier port; port dropped`);
    if (numbers.has(number)) return p.warn(`${at}.port`, `${number} is used by an earlier port; port dropped`);
    names.add(port.name);
    numbers.add(number);
    return port;
  };
}

function servicePort(raw: unknown, path: string, type: ServiceType, p: Problems): ServicePort | undefined {
  const base = basePort(raw, path, p);
  if (!base || !isRec(raw)) return undefined;
  let targetPort: number | string = base.port;
  const t = raw.targetPort;
  // The API server defaults targetPort 0 or "" to the port, as it does a missing one.
  if (isPort(t) || (typeof t === 'string' && isIanaSvcName(t))) targetPort = t;
  else if (!absent(t) && t !== 0 && t !== '') {
    return p.warn(`${path}.targetPort`, `${show(t)} is neither a port (1-65535) nor a port name; port dropped`);
  }
  const port: ServicePort = { ...base, targetPort };
  if (!absent(raw.nodePort) && raw.nodePort !== 0) {
    if (type !== 'NodePort' && type !== 'LoadBalancer')
      p.warn(`${path}.nodePort`, `ignored: type ${type} has no node ports`);
    else if (!isPort(raw.nodePort))
      p.warn(`${path}.nodePort`, `${show(raw.nodePort)} is not a port (1-65535); ignored`);
    else port.nodePort = raw.nodePort;
  }
  return port;
}

function clusterIPs(spec: Rec, type: ServiceType, p: Problems): { clusterIPs: string[]; headless: boolean } {
  const single = absent(spec.clusterIP) || spec.clusterIP === '' ? undefined : spec.clusterIP;
  const multi = absent(spec.clusterIPs) ? undefined : list(spec.clusterIPs, 'spec.clusterIPs', p);
  if (type === 'ExternalName') {
    if (single !== undefined || multi?.length) p.warn('spec.clusterIP', 'ignored: an ExternalName service has none');
    return { clusterIPs: [], headless: false };
  }
  if (multi?.length && single !== undefined && multi[0] !== single) {
    p.warn('spec.clusterIP', `${show(single)} differs from spec.clusterIPs[0]; using spec.clusterIPs`);
  }
  const given = multi?.length ? multi : single !== undefined ? [single] : [];
  const path = multi?.length ? 'spec.clusterIPs' : 'spec.clusterIP';
  if (given.includes('None')) return { clusterIPs: [], headless: true };
  const out: string[] = [];
  given.forEach((ip, i) => {
    const at = multi?.length ? `${path}[${i}]` : path;
    const family = familyOf(ip);
    if (!family) p.warn(at, `${show(ip)} is not an IP address`);
    else if (out.length === 2) p.warn(at, 'a service has at most two cluster IPs; ignored');
    else if (out.length === 1 && familyOf(out[0]) === family) p.warn(at, `a second ${family} cluster IP; ignored`);
    else out.push(ip as string);
  });
  if (out.length === 0) p.warn(path, 'not set; the service has no virtual IP');
  return { clusterIPs: out.slice(), headless: false }; // exactly sized: push left room for 17
}

function loadBalancerIPs(status: unknown, p: Problems): string[] {
  const lb = isRec(status) && isRec(status.loadBalancer) ? status.loadBalancer : {};
  // Hostname-only ingress has no IP to program; ipMode Proxy means the load
  // balancer proxies itself and the node must not capture its IP (KEP-1860).
  return each(lb.ingress, 'status.loadBalancer.ingress', p, (ing, at) =>
    !isRec(ing) || absent(ing.ip) || ing.ip === '' || ing.ipMode === 'Proxy' ? undefined : anIP(p)(ing.ip, `${at}.ip`),
  );
}

export function slimService(raw: unknown): Slimmed<Service> {
  const h = readHeader(raw, 'Service', 'v1', (s) => isLabel(s, DNS1035_LABEL), true);
  const { obj, p } = h;
  const spec = isRec(obj.spec) ? obj.spec : {};
  const type = oneOf(spec.type, SERVICE_TYPES, 'ClusterIP', 'spec.type', p, true);
  const vips = clusterIPs(spec, type, p);
  const isNew = unique<ServicePort>(p);
  const ports = each(spec.ports, 'spec.ports', p, (r, at) => isNew(servicePort(r, at, type, p), at));
  // kube-proxy ignores headless and ExternalName services, so they need no ports.
  if (ports.length === 0 && type !== 'ExternalName' && !vips.headless) {
    p.fail(
      'spec.ports',
      Array.isArray(spec.ports) && spec.ports.length ? 'no valid port' : 'at least one port is required',
    );
  }
  let externalTrafficPolicy = oneOf(spec.externalTrafficPolicy, POLICIES, 'Cluster', 'spec.externalTrafficPolicy', p);
  if (externalTrafficPolicy === 'Local' && type !== 'NodePort' && type !== 'LoadBalancer') {
    p.warn('spec.externalTrafficPolicy', `ignored: only NodePort and LoadBalancer services have one, not ${type}`);
    externalTrafficPolicy = 'Cluster';
  }
  const service: Service = {
    namespace: h.namespace,
    name: h.name,
    type,
    clusterIPs: vips.clusterIPs,
    headless: vips.headless,
    ports,
    externalIPs: ips(spec.externalIPs, 'spec.externalIPs', p),
    loadBalancerIPs: loadBalancerIPs(obj.status, p),
    loadBalancerSourceRanges: [],
    externalTrafficPolicy,
    internalTrafficPolicy: oneOf(spec.internalTrafficPolicy, POLICIES, 'Cluster', 'spec.internalTrafficPolicy', p),
  };
  // The field wins; the older annotation is read when the field is empty, as kube-proxy does.
  const annotations = isRec(obj.metadata) && isRec(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const annotation = annotations[LB_RANGES_ANNOTATION];
  const field = spec.loadBalancerSourceRanges;
  service.loadBalancerSourceRanges =
    (Array.isArray(field) && field.length) || typeof annotation !== 'string'
      ? cidrs(field, 'spec.loadBalancerSourceRanges', p)
      : cidrs(
          annotation.split(',').filter((s) => s.trim()),
          `metadata.annotations["${LB_RANGES_ANNOTATION}"]`,
          p,
        );
  if (annotations[PRESERVE_DESTINATION_ANNOTATION] === 'true') service.preserveDestination = true;
  if (oneOf(spec.sessionAffinity, ['None', 'ClientIP'], 'None', 'spec.sessionAffinity', p) === 'ClientIP') {
    const config = isRec(spec.sessionAffinityConfig) ? spec.sessionAffinityConfig.clientIP : undefined;
    const t = isRec(config) ? config.timeoutSeconds : undefined;
    const ok = Number.isInteger(t) && (t as number) >= 1 && (t as number) <= MAX_AFFINITY_TIMEOUT;
    if (!ok && !absent(t)) {
      const what = `${show(t)} is not 1-${MAX_AFFINITY_TIMEOUT}; using ${DEFAULT_AFFINITY_TIMEOUT}`;
      p.warn('spec.sessionAffinityConfig.clientIP.timeoutSeconds', what);
    }
    service.affinityTimeoutSeconds = ok ? (t as number) : DEFAULT_AFFINITY_TIMEOUT;
  }
  const td = spec.trafficDistribution;
  if (typeof td === 'string' && td) service.trafficDistribution = td;
  else if (!absent(td) && td !== '') p.warn('spec.trafficDistribution', `${show(td)} is not a string; ignored`);
  const hc = spec.healthCheckNodePort;
  if (!absent(hc) && hc !== 0) {
    if (type !== 'LoadBalancer' || externalTrafficPolicy !== 'Local') {
      p.warn(
        'spec.healthCheckNodePort',
        'ignored: only a LoadBalancer service with externalTrafficPolicy Local has one',
      );
    } else if (!isPort(hc)) p.warn('spec.healthCheckNodePort', `${show(hc)} is not a port (1-65535); ignored`);
    else service.healthCheckNodePort = hc;
  }
  const proxyName = h.labels['service.kubernetes.io/service-proxy-name'];
  if (proxyName !== undefined) service.serviceProxyName = proxyName;
  return finish('Service', h, service);
}

const names = (v: unknown, path: string, p: Problems): string[] =>
  each(v, path, p, (h, at) =>
    isRec(h) && typeof h.name === 'string' && h.name ? h.name : p.warn(at, `${show(h)} has no name; ignored`),
  );

function endpoint(raw: unknown, path: string, family: IPFamily, p: Problems): Endpoint | undefined {
  if (!isRec(raw)) return p.warn(path, 'not an object; endpoint dropped');
  const given = list(raw.addresses, `${path}.addresses`, p);
  if (given.length > MAX_ENDPOINT_ADDRESSES) {
    return p.fail(
      `${path}.addresses`,
      `${given.length} addresses, more than the ${MAX_ENDPOINT_ADDRESSES} the API allows`,
    );
  }
  const addresses = each(given, `${path}.addresses`, p, anIP(p, family));
  if (addresses.length === 0) return p.warn(path, 'no valid address; endpoint dropped');
  const c = isRec(raw.conditions) ? raw.conditions : {};
  const condition = (name: string, dflt: boolean): boolean => {
    const v = c[name];
    if (typeof v === 'boolean') return v;
    if (!absent(v)) p.warn(`${path}.conditions.${name}`, `${show(v)} is not a boolean; using ${dflt}`);
    return dflt;
  };
  // The API documents a missing condition as unknown and tells consumers to
  // read ready as true and serving as ready; terminating is false when absent.
  const ready = condition('ready', true);
  const hints = isRec(raw.hints)
    ? {
        forZones: names(raw.hints.forZones, `${path}.hints.forZones`, p),
        forNodes: names(raw.hints.forNodes, `${path}.hints.forNodes`, p),
      }
    : undefined;
  // Every field in one literal, absent ones undefined: the object keeps them all
  // in itself instead of in a second, out-of-object property array.
  return {
    addresses,
    ready,
    serving: condition('serving', ready),
    terminating: condition('terminating', false),
    nodeName: typeof raw.nodeName === 'string' && raw.nodeName ? raw.nodeName : undefined,
    zone: typeof raw.zone === 'string' && raw.zone ? raw.zone : undefined,
    hints,
  };
}

export function slimEndpointSlice(raw: unknown): Slimmed<EndpointSlice> {
  const h = readHeader(raw, 'EndpointSlice', 'discovery.k8s.io/v1', isSubdomain, true);
  const { obj, p } = h;
  const serviceName = h.labels['kubernetes.io/service-name'] ?? '';
  if (!serviceName) p.fail('metadata.labels["kubernetes.io/service-name"]', 'missing; the slice belongs to no service');
  let addressType: IPFamily = 'IPv4';
  if (obj.addressType === 'IPv4' || obj.addressType === 'IPv6') addressType = obj.addressType;
  else if (obj.addressType === 'FQDN') p.fail('addressType', 'FQDN slices are not proxied (kube-proxy ignores them)');
  else p.fail('addressType', `${show(obj.addressType)} is not IPv4 or IPv6`);

  // Sizes first: an oversized slice is refused before anything walks its items.
  const rawPorts = list(obj.ports, 'ports', p);
  const rawEndpoints = list(obj.endpoints, 'endpoints', p);
  if (rawPorts.length > MAX_SLICE_PORTS) {
    p.fail('ports', `${rawPorts.length} ports, more than the ${MAX_SLICE_PORTS} the API allows`);
  }
  if (rawEndpoints.length > MAX_SLICE_ENDPOINTS) {
    p.fail('endpoints', `${rawEndpoints.length} endpoints, more than the ${MAX_SLICE_ENDPOINTS} the API allows`);
  }
  if (p.fatal) throw new ObjectError('EndpointSlice', h.namespace, h.name, p.all());
  const isNew = unique<EndpointPort>(p);
  const ports = each(rawPorts, 'ports', p, (r, at) => isNew(basePort(r, at, p), at));
  const endpoints = each(rawEndpoints, 'endpoints', p, (r, at) => endpoint(r, at, addressType, p));
  return finish('EndpointSlice', h, {
    namespace: h.namespace,
    name: h.name,
    serviceName,
    addressType,
    ports,
    endpoints,
  });
}

export function slimNode(raw: unknown): Slimmed<Node> {
  const h = readHeader(raw, 'Node', 'v1', isSubdomain, false);
  const { obj, p } = h;
  const spec = isRec(obj.spec) ? obj.spec : {};
  const status = isRec(obj.status) ? obj.status : {};
  const addresses = list(status.addresses, 'status.addresses', p);
  // Hostname and InternalDNS entries are not addresses the proxy can use.
  const byType = (type: string) =>
    each(addresses, 'status.addresses', p, (a, at) =>
      isRec(a) && a.type === type ? anIP(p)(a.address, `${at}.address`) : undefined,
    );
  const useSingle = absent(spec.podCIDRs) && !absent(spec.podCIDR) && spec.podCIDR !== '';
  const single = useSingle ? aCIDR(p)(spec.podCIDR, 'spec.podCIDR') : undefined;
  const podCIDRs = single !== undefined ? [single] : cidrs(spec.podCIDRs, 'spec.podCIDRs', p);
  const node: Node = {
    name: h.name,
    labels: h.labels,
    addresses: [...byType('InternalIP'), ...byType('ExternalIP')],
    podCIDRs,
  };
  const zone = h.labels['topology.kubernetes.io/zone'];
  if (zone) node.zone = zone;
  return finish('Node', h, node);
}

/** Converts an object of any kind the proxy reads; throws ObjectError for other kinds. */
export function slimObject(raw: unknown): SlimObject {
  const kind = isRec(raw) ? raw.kind : undefined;
  switch (kind) {
    case 'Service':
      return { kind, ...slimService(raw) };
    case 'EndpointSlice':
      return { kind, ...slimEndpointSlice(raw) };
    case 'Node':
      return { kind, ...slimNode(raw) };
  }
  const meta = isRec(raw) && isRec(raw.metadata) ? raw.metadata : {};
  throw new ObjectError(
    typeof kind === 'string' ? kind : 'object',
    String(meta.namespace ?? ''),
    String(meta.name ?? ''),
    [`kind: ${show(kind)} is not Service, EndpointSlice or Node`],
  );
}
