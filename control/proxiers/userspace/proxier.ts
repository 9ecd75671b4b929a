// The userspace mode: kube-proxy's original proxier, on Node's event loop.
// Per service port and frontend class (internal: ClusterIPs; external:
// NodePort, externalIPs, LB IPs) the proxy holds a socket on a port of
// --proxy-port-range, and iptables redirects the class's addresses to it;
// every connection is accepted here and dialled to an endpoint. Slow by
// design, and the only mode that needs nothing of the kernel but sockets and
// a redirect. Unlike the kernel modes it cannot serve without the process:
// when the daemon stops, its redirects lead to a closed port (refused).
import type { Logger } from 'pino';
import type { IPFamily } from '../../sources/types.js';
import { sameNodeFacts, type NodeFacts } from '../../model/node-facts.js';
import type { ServicePortName, ServicePortState } from '../../model/types.js';
import { Iptables, RESTORE_CHUNK_LINES, type Table } from '../../netfilter/iptables.js';
import { cleanupIptables, missingJumps, type ChainScope } from '../../netfilter/kube-chains.js';
import type { Proxier, ProxierView, ProxySocketView, ServicePortEntries, SyncRequest, SyncResult } from '../types.js';
import { OpenFilesBudget } from './open-files.js';
import { PortAllocator, type PortRange, type Protocol } from './ports.js';
import { TcpPortal, UdpPortal, type PortalEvents } from './portal.js';
import {
  USERSPACE_CHAINS,
  USERSPACE_JUMPS,
  classEndpoints,
  frontends,
  portRules,
  proxyAddress,
  type ClassState,
  type FrontendClass,
  type PortRules,
} from './rules.js';

/** Everything the userspace mode (this one or kube-proxy's) writes. */
export const USERSPACE_MODE: ChainScope = {
  what: 'userspace mode rules',
  tables: ['filter', 'nat'],
  owns: (table, c) =>
    (USERSPACE_CHAINS[table as 'filter' | 'nat'] as readonly string[] | undefined)?.includes(c) ?? false,
  markMasq: false,
};

const CLASSES: readonly FrontendClass[] = ['internal', 'external'];

export interface UserspaceProxierOptions {
  /** The family this proxier serves, with iptables (IPv4) or ip6tables (IPv6) rules and sockets of that family. */
  family?: IPFamily;
  portRange: PortRange | undefined;
  udpTimeoutMs: number;
  logger: Logger;
  events?: Record<Protocol, PortalEvents>;
  iptables?: Iptables;
  /** Dial timeouts per try (tests shorten them); kube-proxy's by default. */
  dialTimeoutsMs?: readonly number[];
  /** How many proxy sockets the open-file limit allows (tests fake it); /proc/self's by default. */
  openFiles?: OpenFilesBudget;
}

type Portal = TcpPortal | UdpPortal;

interface Programmed {
  sp: ServicePortState;
  portals: Partial<Record<FrontendClass, Portal>>;
  rules: PortRules;
}

export type UserspacePortView = ProxySocketView;

const NO_EVENTS: PortalEvents = { accepted() {}, failed() {}, opened() {}, closed() {} };

export class UserspaceProxier implements Proxier {
  readonly mode = 'userspace' as const;
  readonly family: IPFamily;
  readonly #o: UserspaceProxierOptions;
  readonly #ipt: Iptables;
  readonly #ports: PortAllocator;
  readonly #openFiles: OpenFilesBudget;
  readonly #programmed = new Map<ServicePortName, Programmed>();
  #node: NodeFacts | undefined;
  #started = false;
  /** Ports a proxy socket could not be had for (the range exhausted, no descriptor left): tried again by every sync. */
  readonly #wanting = new Set<ServicePortName>();

  constructor(o: UserspaceProxierOptions) {
    this.#o = o;
    this.family = o.family ?? 'IPv4';
    this.#ipt = o.iptables ?? new Iptables(this.family);
    this.#ports = new PortAllocator(o.portRange);
    this.#openFiles = o.openFiles ?? new OpenFilesBudget();
  }

  async start(): Promise<void> {
    await this.#ipt.check();
    this.#started = true;
  }

  async sync(req: SyncRequest): Promise<SyncResult> {
    const result: SyncResult = { written: 0, removed: 0, skipped: [] };
    const nodeChanged = !sameNodeFacts(this.#node, req.node);
    const full = req.full || nodeChanged;
    this.#node = req.node;
    const log = this.#o.logger;
    this.#openFiles.begin();

    // Sockets first: a port's rules name its proxy ports.
    const gone: Programmed[] = [];
    for (const [name, p] of this.#programmed)
      if (!req.desired.has(name)) {
        this.#programmed.delete(name);
        gone.push(p);
      }
    const changed: Array<{ before: PortRules | undefined; after: Programmed }> = [];
    const names = full ? [...req.desired.keys()] : [...new Set([...req.changed, ...this.#wanting])];
    const todo = names.flatMap((n) => req.desired.get(n) ?? []);
    this.#wanting.clear();
    for (const sp of todo) {
      const held = this.#programmed.get(sp.name);
      const before = held?.rules;
      const p = await this.#serve(sp, held, result);
      const rules = portRules(sp, p.states, req.node, this.family);
      const next: Programmed = { sp, portals: p.portals, rules };
      this.#programmed.set(sp.name, next);
      if (full || !sameRules(before, rules)) changed.push({ before, after: next });
    }

    // Then the rules: on a full sync every chain rewritten, else the changed ports' lines deleted and added.
    if (full) await this.#writeAll();
    else {
      const del: Record<'nat' | 'filter', string[]> = { nat: [], filter: [] };
      const add: Record<'nat' | 'filter', string[]> = { nat: [], filter: [] };
      for (const p of gone) for (const t of ['nat', 'filter'] as const) del[t].push(...p.rules[t]);
      for (const c of changed)
        for (const t of ['nat', 'filter'] as const) {
          del[t].push(...(c.before?.[t] ?? []));
          add[t].push(...c.after.rules[t]);
        }
      await this.#writeChanges(del, add);
    }
    for (const c of changed) result.written += c.after.rules.nat.length + c.after.rules.filter.length;

    // Last, the sockets of ports gone: their redirects are gone already.
    for (const p of gone) {
      this.#close(p.portals);
      result.removed++;
    }
    if (gone.length) log.debug({ removed: gone.length }, 'userspace: proxy sockets of removed service ports closed');
    // Ports waiting for a socket get the ones just freed, in this sync rather than the next periodic one.
    if (gone.length && this.#wanting.size) {
      const again = new Set(this.#wanting);
      const retry = await this.sync({ ...req, full: false, changed: again, removed: new Map() });
      result.written += retry.written;
      result.skipped = [...result.skipped.filter((s) => !again.has(s.name)), ...retry.skipped];
    }
    return result;
  }

  /** The port's portals: kept, updated with the endpoints, opened where missing, closed where no longer needed. */
  async #serve(
    sp: ServicePortState,
    held: Programmed | undefined,
    result: SyncResult,
  ): Promise<{ portals: Partial<Record<FrontendClass, Portal>>; states: Record<FrontendClass, ClassState> }> {
    const protocol: Protocol | undefined = sp.protocol === 'TCP' ? 'tcp' : sp.protocol === 'UDP' ? 'udp' : undefined;
    const portals: Partial<Record<FrontendClass, Portal>> = {};
    const states: Record<FrontendClass, ClassState> = { internal: undefined, external: undefined };
    const f = frontends(sp, this.family);
    for (const cls of CLASSES) {
      const old = held?.portals[cls];
      const wanted = cls === 'internal' ? f.internal.length > 0 : f.hasExternal;
      const eps = classEndpoints(sp, cls).filter((e) => e.family === this.family);
      if (!wanted || !protocol || eps.length === 0) {
        if (old) this.#closeOne(old);
        if (wanted && protocol)
          states[cls] = sp.hasAnyEndpoints
            ? { target: 'DROP', why: 'has no local endpoints' }
            : { target: 'REJECT', why: 'has no endpoints' };
        continue;
      }
      const udpAt = this.#udpAddress();
      let portal =
        old && (old instanceof TcpPortal ? protocol === 'tcp' : protocol === 'udp' && old.address === udpAt)
          ? old
          : undefined;
      if (old && !portal) this.#closeOne(old);
      if (!portal) {
        try {
          portal = await this.#open(protocol);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const why = `${(err as Error).message}${typeof code === 'string' && code.startsWith('ERR_') ? ` (${code})` : ''}`;
          result.skipped.push({ name: sp.name, reason: `${cls} frontends: ${why}` });
          this.#wanting.add(sp.name);
          continue;
        }
      }
      portal.balancer.update(eps, sp.affinityTimeoutSeconds);
      if (portal instanceof UdpPortal) portal.dropSessionsOfRemoved();
      portals[cls] = portal;
      states[cls] = { proxyPort: portal.port };
    }
    if (!protocol)
      result.skipped.push({ name: sp.name, reason: `${sp.protocol} is not proxied by the userspace mode` });
    return { portals, states };
  }

  /** UDP sockets bind to the node's IP (the rules' DNAT target), so their replies leave from it. */
  #udpAddress(): string {
    return (this.#node && proxyAddress(this.#node, this.family)) ?? this.#anyAddress();
  }

  #anyAddress(): string {
    return this.family === 'IPv6' ? '::' : '0.0.0.0';
  }

  /** A port still waits for a proxy socket: the periodic sync tries again (ports free up as services go). */
  hasPendingWork(): boolean {
    return this.#wanting.size > 0;
  }

  async #open(protocol: Protocol): Promise<Portal> {
    this.#openFiles.take();
    const bound = await this.#ports.bind(protocol, protocol === 'udp' ? this.#udpAddress() : this.#anyAddress());
    const events = this.#o.events?.[protocol] ?? NO_EVENTS;
    const logger = this.#o.logger;
    if (bound.kind === 'tcp')
      return new TcpPortal(bound.server, bound.port, {
        logger,
        events,
        ...(this.#o.dialTimeoutsMs ? { dialTimeoutsMs: this.#o.dialTimeoutsMs } : {}),
      });
    return new UdpPortal(bound.socket, bound.port, {
      logger,
      events,
      timeoutMs: this.#o.udpTimeoutMs,
      address: bound.address,
    });
  }

  #closeOne(p: Portal): void {
    p.close();
    this.#ports.release(p instanceof TcpPortal ? 'tcp' : 'udp', p.port);
  }

  #close(portals: Partial<Record<FrontendClass, Portal>>): void {
    for (const p of Object.values(portals)) if (p) this.#closeOne(p);
  }

  /** Every chain flushed and written again, in pieces; the jumps into them put back where missing. */
  async #writeAll(): Promise<void> {
    const lines: Record<'nat' | 'filter', string[]> = { nat: [], filter: [] };
    for (const p of this.#programmed.values()) for (const t of ['nat', 'filter'] as const) lines[t].push(...p.rules[t]);
    for (const table of ['nat', 'filter'] as const) {
      const saved = await this.#ipt.save(table);
      const jumps = missingJumps(table, saved, USERSPACE_JUMPS);
      const chains = USERSPACE_CHAINS[table].map((c) => `:${c} - [0:0]`);
      const [first = [], ...rest] = chunks(lines[table], RESTORE_CHUNK_LINES);
      await this.#ipt.restore(restoreInput(table, [...chains, ...first, ...jumps]));
      for (const piece of rest) await this.#ipt.restore(restoreInput(table, piece));
    }
  }

  async #writeChanges(del: Record<'nat' | 'filter', string[]>, add: Record<'nat' | 'filter', string[]>): Promise<void> {
    for (const table of ['nat', 'filter'] as const) {
      if (!del[table].length && !add[table].length) continue;
      const lines = [...del[table].map((l) => `-D${l.slice(2)}`), ...add[table]];
      await this.#ipt.restore(restoreInput(table, lines));
    }
  }

  /** Per service port, its proxy sockets: /v1/services shows them. */
  portViews(name: ServicePortName): UserspacePortView[] | undefined {
    const p = this.#programmed.get(name);
    if (!p) return undefined;
    return CLASSES.flatMap((cls) => {
      const portal = p.portals[cls];
      if (!portal) return [];
      return [
        {
          class: cls,
          family: this.family,
          protocol: portal instanceof TcpPortal ? ('tcp' as const) : ('udp' as const),
          proxyPort: portal.port,
          ...portal.counters,
        },
      ];
    });
  }

  view(): ProxierView {
    return {
      servesWhileStopped: false,
      programmedCount: () => (this.#started ? this.#programmed.size : null),
      mapCount: () => null,
      interfaces: () => [],
      servicePorts: (ports) =>
        ports.map((sp): ServicePortEntries => {
          const p = this.#programmed.get(sp.name);
          if (!p) return {};
          return { proxy: this.portViews(sp.name) ?? [] };
        }),
    };
  }

  /** The proxy sockets stop accepting; the rules stay, refusing until a proxy listens again. */
  async stop(): Promise<void> {
    for (const p of this.#programmed.values()) for (const portal of Object.values(p.portals)) portal?.close();
  }

  async cleanup(): Promise<void> {
    for (const p of this.#programmed.values()) for (const portal of Object.values(p.portals)) portal?.destroy();
    this.#programmed.clear();
    await cleanupIptables(this.#o.logger, this.#ipt, USERSPACE_MODE);
  }
}

const sameRules = (a: PortRules | undefined, b: PortRules) =>
  a !== undefined && a.nat.join('\n') === b.nat.join('\n') && a.filter.join('\n') === b.filter.join('\n');

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const restoreInput = (table: Table, lines: string[]) => [`*${table}`, ...lines, 'COMMIT', ''].join('\n');
