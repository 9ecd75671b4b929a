// The Kubernetes objects the end-to-end suite serves, as a proxy reads them in
// standalone mode (--manifests DIR): Services and their EndpointSlices in one
// file, replaced by a rename so the daemon never reads half a change, and the
// Nodes in another. Nothing here knows which proxy mode reads them.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Node, Pod } from '../../harness/cluster.js';

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
  clusterIP: string;
  protocol?: 'TCP' | 'UDP';
  /** The service port; the pods' port is POD_TCP_PORT or POD_UDP_PORT. */
  port?: number;
  endpoints: Array<Pod | EndpointSpec>;
  internalTrafficPolicy?: 'Cluster' | 'Local';
  /** ClientIP session affinity with this timeout. */
  affinitySeconds?: number;
}

const asEndpoint = (e: Pod | EndpointSpec): EndpointSpec => ('pod' in e ? e : { pod: e });

export function serviceObject(s: ServiceSpec): Record<string, unknown> {
  const protocol = s.protocol ?? 'TCP';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: NAMESPACE },
    spec: {
      clusterIP: s.clusterIP,
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(s.affinitySeconds !== undefined
        ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinitySeconds } } }
        : {}),
      // A named target port: the proxy must take the number from the slice.
      ports: [{ name: 'main', protocol, port: s.port ?? 80, targetPort: 'main' }],
    },
  };
}

/** One slice per service, as the EndpointSlice controller writes for a small service. */
export function sliceObject(s: ServiceSpec): Record<string, unknown> {
  const protocol = s.protocol ?? 'TCP';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${s.name}-1`, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': s.name } },
    addressType: 'IPv4',
    ports: [{ name: 'main', protocol, port: protocol === 'UDP' ? POD_UDP_PORT : POD_TCP_PORT }],
    endpoints: s.endpoints.map(asEndpoint).map((e) => ({
      addresses: [e.pod.ip],
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
    status: { addresses: [{ type: 'InternalIP', address: node.wireIp }] },
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
    const objects = [...this.#services.values()].flatMap((s) => [serviceObject(s), sliceObject(s)]);
    // A dotfile is not a manifest (the source ignores it), so the daemon sees
    // only the rename: the old file, then the whole new one.
    const tmp = join(this.dir, '.services.yaml.tmp');
    writeFileSync(tmp, documents(objects));
    renameSync(tmp, join(this.dir, 'services.yaml'));
  }
}
