// The dual-stack meta proxier, as kube-proxy's metaproxier: one proxier per
// IP family, each given only its family's share of every service port (its
// ClusterIPs, external and load-balancer IPs, source ranges, endpoints) and of
// the node's facts, so a mode gains IPv6 by adding a family proxier without
// touching the others. A family the mode has no proxier for is reported per
// service port (what is not programmed, and why), never silently dropped.
//
// The daemon always runs a mode through this wrapper; the family proxiers
// never see an address of another family.
import type { ProxyMode } from '../config/options.js';
import { addressesOfFamily, servicePortOfFamily } from '../model/family.js';
import { nodeFactsOfFamily } from '../model/node-facts.js';
import type { ServicePortName, ServicePortState } from '../model/types.js';
import type { IPFamily } from '../sources/types.js';
import type { Proxier, ProxierView, ServicePortEntries, SyncRequest, SyncResult, TableUsage } from './types.js';

/** Primary family first: the order syncs run and views merge in. */
export const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];

export type FamilyProxiers<P extends Proxier = Proxier> = Partial<Record<IPFamily, P>>;

export interface DualStackHooks {
  /**
   * After a family's successful sync, with what its proxier was handed: the
   * work kube-proxy's per-family proxiers do at the end of a sync that is not
   * the dataplane's (the health-check node ports). Its errors are its own.
   */
  afterSync?: (family: IPFamily, req: SyncRequest) => Promise<void>;
  /**
   * A family other than the primary whose proxier could not start (the node
   * has no ip6tables nat table, say): the mode runs on without it, as
   * kube-proxy falls back to single-stack, and reports its addresses as not
   * programmed. Called once, at start-up.
   */
  onFamilyUnavailable?: (family: IPFamily, err: Error) => void;
}

export class DualStackProxier<P extends Proxier = Proxier> implements Proxier {
  readonly mode: ProxyMode;
  #proxiers: Array<{ family: IPFamily; proxier: P }>;
  /** Families whose proxier could not start, with why. */
  readonly #unavailable = new Map<IPFamily, string>();
  /**
   * Per family, the projected desired state last handed to its proxier,
   * kept up to date from each request's changes instead of rebuilt (a
   * partial sync of one port must not project 10,000); rebuilt on full
   * syncs and dropped when the family's sync fails.
   */
  readonly #desired = new Map<IPFamily, Map<ServicePortName, ServicePortState>>();

  readonly #hooks: DualStackHooks;

  constructor(mode: ProxyMode, proxiers: FamilyProxiers<P>, hooks: DualStackHooks = {}) {
    this.mode = mode;
    this.#hooks = hooks;
    this.#proxiers = FAMILIES.flatMap((family) => {
      const proxier = proxiers[family];
      return proxier ? [{ family, proxier }] : [];
    });
    if (this.#proxiers.length === 0) throw new Error(`the ${mode} mode has no proxier for any IP family`);
  }

  /** The families this mode programs. */
  get families(): IPFamily[] {
    return this.#proxiers.map((p) => p.family);
  }

  /** The proxier of `family`, if the mode serves it. */
  proxier(family: IPFamily): P | undefined {
    return this.#proxiers.find((p) => p.family === family)?.proxier;
  }

  /** The primary family's proxier (IPv4 where the mode serves it): the one its ops-API routes read. */
  get primary(): P {
    return this.#proxiers[0]!.proxier;
  }

  /**
   * Starts every family's proxier. The primary family's failure is the
   * mode's; another family's leaves the mode serving the primary one.
   */
  async start(): Promise<void> {
    for (const [i, { family, proxier }] of [...this.#proxiers.entries()]) {
      try {
        await proxier.start();
      } catch (err) {
        if (i === 0) throw err;
        const e = err instanceof Error ? err : new Error(String(err));
        this.#unavailable.set(family, e.message);
        this.#proxiers = this.#proxiers.filter((p) => p.family !== family);
        this.#hooks.onFamilyUnavailable?.(family, e);
      }
    }
  }

  /** The families the mode has a proxier for that could not start on this node, with why. */
  get unavailable(): ReadonlyMap<IPFamily, string> {
    return this.#unavailable;
  }

  async sync(req: SyncRequest): Promise<SyncResult> {
    const result: SyncResult = { written: 0, removed: 0, skipped: [] };
    for (const family of FAMILIES) {
      const proxier = this.proxier(family);
      if (!proxier) {
        result.skipped.push(...this.#unserved(req, family));
        continue;
      }
      let r: SyncResult;
      const mine = this.#project(req, family);
      try {
        r = await proxier.sync(mine);
      } catch (err) {
        // The next sync (a full one, the loop retries so) rebuilds the projection.
        this.#desired.delete(family);
        throw err;
      }
      await this.#hooks.afterSync?.(family, mine);
      result.written += r.written;
      result.removed += r.removed;
      result.skipped.push(...r.skipped);
    }
    return result;
  }

  hasPendingWork(): boolean {
    return this.#proxiers.some(({ proxier }) => proxier.hasPendingWork?.() ?? false);
  }

  view(): ProxierView {
    const views = this.#proxiers.map(({ proxier }) => proxier.view());
    if (views.length === 1) return views[0]!;
    return mergedView(views);
  }

  async stop(): Promise<void> {
    for (const { proxier } of this.#proxiers) await proxier.stop();
  }

  async cleanup(): Promise<void> {
    for (const { proxier } of this.#proxiers) await proxier.cleanup();
  }

  /** The request as the family's proxier sees it. */
  #project(req: SyncRequest, family: IPFamily): SyncRequest {
    const changed = new Set<ServicePortName>();
    const removed = new Map<ServicePortName, ServicePortState>();
    let desired = this.#desired.get(family);
    if (req.full || !desired) {
      const before = desired;
      desired = new Map();
      for (const [name, sp] of req.desired) {
        const mine = servicePortOfFamily(sp, family);
        if (mine) desired.set(name, mine);
      }
      for (const name of req.changed) if (desired.has(name)) changed.add(name);
      for (const [name, sp] of req.removed) {
        const mine = before?.get(name) ?? servicePortOfFamily(sp, family);
        if (mine) removed.set(name, mine);
      }
      // Ports that lost the family (a dual-stack service turned single-stack).
      for (const [name, sp] of before ?? []) if (!desired.has(name) && !removed.has(name)) removed.set(name, sp);
      this.#desired.set(family, desired);
    } else {
      for (const [name, sp] of req.removed) {
        const mine = desired.get(name) ?? servicePortOfFamily(sp, family);
        desired.delete(name);
        if (mine) removed.set(name, mine);
      }
      for (const name of req.changed) {
        const sp = req.desired.get(name);
        const mine = sp && servicePortOfFamily(sp, family);
        if (mine) {
          desired.set(name, mine);
          changed.add(name);
        } else {
          const had = desired.get(name);
          desired.delete(name);
          if (had) removed.set(name, had);
        }
      }
    }
    return { desired, changed, removed, full: req.full, node: nodeFactsOfFamily(req.node, family) };
  }

  /** The ports' addresses of a family the mode does not serve, each reported with the reason. */
  #unserved(req: SyncRequest, family: IPFamily): SyncResult['skipped'] {
    const skipped: SyncResult['skipped'] = [];
    const served = this.families.join(' and ');
    const why = this.#unavailable.get(family);
    const report = (sp: ServicePortState | undefined) => {
      if (!sp) return;
      for (const { kind, address } of addressesOfFamily(sp, family)) {
        skipped.push({
          name: sp.name,
          reason: why
            ? `${family} ${kind} ${address} is not programmed: the ${this.mode} mode cannot program ${family} on this node (${why})`
            : `${family} ${kind} ${address} is not programmed by the ${this.mode} mode yet (it serves ${served} only)`,
        });
      }
    };
    if (req.full) for (const sp of req.desired.values()) report(sp);
    else for (const name of req.changed) report(req.desired.get(name));
    return skipped;
  }
}

/** Two families' views as one: counts added, lists joined, per-port entries merged. */
function mergedView(views: ProxierView[]): ProxierView {
  const sum = (xs: Array<number | null>): number | null =>
    xs.every((x) => x === null) ? null : xs.reduce<number>((a, x) => a + (x ?? 0), 0);
  const view: ProxierView = {
    ...(views.some((v) => v.servesWhileStopped === false) ? { servesWhileStopped: false } : {}),
    programmedCount: () => sum(views.map((v) => v.programmedCount())),
    mapCount: () => sum(views.map((v) => v.mapCount())),
    interfaces: () => {
      const seen = new Map<string, { name: string; ifindex: number }>();
      for (const v of views) for (const i of v.interfaces()) seen.set(i.name, i);
      return [...seen.values()];
    },
  };
  if (views.some((v) => v.servicePorts)) {
    view.servicePorts = (ports) => {
      const each = views.map((v) => v.servicePorts?.(ports));
      if (each.every((e) => e === undefined)) return undefined;
      return ports.map((_, i) => {
        const merged: ServicePortEntries = {};
        for (const e of each) {
          const entry = e?.[i];
          if (entry?.programmed) (merged.programmed ??= []).push(...entry.programmed);
          if (entry?.proxy) (merged.proxy ??= []).push(...entry.proxy);
          // The iptables proxiers of both families name a port's chains alike (one name, two tables).
          if (entry?.chains) merged.chains = [...new Set([...(merged.chains ?? []), ...entry.chains])];
        }
        return merged;
      });
    };
  }
  if (views.some((v) => v.drops)) {
    view.drops = async () => {
      const total: Record<string, bigint> = {};
      for (const v of views) {
        for (const [reason, n] of Object.entries((await v.drops?.()) ?? {})) total[reason] = (total[reason] ?? 0n) + n;
      }
      return total;
    };
  }
  if (views.some((v) => v.tableUsage)) {
    view.tableUsage = async () => {
      const all: TableUsage[] = [];
      for (const v of views) all.push(...((await v.tableUsage?.()) ?? []));
      return all;
    };
  }
  return view;
}
