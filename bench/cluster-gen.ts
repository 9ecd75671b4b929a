// The load test's cluster: N services × M endpoints as Kubernetes objects,
// served by the test API server. One "target" service points at a real pod
// (the connection-rate measurements use it); the others point at addresses
// that exist nowhere, which costs the proxy exactly what real ones would.
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
}

export const NAMESPACE = 'bench';
export const TARGET = { name: 'target', clusterIP: '10.96.0.10', port: 80 };

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

function service(name: string, ip: string, protocol: 'TCP' | 'UDP', nodePort: number | undefined): Obj {
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
          port: protocol === 'UDP' ? 53 : 80,
          targetPort: 8080,
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
    Math.floor(i * o.mix.nodePort) !== Math.floor((i + 1) * o.mix.nodePort) ? 30000 + (i % 2768) : undefined;
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

/** Every object of a cluster with `count` services: the target plus count-1 generated ones. */
export function clusterObjects(count: number, o: GenOptions): Obj[] {
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } },
    service(TARGET.name, TARGET.clusterIP, 'TCP', undefined),
    slice(TARGET.name, `${TARGET.name}-1`, 'TCP', [{ ip: o.target.ip, node: o.target.node }], o.target.port),
  ];
  for (let i = 1; i < count; i++) {
    const g = generated(i, o);
    objects.push(g.service, g.slice);
  }
  return objects;
}
