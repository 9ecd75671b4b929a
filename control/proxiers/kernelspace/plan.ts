// The kernelspace planner: per service port, the HNS load balancers and
// endpoints kube-proxy's winkernel proxier would have HNS hold, for one IP
// family. Pure: the model's service ports and what is known of the node and
// HNS in, a plan out; the reconciler (reconcile.ts) makes it so.
import type { EndpointState, ServicePortName, ServicePortState } from '../../model/types.js';
import { BlockList, isIPv6 } from 'node:net';
import {
  Distribution,
  IpProtocol,
  LbFlags,
  PortMappingFlags,
  SCHEMA_VERSION,
  type HostComputeLoadBalancer,
} from './hcn/schema.js';
import type {
  BackendRef,
  HnsNodeContext,
  HnsPlan,
  LoadBalancerRole,
  PlannedEndpoint,
  PlannedLoadBalancer,
} from './types.js';

/** The frontend identity HNS keeps unique: family, protocol, VIP (or "*" for every node address), external port. */
export function frontendKey(family: string, protocol: number, vip: string | undefined, externalPort: number): string {
  return `${family}/${protocol}/${vip?.toLowerCase() ?? '*'}/${externalPort}`;
}

/** The same identity, from a document HNS answered (the family is its IPv6 flag). */
export function frontendKeyOf(doc: HostComputeLoadBalancer): string {
  const m = doc.PortMappings?.[0];
  const family = ((doc.Flags ?? 0) & LbFlags.IPv6) !== 0 ? 'IPv6' : 'IPv4';
  return frontendKey(family, m?.Protocol ?? 0, doc.FrontendVIPs?.[0], m?.ExternalPort ?? 0);
}

/**
 * winkernel's made-up MAC for a remote endpoint: "02-11-" and the IPv4
 * bytes, or the last four bytes of an IPv6 address, lowest first (HNS wants
 * a MAC; VFP never sends to it, the remote endpoint is routed).
 */
export function conjureMac(ip: string): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  if (!isIPv6(ip))
    return `02-11-${ip
      .split('.')
      .map((o) => hex(Number(o)))
      .join('-')}`;
  const bytes = ipv6Bytes(ip);
  return `02-11-${[bytes[15]!, bytes[14]!, bytes[13]!, bytes[12]!].map(hex).join('-')}`;
}

function ipv6Bytes(ip: string): number[] {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const parts = (s: string | undefined) => (s ? s.split(':') : []);
  const h = parts(head);
  const t = parts(tail);
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 255];
  });
}

const PROTOCOL: Record<ServicePortState['protocol'], number> = {
  TCP: IpProtocol.TCP,
  UDP: IpProtocol.UDP,
  SCTP: IpProtocol.SCTP,
};

/** The HCN document of a planned load balancer, its backends resolved to endpoint IDs. */
export function loadBalancerDocument(lb: PlannedLoadBalancer, endpointIds: readonly string[]): HostComputeLoadBalancer {
  const doc: HostComputeLoadBalancer = {
    HostComputeEndpoints: [...endpointIds],
    PortMappings: [
      {
        Protocol: lb.protocol,
        InternalPort: lb.internalPort,
        ExternalPort: lb.externalPort,
        DistributionType: lb.distributionType,
        Flags: lb.portMappingFlags,
      },
    ],
    SchemaVersion: SCHEMA_VERSION,
    Flags: lb.flags,
  };
  if (lb.frontendVip) doc.FrontendVIPs = [lb.frontendVip];
  if (lb.sourceVip) doc.SourceVIP = lb.sourceVip;
  // Key order as hcsshim marshals it, so the JSON reads the same in HNS's logs.
  return {
    ...(doc.SourceVIP ? { SourceVIP: doc.SourceVIP } : {}),
    HostComputeEndpoints: doc.HostComputeEndpoints,
    ...(doc.FrontendVIPs ? { FrontendVIPs: doc.FrontendVIPs } : {}),
    PortMappings: doc.PortMappings,
    SchemaVersion: doc.SchemaVersion,
    Flags: doc.Flags,
  };
}

const backendOf = (e: EndpointState): BackendRef =>
  e.isLocal ? { kind: 'local', ip: e.ip } : { kind: 'remote', ip: e.ip };

export function planHns(ports: Iterable<ServicePortState>, ctx: HnsNodeContext): HnsPlan {
  const lbs = new Map<string, PlannedLoadBalancer>();
  const endpoints = new Map<string, PlannedEndpoint>();
  const skipped: HnsPlan['skipped'] = [];
  const remoteSubnets = ctx.remoteSubnets.map((r) => {
    const [net, bits] = r.DestinationPrefix.split('/');
    const list = new BlockList();
    list.addSubnet(net!, Number(bits), isIPv6(net!) ? 'ipv6' : 'ipv4');
    return { list, pa: r.ProviderAddress, type: isIPv6(net!) ? ('ipv6' as const) : ('ipv4' as const) };
  });
  const subnetOf = (ip: string) =>
    remoteSubnets.find((s) => s.type === (isIPv6(ip) ? 'ipv6' : 'ipv4') && s.list.check(ip, s.type));
  const overlay = ctx.networkType === 'overlay';
  const dsr = ctx.features.dsr;
  const ipv6 = ctx.family === 'IPv6' ? LbFlags.IPv6 : 0;

  const users = new Map<string, Set<ServicePortName>>();
  const need = (e: Omit<PlannedEndpoint, 'users'>, user: ServicePortName) => {
    const key = e.ip.toLowerCase();
    if (!endpoints.has(key)) endpoints.set(key, { ...e, users: [] });
    let set = users.get(key);
    if (!set) users.set(key, (set = new Set()));
    set.add(user);
  };

  for (const sp of [...ports].sort((a, b) => a.name.localeCompare(b.name))) {
    const protocol = PROTOCOL[sp.protocol];
    const clusterEps = (sp.internalTrafficPolicy === 'Local' ? sp.localEndpoints : sp.clusterEndpoints) ?? [];
    // preserve-destination keeps the ingress IP as the destination, so only a pod of this node can answer (winkernel).
    const externalLocal = sp.externalTrafficPolicy === 'Local' || sp.preserveDestination === true;
    // The model gives local endpoints only where a Local policy asks for them: preserve-destination's are the cluster path's local ones.
    const localEps = sp.localEndpoints ?? (sp.clusterEndpoints ?? []).filter((e) => e.isLocal);
    const externalEps = (externalLocal ? localEps : sp.clusterEndpoints) ?? [];
    // DSR (NodePorts and externalIPs: ETP Local; ingress IPs: that or preserve-destination) and PreserveDIP
    // need HNS's DSR; winkernel drops them silently where it is missing.
    const externalDsr = dsr && sp.externalTrafficPolicy === 'Local' ? LbFlags.DSR : 0;
    const preserveDip = dsr && sp.preserveDestination ? PortMappingFlags.UseMux | PortMappingFlags.PreserveDIP : 0;

    const add = (
      role: LoadBalancerRole,
      eps: readonly EndpointState[] | BackendRef[],
      fields: Pick<PlannedLoadBalancer, 'externalPort' | 'flags' | 'portMappingFlags'> & {
        vip?: string;
        internalPort?: number;
        protocol?: number;
        distributionType?: number;
      },
    ) => {
      // HNS refuses a load balancer without backends (kubernetes#106936): none is planned.
      if (eps.length === 0) return;
      const backends = eps.map((e) => ('kind' in e ? e : backendOf(e)));
      // HNS has one InternalPort per load balancer: a named target port takes the first endpoint's (winkernel).
      const first = eps[0]!;
      const internalPort = fields.internalPort ?? ('port' in first ? first.port : 0);
      const proto = fields.protocol ?? protocol;
      const key = frontendKey(ctx.family, proto, fields.vip, fields.externalPort);
      const owner = lbs.get(key);
      if (owner) {
        skipped.push({ name: sp.name, reason: `${key}: the frontend is ${owner.servicePort}'s already` });
        return;
      }
      const lb: PlannedLoadBalancer = {
        key,
        servicePort: sp.name,
        role,
        family: ctx.family,
        protocol: proto,
        internalPort,
        externalPort: fields.externalPort,
        flags: fields.flags | ipv6,
        portMappingFlags: fields.portMappingFlags,
        distributionType:
          fields.distributionType ??
          (sp.affinityTimeoutSeconds !== undefined ? Distribution.SourceIP : Distribution.None),
        backends,
      };
      if (fields.vip) lb.frontendVip = fields.vip;
      const sourceVip = sourceVipFor(backends);
      if (sourceVip) lb.sourceVip = sourceVip;
      lbs.set(key, lb);
      for (const b of backends)
        if (b.kind === 'remote')
          need(
            {
              ip: b.ip,
              kind: 'remote',
              role: 'backend',
              macAddress: conjureMac(b.ip),
              ...(overlay ? { providerAddress: subnetOf(b.ip)?.pa ?? ctx.nodeIP } : {}),
            },
            sp.name,
          );
    };

    /**
     * Overlay load balancers source-NAT to --source-vip, except to a remote
     * backend outside every remote subnet (a node IP, a "public" address),
     * which is reached from the node IP. L2bridge leaves SourceVIP out, as
     * winkernel does (kubernetes/community#8890 reports NatPool trouble with that).
     */
    function sourceVipFor(backends: readonly BackendRef[]): string | undefined {
      if (!overlay) return undefined;
      const outside = backends.some((b) => b.kind === 'remote' && (b.ip === ctx.nodeIP || !subnetOf(b.ip)));
      return outside ? ctx.nodeIP : ctx.sourceVip;
    }

    for (const vip of sp.clusterIPs) {
      add('cluster-ip', clusterEps, {
        vip,
        externalPort: sp.port,
        flags: ctx.enableDSR && dsr ? LbFlags.DSR : 0,
        portMappingFlags: 0,
      });
      // Overlay: the ClusterIP is routed to this node through a remote endpoint of its own.
      if (overlay && ctx.hostMac && clusterEps.length > 0)
        need(
          { ip: vip, kind: 'remote', role: 'service-vip', macAddress: ctx.hostMac, providerAddress: ctx.nodeIP },
          sp.name,
        );
    }
    if (sp.nodePort)
      add('node-port', externalEps, {
        externalPort: sp.nodePort,
        flags: externalDsr,
        portMappingFlags: PortMappingFlags.LocalRoutedVIP | PortMappingFlags.VipExternalIP,
      });
    for (const ip of sp.externalIPs)
      add('external-ip', externalEps, {
        vip: ip,
        externalPort: sp.port,
        flags: externalDsr,
        portMappingFlags: PortMappingFlags.VipExternalIP,
      });
    for (const ip of sp.loadBalancerIPs) {
      add('ingress-ip', externalEps, {
        vip: ip,
        externalPort: sp.port,
        flags: dsr && externalLocal ? LbFlags.DSR : 0,
        portMappingFlags: PortMappingFlags.VipExternalIP | preserveDip,
      });
      // The cloud's health checks reach the ingress IP; forwarded to the node's own endpoint, where the healthz server answers.
      if (ctx.forwardHealthCheckVip) {
        const port = sp.healthCheckNodePort ?? ctx.healthzPort;
        add('health-check', [{ kind: 'root' }], {
          vip: ip,
          externalPort: port,
          internalPort: port,
          protocol: IpProtocol.TCP,
          distributionType: Distribution.None,
          flags: 0,
          portMappingFlags: preserveDip,
        });
      }
    }
  }

  if (overlay && ctx.sourceVip && ctx.hostMac && lbs.size > 0)
    endpoints.set(ctx.sourceVip.toLowerCase(), {
      ip: ctx.sourceVip,
      kind: 'local',
      role: 'source-vip',
      macAddress: ctx.hostMac,
      users: [],
    });

  const byKey = <T extends { key: string }>(a: T, b: T) => a.key.localeCompare(b.key);
  return {
    loadBalancers: [...lbs.values()].sort(byKey),
    endpoints: [...endpoints.values()]
      .map((e) => ({ ...e, users: [...(users.get(e.ip.toLowerCase()) ?? [])].sort() }))
      .sort((a, b) => a.ip.localeCompare(b.ip)),
    skipped,
  };
}
