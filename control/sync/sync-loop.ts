// The sync loop: store changes → change tracker → bounded runner → model for
// the services that changed → proxier. Nothing is synced before every source
// has delivered its initial list; a failed sync puts its changes back and is
// retried as a full sync; each partial sync hands the proxier only the service
// ports whose state differs from the last successful sync. A full sync also
// runs once an hour (FULL_SYNC_PERIOD_MS).
import type { Logger } from 'pino';
import type { SyncPeriods } from '../config/options.js';
import { buildServicePorts, shouldProxy } from '../model/index.js';
import { networkInterfaces } from 'node:os';
import { nodeFacts, sameNodeFacts, type NodePortAddressSpec, type NodeFacts } from '../model/node-facts.js';
import type { EndpointState, NodeContext, ServicePortName, ServicePortState } from '../model/types.js';
import type { Proxier, SyncResult } from '../proxiers/types.js';
import type { Store, StoreChange } from '../sources/store.js';
import type { ObjectKey } from '../sources/types.js';
import { BoundedFrequencyRunner, systemClock, type Clock, type RunReason } from './bounded-runner.js';
import { ChangeTracker, type Changes } from './change-tracker.js';

/**
 * A periodic sync is a full one when the last full one is this old, as
 * kube-proxy's FullSyncPeriod; the periodic syncs in between (every
 * --*-sync-period) carry only what changed. A full sync in iptables mode
 * rewrites every chain: at 10,000 services that took 17 to 57 s, and
 * --iptables-sync-period is 30 s.
 */
export const FULL_SYNC_PERIOD_MS = 3_600_000;

/** What a sync did, for logs, metrics and health. */
export interface SyncReport {
  reason: RunReason | 'initial';
  full: boolean;
  durationMs: number;
  servicePorts: number;
  changed: number;
  removed: number;
  result?: SyncResult;
  error?: unknown;
  /** When the oldest change this sync carried was recorded (performance.now()). */
  oldestChangeAt?: number;
}

export interface SyncLoopOptions {
  store: Store;
  proxier: Proxier;
  nodeName: string;
  serviceProxyName: string;
  periods: SyncPeriods;
  logger: Logger;
  clock?: Clock;
  /** Told about every sync (metrics, health). */
  onSync?: (report: SyncReport) => void;
  /** --nodeport-addresses, as kube-proxy parses it. */
  nodePortAddresses?: NodePortAddressSpec;
  /** The node's interface addresses, for a Node that lists none (standalone); os.networkInterfaces() by default. */
  localAddresses?: () => string[];
}

/**
 * The ipvs mode's dummy interface: it holds service addresses (ClusterIPs,
 * external and load-balancer IPs), never the node's own.
 */
const SERVICE_ADDRESS_INTERFACE = 'kube-ipvs0';

/** The node's own addresses: every interface's but loopback, link-local, and kube-ipvs0's. */
export function interfaceAddresses(): string[] {
  return Object.entries(networkInterfaces())
    .filter(([name]) => name !== SERVICE_ADDRESS_INTERFACE)
    .flatMap(([, addrs]) => addrs ?? [])
    .filter((a) => !a.internal && !a.address.startsWith('fe80:') && !a.address.startsWith('169.254.'))
    .map((a) => a.address);
}

export class SyncLoop {
  readonly #opts: SyncLoopOptions;
  readonly #tracker = new ChangeTracker();
  readonly #runner: BoundedFrequencyRunner;
  /** The state of the last successful sync, by service port and by service. */
  #state = new Map<ServicePortName, ServicePortState>();
  #byService = new Map<ObjectKey, ServicePortName[]>();
  #initialDone = false;
  #lastFullAt = -Infinity;
  #oldestChangeAt: number | undefined;
  /** Service ports already reported as skipped, so each is logged once. */
  #skipped = new Set<string>();
  /** The node's facts as the last successful sync handed them to the proxier. */
  #node: NodeFacts | undefined;

  constructor(opts: SyncLoopOptions) {
    this.#opts = opts;
    this.#runner = new BoundedFrequencyRunner({
      run: (reason) => this.#sync(reason),
      minIntervalMs: opts.periods.minSyncPeriodMs,
      maxIntervalMs: opts.periods.syncPeriodMs,
      clock: opts.clock,
      onError: (err) => opts.logger.error({ err }, 'sync failed; retrying'),
    });
    this.#tracker.onChange(() => {
      this.#oldestChangeAt ??= performance.now();
      if (this.#sourcesSynced()) this.#runner.request();
    });
  }

  start(): void {
    this.#opts.store.onChange((c: StoreChange) => {
      if (c.serviceKey === undefined) this.#tracker.everything();
      else this.#tracker.service(c.serviceKey);
    });
    this.#runner.start();
    this.sourcesMaybeSynced();
  }

  /** Sources call this when one of them finishes its initial list. */
  sourcesMaybeSynced(): void {
    if (this.#sourcesSynced()) this.#runner.request();
  }

  async stop(): Promise<void> {
    this.#runner.stop();
    await this.#runner.idle();
  }

  get state(): ReadonlyMap<ServicePortName, ServicePortState> {
    return this.#state;
  }

  get initialSyncDone(): boolean {
    return this.#initialDone;
  }

  #sourcesSynced(): boolean {
    return this.#opts.store.synced(['Service', 'EndpointSlice']);
  }

  async #sync(reason: RunReason): Promise<void> {
    if (!this.#sourcesSynced()) return;
    const started = performance.now();
    const clock = this.#opts.clock ?? systemClock;
    const full =
      !this.#initialDone ||
      reason === 'retry' ||
      (reason === 'period' && clock.now() - this.#lastFullAt >= FULL_SYNC_PERIOD_MS);
    const changes = this.#tracker.take();
    const oldestChangeAt = this.#oldestChangeAt;
    this.#oldestChangeAt = undefined;
    const next = this.#compute(full || changes.all ? undefined : changes.services);

    const report: SyncReport = {
      reason: this.#initialDone ? reason : 'initial',
      full,
      durationMs: 0,
      servicePorts: next.state.size,
      changed: next.changed.size,
      removed: next.removed.size,
      ...(oldestChangeAt !== undefined ? { oldestChangeAt } : {}),
    };
    // New node facts (a Node's addresses, --nodeport-addresses resolving to
    // other interface addresses) reach the proxier even when no service
    // changed: NodePorts and source ranges depend on them.
    const node = this.#nodeFacts();
    if (
      !full &&
      next.changed.size === 0 &&
      next.removed.size === 0 &&
      sameNodeFacts(this.#node, node) &&
      !(reason === 'period' && this.#opts.proxier.hasPendingWork?.())
    )
      return;
    try {
      report.result = await this.#opts.proxier.sync({
        desired: next.state,
        changed: next.changed,
        removed: next.removed,
        full,
        node,
      });
    } catch (err) {
      // The proxier may have written part of it: the retry is a full sync.
      this.#tracker.putBack(changes);
      this.#oldestChangeAt ??= oldestChangeAt;
      report.error = err;
      report.durationMs = performance.now() - started;
      this.#opts.onSync?.(report);
      throw err;
    }
    this.#state = next.state;
    this.#byService = next.byService;
    this.#node = node;
    this.#initialDone = true;
    if (full) this.#lastFullAt = clock.now();
    report.durationMs = performance.now() - started;
    this.#logSkipped(report.result.skipped);
    this.#opts.logger.info(
      {
        reason: report.reason,
        full,
        servicePorts: report.servicePorts,
        changed: report.changed,
        removed: report.removed,
        written: report.result.written,
        deleted: report.result.removed,
        ms: Math.round(report.durationMs * 10) / 10,
      },
      'synced',
    );
    this.#opts.onSync?.(report);
  }

  /**
   * The next state: recomputed for `dirty` services only (all of them when
   * undefined), the rest carried over from the last sync.
   */
  #compute(dirty: Set<ObjectKey> | undefined) {
    const { store, nodeName, serviceProxyName } = this.#opts;
    const node: NodeContext = { nodeName, ...(store.node()?.zone ? { zone: store.node()?.zone } : {}) };
    const state = new Map(dirty ? this.#state : []);
    const byService = new Map(dirty ? this.#byService : []);
    const keys = dirty ?? new Set([...store.serviceKeys(), ...this.#byService.keys()]);
    const changed = new Set<ServicePortName>();
    const removed = new Map<ServicePortName, ServicePortState>();

    for (const key of keys) {
      const before = this.#byService.get(key) ?? [];
      for (const name of before) state.delete(name);
      byService.delete(key);
      const svc = store.service(key);
      let ports: ServicePortState[] = [];
      if (svc && shouldProxy(svc, serviceProxyName)) {
        try {
          ports = buildServicePorts(svc, store.slicesForService(key), node);
        } catch (err) {
          // A model bug must not stop every other service from syncing.
          this.#opts.logger.error({ err, service: key }, 'cannot compute service; keeping what was programmed');
          for (const name of before) {
            const prev = this.#state.get(name);
            if (prev) state.set(name, prev);
          }
          if (before.length) byService.set(key, before);
          continue;
        }
      }
      for (const sp of ports) {
        state.set(sp.name, sp);
        const prev = this.#state.get(sp.name);
        if (!prev || !sameState(prev, sp)) changed.add(sp.name);
      }
      if (ports.length)
        byService.set(
          key,
          ports.map((p) => p.name),
        );
      for (const name of before) {
        const prev = this.#state.get(name);
        if (prev && !state.has(name)) removed.set(name, prev);
      }
    }
    return { state, byService, changed, removed };
  }

  #nodeFacts(): NodeFacts {
    const node = this.#opts.store.node();
    return nodeFacts({
      nodeName: this.#opts.nodeName,
      node,
      localAddresses: (this.#opts.localAddresses ?? interfaceAddresses)(),
      nodePortAddresses: this.#opts.nodePortAddresses ?? { kind: 'all' },
    });
  }

  #logSkipped(skipped: SyncResult['skipped']): void {
    for (const s of skipped) {
      const id = `${s.name}|${s.reason}`;
      if (this.#skipped.has(id)) continue;
      this.#skipped.add(id);
      this.#opts.logger.warn({ servicePort: s.name, reason: s.reason }, 'service port not programmed by this mode');
    }
  }
}

/**
 * Deep equality of two states; both come from the same builder, so key order
 * matches. The categorized lists hold objects of `endpoints`, compared
 * there: here only which ones they hold.
 */
function sameState(a: ServicePortState, b: ServicePortState): boolean {
  const { clusterEndpoints: ac, localEndpoints: al, ...ar } = a;
  const { clusterEndpoints: bc, localEndpoints: bl, ...br } = b;
  return sameEndpoints(ac, bc) && sameEndpoints(al, bl) && JSON.stringify(ar) === JSON.stringify(br);
}

function sameEndpoints(a: readonly EndpointState[] | null, b: readonly EndpointState[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((e, i) => e.ip === b[i]?.ip && e.port === b[i]?.port);
}

export type { Changes };
