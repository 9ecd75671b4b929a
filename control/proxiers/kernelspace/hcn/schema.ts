// HNS v2 (HCN) documents as computenetwork.dll takes and returns them: the
// JSON shapes of HostComputeLoadBalancer, HostComputeEndpoint and
// HostComputeNetwork (hcsshim hcn/*.go, Microsoft's HNS schema), their
// numeric enums, and the HRESULTs HNS answers with. Shared by the client, the
// koffi binding and the emulator, so all three agree on one vocabulary.
//
// Keys are PascalCase and every field is optional on the wire (omitempty);
// IDs are GUID strings compared case-insensitively.

export interface SchemaVersion {
  Major: number;
  Minor: number;
}

/** What switchyard sends in every document (kube-proxy sends the same). */
export const SCHEMA_VERSION: SchemaVersion = { Major: 2, Minor: 0 };

/** HCN's LoadBalancerFlags. */
export const LbFlags = { None: 0, DSR: 1, IPv6: 2 } as const;

/** HCN's LoadBalancerPortMappingFlags (VipExternalIP is kube-proxy's own value, unknown to the docs). */
export const PortMappingFlags = {
  None: 0,
  ILB: 1,
  LocalRoutedVIP: 2,
  UseMux: 4,
  PreserveDIP: 8,
  VipExternalIP: 16,
} as const;

/** HCN's LoadBalancerDistribution. */
export const Distribution = { None: 0, SourceIPProtocol: 1, SourceIP: 2 } as const;

/** HCN's EndpointFlags. */
export const EndpointFlags = { None: 0, RemoteEndpoint: 1 } as const;

/** IP protocol numbers, as PortMappings carry them. */
export const IpProtocol = { TCP: 6, UDP: 17, SCTP: 132 } as const;

/** HostComputeQuery's Flags. */
export const QueryFlags = { None: 0, Detailed: 1 } as const;

export interface PortMapping {
  Protocol: number;
  InternalPort: number;
  ExternalPort: number;
  DistributionType?: number;
  Flags?: number;
}

export interface HostComputeLoadBalancer {
  ID?: string;
  HostComputeEndpoints: string[];
  SourceVIP?: string;
  FrontendVIPs?: string[];
  PortMappings: PortMapping[];
  SchemaVersion: SchemaVersion;
  Flags?: number;
}

export interface IpConfig {
  IpAddress: string;
  PrefixLength?: number;
}

export interface EndpointPolicy {
  Type: string;
  Settings?: Record<string, unknown>;
}

export interface HostComputeEndpoint {
  ID?: string;
  Name?: string;
  HostComputeNetwork?: string;
  IpConfigurations?: IpConfig[];
  MacAddress?: string;
  Flags?: number;
  Policies?: EndpointPolicy[];
  SchemaVersion: SchemaVersion;
}

export interface NetworkPolicy {
  Type: string;
  Settings?: Record<string, unknown>;
}

/** A RemoteSubnetRoute policy's settings: where another node's pod subnet lives (overlay). */
export interface RemoteSubnetRoute {
  DestinationPrefix: string;
  IsolationId?: number;
  ProviderAddress: string;
  DistributedRouterMacAddress?: string;
}

export interface HostComputeNetwork {
  ID?: string;
  Name?: string;
  /** NAT, Transparent, L2Bridge, L2Tunnel, ICS, Private, Overlay. */
  Type?: string;
  Policies?: NetworkPolicy[];
  Ipams?: Array<{ Type?: string; Subnets?: Array<{ IpAddressPrefix?: string }> }>;
  Flags?: number;
  SchemaVersion?: SchemaVersion;
}

/** HostComputeQuery: Filter is itself a JSON-encoded string. */
export interface HostComputeQuery {
  SchemaVersion: SchemaVersion;
  Flags: number;
  Filter?: string;
}

/** The error record HNS returns beside a failing HRESULT. */
export interface HcnErrorRecord {
  Success: false;
  Error: string;
  ErrorCode: number;
}

/**
 * HRESULTs, as unsigned 32-bit values. Facility-7 codes (0x8007xxxx) are
 * Win32 errors; 0x803Bxxxx are HCN's own (Microsoft's HCNHResult reference).
 */
export const HResult = {
  S_OK: 0,
  E_NOTIMPL: 0x80004001,
  E_INVALIDARG: 0x80070057,
  /** ERROR_NOT_FOUND (1168): an unknown GUID. */
  NOT_FOUND: 0x80070490,
  /** ERROR_ALREADY_EXISTS (183): a second load balancer on one frontend. */
  ALREADY_EXISTS: 0x800700b7,
  /** ERROR_INVALID_HANDLE (6): a closed, unknown or wrong-kind HCN handle. */
  INVALID_HANDLE: 0x80070006,
  /** ERROR_NOT_ENOUGH_MEMORY-style failure seen on port exhaustion. */
  OUT_OF_MEMORY: 0x8007000e,
  /** RPC_S_SERVER_UNAVAILABLE: the HNS service is not answering. */
  RPC_UNAVAILABLE: 0x800706ba,
  HCN_NETWORK_NOT_FOUND: 0x803b0001,
  HCN_ENDPOINT_NOT_FOUND: 0x803b0002,
  HCN_PORT_NOT_FOUND: 0x803b0007,
  HCN_INVALID_NETWORK: 0x803b000a,
  HCN_INVALID_ENDPOINT: 0x803b000c,
  HCN_INVALID_REMOTE_ENDPOINT_OPERATION: 0x803b000f,
  HCN_POLICY_ALREADY_EXISTS: 0x803b0012,
  HCN_PORT_ALREADY_EXISTS: 0x803b0013,
  HCN_REQUEST_UNSUPPORTED: 0x803b0015,
  HCN_GUID_CONVERSION_FAILURE: 0x803b0019,
  HCN_INVALID_JSON: 0x803b001b,
  HCN_INVALID_JSON_REFERENCE: 0x803b001c,
  HCN_INVALID_IP: 0x803b001e,
  HCN_ENTITY_HAS_REFERENCES: 0x803b002c,
  HCN_INVALID_INTERNAL_PORT: 0x803b002d,
  HCN_ADDR_INVALID_OR_RESERVED: 0x803b002f,
} as const;

export const GUID_PATTERN = /^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$/;
export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** GUIDs compare case-insensitively (kube-proxy upper-cases them; hnsdiag prints lower case). */
export const sameGuid = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.toUpperCase() === b.toUpperCase();

/** "0x803b0013", as HNS's logs and hcsshim print an HRESULT. */
export const hresultHex = (hr: number): string => `0x${(hr >>> 0).toString(16).padStart(8, '0')}`;

/** The HNS version (V1 GET /globals/version), which gates features. */
export interface HnsVersion {
  major: number;
  minor: number;
}

/** What the HNS version allows (hcsshim hcnglobals.go, hnslib's ModifyLoadbalancer gate). */
export interface HnsFeatures {
  remoteSubnet: boolean;
  dsr: boolean;
  ipv6DualStack: boolean;
  sessionAffinity: boolean;
  modifyLoadBalancer: boolean;
}

const atLeast = (v: HnsVersion, major: number, minor: number) =>
  v.major > major || (v.major === major && v.minor >= minor);
const within = (v: HnsVersion, major: number, lo: number, hi = Number.POSITIVE_INFINITY) =>
  v.major === major && v.minor >= lo && v.minor <= hi;

export function hnsFeatures(v: HnsVersion): HnsFeatures {
  return {
    remoteSubnet: atLeast(v, 9, 2),
    dsr: within(v, 9, 3) || atLeast(v, 10, 2),
    ipv6DualStack: atLeast(v, 11, 10),
    sessionAffinity: atLeast(v, 12, 0),
    // 15.4 accepted the call yet kept the old endpoints (kubernetes#131466): hnslib's gate.
    modifyLoadBalancer: within(v, 15, 5) || atLeast(v, 16, 0),
  };
}
