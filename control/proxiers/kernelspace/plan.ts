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

type Needed = Omit<PlannedEndpoint, 'users'>;

/** One service port's share of a plan: its load balancers (frontend clashes not yet settled) and the endpoints each needs. */
interface PortPlan {
  loadBalancers: Array<{ lb: PlannedLoadBalancer; needs: Needed[] }>;
  /** Endpoints the port needs besides its load balancers' backends (overlay: the service-VIP endpoint). */
  needs: Needed[];
}

/** What every port's plan reads of the node, computed once per plan. */
interface NodeView {
  ctx: HnsNodeContext;
  subnetOf: (ip: string) => { pa: string } | undefined;
  overlay: boolean;
  dsr: boolean;
  ipv6: number;
}

function nodeView(ctx: HnsNodeContext): NodeView {
  const remoteSubnets = ctx.remoteSubnets.map((r) => {
    const [net, bits] = r.DestinationPrefix.split('/');
    const list = new BlockList();
    list.addSubnet(net!, Number(bits), isIPv6(net!) ? 'ipv6' : 'ipv4');
    return { list, pa: r.ProviderAddress, type: isIPv6(net!) ? ('ipv6' as const) : ('ipv4' as const) };
  });
  return {
    ctx,
    subnetOf: (ip) => remoteSubnets.find((s) => s.type === (isIPv6(ip) ? 'ipv6' : 'ipv4') && s.list.check(ip, s.type)),
    overlay: ctx.networkType === 'overlay',
    dsr: ctx.features.dsr,
    ipv6: ctx.family === 'IPv6' ? LbFlags.IPv6 : 0,
  };
}

function planPort(sp: ServicePortState, view: NodeView): PortPlan {
  const { ctx, subnetOf, overlay, dsr, ipv6 } = view;
  const fragment: PortPlan = { loadBalancers: [], needs: [] };
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
    const needs: Needed[] = [];
    for (const b of backends)
      if (b.kind === 'remote')
        needs.push({
          ip: b.ip,
          kind: 'remote',
          role: 'backend',
          macAddress: conjureMac(b.ip),
          ...(overlay ? { providerAddress: subnetOf(b.ip)?.pa ?? ctx.nodeIP } : {}),
        });
    fragment.loadBalancers.push({ lb, needs });
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
      fragment.needs.push({
        ip: vip,
        kind: 'remote',
        role: 'service-vip',
        macAddress: ctx.hostMac,
        providerAddress: ctx.nodeIP,
      });
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
  return fragment;
}

/** The plan for these service ports on this node (pure; HnsPlanner gives the same, reusing unchanged ports' shares). */
export function planHns(ports: Iterable<ServicePortState>, ctx: HnsNodeContext): HnsPlan {
  return new HnsPlanner().plan(ports, ctx);
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** An endpoint some load balancers need, with how many of each service port's needs name it. */
interface NeededBy {
  e: Needed;
  users: Map<ServicePortName, number>;
  /** The PlannedEndpoint last handed out, while its users are unchanged. */
  out?: PlannedEndpoint;
}

/** The plan as last put together, kept to change it port by port. */
interface Assembled {
  ports: Map<ServicePortName, { sp: ServicePortState; plan: PortPlan }>;
  /** Frontend key → the load balancer of the port that holds it. */
  loadBalancers: Map<string, PlannedLoadBalancer>;
  endpoints: Map<string, NeededBy>;
  skipped: HnsPlan['skipped'];
  /** Some frontend is wanted by two ports: which one gets it depends on their order, so every plan is put together whole. */
  contested: boolean;
}

/**
 * The planner the proxier keeps. Each service port's share is planned once
 * and reused while the model hands over the same ServicePortState object
 * (the sync loop and the dual-stack split carry unchanged ports over) and
 * the node is as it was; a plan then changes only by the ports that
 * changed, and says which endpoints came and went (HnsPlan.delta), so that
 * at 10,000 services one endpoint change costs that port, not all of them.
 * A frontend two ports want, or new node facts, put the plan together whole,
 * in service-port order (the first port holds the frontend).
 */
export class HnsPlanner {
  #node = '';
  #view: NodeView | undefined;
  #last: Assembled | undefined;
  #lastPlan: HnsPlan | undefined;

  /**
   * `sorted: false` (the proxier's): load balancers and endpoints in no
   * particular order; the reconciler needs none, and the ops API sorts what
   * it shows. Sorting 100,000 endpoints each sync was a third of an endpoint
   * change's time at 10,000 services.
   */
  plan(ports: Iterable<ServicePortState>, ctx: HnsNodeContext, o: { sorted?: boolean } = {}): HnsPlan {
    const node = JSON.stringify(ctx);
    if (node !== this.#node || !this.#view) {
      this.#node = node;
      this.#view = nodeView(ctx);
      this.#last = undefined;
    }
    const view = this.#view;
    const list = [...ports];
    const added = new Map<string, NeededBy>();
    const removed = new Set<string>();
    let a = this.#last && !this.#last.contested ? this.#last : undefined;
    if (a && !this.#update(a, list, view, added, removed)) a = undefined;
    const whole = a === undefined;
    if (!a) a = this.#assemble(list, view);
    this.#last = a;

    const endpoints: PlannedEndpoint[] = [];
    for (const n of a.endpoints.values())
      endpoints.push((n.out ??= { ...n.e, users: [...n.users.keys()].sort(byCodeUnit) }));
    // Overlay: the source VIP's endpoint, while any load balancer source-NATs to it.
    const { sourceVip, hostMac } = ctx;
    const vip = view.overlay && sourceVip && hostMac ? sourceVip.toLowerCase() : undefined;
    const vipEndpoint: PlannedEndpoint | undefined =
      vip && a.loadBalancers.size > 0
        ? { ip: sourceVip!, kind: 'local', role: 'source-vip', macAddress: hostMac!, users: [] }
        : undefined;
    if (vipEndpoint) endpoints.push(vipEndpoint);
    const plan: HnsPlan = { loadBalancers: [...a.loadBalancers.values()], endpoints, skipped: [...a.skipped] };
    const previous = this.#lastPlan;
    if (!whole && previous) {
      const held = a.endpoints;
      const hadVip = vip !== undefined && previous.loadBalancers.length > 0;
      plan.delta = {
        previous,
        added: [
          ...[...added.keys()].filter((k) => held.has(k)).map((k) => held.get(k)!.out!),
          ...(vipEndpoint && !hadVip ? [vipEndpoint] : []),
        ],
        removed: [...[...removed].filter((k) => !held.has(k)), ...(hadVip && !vipEndpoint ? [vip!] : [])],
        has: (ip) => held.has(ip.toLowerCase()) || (vipEndpoint !== undefined && ip.toLowerCase() === vip),
      };
    }
    this.#lastPlan = plan;
    if (o.sorted === false) return plan;
    plan.loadBalancers.sort((x, y) => byCodeUnit(x.key, y.key));
    plan.endpoints.sort((x, y) => byCodeUnit(x.ip.toLowerCase(), y.ip.toLowerCase()));
    return plan;
  }

  /** Everything, in service-port order. */
  #assemble(list: ServicePortState[], view: NodeView): Assembled {
    const a: Assembled = {
      ports: new Map(),
      loadBalancers: new Map(),
      endpoints: new Map(),
      skipped: [],
      contested: false,
    };
    const old = this.#last?.ports;
    for (const sp of list.sort((x, y) => byCodeUnit(x.name, y.name))) {
      const kept = old?.get(sp.name);
      const plan = kept?.sp === sp ? kept.plan : planPort(sp, view);
      a.ports.set(sp.name, { sp, plan });
      this.#add(a, sp.name, plan, undefined);
    }
    return a;
  }

  /** The ports that changed, taken out and put back; false when a frontend clash calls for the whole. */
  #update(
    a: Assembled,
    list: ServicePortState[],
    view: NodeView,
    added: Map<string, NeededBy>,
    removed: Set<string>,
  ): boolean {
    const seen = new Set<ServicePortName>();
    const changed: ServicePortState[] = [];
    for (const sp of list) {
      seen.add(sp.name);
      if (a.ports.get(sp.name)?.sp !== sp) changed.push(sp);
    }
    const gone: ServicePortName[] = [];
    if (seen.size !== a.ports.size || changed.length > 0)
      for (const name of a.ports.keys()) if (!seen.has(name)) gone.push(name);
    for (const name of [...gone, ...changed.map((sp) => sp.name)]) this.#remove(a, name, removed);
    for (const sp of changed) {
      const plan = planPort(sp, view);
      a.ports.set(sp.name, { sp, plan });
      if (!this.#add(a, sp.name, plan, added)) return false;
    }
    return true;
  }

  /** A port's share put in; false (and `contested`) where another port holds one of its frontends. */
  #add(a: Assembled, name: ServicePortName, plan: PortPlan, added: Map<string, NeededBy> | undefined): boolean {
    const need = (e: Needed) => {
      const key = e.ip.toLowerCase();
      let n = a.endpoints.get(key);
      if (!n) {
        a.endpoints.set(key, (n = { e, users: new Map() }));
        added?.set(key, n);
      }
      n.users.set(name, (n.users.get(name) ?? 0) + 1);
      n.out = undefined;
    };
    let clear = true;
    for (const { lb, needs } of plan.loadBalancers) {
      const owner = a.loadBalancers.get(lb.key);
      if (owner) {
        a.skipped.push({ name, reason: `${lb.key}: the frontend is ${owner.servicePort}'s already` });
        a.contested = true;
        clear = false;
        continue;
      }
      a.loadBalancers.set(lb.key, lb);
      for (const e of needs) need(e);
    }
    for (const e of plan.needs) need(e);
    return clear;
  }

  /** A port's share taken out: its frontends and its claims on endpoints; an endpoint no port needs any more is noted. */
  #remove(a: Assembled, name: ServicePortName, removed: Set<string>): void {
    const held = a.ports.get(name);
    if (!held) return;
    a.ports.delete(name);
    const unneed = (e: Needed) => {
      const key = e.ip.toLowerCase();
      const n = a.endpoints.get(key);
      if (!n) return;
      const left = (n.users.get(name) ?? 1) - 1;
      if (left > 0) n.users.set(name, left);
      else n.users.delete(name);
      n.out = undefined;
      if (n.users.size === 0) {
        a.endpoints.delete(key);
        removed.add(key);
      }
    };
    for (const { lb, needs } of held.plan.loadBalancers) {
      if (a.loadBalancers.get(lb.key) !== lb) continue;
      a.loadBalancers.delete(lb.key);
      for (const e of needs) unneed(e);
    }
    for (const e of held.plan.needs) unneed(e);
  }
}
