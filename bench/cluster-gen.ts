// The load test's cluster: N services × M endpoints as Kubernetes objects,
// served by the test API server. One "target" service points at a real pod
// (the connection-rate measurements use it), and with north-south three
// NodePort services do (the outside client's measurements); the others point
// at addresses that exist nowhere, which costs the proxy exactly what real
// ones would. The count includes the real ones: N services are N ports.
//
// Dual-stack (families IPv4 and IPv6): every service is RequireDualStack,
// an IPv4 ClusterIP first and an IPv6 one (fd00:10:96::/112), with a slice
// of each address type, the IPv6 one holding its endpoints' IPv6 twins, so a
// mode's IPv6 tables are as large as its IPv4 ones. Single-stack (IPv4):
// the objects are exactly those of the load test before IPv6.
import type { IPFamily } from '../control/sources/types.js';

export interface Mix {
  /** Fraction of services that are UDP (the rest TCP). */
  udp: number;
  /** Fraction of services of type NodePort (the rest ClusterIP). */
  nodePort: number;
}

/** A real pod behind a service: its addresses (`ip6`, its IPv6 twin), the port it serves, its node. */
export interface Backend {
  ip: string;
  ip6: string;
  port: number;
  node: string;
}

export interface GenOptions {
  services: number;
  endpoints: number;
  mix: Mix;
  /** ['IPv4'] (single-stack) or ['IPv4', 'IPv6'] (every service dual-stack, IPv4 first). */
  families: readonly IPFamily[];
  /** The real backend of the target service. */
  target: Backend;
  /** The node the generated endpoints claim to be on. */
  endpointNode: string;
  /** The real backends of the north-south NodePorts (NORTH_SOUTH); absent: no north-south services. */
  northSouth?: Record<keyof typeof NORTH_SOUTH, Backend>;
}

export const NAMESPACE = 'bench';
export const TARGET = { name: 'target', clusterIP: '10.96.0.10', clusterIP6: 'fd00:10:96::a', port: 80 };
/**
 * The north-south targets: NodePort services (externalTrafficPolicy Cluster,
 * the default) that the outside client reaches at n1's address. Their
 * NodePorts are the top of the default range (30000-32767), which generated
 * services never take, and their ClusterIPs the top of 10.96.0.0/12 (and,
 * dual-stack, of fd00:10:96::/112).
 */
export const NORTH_SOUTH = {
  /** TCP, the backend a pod on the other node: source-NATed, sent on to n2. */
  otherNode: {
    name: 'ns-other-node',
    clusterIP: '10.111.255.1',
    clusterIP6: 'fd00:10:96::fff1',
    port: 80,
    nodePort: 32765,
    protocol: 'TCP',
  },
  /** TCP, the backend a pod on n1 itself. */
  sameNode: {
    name: 'ns-same-node',
    clusterIP: '10.111.255.2',
    clusterIP6: 'fd00:10:96::fff2',
    port: 80,
    nodePort: 32766,
    protocol: 'TCP',
  },
  /** UDP, the backend (a datagram counter) a pod on the other node. */
  udp: {
    name: 'ns-udp',
    clusterIP: '10.111.255.3',
    clusterIP6: 'fd00:10:96::fff3',
    port: 53,
    nodePort: 32767,
    protocol: 'UDP',
  },
} as const;
/** NodePorts generated services take (with --nodeport): 30000 and up, short of NORTH_SOUTH's. */
export const GENERATED_NODE_PORTS = 32765 - 30000;

/** How many generated services a cluster of `count` has: count less the real ones. */
export function generatedCount(count: number, o: GenOptions): number {
  return count - 1 - (o.northSouth ? Object.keys(NORTH_SOUTH).length : 0);
}

type Obj = Record<string, unknown>;

/** 10.96.0.0/12 has room for a million services; index 0 is the target's .10. */
export function clusterIP(i: number): string {
  const n = (10 << 24) | (96 << 16) | (10 + i);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/**
 * fd00:10:96::/112 has room for 65,536: index 0 is the target's ::a, and the
 * generated ones stop short of the north-south ones' ::fff1.
 */
export function clusterIP6(i: number): string {
  return `fd00:10:96::${(10 + i).toString(16)}`;
}

/** The most services a dual-stack cluster holds: generated ClusterIPs up to fd00:10:96::fff0, plus the real ones. */
export const MAX_DUAL_STACK_SERVICES = 0xfff0 - 10 + 1 + Object.keys(NORTH_SOUTH).length;

/** Generated endpoints live in 10.250.0.0/16 and beyond: never a real pod. */
function endpointIP(i: number, j: number, m: number): string {
  const n = ((10 << 24) | (250 << 16)) + i * m + j;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Their IPv6 twins live in fd00:10:250::/96 (outside the pods' fd00:10:244::/56), in canonical form. */
export function endpointIP6(i: number, j: number, m: number): string {
  const n = i * m + j;
  const hi = Math.floor(n / 65536);
  const lo = n % 65536;
  return `fd00:10:250::${hi ? `${hi.toString(16)}:` : ''}${lo.toString(16)}`;
}

const dualStack = (o: GenOptions) => o.families.includes('IPv6');

/**
 * A service with one ClusterIP (single-stack, as before IPv6: no family
 * fields) or an IPv4 and an IPv6 one (RequireDualStack, as the API server
 * stores it: clusterIP is clusterIPs[0], ipFamilies follows clusterIPs).
 */
function service(
  name: string,
  ips: [string] | [string, string],
  protocol: 'TCP' | 'UDP',
  nodePort: number | undefined,
  port = protocol === 'UDP' ? 53 : 80,
  targetPort = 8080,
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      type: nodePort ? 'NodePort' : 'ClusterIP',
      clusterIP: ips[0],
      clusterIPs: ips,
      ...(ips.length === 2 ? { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } : {}),
      ports: [
        {
          name: 'p',
          protocol,
          port,
          targetPort,
          ...(nodePort ? { nodePort } : {}),
        },
      ],
    },
  };
}

/** An EndpointSlice of one address type (`family`, default IPv4) on `port` (default 8080). */
export function slice(
  serviceName: string,
  sliceName: string,
  protocol: 'TCP' | 'UDP',
  endpoints: Array<{ ip: string; node: string }>,
  { port = 8080, family = 'IPv4' }: { port?: number; family?: IPFamily } = {},
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: family,
    ports: [{ name: 'p', protocol, port }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: true } })),
  };
}

/**
 * Service i of the generated set: deterministic, so a change can name it.
 * `slice` is its IPv4 slice (`<name>-1`); dual-stack, `slice6` its IPv6 one
 * (`<name>-ipv6`).
 */
export function generated(
  i: number,
  o: GenOptions,
): { service: Obj; slice: Obj; slice6?: Obj; name: string; protocol: 'TCP' | 'UDP' } {
  const name = `svc-${i}`;
  // Spread the mix evenly rather than randomly: the same run twice is the same cluster.
  const protocol = Math.floor(i * o.mix.udp) !== Math.floor((i + 1) * o.mix.udp) ? 'UDP' : 'TCP';
  const nodePort =
    Math.floor(i * o.mix.nodePort) !== Math.floor((i + 1) * o.mix.nodePort)
      ? 30000 + (i % GENERATED_NODE_PORTS)
      : undefined;
  const eps = Array.from({ length: o.endpoints }, (_, j) => ({
    ip: endpointIP(i, j, o.endpoints),
    node: o.endpointNode,
  }));
  if (!dualStack(o))
    return {
      service: service(name, [clusterIP(i)], protocol, nodePort),
      slice: slice(name, `${name}-1`, protocol, eps),
      name,
      protocol,
    };
  const eps6 = Array.from({ length: o.endpoints }, (_, j) => ({
    ip: endpointIP6(i, j, o.endpoints),
    node: o.endpointNode,
  }));
  return {
    service: service(name, [clusterIP(i), clusterIP6(i)], protocol, nodePort),
    slice: slice(name, `${name}-1`, protocol, eps),
    slice6: slice(name, `${name}-ipv6`, protocol, eps6, { family: 'IPv6' }),
    name,
    protocol,
  };
}

/** A real service's objects: the service, its IPv4 slice (`<name>-1`) and, dual-stack, its IPv6 one with the backend's IPv6 address. */
function realService(
  o: GenOptions,
  s: { name: string; clusterIP: string; clusterIP6: string; protocol: 'TCP' | 'UDP'; port: number; nodePort?: number },
  backend: Backend,
): Obj[] {
  const ips: [string] | [string, string] = dualStack(o) ? [s.clusterIP, s.clusterIP6] : [s.clusterIP];
  return [
    service(s.name, ips, s.protocol, s.nodePort, s.port, backend.port),
    slice(s.name, `${s.name}-1`, s.protocol, [{ ip: backend.ip, node: backend.node }], { port: backend.port }),
    ...(dualStack(o)
      ? [
          slice(s.name, `${s.name}-ipv6`, s.protocol, [{ ip: backend.ip6, node: backend.node }], {
            port: backend.port,
            family: 'IPv6',
          }),
        ]
      : []),
  ];
}

/** Every object of a cluster with `count` services: the target, the north-south ones, and generated ones for the rest. */
export function clusterObjects(count: number, o: GenOptions): Obj[] {
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } },
    ...realService(o, { ...TARGET, protocol: 'TCP' }, o.target),
  ];
  for (const [key, ns] of Object.entries(NORTH_SOUTH) as Array<
    [keyof typeof NORTH_SOUTH, (typeof NORTH_SOUTH)[keyof typeof NORTH_SOUTH]]
  >) {
    const backend = o.northSouth?.[key];
    if (!backend) continue;
    objects.push(...realService(o, ns, backend));
  }
  for (let i = 1; i <= generatedCount(count, o); i++) {
    const g = generated(i, o);
    objects.push(g.service, g.slice, ...(g.slice6 ? [g.slice6] : []));
  }
  return objects;
}
