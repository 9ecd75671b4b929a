// The ops API as the daemon owns it: health state, metrics and the map
// catalog, fed by the sync loop's reports and the store's changes, and the
// two servers that show them. Built once per daemon; nothing here writes to
// the dataplane.
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { packageVersion } from '../config/install.js';
import type { ProxyOptions } from '../config/options.js';
import { EbpfProxier } from '../proxiers/ebpf/proxier.js';
import { IptablesProxier } from '../proxiers/iptables/proxier.js';
import { IpvsProxier } from '../proxiers/ipvs/proxier.js';
import type { Proxier } from '../proxiers/types.js';
import type { StoreChange } from '../sources/store.js';
import type { SyncReport } from '../sync/sync-loop.js';
import type { ApiApp } from './app.js';
import type { ApiContext, DataplaneView, SyncHistory } from './context.js';
import { HealthState, type HealthClock } from './health.js';
import { MapCatalog } from './map-catalog.js';
import { ProxyMetrics } from './metrics.js';
import { buildHealthServer, buildMetricsServer, listen } from './server.js';

export interface OpsOptions {
  options: ProxyOptions;
  logger: Logger;
  store: ApiContext['store'] & { readonly nodeName: string; onChange(l: (c: StoreChange) => void): () => void };
  loop: ApiContext['loop'];
  proxier: Proxier;
  /** A registry of the caller's; by default a fresh one with the process metrics. */
  registry?: Registry;
  clock?: HealthClock;
}

/** kube-proxy's health timeout: twice the sync period of the mode. */
function healthTimeoutMs(o: ProxyOptions): number {
  const periods = o.mode === 'iptables' ? o.iptables : o.mode === 'ipvs' ? o.ipvs : o.sync;
  return 2 * periods.syncPeriodMs;
}

function dataplaneOf(proxier: Proxier): () => DataplaneView | undefined {
  if (!(proxier instanceof EbpfProxier)) return () => undefined;
  return () => {
    let dp;
    try {
      dp = proxier.dataplane;
    } catch {
      return undefined; // not started yet, or stopping
    }
    return {
      programmed: () => dp.programmed(),
      interfaces: () => proxier.interfaces.map((l) => ({ name: l.name, ifindex: l.ifindex })),
    };
  };
}

export class OpsApi {
  readonly context: ApiContext;
  readonly #logger: Logger;
  readonly #unsubscribe: () => void;
  #servers: ApiApp[] = [];

  constructor(opts: OpsOptions) {
    const { options } = opts;
    this.#logger = opts.logger;
    let registry = opts.registry;
    if (!registry) {
      registry = new Registry();
      collectDefaultMetrics({ register: registry });
    }
    const maps = options.mode === 'ebpf' ? new MapCatalog({ pinRoot: options.ebpf.bpffsRoot }) : undefined;
    const metrics = new ProxyMetrics({
      registry,
      ...(maps
        ? {
            mapStats: async () => (await maps.summaries()).map((m) => ({ name: m.name, entries: m.entries, capacity: m.maxEntries })),
          }
        : {}),
    });
    const health = new HealthState({ timeoutMs: healthTimeoutMs(options), ...(opts.clock ? { clock: opts.clock } : {}) });
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
      dataplane: dataplaneOf(opts.proxier),
      ...(opts.proxier instanceof IptablesProxier ? { chains: (name: string) => (opts.proxier as IptablesProxier).chainsOf(name) } : {}),
      ...(opts.proxier instanceof IpvsProxier ? { ipvs: () => (opts.proxier as IpvsProxier).programmed() } : {}),
      maps,
    };
    this.#unsubscribe = opts.store.onChange((c) => this.onStoreChange(c, opts.store.nodeName));
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
    const plan = [
      { address: options.healthzBindAddress, server: 'healthz', flag: '--healthz-bind-address', build: buildHealthServer },
      { address: options.metricsBindAddress, server: 'metrics', flag: '--metrics-bind-address', build: buildMetricsServer },
    ];
    try {
      for (const p of plan) {
        if (p.address === '') {
          this.#logger.info({ server: p.server }, `${p.server} server disabled (${p.flag}="")`);
          continue;
        }
        const app = await p.build(this.context, { onInternalError });
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
    this.context.maps?.close();
  }
}
