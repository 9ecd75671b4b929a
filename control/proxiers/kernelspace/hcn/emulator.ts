// An in-memory HNS behind the HCN C API, for testing the kernelspace mode on
// Linux: the same calls, the same JSON strings in and out, and the HRESULTs
// and error records real HNS answers with. It enforces the rules HNS is known
// to enforce (research §2.5; most were learnt from kube-proxy issues, cited
// at each rule), so a client that passes here sends what the DLL would take.
// VFP's packet path, and whatever a given Windows build checks beyond these
// rules, is out of its reach.
//
// Beside HcnApi it has a side for tests: the CNI's part (local endpoints),
// snapshots of what it holds, and the faults seen in the field: HNS stopped,
// a call failing once, a restart with or without rehydration, an object
// deleted by someone else, the WS2019 duplicate-IP bug.
import { BlockList, isIP } from 'node:net';
import { canonicalIP } from '../../../model/address.js';
import type { HcnApi, HcnCall, HcnCallName, HcnHandle } from './api.js';
import {
  EndpointFlags,
  GUID_PATTERN,
  HResult,
  IpProtocol,
  LbFlags,
  SCHEMA_VERSION,
  ZERO_GUID,
  hnsFeatures,
  hresultHex,
  sameGuid,
  type EndpointPolicy,
  type HcnErrorRecord,
  type HnsFeatures,
  type HnsVersion,
  type HostComputeEndpoint,
  type HostComputeLoadBalancer,
  type HostComputeNetwork,
  type IpConfig,
  type PortMapping,
  type RemoteSubnetRoute,
} from './schema.js';

/** HNS bugs that are states rather than calls: switch one on to reproduce it. */
export interface HnsFaults {
  /** WS2019/2022 let a local and a remote endpoint share an IP (research §1.3); HNS otherwise refuses the second. */
  allowDuplicateEndpointIp: boolean;
}

/** A port the host itself holds on every address, as kube-proxy's healthz holds 0.0.0.0:10256. */
export interface HostPort {
  /** IP protocol number. */
  protocol: number;
  port: number;
}

export interface HnsEmulatorOptions {
  /** What GET /globals/version answers, and so which features and gates apply. Default 16.0. */
  version?: HnsVersion;
  /** The networks HNS holds (the CNI made them; HNS here creates none). Default: l2bridgeNetwork(). */
  networks?: HostComputeNetwork[];
  /** Where cluster VIPs live: such a VIP is no host address, so a host port cannot clash with it. */
  internalVipRanges?: string[];
  reservedHostPorts?: HostPort[];
  /** The 64-port ephemeral blocks non-DSR load balancers draw from; unlimited by default. */
  ephemeralBlocks?: number;
  faults?: Partial<HnsFaults>;
}

/** A flannel host-gw style network: pods bridged onto the node's subnet. */
export function l2bridgeNetwork(o: { name?: string; id?: string; subnet?: string } = {}): HostComputeNetwork {
  return {
    ...(o.id === undefined ? {} : { ID: o.id }),
    Name: o.name ?? 'cbr0',
    Type: 'L2Bridge',
    Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: o.subnet ?? '10.244.0.0/24' }] }],
    SchemaVersion: SCHEMA_VERSION,
  };
}

/**
 * A VXLAN network whose RemoteSubnetRoute policies say where other nodes'
 * pod subnets live. The default route is kube-proxy's own fake
 * (hcntesting/fakehcn.go): 192.168.2.0/24 behind PA 10.0.0.3, VSID 4096.
 */
export function overlayNetwork(
  o: { name?: string; id?: string; subnet?: string; remoteSubnets?: RemoteSubnetRoute[] } = {},
): HostComputeNetwork {
  const routes = o.remoteSubnets ?? [
    { DestinationPrefix: '192.168.2.0/24', IsolationId: 4096, ProviderAddress: '10.0.0.3' },
  ];
  return {
    ...(o.id === undefined ? {} : { ID: o.id }),
    Name: o.name ?? 'vxlan0',
    Type: 'Overlay',
    Policies: routes.map((r) => ({ Type: 'RemoteSubnetRoute', Settings: { ...r } })),
    Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: o.subnet ?? '192.168.1.0/24' }] }],
    SchemaVersion: SCHEMA_VERSION,
  };
}

// ---- Failures: the one place an HRESULT becomes an error record ----------

/** The text Windows prints for each HRESULT the emulator answers with. */
const MESSAGES = new Map<number, string>([
  [HResult.E_NOTIMPL, 'Not implemented.'],
  [HResult.E_INVALIDARG, 'The parameter is incorrect.'],
  [HResult.INVALID_HANDLE, 'The handle is invalid.'],
  [HResult.NOT_FOUND, 'Element not found.'],
  [HResult.ALREADY_EXISTS, 'Cannot create a file when that file already exists.'],
  [HResult.OUT_OF_MEMORY, 'Not enough memory resources are available to complete this operation.'],
  [HResult.RPC_UNAVAILABLE, 'The RPC server is unavailable.'],
  [HResult.HCN_ENDPOINT_NOT_FOUND, 'The endpoint was not found.'],
  [HResult.HCN_INVALID_REMOTE_ENDPOINT_OPERATION, 'The operation is invalid for a remote endpoint.'],
  [HResult.HCN_PORT_ALREADY_EXISTS, 'The port already exists.'],
  [HResult.HCN_REQUEST_UNSUPPORTED, 'The request is not supported.'],
  [HResult.HCN_GUID_CONVERSION_FAILURE, 'The string could not be converted to a GUID.'],
  [HResult.HCN_INVALID_JSON, 'The JSON document is invalid.'],
  [HResult.HCN_INVALID_IP, 'The IP address is invalid.'],
  [HResult.HCN_ENTITY_HAS_REFERENCES, 'The object is referenced and cannot be deleted.'],
  [HResult.HCN_INVALID_INTERNAL_PORT, 'The internal port must exist and cannot be zero.'],
]);

/** A call HNS refuses. Thrown inside a call; its edge (HnsEmulator.#call) turns it into the C outcome. */
class Refusal extends Error {
  constructor(
    readonly hr: number,
    readonly why: string,
  ) {
    super(`${hresultHex(hr)}: ${why}`);
  }
}

function refuse(hr: number, why: string): never {
  throw new Refusal(hr, why);
}

/** The signed HRESULT C returns, and the record HNS writes beside it (research §2.4). */
function failure(hr: number, why: string): HcnCall {
  const text = MESSAGES.get(hr >>> 0) ?? `HRESULT ${hresultHex(hr)}.`;
  const record: HcnErrorRecord = { Success: false, Error: `${text} (${why})`, ErrorCode: hr >>> 0 };
  return { hr: hr | 0, errorRecord: JSON.stringify(record) };
}

// ---- Documents as sent: every field unchecked until a rule checks it -----

type Wire<T> = { [K in keyof T]?: unknown };
type Stored<T> = T & { ID: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const isAddress = (v: unknown): v is string => typeof v === 'string' && isIP(v) !== 0;
const isIPv6 = (ip: string) => isIP(ip) === 6;

function parseDocument(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    refuse(HResult.HCN_INVALID_JSON, `${what} is not JSON`);
  }
  return isObject(doc) ? doc : refuse(HResult.HCN_INVALID_JSON, `${what} is not a JSON object`);
}

/** SchemaVersion "should be present in all objects"; HNS v2 reads only Major 2 documents. */
function checkSchemaVersion(v: unknown): void {
  if (!isObject(v) || v.Major !== 2) refuse(HResult.HCN_INVALID_JSON, 'SchemaVersion must be present with Major 2');
}

/** A HostComputeQuery's filter. The query is optional ("by default, all … are returned"); Filter is JSON in JSON. */
function parseFilter(query: string): Record<string, unknown> {
  if (query === '') return {};
  const q = parseDocument(query, 'the query');
  if (q.Filter === undefined || q.Filter === '') return {};
  if (typeof q.Filter !== 'string') refuse(HResult.HCN_INVALID_JSON, 'Filter must be a JSON-encoded string');
  return parseDocument(q.Filter as string, 'Filter');
}

// ---- The load balancer rules, in the order HNS meets them ----------------

/** What a load balancer rule may ask of HNS's state; a modified load balancer never clashes with itself. */
interface LoadBalancerView {
  features: HnsFeatures;
  hasEndpoint(id: string): boolean;
  /** The load balancer already on this frontend, if any. */
  frontendHolder(key: string): string | undefined;
  hostPortHeld(protocol: number, port: number, vip: string | undefined): boolean;
  freeEphemeralBlocks(): number;
}

type WireLoadBalancer = Wire<HostComputeLoadBalancer>;
const PROTOCOLS = new Set<unknown>(Object.values(IpProtocol));
const mapping = (lb: WireLoadBalancer) => (lb.PortMappings as Wire<PortMapping>[])[0]!;
const vips = (lb: WireLoadBalancer) => (lb.FrontendVIPs ?? []) as string[];
const flags = (lb: WireLoadBalancer) => (lb.Flags ?? 0) as number;

/** One load balancer per frontend: (family, protocol, VIP or none, external port), as kube-proxy keys them. */
function frontendKey(lb: WireLoadBalancer): string {
  const vip = vips(lb)[0];
  const family = flags(lb) & LbFlags.IPv6 ? 'IPv6' : 'IPv4';
  return `${family}/${mapping(lb).Protocol}/${vip === undefined ? '*' : canonicalIP(vip)}/${mapping(lb).ExternalPort}`;
}

const loadBalancerRules: ReadonlyArray<(lb: WireLoadBalancer, hns: LoadBalancerView) => void> = [
  (lb) => checkSchemaVersion(lb.SchemaVersion),
  // kube-proxy makes one load balancer per service port and frontend: one mapping, at most one VIP (research §1.2).
  (lb) => {
    const pms = lb.PortMappings;
    if (!Array.isArray(pms) || pms.length !== 1 || !isObject(pms[0]))
      refuse(HResult.E_INVALIDARG, 'PortMappings must hold exactly one mapping');
  },
  (lb) => {
    if (!PROTOCOLS.has(mapping(lb).Protocol))
      refuse(HResult.E_INVALIDARG, `Protocol ${mapping(lb).Protocol} is not TCP, UDP or SCTP`);
  },
  (lb) => {
    if (!isPort(mapping(lb).InternalPort)) refuse(HResult.HCN_INVALID_INTERNAL_PORT, 'InternalPort must be 1-65535');
  },
  (lb) => {
    if (!isPort(mapping(lb).ExternalPort)) refuse(HResult.E_INVALIDARG, 'ExternalPort must be 1-65535');
  },
  // Below 12.0 HNS has no session affinity and ignores the field (kube-proxy still sends it); from 12.0 it reads it.
  (lb, hns) => {
    const d = mapping(lb).DistributionType;
    if (hns.features.sessionAffinity && d !== undefined && d !== 0 && d !== 1 && d !== 2)
      refuse(HResult.E_INVALIDARG, `DistributionType ${d} is not None, SourceIPProtocol or SourceIP`);
  },
  (lb) => {
    const v = lb.FrontendVIPs;
    if (v !== undefined && (!Array.isArray(v) || v.length > 1))
      refuse(HResult.E_INVALIDARG, 'FrontendVIPs must hold at most one address');
    for (const ip of vips(lb)) if (!isAddress(ip)) refuse(HResult.HCN_INVALID_IP, `FrontendVIP ${ip} is no IP address`);
  },
  (lb) => {
    if (lb.SourceVIP !== undefined && !isAddress(lb.SourceVIP))
      refuse(HResult.HCN_INVALID_IP, `SourceVIP ${lb.SourceVIP} is no IP address`);
  },
  // The IPv6 flag is the load balancer's family (a NodePort has no VIP to tell it); its addresses must agree.
  (lb) => {
    const f = lb.Flags;
    if (f !== undefined && !(Number.isInteger(f) && (f as number) >= 0))
      refuse(HResult.E_INVALIDARG, 'Flags must be a non-negative integer');
    const v6 = (flags(lb) & LbFlags.IPv6) !== 0;
    for (const ip of [...vips(lb), ...(lb.SourceVIP === undefined ? [] : [lb.SourceVIP as string])])
      if (isIPv6(ip) !== v6)
        refuse(HResult.E_INVALIDARG, `${ip} does not match the IPv6 flag (${v6 ? 'set' : 'clear'})`);
  },
  (lb, hns) => {
    if (flags(lb) & LbFlags.DSR && !hns.features.dsr)
      refuse(HResult.HCN_REQUEST_UNSUPPORTED, 'this HNS has no direct server return');
    if (flags(lb) & LbFlags.IPv6 && !hns.features.ipv6DualStack)
      refuse(HResult.HCN_REQUEST_UNSUPPORTED, 'this HNS has no IPv6 load balancers');
  },
  // HNS refuses a load balancer without backends (kubernetes#106936).
  (lb, hns) => {
    const eps = lb.HostComputeEndpoints;
    if (!Array.isArray(eps) || eps.length === 0)
      refuse(HResult.E_INVALIDARG, 'HostComputeEndpoints must name at least one endpoint');
    for (const id of eps as unknown[]) {
      if (typeof id !== 'string' || !GUID_PATTERN.test(id))
        refuse(HResult.HCN_GUID_CONVERSION_FAILURE, `endpoint ${String(id)} is no GUID`);
      if (!hns.hasEndpoint(id as string)) refuse(HResult.HCN_ENDPOINT_NOT_FOUND, `endpoint ${id} does not exist`);
    }
  },
  // A second load balancer on a frontend fails with 0xb7 (kubernetes#139519: after HNS rehydrated the first).
  (lb, hns) => {
    const holder = hns.frontendHolder(frontendKey(lb));
    if (holder !== undefined) refuse(HResult.ALREADY_EXISTS, `load balancer ${holder} holds ${frontendKey(lb)}`);
  },
  // A host port clashes with every load balancer on a host address: a NodePort (no VIP) or an external VIP, as
  // the health-check VIP on 10256 did (kubernetes/community#8883, kubernetes#137530). A cluster VIP is no host address.
  (lb, hns) => {
    const pm = mapping(lb);
    if (hns.hostPortHeld(pm.Protocol as number, pm.ExternalPort as number, vips(lb)[0]))
      refuse(HResult.HCN_PORT_ALREADY_EXISTS, `the host holds port ${pm.ExternalPort}/${pm.Protocol}`);
  },
  // Without DSR, VFP reserves a 64-port ephemeral block per load balancer for its SNAT; when the blocks run out,
  // creates fail with 0x8007000E (kubernetes/website#17930, containernetworking/plugins#613).
  (lb, hns) => {
    if (!(flags(lb) & LbFlags.DSR) && hns.freeEphemeralBlocks() <= 0)
      refuse(HResult.OUT_OF_MEMORY, 'no ephemeral port block is left');
  },
];

/** The checked document as HNS stores it: endpoint GUIDs in its own (upper) case, an unread DistributionType dropped. */
function loadBalancerOf(settings: string, id: string, hns: LoadBalancerView): Stored<HostComputeLoadBalancer> {
  const wire: WireLoadBalancer = parseDocument(settings, 'the load balancer');
  for (const rule of loadBalancerRules) rule(wire, hns);
  const lb = structuredClone(wire) as HostComputeLoadBalancer;
  lb.HostComputeEndpoints = lb.HostComputeEndpoints.map((e) => e.toUpperCase());
  if (!hns.features.sessionAffinity) delete lb.PortMappings[0]!.DistributionType;
  return { ...lb, ID: id };
}

// ---- The endpoint rules ---------------------------------------------------

interface EndpointView {
  network: Stored<HostComputeNetwork>;
  /** Another endpoint of this network with the address, if any. */
  holderOfIp(ip: string): string | undefined;
  faults: HnsFaults;
}

type WireEndpoint = Wire<HostComputeEndpoint>;
const MAC_PATTERN = /^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}$/;
const ips = (ep: WireEndpoint) => (ep.IpConfigurations as IpConfig[]).map((c) => c.IpAddress);
const isRemote = (ep: WireEndpoint) => (((ep.Flags ?? 0) as number) & EndpointFlags.RemoteEndpoint) !== 0;

const endpointRules: ReadonlyArray<(ep: WireEndpoint, hns: EndpointView) => void> = [
  (ep) => checkSchemaVersion(ep.SchemaVersion),
  // One address, or one of each family for a dual-stack pod (the CNI's); kube-proxy's remote endpoints have one.
  (ep) => {
    const cs = ep.IpConfigurations;
    if (!Array.isArray(cs) || cs.length < 1 || cs.length > 2)
      refuse(HResult.HCN_INVALID_IP, 'IpConfigurations must hold one address (or one per family)');
    for (const c of cs as unknown[])
      if (!isObject(c) || !isAddress(c.IpAddress))
        refuse(HResult.HCN_INVALID_IP, `${JSON.stringify(c)} holds no IP address`);
    const [a, b] = ips(ep);
    if (b !== undefined && isIPv6(a!) === isIPv6(b)) refuse(HResult.HCN_INVALID_IP, `${a} and ${b} are of one family`);
  },
  (ep) => {
    if (ep.MacAddress !== undefined && !(typeof ep.MacAddress === 'string' && MAC_PATTERN.test(ep.MacAddress)))
      refuse(HResult.E_INVALIDARG, `MacAddress ${ep.MacAddress} is not xx-xx-xx-xx-xx-xx`);
  },
  (ep) => {
    const f = ep.Flags;
    if (f !== undefined && !(Number.isInteger(f) && (f as number) >= 0))
      refuse(HResult.E_INVALIDARG, 'Flags must be a non-negative integer');
    const ps = ep.Policies;
    if (ps !== undefined && !(Array.isArray(ps) && ps.every((p) => isObject(p) && typeof p.Type === 'string')))
      refuse(HResult.HCN_INVALID_JSON, 'Policies must be a list of {Type, Settings}');
  },
  // On overlay a remote endpoint is reached through its node's provider address; HNS cannot place one without it.
  (ep, hns) => {
    if (!isRemote(ep) || hns.network.Type?.toLowerCase() !== 'overlay') return;
    const pa = ((ep.Policies ?? []) as EndpointPolicy[]).find((p) => p.Type === 'ProviderAddress');
    if (!isAddress(pa?.Settings?.ProviderAddress))
      refuse(HResult.HCN_INVALID_REMOTE_ENDPOINT_OPERATION, 'a remote endpoint on overlay needs a ProviderAddress');
  },
  (ep, hns) => {
    if (hns.faults.allowDuplicateEndpointIp) return;
    for (const ip of ips(ep)) {
      const holder = hns.holderOfIp(ip);
      if (holder !== undefined) refuse(HResult.ALREADY_EXISTS, `endpoint ${holder} has ${ip}`);
    }
  },
];

function endpointOf(settings: string, id: string, hns: EndpointView): Stored<HostComputeEndpoint> {
  const wire: WireEndpoint = parseDocument(settings, 'the endpoint');
  for (const rule of endpointRules) rule(wire, hns);
  return { ...(structuredClone(wire) as HostComputeEndpoint), ID: id, HostComputeNetwork: hns.network.ID };
}

// ---- The emulator -----------------------------------------------------------

type Kind = 'network' | 'endpoint' | 'loadBalancer';

/** Assigned IDs name their kind in the first group, so test output reads at a glance; HNS prints GUIDs upper case. */
const ID_PREFIX: Record<Kind, string> = { network: 'A0000000', endpoint: 'E0000000', loadBalancer: 'B0000000' };

/** The filter keys hcsshim sends (research §2.1); any other is refused, so a typo cannot match everything. */
const FILTER_KEYS: Record<Kind, readonly string[]> = {
  network: ['Name', 'ID'],
  endpoint: ['Name', 'ID', 'VirtualNetwork'],
  loadBalancer: ['ID'],
};

/** Whether a stored document passes one filter key: a name exactly, a GUID in any case. */
function passes(
  doc: Stored<HostComputeEndpoint | HostComputeNetwork | HostComputeLoadBalancer>,
  key: string,
  value: string,
) {
  if (key === 'Name') return 'Name' in doc && doc.Name === value;
  if (key === 'VirtualNetwork') return 'HostComputeNetwork' in doc && sameGuid(doc.HostComputeNetwork, value);
  return sameGuid(doc.ID, value);
}

const ok = (result?: string, handle?: HcnHandle): HcnCall => ({
  hr: HResult.S_OK,
  ...(result === undefined ? {} : { result }),
  ...(handle === undefined ? {} : { handle }),
});

export class HnsEmulator implements HcnApi {
  /** HNS bugs to reproduce; set them between calls. */
  readonly faults: HnsFaults;
  #version: HnsVersion;
  readonly #internalVips = new BlockList();
  readonly #reservedHostPorts: readonly HostPort[];
  readonly #ephemeralBlocks: number;

  readonly #networks = new Map<string, Stored<HostComputeNetwork>>();
  readonly #endpoints = new Map<string, Stored<HostComputeEndpoint>>();
  readonly #loadBalancers = new Map<string, Stored<HostComputeLoadBalancer>>();
  /**
   * Indexes over the two stores, kept by #putEndpoint/#dropEndpoint and
   * #putLoadBalancer/#dropLoadBalancer, so that HNS's rules are lookups, not
   * scans: the load test holds 100,000 endpoints and 11,000 load balancers.
   */
  readonly #endpointsByIp = new Map<string, string[]>();
  readonly #loadBalancerByFrontend = new Map<string, string>();
  /** How many load balancers name each endpoint. */
  readonly #endpointUsers = new Map<string, number>();
  #nonDsrLoadBalancers = 0;
  /** Every handle the caller holds open: what it names. A restart forgets them all. */
  readonly #handles = new Map<HcnHandle, { kind: Kind; id: string }>();

  #down = false;
  readonly #failNext = new Map<HcnCallName, { hr: number; left: number }>();
  #serial = 0;

  constructor(o: HnsEmulatorOptions = {}) {
    this.#version = o.version ?? { major: 16, minor: 0 };
    this.faults = { allowDuplicateEndpointIp: false, ...o.faults };
    this.#reservedHostPorts = o.reservedHostPorts ?? [{ protocol: IpProtocol.TCP, port: 10256 }];
    this.#ephemeralBlocks = o.ephemeralBlocks ?? Number.POSITIVE_INFINITY;
    for (const cidr of o.internalVipRanges ?? ['10.96.0.0/12', 'fd00:10:96::/108']) {
      const [net, bits] = cidr.split('/');
      this.#internalVips.addSubnet(net!, Number(bits), isIPv6(net!) ? 'ipv6' : 'ipv4');
    }
    for (const n of o.networks ?? [l2bridgeNetwork()]) {
      if (n.ID !== undefined && !GUID_PATTERN.test(n.ID)) throw new Error(`network ${n.Name}: ID ${n.ID} is no GUID`);
      const id = n.ID?.toUpperCase() ?? this.#assignId('network');
      this.#networks.set(id, { ...structuredClone(n), ID: id });
    }
  }

  // ---- HcnApi: thin entries over the shared steps below ----

  HcnEnumerateNetworks = (q: string) => this.#call('HcnEnumerateNetworks', () => this.#enumerate('network', q));
  HcnOpenNetwork = (id: string) => this.#call('HcnOpenNetwork', () => this.#open('network', id));
  HcnQueryNetworkProperties = (h: HcnHandle, q: string) =>
    this.#call('HcnQueryNetworkProperties', () => this.#query('network', h, q));
  HcnCloseNetwork = (h: HcnHandle) => this.#call('HcnCloseNetwork', () => this.#close('network', h));

  HcnEnumerateEndpoints = (q: string) => this.#call('HcnEnumerateEndpoints', () => this.#enumerate('endpoint', q));
  HcnCreateEndpoint = (network: HcnHandle, id: string, settings: string) =>
    this.#call('HcnCreateEndpoint', () => {
      const networkId = this.#held('network', network);
      return ok(undefined, this.#newHandle('endpoint', this.#createEndpoint(networkId, id, settings)));
    });
  HcnOpenEndpoint = (id: string) => this.#call('HcnOpenEndpoint', () => this.#open('endpoint', id));
  HcnQueryEndpointProperties = (h: HcnHandle, q: string) =>
    this.#call('HcnQueryEndpointProperties', () => this.#query('endpoint', h, q));
  HcnDeleteEndpoint = (id: string) => this.#call('HcnDeleteEndpoint', () => this.#deleteEndpoint(id));
  HcnCloseEndpoint = (h: HcnHandle) => this.#call('HcnCloseEndpoint', () => this.#close('endpoint', h));

  HcnEnumerateLoadBalancers = (q: string) =>
    this.#call('HcnEnumerateLoadBalancers', () => this.#enumerate('loadBalancer', q));
  HcnCreateLoadBalancer = (id: string, settings: string) =>
    this.#call('HcnCreateLoadBalancer', () => {
      const lbId = this.#newId('loadBalancer', id);
      this.#putLoadBalancer(lbId, loadBalancerOf(settings, lbId, this.#loadBalancerView()));
      return ok(undefined, this.#newHandle('loadBalancer', lbId));
    });
  HcnOpenLoadBalancer = (id: string) => this.#call('HcnOpenLoadBalancer', () => this.#open('loadBalancer', id));
  HcnQueryLoadBalancerProperties = (h: HcnHandle, q: string) =>
    this.#call('HcnQueryLoadBalancerProperties', () => this.#query('loadBalancer', h, q));
  HcnModifyLoadBalancer = (h: HcnHandle, settings: string) =>
    this.#call('HcnModifyLoadBalancer', () => this.#modifyLoadBalancer(h, settings));
  HcnDeleteLoadBalancer = (id: string) =>
    this.#call('HcnDeleteLoadBalancer', () => {
      this.#dropLoadBalancer(this.#existing('loadBalancer', id));
      return ok();
    });
  HcnCloseLoadBalancer = (h: HcnHandle) => this.#call('HcnCloseLoadBalancer', () => this.#close('loadBalancer', h));

  /** V1 HNSCall: only GET /globals/version, whose response is V1's {Success, Output}. */
  HNSCall = (method: string, path: string, _request: string) =>
    this.#call('HNSCall', () => {
      if (method.toUpperCase() !== 'GET' || path.toLowerCase() !== '/globals/version')
        refuse(HResult.E_NOTIMPL, `${method} ${path} is not emulated`);
      const { major, minor } = this.#version;
      return ok(JSON.stringify({ Success: true, Output: { Major: major, Minor: minor } }));
    });

  // ---- The test-facing side ----

  /** The CNI creating a pod's endpoint (HNS's rules apply; a refusal throws). Returns its ID. */
  addLocalEndpoint(o: { ip: string | readonly string[]; mac?: string; name?: string; network?: string }): string {
    const network = [...this.#networks.values()].find(
      (n) => o.network === undefined || n.Name === o.network || sameGuid(n.ID, o.network),
    );
    if (network === undefined) throw new Error(`no network ${o.network}`);
    const settings: HostComputeEndpoint = {
      ...(o.name === undefined ? {} : { Name: o.name }),
      IpConfigurations: (typeof o.ip === 'string' ? [o.ip] : o.ip).map((ip) => ({ IpAddress: ip })),
      MacAddress: o.mac ?? this.#hyperVMac(),
      Flags: EndpointFlags.None,
      SchemaVersion: SCHEMA_VERSION,
    };
    return this.#createEndpoint(network.ID, ZERO_GUID, JSON.stringify(settings));
  }

  /** The CNI deleting a pod's endpoint: HcnDeleteEndpoint's rules apply, and a refusal throws. */
  removeEndpoint(id: string): void {
    this.#deleteEndpoint(id);
  }

  /** Someone else (an operator, another agent) deletes a load balancer or endpoint, references or not. */
  deleteOutOfBand(id: string): boolean {
    const key = id.toUpperCase();
    return this.#dropLoadBalancer(key) || this.#dropEndpoint(key);
  }

  loadBalancers(): HostComputeLoadBalancer[] {
    return structuredClone([...this.#loadBalancers.values()]);
  }

  endpoints(): HostComputeEndpoint[] {
    return structuredClone([...this.#endpoints.values()]);
  }

  networks(): HostComputeNetwork[] {
    return structuredClone([...this.#networks.values()]);
  }

  /** Handles opened or created and not yet closed: a caller that closes what it opens leaves 0. */
  openHandles(): number {
    return this.#handles.size;
  }

  /** The HNS service stopped (down) or started again: while down, every call fails with RPC_S_SERVER_UNAVAILABLE. */
  setDown(down: boolean): void {
    this.#down = down;
  }

  /** The next `count` calls of `call` fail with `hr` (signed or unsigned) and change nothing. */
  failNext(call: HcnCallName, hr: number, count = 1): void {
    this.#failNext.set(call, { hr, left: count });
  }

  /**
   * HNS restarts, and is up afterwards: every handle is void. With rehydrate HNS
   * brings its load balancers and endpoints back (kubernetes#139519); without, it
   * keeps only the networks and the CNI's local endpoints.
   */
  restart(o: { rehydrate: boolean }): void {
    this.#handles.clear();
    this.#down = false;
    if (o.rehydrate) return;
    for (const id of [...this.#loadBalancers.keys()]) this.#dropLoadBalancer(id);
    for (const [id, ep] of [...this.#endpoints]) if (isRemote(ep)) this.#dropEndpoint(id);
  }

  setVersion(v: HnsVersion): void {
    this.#version = { ...v };
  }

  // ---- The steps the calls share ----

  /** Every call's edge: the service's state first, then injected faults, then the call; a Refusal becomes its record. */
  async #call(name: HcnCallName, body: () => HcnCall): Promise<HcnCall> {
    try {
      if (this.#down) refuse(HResult.RPC_UNAVAILABLE, 'the HNS service is not running');
      const injected = this.#failNext.get(name);
      if (injected !== undefined) {
        if (--injected.left <= 0) this.#failNext.delete(name);
        refuse(injected.hr, `${name} failed by failNext`);
      }
      return body();
    } catch (e) {
      if (e instanceof Refusal) return failure(e.hr, e.why);
      throw e;
    }
  }

  #store(kind: Kind): Map<string, Stored<HostComputeEndpoint | HostComputeNetwork | HostComputeLoadBalancer>> {
    return { network: this.#networks, endpoint: this.#endpoints, loadBalancer: this.#loadBalancers }[kind];
  }

  /** A REFGUID argument: the C binding converts the text first, so a malformed one fails before HNS looks. */
  #guid(id: string): string {
    if (!GUID_PATTERN.test(id)) refuse(HResult.HCN_GUID_CONVERSION_FAILURE, `${id} is no GUID`);
    return id.toUpperCase();
  }

  #existing(kind: Kind, id: string): string {
    const key = this.#guid(id);
    if (!this.#store(kind).has(key)) refuse(HResult.NOT_FOUND, `no ${kind} ${id}`);
    return key;
  }

  /** The ID of a create: the zero GUID asks HNS for one; a given one must be free. */
  #newId(kind: Kind, id: string): string {
    const key = this.#guid(id);
    if (key === ZERO_GUID) return this.#assignId(kind);
    if (this.#store(kind).has(key)) refuse(HResult.ALREADY_EXISTS, `${kind} ${id} exists`);
    return key;
  }

  #assignId(kind: Kind): string {
    return `${ID_PREFIX[kind]}-0000-4000-8000-${(++this.#serial).toString(16).toUpperCase().padStart(12, '0')}`;
  }

  /** 00-15-5D is Hyper-V's OUI, which HNS's MAC pools hand out. */
  #hyperVMac(): string {
    const n = ++this.#serial;
    const bytes = [n >> 16, n >> 8, n].map((b) => (b & 0xff).toString(16).toUpperCase().padStart(2, '0'));
    return ['00', '15', '5D', ...bytes].join('-');
  }

  #newHandle(kind: Kind, id: string): HcnHandle {
    const handle = Object.freeze({ [Symbol.toStringTag]: `HCN_${kind.toUpperCase()}` });
    this.#handles.set(handle, { kind, id });
    return handle;
  }

  /** The ID an open handle names; a closed, unknown or other-kind handle is invalid. */
  #held(kind: Kind, handle: HcnHandle): string {
    const h = this.#handles.get(handle);
    if (h === undefined || h.kind !== kind) refuse(HResult.INVALID_HANDLE, `no open ${kind} handle`);
    return h!.id;
  }

  #enumerate(kind: Kind, query: string): HcnCall {
    const filter = parseFilter(query);
    for (const [key, value] of Object.entries(filter)) {
      if (!FILTER_KEYS[kind].includes(key)) refuse(HResult.E_INVALIDARG, `${kind}s cannot be filtered by ${key}`);
      if (typeof value !== 'string') refuse(HResult.E_INVALIDARG, `filter ${key} must be a string`);
    }
    const ids = [...this.#store(kind).values()]
      .filter((doc) => Object.entries(filter).every(([key, value]) => passes(doc, key, value as string)))
      .map((doc) => doc.ID);
    return ok(JSON.stringify(ids));
  }

  #open(kind: Kind, id: string): HcnCall {
    return ok(undefined, this.#newHandle(kind, this.#existing(kind, id)));
  }

  /** The stored document; a handle outlives its object, and then names nothing HNS can find. */
  #query(kind: Kind, handle: HcnHandle, query: string): HcnCall {
    const id = this.#held(kind, handle);
    if (query !== '') parseDocument(query, 'the query');
    const doc = this.#store(kind).get(id);
    return doc === undefined ? refuse(HResult.NOT_FOUND, `${kind} ${id} was deleted`) : ok(JSON.stringify(doc));
  }

  #close(kind: Kind, handle: HcnHandle): HcnCall {
    this.#held(kind, handle);
    this.#handles.delete(handle);
    return ok();
  }

  #createEndpoint(networkId: string, id: string, settings: string): string {
    const network = this.#networks.get(networkId) ?? refuse(HResult.HCN_NETWORK_NOT_FOUND, `no network ${networkId}`);
    const epId = this.#newId('endpoint', id);
    const holderOfIp = (ip: string) => this.#endpointsByIp.get(`${networkId}|${canonicalIP(ip)}`)?.[0];
    this.#putEndpoint(epId, endpointOf(settings, epId, { network, holderOfIp, faults: this.faults }));
    return epId;
  }

  #deleteEndpoint(id: string): HcnCall {
    const key = this.#existing('endpoint', id);
    if (this.#endpointUsers.has(key)) {
      const user = [...this.#loadBalancers.values()].find((lb) => lb.HostComputeEndpoints.includes(key))!;
      refuse(HResult.HCN_ENTITY_HAS_REFERENCES, `load balancer ${user.ID} uses endpoint ${key}`);
    }
    this.#dropEndpoint(key);
    return ok();
  }

  /**
   * Modify takes the full document. Builds before the gate answer E_NOTIMPL;
   * 15.4 answers S_OK but keeps the old endpoints (kubernetes#131466), which is
   * why hnslib gates modify at 15.5.
   */
  #modifyLoadBalancer(handle: HcnHandle, settings: string): HcnCall {
    const id = this.#held('loadBalancer', handle);
    const old = this.#loadBalancers.get(id) ?? refuse(HResult.NOT_FOUND, `load balancer ${id} was deleted`);
    const { major, minor } = this.#version;
    const broken = major === 15 && minor === 4;
    if (!hnsFeatures(this.#version).modifyLoadBalancer && !broken)
      refuse(HResult.E_NOTIMPL, `HNS ${major}.${minor} cannot modify a load balancer`);
    const lb = loadBalancerOf(settings, id, this.#loadBalancerView(id));
    if (broken) lb.HostComputeEndpoints = old.HostComputeEndpoints;
    this.#putLoadBalancer(id, lb);
    return ok();
  }

  // ---- The stores and their indexes ----

  #putEndpoint(id: string, ep: Stored<HostComputeEndpoint>): void {
    this.#endpoints.set(id, ep);
    for (const ip of ep.IpConfigurations ?? []) {
      const key = `${ep.HostComputeNetwork}|${canonicalIP(ip.IpAddress)}`;
      this.#endpointsByIp.set(key, [...(this.#endpointsByIp.get(key) ?? []), id]);
    }
  }

  #dropEndpoint(id: string): boolean {
    const ep = this.#endpoints.get(id);
    if (ep === undefined) return false;
    this.#endpoints.delete(id);
    for (const ip of ep.IpConfigurations ?? []) {
      const key = `${ep.HostComputeNetwork}|${canonicalIP(ip.IpAddress)}`;
      const rest = (this.#endpointsByIp.get(key) ?? []).filter((e) => e !== id);
      if (rest.length > 0) this.#endpointsByIp.set(key, rest);
      else this.#endpointsByIp.delete(key);
    }
    return true;
  }

  /** Stores a load balancer, replacing the one of that ID (a modify, which keeps its place) in every index. */
  #putLoadBalancer(id: string, lb: Stored<HostComputeLoadBalancer>): void {
    const old = this.#loadBalancers.get(id);
    if (old !== undefined) this.#unindex(id, old);
    this.#loadBalancers.set(id, lb);
    this.#loadBalancerByFrontend.set(frontendKey(lb), id);
    for (const ep of lb.HostComputeEndpoints) this.#endpointUsers.set(ep, (this.#endpointUsers.get(ep) ?? 0) + 1);
    if (!(flags(lb) & LbFlags.DSR)) this.#nonDsrLoadBalancers++;
  }

  #dropLoadBalancer(id: string): boolean {
    const lb = this.#loadBalancers.get(id);
    if (lb === undefined) return false;
    this.#loadBalancers.delete(id);
    this.#unindex(id, lb);
    return true;
  }

  #unindex(id: string, lb: Stored<HostComputeLoadBalancer>): void {
    if (this.#loadBalancerByFrontend.get(frontendKey(lb)) === id) this.#loadBalancerByFrontend.delete(frontendKey(lb));
    for (const ep of lb.HostComputeEndpoints) {
      const n = (this.#endpointUsers.get(ep) ?? 1) - 1;
      if (n > 0) this.#endpointUsers.set(ep, n);
      else this.#endpointUsers.delete(ep);
    }
    if (!(flags(lb) & LbFlags.DSR)) this.#nonDsrLoadBalancers--;
  }

  #loadBalancerView(self?: string): LoadBalancerView {
    const held = self === undefined ? undefined : this.#loadBalancers.get(self);
    const selfNonDsr = held !== undefined && !(flags(held) & LbFlags.DSR) ? 1 : 0;
    return {
      features: hnsFeatures(this.#version),
      hasEndpoint: (id) => this.#endpoints.has(id.toUpperCase()),
      frontendHolder: (key) => {
        const holder = this.#loadBalancerByFrontend.get(key);
        return holder === self ? undefined : holder;
      },
      hostPortHeld: (protocol, port, vip) =>
        this.#reservedHostPorts.some((p) => p.protocol === protocol && p.port === port) &&
        !(vip !== undefined && this.#internalVips.check(vip, isIPv6(vip) ? 'ipv6' : 'ipv4')),
      freeEphemeralBlocks: () => this.#ephemeralBlocks - (this.#nonDsrLoadBalancers - selfNonDsr),
    };
  }
}
