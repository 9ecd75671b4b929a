// The load test's cluster: N services × M endpoints as Kubernetes objects,
// served by the test API server. One "target" service points at a real pod
// (the connection-rate measurements use it), and with north-south three
// NodePort services do (the outside client's measurements); the others point
// at addresses that exist nowhere, which costs the proxy exactly what real
// ones would. The count includes the real ones: N services are N ports.
export interface Mix {
  /** Fraction of services that are UDP (the rest TCP). */
  udp: number;
  /** Fraction of services of type NodePort (the rest ClusterIP). */
  nodePort: number;
}

export interface GenOptions {
  services: number;
  endpoints: number;
  mix: Mix;
  /** The real backend of the target service. */
  target: { ip: string; port: number; node: string };
  /** The node the generated endpoints claim to be on. */
  endpointNode: string;
  /** The real backends of the north-south NodePorts (NORTH_SOUTH); absent: no north-south services. */
  northSouth?: Record<keyof typeof NORTH_SOUTH, { ip: string; port: number; node: string }>;
}

export const NAMESPACE = 'bench';
export const TARGET = { name: 'target', clusterIP: '10.96.0.10', port: 80 };
/**
 * The north-south targets: NodePort services (externalTrafficPolicy Cluster,
 * the default) that the outside client reaches at n1's address. Their
 * NodePorts are the top of the default range (30000-32767), which generated
 * services never take, and their ClusterIPs the top of 10.96.0.0/12.
 */
export const NORTH_SOUTH = {
  /** TCP, the backend a pod on the other node: source-NATed, sent on to n2. */
  otherNode: { name: 'ns-other-node', clusterIP: '10.111.255.1', port: 80, nodePort: 32765, protocol: 'TCP' },
  /** TCP, the backend a pod on n1 itself. */
  sameNode: { name: 'ns-same-node', clusterIP: '10.111.255.2', port: 80, nodePort: 32766, protocol: 'TCP' },
  /** UDP, the backend (a datagram counter) a pod on the other node. */
  udp: { name: 'ns-udp', clusterIP: '10.111.255.3', port: 53, nodePort: 32767, protocol: 'UDP' },
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

/** Generated endpoints live in 10.250.0.0/16 and beyond: never a real pod. */
function endpointIP(i: number, j: number, m: number): string {
  const n = ((10 << 24) | (250 << 16)) + i * m + j;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function service(
  name: string,
  ip: string,
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
      clusterIP: ip,
      clusterIPs: [ip],
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

export function slice(
  serviceName: string,
  sliceName: string,
  protocol: 'TCP' | 'UDP',
  endpoints: Array<{ ip: string; node: string }>,
  port = 8080,
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'p', protocol, port }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: true } })),
  };
}

/** Service i of the generated set: deterministic, so a change can name it. */
export function generated(
  i: number,
  o: GenOptions,
): { service: Obj; slice: Obj; name: string; protocol: 'TCP' | 'UDP' } {
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
  return {
    service: service(name, clusterIP(i), protocol, nodePort),
    slice: slice(name, `${name}-1`, protocol, eps),
    name,
    protocol,
  };
}

/** Every object of a cluster with `count` services: the target, the north-south ones, and generated ones for the rest. */
export function clusterObjects(count: number, o: GenOptions): Obj[] {
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } },
    service(TARGET.name, TARGET.clusterIP, 'TCP', undefined),
    slice(TARGET.name, `${TARGET.name}-1`, 'TCP', [{ ip: o.target.ip, node: o.target.node }], o.target.port),
  ];
  for (const [key, ns] of Object.entries(NORTH_SOUTH) as Array<
    [keyof typeof NORTH_SOUTH, (typeof NORTH_SOUTH)[keyof typeof NORTH_SOUTH]]
  >) {
    const backend = o.northSouth?.[key];
    if (!backend) continue;
    objects.push(
      service(ns.name, ns.clusterIP, ns.protocol, ns.nodePort, ns.port, backend.port),
      slice(ns.name, `${ns.name}-1`, ns.protocol, [{ ip: backend.ip, node: backend.node }], backend.port),
    );
  }
  for (let i = 1; i <= generatedCount(count, o); i++) {
    const g = generated(i, o);
    objects.push(g.service, g.slice);
  }
  return objects;
}
