// The API's shapes, as TypeBox schemas: fastify validates queries and
// parameters with them, serializes responses through them, and
// @fastify/swagger turns them into /openapi.json. One definition each.
import { Type, type Static } from 'typebox';
import { DEFAULT_LIMIT, MAX_LIMIT } from './paging.js';

export const ErrorSchema = Type.Object(
  {
    code: Type.String({ description: 'stable error code (ERR_API_*)' }),
    message: Type.String(),
    statusCode: Type.Integer(),
    cause: Type.Optional(Type.String({ description: 'code of the underlying error, e.g. ERR_BPF_PERMISSION' })),
  },
  { $id: 'Error' },
);

const errors = { 400: Type.Ref('Error'), 404: Type.Ref('Error'), 500: Type.Ref('Error'), 503: Type.Ref('Error') };

const Limit = Type.Integer({
  minimum: 1,
  maximum: MAX_LIMIT,
  default: DEFAULT_LIMIT,
  description: `page size (1-${MAX_LIMIT})`,
});
const Continue = Type.String({ minLength: 1, description: 'the token a previous page returned' });

export const PageQuery = Type.Object(
  { limit: Type.Optional(Limit), continue: Type.Optional(Continue) },
  { additionalProperties: false },
);

export const HealthzBody = Type.Object({
  lastUpdated: Type.String(),
  currentTime: Type.String(),
  nodeEligible: Type.Boolean(),
});
export const LivezBody = Type.Object({ lastUpdated: Type.String(), currentTime: Type.String() });
export const ReadyzBody = Type.Object({
  ready: Type.Boolean(),
  initialSyncDone: Type.Boolean(),
  healthy: Type.Boolean(),
  servesWhileStopped: Type.Boolean({
    description:
      'whether the node keeps serving services while this process is stopped or restarting: false in the userspace mode, whose proxy sockets are the dataplane',
  }),
  reason: Type.Optional(Type.String()),
});

const SyncSummary = Type.Object({
  at: Type.String({ description: 'RFC 3339 time the sync ended' }),
  reason: Type.String(),
  full: Type.Boolean(),
  durationMs: Type.Number(),
  servicePorts: Type.Integer(),
  changed: Type.Integer(),
  removed: Type.Integer(),
  written: Type.Optional(Type.Integer()),
  deleted: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
});

export const StatusBody = Type.Object({
  mode: Type.String(),
  version: Type.String(),
  node: Type.String(),
  source: Type.String({ description: '"kubernetes" or the --manifests path' }),
  startedAt: Type.String(),
  healthy: Type.Boolean(),
  nodeEligible: Type.Boolean(),
  initialSyncDone: Type.Boolean(),
  lastSync: Type.Union([SyncSummary, Type.Null()]),
  lastSuccessfulSync: Type.Union([SyncSummary, Type.Null()]),
  counts: Type.Object({
    services: Type.Integer(),
    endpointSlices: Type.Integer(),
    servicePorts: Type.Integer(),
    programmed: Type.Union([Type.Integer(), Type.Null()], {
      description: 'dataplane entries the proxier holds, null when not started',
    }),
    maps: Type.Union([Type.Integer(), Type.Null()]),
  }),
  interfaces: Type.Array(
    Type.Object({
      name: Type.String(),
      ifindex: Type.Integer(),
      /** Which program translates there: "xdp" (native), "tc" (ingress), or "none" (refused). */
      hook: Type.Optional(Type.String()),
      /** Why an uplink got tc or nothing instead of XDP. */
      reason: Type.Optional(Type.String()),
    }),
  ),
  drops: Type.Optional(
    Type.Record(Type.String(), Type.String({ pattern: '^[0-9]+$' }), {
      description:
        'packets the dataplane dropped per reason (enum sy_drop_reason) since its maps were created, as decimal strings; absent in modes that count none',
    }),
  ),
});

const Endpoint = Type.Object({
  ip: Type.String(),
  port: Type.Integer(),
  family: Type.String(),
  ready: Type.Boolean(),
  serving: Type.Boolean(),
  terminating: Type.Boolean(),
  nodeName: Type.Optional(Type.String()),
  zone: Type.Optional(Type.String()),
  isLocal: Type.Boolean(),
  zoneHints: Type.Array(Type.String()),
  nodeHints: Type.Array(Type.String()),
});

const EndpointList = Type.Union([Type.Array(Type.String()), Type.Null()]);

export const ServicePortSchema = Type.Object(
  {
    name: Type.String({ description: "namespace/name[:port]/protocol, kube-proxy's ServicePortName" }),
    namespace: Type.String(),
    service: Type.String(),
    portName: Type.String(),
    protocol: Type.String(),
    type: Type.String(),
    clusterIPs: Type.Array(Type.String()),
    port: Type.Integer(),
    nodePort: Type.Optional(Type.Integer()),
    externalIPs: Type.Array(Type.String()),
    loadBalancerIPs: Type.Array(Type.String()),
    loadBalancerSourceRanges: Type.Array(Type.String()),
    affinityTimeoutSeconds: Type.Optional(Type.Integer()),
    internalTrafficPolicy: Type.String(),
    externalTrafficPolicy: Type.String(),
    externallyAccessible: Type.Boolean(),
    healthCheckNodePort: Type.Optional(Type.Integer()),
    endpoints: Type.Array(Endpoint),
    clusterEndpoints: Type.Union([EndpointList], {
      description: '"ip:port" list for the cluster path, null when no traffic takes it',
    }),
    localEndpoints: Type.Union([EndpointList], { description: '"ip:port" list for the local path, null when unused' }),
    hasAnyEndpoints: Type.Boolean(),
    topologyMode: Type.String(),
    programmed: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.Integer(),
          address: Type.String(),
          port: Type.Integer(),
          protocol: Type.String(),
          backends: Type.Array(Type.String()),
        }),
        {
          description: 'the dataplane entries this port owns, as the proxier holds them',
        },
      ),
    ),
    chains: Type.Optional(
      Type.Array(Type.String(), {
        description: 'iptables mode: the nat chains this port owns (KUBE-SVC-…, KUBE-SEP-…)',
      }),
    ),
    proxy: Type.Optional(
      Type.Array(
        Type.Object({
          class: Type.Union([Type.Literal('internal'), Type.Literal('external')]),
          family: Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')]),
          protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
          proxyPort: Type.Integer(),
          active: Type.Integer(),
          accepted: Type.Integer(),
          failed: Type.Integer(),
        }),
        {
          description:
            'userspace mode: the proxy sockets of this port (internal: ClusterIPs; external: NodePort, externalIPs, LB IPs), with their connections (UDP: client sessions)',
        },
      ),
    ),
  },
  { $id: 'ServicePort' },
);

const listOf = (item: ReturnType<typeof Type.Ref>) =>
  Type.Object({
    items: Type.Array(item),
    continue: Type.Optional(Type.String()),
    remaining: Type.Integer({ description: 'items after this page' }),
  });

export const ServicesQuery = Type.Object(
  {
    limit: Type.Optional(Limit),
    continue: Type.Optional(Continue),
    namespace: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export const ServicesBody = listOf(Type.Ref('ServicePort'));
export const ServiceParams = Type.Object({ namespace: Type.String(), name: Type.String() });
export const ServiceBody = Type.Object({ items: Type.Array(Type.Ref('ServicePort')) });

export const MapSummarySchema = Type.Object(
  {
    name: Type.String(),
    id: Type.Integer(),
    type: Type.String(),
    keySize: Type.Integer(),
    valueSize: Type.Integer(),
    maxEntries: Type.Integer(),
    entries: Type.Integer(),
    memoryBytes: Type.Union([Type.Integer(), Type.Null()]),
    pinPath: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'MapSummary' },
);
export const MapsBody = Type.Object({
  mode: Type.String(),
  items: Type.Array(Type.Ref('MapSummary')),
  message: Type.Optional(Type.String({ description: 'why a mode has no BPF maps' })),
});

export const MapParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9_.]{1,64}$' }) });
export const MapQuery = Type.Object(
  {
    limit: Type.Optional(Limit),
    continue: Type.Optional(Continue),
    filter: Type.Optional(
      Type.String({ description: 'field selector: key.addr=10.96.0.10,value.flags=affinity (= or !=)' }),
    ),
  },
  { additionalProperties: false },
);
export const MapEntriesBody = Type.Object({
  map: Type.Ref('MapSummary'),
  items: Type.Array(Type.Object({ key: Type.Unknown(), value: Type.Unknown() })),
  continue: Type.Optional(Type.String()),
  remaining: Type.Integer(),
});

export const IpvsQuery = Type.Object(
  {
    limit: Type.Optional(Limit),
    continue: Type.Optional(Continue),
    service: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'a service port name ("ns/name:port/TCP") or its namespace/name prefix',
      }),
    ),
  },
  { additionalProperties: false },
);
const IpvsRealServer = Type.Object({
  address: Type.String(),
  port: Type.Integer(),
  weight: Type.Integer({ description: '0 while a removed endpoint drains' }),
  forwarding: Type.String(),
  activeConnections: Type.Integer(),
  inactiveConnections: Type.Integer(),
  persistentConnections: Type.Integer(),
});
export const IpvsBody = Type.Object({
  mode: Type.String(),
  message: Type.Optional(Type.String({ description: 'why a mode has no IPVS table' })),
  items: Type.Array(
    Type.Object({
      id: Type.String({ description: 'as ipvsadm prints it: "TCP 10.96.0.10:80"' }),
      servicePort: Type.Optional(
        Type.String({ description: 'the service port that owns it; absent for one this proxy did not create' }),
      ),
      scheduler: Type.String(),
      persistence: Type.Optional(
        Type.Object({ timeoutSeconds: Type.Integer(), netmask: Type.Optional(Type.Integer()) }),
      ),
      connections: Type.Optional(
        Type.Integer({ description: 'connections scheduled since the virtual server was made' }),
      ),
      realServers: Type.Array(IpvsRealServer),
    }),
  ),
  continue: Type.Optional(Type.String()),
  remaining: Type.Integer(),
});

export const HnsQuery = IpvsQuery;
const HnsLoadBalancer = Type.Object({
  id: Type.String({ description: 'the HNS GUID' }),
  frontend: Type.String({ description: 'family/protocol/VIP/port, "*" for a NodePort (every node address)' }),
  servicePort: Type.Optional(Type.String()),
  family: Type.String(),
  frontendVip: Type.Optional(Type.String()),
  sourceVip: Type.Optional(Type.String()),
  protocol: Type.Integer({ description: 'IP protocol number: 6 TCP, 17 UDP, 132 SCTP' }),
  internalPort: Type.Integer(),
  externalPort: Type.Integer(),
  flags: Type.Array(Type.String(), { description: 'LoadBalancerFlags: DSR, IPv6' }),
  portMappingFlags: Type.Array(Type.String(), {
    description: 'LocalRoutedVIP, UseMux, PreserveDIP, VipExternalIP',
  }),
  distribution: Type.String({ description: 'None, or SourceIP for ClientIP session affinity' }),
  endpoints: Type.Array(Type.String({ description: 'HostComputeEndpoint GUIDs' })),
});
const HnsEndpoint = Type.Object({
  id: Type.String(),
  ip: Type.String(),
  name: Type.Optional(Type.String()),
  remote: Type.Boolean({ description: "a remote endpoint (a pod on another node); else the CNI's local one" }),
  owned: Type.Boolean({ description: 'created by switchyard, deleted when no load balancer needs it' }),
  users: Type.Array(Type.String(), { description: 'the service ports whose load balancers name it' }),
});
export const HnsBody = Type.Object({
  mode: Type.String(),
  message: Type.Optional(Type.String({ description: 'why a mode has no HNS objects' })),
  network: Type.Optional(Type.Object({ id: Type.String(), name: Type.String(), type: Type.String() })),
  hnsVersion: Type.Optional(Type.String()),
  families: Type.Array(Type.Object({ family: Type.String(), disabled: Type.Optional(Type.String()) })),
  items: Type.Array(HnsLoadBalancer),
  continue: Type.Optional(Type.String()),
  remaining: Type.Integer(),
  endpoints: Type.Array(HnsEndpoint),
});

export const ConntrackQuery = Type.Object(
  {
    limit: Type.Optional(Limit),
    continue: Type.Optional(Continue),
    service: Type.Optional(
      Type.String({ minLength: 1, description: 'namespace/name, a service port name, or address:port' }),
    ),
    client: Type.Optional(Type.String({ minLength: 1, description: 'client IP address (IPv4 or IPv6)' })),
    protocol: Type.Optional(Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')])),
  },
  { additionalProperties: false },
);
export const FlowSchema = Type.Object(
  {
    direction: Type.String(),
    protocol: Type.String(),
    source: Type.String(),
    destination: Type.String(),
    translatedTo: Type.String(),
    client: Type.String({ description: 'the client of the flow, whichever direction this entry is' }),
    flags: Type.Array(Type.String()),
    serviceId: Type.Integer(),
    service: Type.Union([Type.String(), Type.Null()], { description: 'the service port that owns serviceId now' }),
    backendId: Type.Integer(),
    idleSeconds: Type.Number(),
  },
  { $id: 'Flow' },
);
export const ConntrackBody = listOf(Type.Ref('Flow'));

export const SHARED_SCHEMAS = [ErrorSchema, ServicePortSchema, MapSummarySchema, FlowSchema];
export { errors as ErrorResponses };

export type PageQueryT = Static<typeof PageQuery>;
export type ServicesQueryT = Static<typeof ServicesQuery>;
export type MapQueryT = Static<typeof MapQuery>;
export type ConntrackQueryT = Static<typeof ConntrackQuery>;
export type StatusBodyT = Static<typeof StatusBody>;
export type FlowT = Static<typeof FlowSchema>;
