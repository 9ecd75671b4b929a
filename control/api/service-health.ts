// The health-check node ports of LoadBalancer services with
// externalTrafficPolicy Local, as kube-proxy's pkg/proxy/healthcheck serves
// them: one HTTP server per service on its healthCheckNodePort, answering any
// method and path with 200 when this node has a ready local endpoint of the
// service and the proxy is healthy, else 503, so the cloud load balancer
// sends traffic only to nodes that can serve it locally. Control plane, not
// dataplane: every mode runs it, one set of servers per IP family it serves.
//
// The response is kube-proxy's byte for byte: its three headers, and the body
// its dedented template prints (tab-indented JSON, no final newline).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServicePortState } from '../model/types.js';
import type { IPFamily } from '../sources/types.js';

/** What a service's health check answers with. */
export interface ServiceHealth {
  namespace: string;
  name: string;
  port: number;
  /** Distinct ready endpoint IPs of the service on this node (kube-proxy's LocalReadyEndpoints), across its ports. */
  localEndpoints: number;
}

/**
 * The services with a health-check node port, and their local ready
 * endpoints: kube-proxy's HealthCheckNodePorts and LocalReadyEndpoints.
 * Terminating endpoints are not counted, so a node whose last local pod is
 * draining fails its check while still serving open connections.
 */
export function serviceHealthOf(ports: Iterable<ServicePortState>): Map<string, ServiceHealth> {
  const out = new Map<string, ServiceHealth>();
  const ips = new Map<string, Set<string>>();
  for (const sp of ports) {
    if (sp.healthCheckNodePort === undefined) continue;
    const key = `${sp.namespace}/${sp.service}`;
    let seen = ips.get(key);
    if (!seen) {
      ips.set(key, (seen = new Set()));
      out.set(key, { namespace: sp.namespace, name: sp.service, port: sp.healthCheckNodePort, localEndpoints: 0 });
    }
    for (const e of sp.endpoints) if (e.isLocal && e.ready) seen.add(e.ip);
    out.get(key)!.localEndpoints = seen.size;
  }
  return out;
}

/** kube-proxy's response body: its Go template, dedented and trimmed of newlines. */
export function healthBody(h: Pick<ServiceHealth, 'namespace' | 'name' | 'localEndpoints'>, healthy: boolean): string {
  return [
    '{',
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(h.namespace)},`,
    `\t\t"name": ${JSON.stringify(h.name)}`,
    '\t},',
    `\t"localEndpoints": ${h.localEndpoints},`,
    `\t"serviceProxyHealthy": ${healthy}`,
    '}',
  ].join('\n');
}

export interface ServiceHealthOptions {
  family: IPFamily;
  logger: Logger;
  /** The proxy's health (kube-proxy's healthz Health().Healthy), read on every request. */
  healthy: () => boolean;
}

interface Instance {
  health: ServiceHealth;
  servers: Server[];
  addresses: string[];
}

/** One family's health-check servers: opened, moved and closed as the services come and go. */
export class ServiceHealthServers {
  readonly #opts: ServiceHealthOptions;
  readonly #instances = new Map<string, Instance>();
  /** Bind failures already logged, so a port held by another process is logged once, not every sync. */
  readonly #reported = new Set<string>();

  constructor(opts: ServiceHealthOptions) {
    this.#opts = opts;
  }

  /**
   * Makes the servers match `services`. `addresses` are where they listen:
   * the family's NodePort addresses, or undefined for every address of the
   * family (0.0.0.0 or ::), as kube-proxy binds them. A service whose port
   * cannot be bound (another process holds it) is logged and tried again at
   * the next sync; the others are served.
   */
  async sync(services: ReadonlyMap<string, ServiceHealth>, addresses: readonly string[] | undefined): Promise<void> {
    const bind = addresses ?? [this.#opts.family === 'IPv4' ? '0.0.0.0' : '::'];
    const sameBind = (a: readonly string[]) => a.length === bind.length && a.every((x, i) => x === bind[i]);
    for (const [key, inst] of this.#instances) {
      const want = services.get(key);
      if (!want || want.port !== inst.health.port || !sameBind(inst.addresses)) {
        this.#instances.delete(key);
        await closeAll(inst.servers);
        this.#opts.logger.info({ service: key, port: inst.health.port }, 'closed health check node port');
      }
    }
    for (const [key, want] of services) {
      const inst = this.#instances.get(key);
      if (inst) {
        inst.health = want;
        continue;
      }
      const opened: Instance = { health: want, servers: [], addresses: [...bind] };
      try {
        for (const address of bind) opened.servers.push(await this.#listen(opened, address));
      } catch (err) {
        await closeAll(opened.servers);
        const id = `${key}|${want.port}|${(err as NodeJS.ErrnoException).code}`;
        if (!this.#reported.has(id)) {
          this.#reported.add(id);
          this.#opts.logger.error(
            { err, service: key, port: want.port, family: this.#opts.family },
            'cannot open the health check node port of a service; it is retried at the next sync',
          );
        }
        continue;
      }
      this.#instances.set(key, opened);
      this.#opts.logger.info({ service: key, port: want.port, addresses: bind }, 'opened health check node port');
    }
  }

  /** What is served: for the ops API and tests. */
  list(): Array<ServiceHealth & { addresses: string[] }> {
    return [...this.#instances.values()].map((i) => ({ ...i.health, addresses: [...i.addresses] }));
  }

  async close(): Promise<void> {
    const all = [...this.#instances.values()];
    this.#instances.clear();
    for (const inst of all) await closeAll(inst.servers);
  }

  #listen(inst: Instance, address: string): Promise<Server> {
    const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
      const healthy = this.#opts.healthy();
      const { localEndpoints } = inst.health;
      const body = healthBody(inst.health, healthy);
      res.writeHead(localEndpoints !== 0 && healthy ? 200 : 503, {
        'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff',
        'X-Load-Balancing-Endpoint-Weight': String(localEndpoints),
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port: inst.health.port, ipv6Only: address.includes(':') }, () => {
        server.off('error', reject);
        // A health check is one request per probe: do not hold idle sockets open.
        server.keepAliveTimeout = 1000;
        resolve(server);
      });
    });
  }
}

async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}
