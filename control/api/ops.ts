// The ops API as the daemon owns it: health state, metrics and the map
// catalog, fed by the sync loop's reports and the store's changes, and the
// two servers that show them. Built once per daemon; nothing here writes to
// the dataplane.
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { packageVersion } from '../config/install.js';
import type { ProxyOptions } from '../config/options.js';
import type { Proxier } from '../proxiers/types.js';
import type { StoreChange } from '../sources/store.js';
import type { SyncReport } from '../sync/sync-loop.js';
import type { ApiApp } from './app.js';
import type { ApiContext, SyncHistory } from './context.js';
import { HealthState, type HealthClock } from './health.js';
import { ProxyMetrics } from './metrics.js';
import { buildHealthServer, buildMetricsServer, listen } from './server.js';

/** A mode's own routes, bound to the running proxier by the mode registry. */
export type RouteContributor = (app: ApiApp, ctx: ApiContext) => void;

export interface OpsOptions {
  options: ProxyOptions;
  logger: Logger;
  store: ApiContext['store'] & {
    readonly nodeName: string;
    onChange(l: (c: StoreChange) => void): () => void;
    onEvent(l: (kind: StoreChange['kind']) => void): () => void;
  };
  loop: ApiContext['loop'];
  proxier: Proxier;
  /** The metrics, made before the proxier (a mode may report into them). */
  metrics: ProxyMetrics;
  /** kube-proxy's health timeout: twice the running mode's sync period. */
  healthTimeoutMs: number;
  /** Every mode's routes (the API's shape does not depend on the mode). */
  routes?: () => Promise<readonly RouteContributor[]>;
  clock?: HealthClock;
}

/** Metrics in a registry of the caller's, or a fresh one with the process metrics. */
export function createMetrics(registry?: Registry): ProxyMetrics {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return new ProxyMetrics({ registry });
}

export class OpsApi {
  readonly context: ApiContext;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;
  #servers: ApiApp[] = [];

  readonly #routes: () => Promise<readonly RouteContributor[]>;

  constructor(opts: OpsOptions) {
    const { options, metrics } = opts;
    this.#logger = opts.logger;
    this.#routes = opts.routes ?? (async () => []);
    const view = opts.proxier.view();
    const tables = view.tableUsage;
    if (tables) metrics.observeTables(tables);
    if (view.drops) metrics.observeDrops(() => view.drops!());
    const health = new HealthState({ timeoutMs: opts.healthTimeoutMs, ...(opts.clock ? { clock: opts.clock } : {}) });
    const syncs: SyncHistory = { last: undefined, lastSuccess: undefined };
    this.context = {
      options,
      version: packageVersion(),
      startedAt: new Date(),
      store: opts.store,
      loop: opts.loop,
      health,
      metrics,
      syncs,
      proxier: view,
    };
    const offChange = opts.store.onChange((c) => this.onStoreChange(c, opts.store.nodeName));
    const offEvent = opts.store.onEvent((kind) => metrics.observeEvent(kind));
    this.#unsubscribe = () => {
      offChange();
      offEvent();
    };
  }

  /** The servers listening (one per bind address that is not ""). */
  get servers(): readonly ApiApp[] {
    return this.#servers;
  }

  /** Every sync, from the loop's onSync hook. */
  onSync(report: SyncReport): void {
    const { health, metrics, syncs } = this.context;
    const entry = { at: new Date(), report };
    syncs.last = entry;
    if (report.error === undefined) {
      syncs.lastSuccess = entry;
      health.updated();
    }
    metrics.observeSync(report);
  }

  /** Every store change: queued for health (kube-proxy's QueuedUpdate) and counted. */
  onStoreChange(c: StoreChange, nodeName: string): void {
    const { health, metrics } = this.context;
    if (c.kind === 'Node') {
      // The node's Node object going away is the node being deleted: drain it.
      if (c.key === nodeName) health.setNodeEligible(c.op !== 'delete');
      return;
    }
    health.queuedUpdate();
    metrics.observeChange(c.kind);
  }

  /** Starts the servers whose bind address is not "". Fails, with nothing left listening, if one cannot listen. */
  async start(): Promise<void> {
    const { options } = this.context;
    const onInternalError = (err: unknown, url: string) => this.#logger.error({ err, url }, 'ops API request failed');
    const routes = await this.#routes();
    const plan = [
      {
        address: options.healthzBindAddress,
        server: 'healthz',
        flag: '--healthz-bind-address',
        build: buildHealthServer,
      },
      {
        address: options.metricsBindAddress,
        server: 'metrics',
        flag: '--metrics-bind-address',
        build: buildMetricsServer,
      },
    ];
    try {
      for (const p of plan) {
        if (p.address === '') {
          this.#logger.info({ server: p.server }, `${p.server} server disabled (${p.flag}="")`);
          continue;
        }
        const app = await p.build(this.context, { onInternalError, routes });
        this.#servers.push(app);
        await listen(app, p.address, p);
        this.#logger.info({ server: p.server, address: p.address }, `serving ${p.server}`);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe();
    const servers = this.#servers.splice(0);
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  }
}
