// Stale UDP conntrack entries, cleared as kube-proxy clears them
// (pkg/proxy/conntrack): a UDP "connection" has no end, so without this a
// client that keeps sending from one port stays on an endpoint that is gone,
// or on the REJECT a service without endpoints had, for as long as it sends.
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { ipFamilyOf } from '../model/address.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';
import type { IPFamily } from '../sources/types.js';
import type { SyncRequest } from '../proxiers/types.js';

/** What a UDP service port needs remembered between syncs. */
export interface UdpPort {
  /** Every address of the proxier's family the port answers on: ClusterIP, externalIPs, load-balancer IPs. */
  vips: string[];
  port: number;
  nodePort?: number;
  /** The endpoint IPs traffic may be DNATed to. */
  endpoints: Set<string>;
}

export function udpPort(sp: ServicePortState, family: IPFamily = 'IPv4'): UdpPort | undefined {
  if (sp.protocol !== 'UDP') return undefined;
  const endpoints = new Set<string>();
  for (const e of [...(sp.clusterEndpoints ?? []), ...(sp.localEndpoints ?? [])]) endpoints.add(e.ip);
  return {
    vips: [...sp.clusterIPs, ...sp.externalIPs, ...sp.loadBalancerIPs].filter((ip) => ipFamilyOf(ip) === family),
    port: sp.port,
    ...(sp.nodePort ? { nodePort: sp.nodePort } : {}),
    endpoints,
  };
}

/** `conntrack -D` filters for what changed between two states of one UDP port. */
export function staleFilters(before: UdpPort | undefined, after: UdpPort | undefined): string[][] {
  if (!before || !after) return [];
  const filters: string[][] = [];
  // Endpoints gone: flows DNATed to them (by any of the port's addresses, or its NodePort).
  for (const ep of before.endpoints) {
    if (after.endpoints.has(ep)) continue;
    for (const vip of before.vips)
      filters.push(['--orig-dst', vip, '--orig-port-dst', String(before.port), '--dst-nat', ep]);
    if (before.nodePort) filters.push(['--orig-port-dst', String(before.nodePort), '--dst-nat', ep]);
  }
  // From no endpoints to some: the flows that met the REJECT (or nothing) must start over.
  if (before.endpoints.size === 0 && after.endpoints.size > 0) {
    for (const vip of after.vips) filters.push(['--orig-dst', vip, '--orig-port-dst', String(after.port)]);
    if (after.nodePort) filters.push(['--orig-port-dst', String(after.nodePort)]);
  }
  return filters;
}

export class ConntrackCleaner {
  readonly #logger: Logger;
  /** conntrack's -f: the family's table of flows. */
  readonly #family: 'ipv4' | 'ipv6';
  #missing = false;

  constructor(logger: Logger, family: IPFamily = 'IPv4') {
    this.#logger = logger;
    this.#family = family === 'IPv6' ? 'ipv6' : 'ipv4';
  }

  /** Deletes the UDP entries each filter matches; failures are logged, never fatal. */
  async clear(filters: string[][]): Promise<void> {
    if (this.#missing) return;
    for (const f of filters) {
      const status = await new Promise<number | 'ENOENT'>((resolve) => {
        const child = spawn('conntrack', ['-D', '-f', this.#family, '-p', 'udp', ...f], { stdio: 'ignore' });
        child.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT' ? 'ENOENT' : -1));
        child.on('close', (code) => resolve(code ?? -1));
      });
      if (status === 'ENOENT') {
        this.#missing = true;
        this.#logger.warn(
          'conntrack is not installed: UDP flows may stay on removed endpoints (Debian: apt-get install conntrack)',
        );
        return;
      }
      // Exit 1 with "0 flow entries have been deleted" is the common case: nothing to clear.
      this.#logger.debug({ filter: f.join(' '), status }, 'cleared UDP conntrack entries');
    }
  }
}

/**
 * The UDP ports as last programmed, and after each sync the conntrack
 * entries that went stale: flows to endpoints that are gone, and flows that
 * met a refusal before the port had endpoints. Shared by the modes that DNAT
 * through netfilter (iptables, ipvs).
 */
export class StaleUdpFlows {
  readonly #cleaner: ConntrackCleaner;
  readonly #udp = new Map<ServicePortName, UdpPort>();
  readonly #family: IPFamily;

  constructor(logger: Logger, family: IPFamily = 'IPv4') {
    this.#cleaner = new ConntrackCleaner(logger, family);
    this.#family = family;
  }

  /** After a sync's rules are in: `full` looks at every port, otherwise at what changed. */
  async clear(req: SyncRequest, full = req.full): Promise<void> {
    const filters: string[][] = [];
    const names = full
      ? new Set([...req.desired.keys(), ...this.#udp.keys()])
      : new Set([...req.changed, ...req.removed.keys()]);
    for (const name of names) {
      const sp = req.desired.get(name);
      const after = sp ? udpPort(sp, this.#family) : undefined;
      const before =
        this.#udp.get(name) ?? (req.removed.has(name) ? udpPort(req.removed.get(name)!, this.#family) : undefined);
      // A removed port: every flow to it is stale.
      filters.push(...staleFilters(before, after ?? (before ? { ...before, endpoints: new Set() } : undefined)));
      if (after) this.#udp.set(name, after);
      else this.#udp.delete(name);
    }
    if (filters.length) await this.#cleaner.clear(filters);
  }
}
