// The kernelspace mode's reconciler: brings what HNS holds for one IP family
// to a plan (plan.ts), with as few HCN calls as the difference needs.
//
// What HNS holds is read on a full sync (start-up, the periodic resync, after
// a failure) and remembered; a partial sync diffs against the memory, so an
// idle sync makes no call at all and one endpoint change costs the calls of
// that change. Load balancers are keyed by frontend identity (family,
// protocol, VIP, external port), which HNS keeps unique, not by kube-proxy's
// hash of endpoint IDs.
//
// Order within a sync: endpoints first (a load balancer names them), then
// load balancers (modified in place where the HNS version can, else deleted
// and created), then stale load balancers, then remote endpoints no load
// balancer needs. A failure of one object is that service port's, reported
// and retried; HNS not answering stops the sync, and is never read as HNS
// holding nothing.
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { ServicePortName } from '../../model/types.js';
import type { IPFamily } from '../../sources/types.js';
import { isHcnError, isUnreachable, type HcnClient } from './hcn/client.js';
import {
  EndpointFlags,
  HResult,
  LbFlags,
  SCHEMA_VERSION,
  type HnsFeatures,
  type HostComputeEndpoint,
  type HostComputeLoadBalancer,
} from './hcn/schema.js';
import { frontendKeyOf, loadBalancerDocument } from './plan.js';
import type { BackendRef, HnsPlan, PlannedEndpoint, PlannedLoadBalancer } from './types.js';

/** Remote endpoints this mode creates carry this name prefix: the only ones it ever deletes. */
export const ENDPOINT_NAME_PREFIX = 'switchyard-';
/** Stale load balancers whose delete failed before, retried per sync (kube-proxy's MAX_COUNT_STALE_LOADBALANCERS). */
export const STALE_RETRIES_PER_SYNC = 20;

/** A load balancer this mode owns: created by it, or adopted at a frontend it wants. */
export interface HeldLoadBalancer {
  id: string;
  key: string;
  servicePort?: ServicePortName;
  doc: HostComputeLoadBalancer;
}

/** An endpoint of the network, as the mode last saw it. */
export interface HeldEndpoint {
  id: string;
  ip: string;
  name?: string;
  remote: boolean;
  /** Created by this mode (named with ENDPOINT_NAME_PREFIX): deleted when no plan needs it. */
  ours: boolean;
  doc: HostComputeEndpoint;
}

export interface ReconcileResult {
  written: number;
  removed: number;
  skipped: Array<{ name: ServicePortName; reason: string }>;
}

export interface ReconcilerOptions {
  client: HcnClient;
  family: IPFamily;
  features: HnsFeatures;
  /** --root-hnsendpoint-name: the health-check load balancers' backend. */
  rootEndpointName: string;
  logger: Logger;
}

const ofFamily = (family: IPFamily, ip: string | undefined): boolean =>
  ip !== undefined && (family === 'IPv4' ? isIPv4(ip) : isIPv6(ip));
const ipKey = (ip: string) => ip.toLowerCase();
const upper = (ids: readonly string[] | undefined) => (ids ?? []).map((id) => id.toUpperCase()).sort();

export class HnsReconciler {
  readonly #o: ReconcilerOptions;
  /** Owned load balancers by frontend key. */
  readonly #lbs = new Map<string, HeldLoadBalancer>();
  /** Load balancers to delete, by ID, with the failed attempts so far. */
  readonly #stale = new Map<string, { key: string; attempts: number }>();
  /** The network's endpoints of this family, by IP (lower case). */
  #endpoints = new Map<string, HeldEndpoint>();
  #rootEndpointId: string | undefined;
  /** Endpoint IDs read and found to be of the other family (or a second endpoint of an IP held): not queried again. */
  readonly #otherEndpointIds = new Set<string>();
  #networkId: string | undefined;
  /** Nothing read yet: the next read adopts what matches and deletes the rest of this family's (kube-proxy wipes all). */
  #firstRead = true;
  /**
   * Per frontend, the planned load balancer last made so with all its
   * backends. The planner hands over the same object while its service port
   * is unchanged, so an unchanged frontend costs one lookup; a read of HNS
   * forgets them all.
   */
  readonly #applied = new Map<string, PlannedLoadBalancer>();
  /** Endpoints whose create or delete failed, by lower-case IP: a plan's delta leaves them out, so they are kept here. */
  readonly #createsOwed = new Map<string, PlannedEndpoint>();
  readonly #deletesOwed = new Set<string>();
  /** HNS answered as if it had lost objects the memory holds (an endpoint not found): read it on the next sync. */
  #reread = false;
  #modify: boolean;
  /** The plan last applied, for the ops API. */
  #plan: HnsPlan = { loadBalancers: [], endpoints: [], skipped: [] };

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#modify = options.features.modifyLoadBalancer;
  }

  /** The owned load balancers, as HNS last answered them. */
  loadBalancers(): HeldLoadBalancer[] {
    return [...this.#lbs.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The network's endpoints of this family, with the service ports using each. */
  endpoints(): Array<HeldEndpoint & { users: ServicePortName[] }> {
    const users = new Map(this.#plan.endpoints.map((e) => [ipKey(e.ip), e.users]));
    return [...this.#endpoints.values()]
      .map((e) => ({ ...e, users: [...(users.get(ipKey(e.ip)) ?? [])].sort() }))
      .sort((a, b) => a.ip.localeCompare(b.ip));
  }

  /** Work owed to later syncs: deletes that failed, or a read HNS's answers called for. */
  pending(): number {
    return this.#stale.size + (this.#reread ? 1 : 0);
  }

  /**
   * The periodic check between full syncs, two calls: does HNS still hold
   * every load balancer and endpoint this mode holds? One gone (deleted out
   * of band, lost in an HNS restart without rehydration: kubernetes#135802,
   * #110849) makes the next reconcile read HNS and put it back.
   */
  async checkDrift(networkId: string): Promise<boolean> {
    if (this.#firstRead) return true;
    const { client } = this.#o;
    const lbs = new Set((await client.loadBalancerIds()).map((id) => id.toUpperCase()));
    const eps = new Set((await client.endpointIds(networkId)).map((id) => id.toUpperCase()));
    const gone =
      [...this.#lbs.values()].some((h) => !lbs.has(h.id.toUpperCase())) ||
      [...this.#endpoints.values()].some((e) => !eps.has(e.id.toUpperCase())) ||
      (this.#rootEndpointId !== undefined && !eps.has(this.#rootEndpointId.toUpperCase()));
    if (gone) {
      this.#o.logger.warn(
        'HNS lost objects this mode programmed (deleted outside switchyard, or an HNS restart); re-reading HNS',
      );
      this.#reread = true;
    }
    return gone;
  }

  /** The network changed identity (the CNI recreated it): forget what was held on the old one. */
  forget(): void {
    this.#lbs.clear();
    this.#applied.clear();
    this.#stale.clear();
    this.#endpoints.clear();
    this.#rootEndpointId = undefined;
    this.#firstRead = true;
  }

  async reconcile(plan: HnsPlan, opts: { full: boolean; networkId: string }): Promise<ReconcileResult> {
    const { logger } = this.#o;
    if (this.#networkId !== undefined && this.#networkId.toUpperCase() !== opts.networkId.toUpperCase()) {
      logger.warn({ was: this.#networkId, now: opts.networkId }, 'the HNS network was recreated; re-reading HNS');
      this.forget();
    }
    this.#networkId = opts.networkId;
    const read = opts.full || this.#firstRead || this.#reread;
    if (read) await this.#read(plan);
    else if (this.#unresolvedLocal(plan)) await this.#readNewEndpoints();

    const result: ReconcileResult = { written: 0, removed: 0, skipped: [...plan.skipped] };
    const skip = (name: ServicePortName, reason: string) => result.skipped.push({ name, reason });
    // The plan changed the one last applied port by port, and HNS was not read: only its endpoint changes need a look.
    const delta = !read && plan.delta?.previous === this.#plan ? plan.delta : undefined;

    // 1. Endpoints the load balancers will name (with a delta: the new ones, and those whose create failed before).
    const failed = new Map<string, string>();
    const toCreate = delta
      ? [...delta.added, ...[...this.#createsOwed.values()].filter((e) => delta.has(e.ip))]
      : plan.endpoints;
    this.#createsOwed.clear();
    for (const e of toCreate) {
      if (this.#endpoints.has(ipKey(e.ip))) continue;
      try {
        await this.#createEndpoint(e);
        result.written++;
      } catch (err) {
        if (isUnreachable(err)) throw err;
        const reason = `cannot create the HNS endpoint of ${e.ip}: ${(err as Error).message}`;
        failed.set(ipKey(e.ip), reason);
        this.#createsOwed.set(ipKey(e.ip), e);
        logger.warn({ err, ip: e.ip, users: e.users }, 'cannot create an HNS endpoint');
      }
    }

    // 2. Load balancers.
    const wanted = new Set<string>();
    for (const lb of plan.loadBalancers) {
      // The very plan entry applied before, with every backend, and HNS not read since: nothing to do.
      if (this.#applied.get(lb.key) === lb) {
        const held = this.#lbs.get(lb.key);
        if (held) {
          wanted.add(lb.key);
          held.servicePort = lb.servicePort;
          continue;
        }
      }
      this.#applied.delete(lb.key);
      const ids: string[] = [];
      const missing: string[] = [];
      for (const b of lb.backends) {
        const id = this.#resolve(b);
        if (id) ids.push(id);
        else missing.push(this.#why(b, failed));
      }
      if (ids.length === 0) {
        skip(lb.servicePort, `${lb.key}: no backend has an HNS endpoint (${missing.join('; ')})`);
        continue;
      }
      if (missing.length > 0) skip(lb.servicePort, `${lb.key}: backends left out: ${missing.join('; ')}`);
      wanted.add(lb.key);
      const doc = loadBalancerDocument(lb, ids);
      const held = this.#lbs.get(lb.key);
      const complete = missing.length === 0;
      if (held && this.#same(held.doc, doc)) {
        held.servicePort = lb.servicePort;
        if (complete) this.#applied.set(lb.key, lb);
        continue;
      }
      try {
        if (held) await this.#replace(held, doc, lb.servicePort);
        else await this.#create(lb.key, doc, lb.servicePort);
        result.written++;
        if (complete) this.#applied.set(lb.key, lb);
      } catch (err) {
        if (isUnreachable(err)) throw err;
        if (isHcnError(err, HResult.HCN_ENDPOINT_NOT_FOUND)) this.#reread = true;
        skip(lb.servicePort, `${lb.key}: ${(err as Error).message}`);
        logger.warn({ err, servicePort: lb.servicePort, frontend: lb.key }, 'cannot program an HNS load balancer');
      }
    }

    // 3. Load balancers no plan wants, then the ones whose delete failed before (bounded per sync).
    for (const [key, held] of this.#lbs) {
      if (wanted.has(key)) continue;
      this.#lbs.delete(key);
      this.#applied.delete(key);
      this.#stale.set(held.id, { key, attempts: 0 });
    }
    let retries = 0;
    for (const [id, stale] of this.#stale) {
      if (stale.attempts > 0 && retries++ >= STALE_RETRIES_PER_SYNC) continue;
      try {
        await this.#o.client.deleteLoadBalancer(id);
        result.removed++;
        this.#stale.delete(id);
      } catch (err) {
        if (isUnreachable(err)) throw err;
        if (isHcnError(err) && err.notFound) {
          this.#stale.delete(id);
          continue;
        }
        stale.attempts++;
        logger.warn({ err, id, frontend: stale.key, attempts: stale.attempts }, 'cannot delete an HNS load balancer');
      }
    }

    // 4. Remote endpoints of ours that no load balancer or VIP needs any more
    // (with a delta: the ones it dropped, and those whose delete failed before).
    let unneeded: Iterable<[string, HeldEndpoint]>;
    if (delta) {
      const keys = new Set([...delta.removed, ...this.#deletesOwed]);
      unneeded = [...keys]
        .filter((ip) => !delta.has(ip))
        .flatMap((ip) => {
          const e = this.#endpoints.get(ip);
          return e ? [[ip, e] as [string, HeldEndpoint]] : [];
        });
    } else {
      const needed = new Set(plan.endpoints.map((e) => ipKey(e.ip)));
      unneeded = [...this.#endpoints].filter(([ip]) => !needed.has(ip));
    }
    this.#deletesOwed.clear();
    for (const [ip, e] of unneeded) {
      if (!e.ours) continue;
      try {
        await this.#o.client.deleteEndpoint(e.id);
        result.removed++;
        this.#endpoints.delete(ip);
      } catch (err) {
        if (isUnreachable(err)) throw err;
        if (isHcnError(err) && err.notFound) this.#endpoints.delete(ip);
        else {
          this.#deletesOwed.add(ip);
          logger.warn({ err, ip: e.ip, id: e.id }, 'cannot delete an HNS endpoint; retried next sync');
        }
      }
    }

    this.#plan = plan;
    return result;
  }

  /**
   * Deletes the load balancers this mode owns, and on a first read every
   * load balancer of the family (kube-proxy's --cleanup on Windows deletes
   * them all: HNS marks no owner), then the remote endpoints it created.
   */
  async removeAll(networkId: string): Promise<number> {
    this.#networkId = networkId;
    await this.#read(this.#plan, { adopt: false });
    let removed = 0;
    for (const id of [...[...this.#lbs.values()].map((h) => h.id), ...this.#stale.keys()]) {
      await this.#deleteIgnoringGone(() => this.#o.client.deleteLoadBalancer(id));
      removed++;
    }
    this.#lbs.clear();
    this.#stale.clear();
    for (const e of this.#endpoints.values()) {
      if (!e.ours) continue;
      await this.#deleteIgnoringGone(() => this.#o.client.deleteEndpoint(e.id));
      removed++;
    }
    return removed;
  }

  async #deleteIgnoringGone(del: () => Promise<void>): Promise<void> {
    try {
      await del();
    } catch (err) {
      if (!(isHcnError(err) && err.notFound)) throw err;
    }
  }

  /**
   * Reads the network's endpoints and every load balancer of this family.
   * An owned load balancer HNS no longer has (deleted out of band, or lost
   * in an HNS restart) is forgotten, so this sync creates it again; one at a
   * frontend the plan wants is adopted (a restart's rehydration, or what an
   * earlier run left); on the first read the rest of the family's load
   * balancers are stale, as kube-proxy deletes every load balancer at
   * start-up, less the ones it can keep.
   */
  async #read(plan: HnsPlan, opts: { adopt: boolean } = { adopt: true }): Promise<void> {
    const { client, family, rootEndpointName, logger } = this.#o;
    const [endpoints, lbs] = [await client.endpoints(this.#networkId!), await client.loadBalancers()];

    this.#endpoints = new Map();
    this.#applied.clear();
    this.#otherEndpointIds.clear();
    this.#rootEndpointId = undefined;
    for (const doc of endpoints) {
      if (!doc.ID) continue;
      if (doc.Name === rootEndpointName) this.#rootEndpointId = doc.ID;
      const ip = doc.IpConfigurations?.[0]?.IpAddress;
      if (!ofFamily(family, ip)) {
        if (doc.Name !== rootEndpointName) this.#otherEndpointIds.add(doc.ID.toUpperCase());
        continue;
      }
      const held = this.#held(doc, ip!);
      // The same IP twice (a WS2019/2022 bug gives a local and a remote endpoint one IP): the local one wins.
      const earlier = this.#endpoints.get(ipKey(ip!));
      if (!earlier || (earlier.remote && !held.remote)) this.#endpoints.set(ipKey(ip!), held);
    }

    const ipv6 = family === 'IPv6';
    const present = new Map<string, HostComputeLoadBalancer>();
    for (const doc of lbs) {
      if (!doc.ID || (((doc.Flags ?? 0) & LbFlags.IPv6) !== 0) !== ipv6) continue;
      present.set(doc.ID.toUpperCase(), doc);
    }
    for (const [key, held] of this.#lbs) {
      const doc = present.get(held.id.toUpperCase());
      if (doc) {
        held.doc = doc;
        present.delete(held.id.toUpperCase());
      } else {
        logger.warn(
          { id: held.id, frontend: key },
          'an HNS load balancer is gone (deleted outside switchyard, or HNS restarted); recreating it',
        );
        this.#lbs.delete(key);
      }
    }
    for (const id of [...this.#stale.keys()]) if (!present.delete(id.toUpperCase())) this.#stale.delete(id);
    const planned = new Map(plan.loadBalancers.map((lb) => [lb.key, lb.servicePort]));
    let adopted = 0;
    for (const doc of present.values()) {
      const key = frontendKeyOf(doc);
      if (opts.adopt && planned.has(key) && !this.#lbs.has(key)) {
        this.#lbs.set(key, { id: doc.ID!, key, servicePort: planned.get(key)!, doc });
        adopted++;
      } else if (this.#firstRead) {
        this.#stale.set(doc.ID!, { key, attempts: 0 });
      }
    }
    if (adopted > 0)
      logger.info({ adopted, family }, 'adopted the HNS load balancers already serving wanted frontends');
    this.#firstRead = false;
    this.#reread = false;
  }

  /** A load balancer names a pod of this node (or the root endpoint) that the mode has not read from HNS. */
  #unresolvedLocal(plan: HnsPlan): boolean {
    return plan.loadBalancers.some(
      (lb) =>
        this.#applied.get(lb.key) !== lb &&
        lb.backends.some((b) => (b.kind === 'local' || b.kind === 'root') && this.#resolve(b) === undefined),
    );
  }

  /**
   * Endpoints HNS holds that this mode has not read: the CNI creates a pod's
   * endpoint before its EndpointSlice lists it, so a new local backend is
   * looked for here (one enumerate, then one query per unknown ID) rather
   * than only at the next full read. IDs read once and not of this family
   * are not queried again.
   */
  async #readNewEndpoints(): Promise<void> {
    const { client, family, rootEndpointName } = this.#o;
    const known = new Set([...this.#endpoints.values()].map((e) => e.id.toUpperCase()));
    if (this.#rootEndpointId) known.add(this.#rootEndpointId.toUpperCase());
    const ids = await client.endpointIds(this.#networkId!);
    const present = new Set(ids.map((id) => id.toUpperCase()));
    for (const id of this.#otherEndpointIds) if (!present.has(id)) this.#otherEndpointIds.delete(id);
    for (const id of ids) {
      const upperId = id.toUpperCase();
      if (known.has(upperId) || this.#otherEndpointIds.has(upperId)) continue;
      const doc = await client.endpoint(id);
      if (!doc?.ID) continue;
      if (doc.Name === rootEndpointName) this.#rootEndpointId = doc.ID;
      const ip = doc.IpConfigurations?.[0]?.IpAddress;
      if (!ofFamily(family, ip) || this.#endpoints.has(ipKey(ip!))) {
        if (doc.Name !== rootEndpointName) this.#otherEndpointIds.add(upperId);
        continue;
      }
      this.#endpoints.set(ipKey(ip!), this.#held(doc, ip!));
    }
  }

  #held(doc: HostComputeEndpoint, ip: string): HeldEndpoint {
    const held: HeldEndpoint = {
      id: doc.ID!,
      ip,
      remote: ((doc.Flags ?? 0) & EndpointFlags.RemoteEndpoint) !== 0,
      ours: doc.Name?.startsWith(ENDPOINT_NAME_PREFIX) ?? false,
      doc,
    };
    if (doc.Name) held.name = doc.Name;
    return held;
  }

  async #createEndpoint(e: PlannedEndpoint): Promise<void> {
    const doc: HostComputeEndpoint = {
      Name: `${ENDPOINT_NAME_PREFIX}${e.role}-${e.ip}`,
      IpConfigurations: [{ IpAddress: e.ip }],
      MacAddress: e.macAddress,
      Flags: e.kind === 'remote' ? EndpointFlags.RemoteEndpoint : EndpointFlags.None,
      SchemaVersion: SCHEMA_VERSION,
    };
    if (e.kind === 'remote' && e.providerAddress)
      doc.Policies = [{ Type: 'ProviderAddress', Settings: { ProviderAddress: e.providerAddress } }];
    const created = await this.#o.client.createEndpoint(this.#networkId!, doc);
    this.#endpoints.set(ipKey(e.ip), {
      id: created.ID!,
      ip: e.ip,
      name: doc.Name!,
      remote: e.kind === 'remote',
      ours: true,
      doc: created,
    });
  }

  #resolve(b: BackendRef): string | undefined {
    if (b.kind === 'root') return this.#rootEndpointId;
    return this.#endpoints.get(ipKey(b.ip))?.id;
  }

  #why(b: BackendRef, failed: ReadonlyMap<string, string>): string {
    if (b.kind === 'root') return `the root HNS endpoint "${this.#o.rootEndpointName}" is not found`;
    if (b.kind === 'local') return `local endpoint ${b.ip} not found (the CNI has not created it)`;
    return failed.get(ipKey(b.ip)) ?? `remote endpoint ${b.ip} not created`;
  }

  /** What HNS holds equals what the plan wants (HNS below 12.0 drops DistributionType, so it is not compared there). */
  #same(held: HostComputeLoadBalancer, want: HostComputeLoadBalancer): boolean {
    const pm = (d: HostComputeLoadBalancer) => {
      const m = d.PortMappings?.[0];
      return [
        m?.Protocol,
        m?.InternalPort,
        m?.ExternalPort,
        m?.Flags ?? 0,
        this.#o.features.sessionAffinity ? (m?.DistributionType ?? 0) : 0,
      ].join('/');
    };
    return (
      pm(held) === pm(want) &&
      (held.Flags ?? 0) === (want.Flags ?? 0) &&
      (held.SourceVIP ?? '') === (want.SourceVIP ?? '') &&
      (held.FrontendVIPs ?? []).join(',') === (want.FrontendVIPs ?? []).join(',') &&
      upper(held.HostComputeEndpoints).join(',') === upper(want.HostComputeEndpoints).join(',')
    );
  }

  async #create(
    key: string,
    doc: HostComputeLoadBalancer,
    servicePort: ServicePortName,
    takeOver = true,
  ): Promise<void> {
    try {
      const created = await this.#o.client.createLoadBalancer(doc);
      this.#lbs.set(key, { id: created.ID!, key, servicePort, doc: created });
    } catch (err) {
      // Another load balancer holds the frontend: one HNS rehydrated after a
      // restart, or one created outside this mode's memory. Take it over.
      if (!takeOver || !isHcnError(err, HResult.ALREADY_EXISTS)) throw err;
      const holder = (await this.#o.client.loadBalancers()).find((lb) => lb.ID && frontendKeyOf(lb) === key);
      if (!holder) throw err;
      this.#o.logger.info(
        { id: holder.ID, frontend: key },
        'an HNS load balancer already holds the frontend; taking it over',
      );
      const held: HeldLoadBalancer = { id: holder.ID!, key, servicePort, doc: holder };
      this.#lbs.set(key, held);
      this.#stale.delete(holder.ID!);
      if (!this.#same(holder, doc)) await this.#replace(held, doc, servicePort, false);
    }
  }

  /** Modify in place where HNS can (≥ 15.5), else delete and create: the frontend is down in between. */
  async #replace(
    held: HeldLoadBalancer,
    doc: HostComputeLoadBalancer,
    servicePort: ServicePortName,
    takeOver = true,
  ): Promise<void> {
    const { client, logger } = this.#o;
    if (this.#modify) {
      try {
        held.doc = await client.modifyLoadBalancer(held.id, doc);
        held.servicePort = servicePort;
        return;
      } catch (err) {
        // Gone since the last read (deleted out of band, lost in a restart): create it afresh.
        if (isHcnError(err) && err.notFound) {
          this.#lbs.delete(held.key);
          return this.#create(held.key, doc, servicePort, takeOver);
        }
        if (!isHcnError(err, HResult.E_NOTIMPL)) throw err;
        this.#modify = false;
        logger.warn('HNS does not modify load balancers (E_NOTIMPL); replacing them by delete and create from now on');
      }
    }
    try {
      await client.deleteLoadBalancer(held.id);
    } catch (err) {
      if (!(isHcnError(err) && err.notFound)) throw err;
    }
    this.#lbs.delete(held.key);
    await this.#create(held.key, doc, servicePort, takeOver);
  }
}
