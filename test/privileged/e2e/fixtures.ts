// The Kubernetes objects the end-to-end suite serves, as a proxy reads them in
// standalone mode (--manifests DIR): Services and their EndpointSlices in one
// file, replaced by a rename so the daemon never reads half a change, and the
// Nodes in another. Nothing here knows which proxy mode reads them. A
// service is single- or dual-stack by its ClusterIPs, and gets one slice per
// family of them, as the API server and the EndpointSlice controller make them.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ipFamilyOf } from '../../../control/model/address.js';
import type { IPFamily, Node, Pod } from '../../harness/cluster.js';

export const NAMESPACE = 'e2e';
/** The port every pod's agent serves (startServers in the suite). */
export const POD_TCP_PORT = 8080;
export const POD_UDP_PORT = 5353;

/** An endpoint of a service: a pod, with kube-proxy's three conditions (all ready by default). */
export interface EndpointSpec {
  pod: Pod;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface ServiceSpec {
  name: string;
  /**
   * spec.clusterIPs, the primary family first: one address makes a
   * SingleStack service, one of each family a RequireDualStack one.
   */
  clusterIPs: string[];
  protocol?: 'TCP' | 'UDP';
  /** The service port; the pods' port is POD_TCP_PORT or POD_UDP_PORT. */
  port?: number;
  endpoints: Array<Pod | EndpointSpec>;
  internalTrafficPolicy?: 'Cluster' | 'Local';
  /** ClientIP session affinity with this timeout. */
  affinitySeconds?: number;
  /** ClusterIP unless given. NodePort and LoadBalancer need `nodePort`, which the API server would allocate. */
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  nodePort?: number;
  /** spec.externalIPs, any type; either family, as the API server allows. */
  externalIPs?: string[];
  /** NodePort and LoadBalancer only; the API server's default is Cluster. */
  externalTrafficPolicy?: 'Cluster' | 'Local';
  /** status.loadBalancer.ingress, as the cloud controller writes it (LoadBalancer only); either family. */
  loadBalancerIngress?: Array<{ ip: string; ipMode?: 'VIP' | 'Proxy' }>;
  /** spec.loadBalancerSourceRanges (LoadBalancer only); either family. */
  loadBalancerSourceRanges?: string[];
  /** LoadBalancer with externalTrafficPolicy Local only, where the API server would allocate one. */
  healthCheckNodePort?: number;
}

const asEndpoint = (e: Pod | EndpointSpec): EndpointSpec => ('pod' in e ? e : { pod: e });

/** spec.ipFamilies: the families of the ClusterIPs, in their order. */
export const ipFamiliesOf = (s: ServiceSpec): IPFamily[] => s.clusterIPs.map(ipFamilyOf);

/** What the API server would refuse (or allocate, where a fixture must say it): a fixture mistake, not a test of the proxy. */
function checkSpec(s: ServiceSpec): void {
  const type = s.type ?? 'ClusterIP';
  const external = type === 'NodePort' || type === 'LoadBalancer';
  const wrong = (what: string) => {
    throw new Error(`service ${s.name}: ${what}`);
  };
  const families = ipFamiliesOf(s);
  if (families.length < 1 || families.length > 2 || new Set(families).size !== families.length)
    wrong(`clusterIPs ${s.clusterIPs.join(', ')}: one address, or one of each family`);
  if (external !== (s.nodePort !== undefined)) wrong(`type ${type} ${external ? 'needs' : 'has no'} nodePort`);
  if (!external && s.externalTrafficPolicy) wrong(`type ${type} has no externalTrafficPolicy`);
  if (type !== 'LoadBalancer' && (s.loadBalancerIngress || s.loadBalancerSourceRanges))
    wrong(`type ${type} has no load-balancer ingress or source ranges`);
  const localLb = type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (localLb !== (s.healthCheckNodePort !== undefined))
    wrong(
      `healthCheckNodePort ${localLb ? 'is needed' : 'is only'} for a LoadBalancer with externalTrafficPolicy Local`,
    );
}

export function serviceObject(s: ServiceSpec): Record<string, unknown> {
  checkSpec(s);
  const protocol = s.protocol ?? 'TCP';
  const type = s.type ?? 'ClusterIP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: NAMESPACE },
    spec: {
      ...(s.type ? { type } : {}),
      // As the API server stores a service whatever the client sent: clusterIP
      // is clusterIPs[0], and ipFamilies follows clusterIPs.
      clusterIP: s.clusterIPs[0],
      clusterIPs: s.clusterIPs,
      ipFamilies: ipFamiliesOf(s),
      ipFamilyPolicy: s.clusterIPs.length === 2 ? 'RequireDualStack' : 'SingleStack',
      ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(type === 'NodePort' || type === 'LoadBalancer'
        ? { externalTrafficPolicy: s.externalTrafficPolicy ?? 'Cluster' }
        : {}),
      ...(s.healthCheckNodePort !== undefined ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
      ...(s.loadBalancerSourceRanges ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges } : {}),
      ...(s.affinitySeconds !== undefined
        ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinitySeconds } } }
        : {}),
      // A named target port: the proxy must take the number from the slice.
      ports: [
        {
          name: 'main',
          protocol,
          port: s.port ?? 80,
          targetPort: 'main',
          ...(s.nodePort !== undefined ? { nodePort: s.nodePort } : {}),
        },
      ],
    },
    ...(type === 'LoadBalancer' ? { status: { loadBalancer: { ingress: s.loadBalancerIngress ?? [] } } } : {}),
  };
}

/**
 * One slice per family of the service (`<name>-ipv4`, `<name>-ipv6`), as the
 * EndpointSlice controller writes for a small service: a slice holds one
 * address type, and the controller makes one for each of the service's ipFamilies.
 */
export function sliceObjects(s: ServiceSpec): Array<Record<string, unknown>> {
  return ipFamiliesOf(s).map((family) => sliceObject(s, family));
}

function sliceObject(s: ServiceSpec, family: IPFamily): Record<string, unknown> {
  const protocol = s.protocol ?? 'TCP';
  const name = `${s.name}-${family.toLowerCase()}`;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': s.name } },
    addressType: family,
    ports: [{ name: 'main', protocol, port: protocol === 'UDP' ? POD_UDP_PORT : POD_TCP_PORT }],
    endpoints: s.endpoints.map(asEndpoint).map((e) => ({
      addresses: [family === 'IPv4' ? e.pod.ip : e.pod.ip6],
      nodeName: e.pod.node,
      conditions: {
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      },
    })),
  };
}

export function nodeObject(node: Node): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name },
    // Both families' addresses, as the kubelet of a dual-stack node reports them (--node-ip a,b).
    status: {
      addresses: [
        { type: 'InternalIP', address: node.wireIp },
        { type: 'InternalIP', address: node.wireIp6 },
      ],
    },
  };
}

const documents = (objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');

/**
 * The manifest directory the daemons watch. Services change by set() and
 * remove(), then write() replaces services.yaml in one rename.
 */
export class ManifestDir {
  readonly dir: string;
  readonly #services = new Map<string, ServiceSpec>();

  constructor(dir: string, nodes: Node[]) {
    this.dir = dir;
    writeFileSync(join(dir, 'nodes.yaml'), documents(nodes.map(nodeObject)));
  }

  get(name: string): ServiceSpec {
    const s = this.#services.get(name);
    if (!s) throw new Error(`no service ${name} in the manifests`);
    return s;
  }

  set(...services: ServiceSpec[]): this {
    for (const s of services) this.#services.set(s.name, s);
    return this;
  }

  remove(name: string): this {
    this.#services.delete(name);
    return this;
  }

  write(): void {
    const objects = [...this.#services.values()].flatMap((s) => [serviceObject(s), ...sliceObjects(s)]);
    // A dotfile is not a manifest (the source ignores it), so the daemon sees
    // only the rename: the old file, then the whole new one.
    const tmp = join(this.dir, '.services.yaml.tmp');
    writeFileSync(tmp, documents(objects));
    renameSync(tmp, join(this.dir, 'services.yaml'));
  }
}
