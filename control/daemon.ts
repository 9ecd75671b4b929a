// The daemon: wires a source, the store, the sync loop and the running mode's
// proxier, and owns their lifetimes. It knows no mode by name: the mode
// registry (proxiers/modes.ts) says how the mode is checked, created, synced
// and cleaned up, and which routes it adds to the ops API. SIGTERM stops
// watching and syncing but leaves the dataplane programmed: a proxy
// restarting (or being upgraded) must not take the node's services down.
import type { Logger } from 'pino';
import { OpsApi, createMetrics } from './api/ops.js';
import { ServiceHealthServers, serviceHealthOf } from './api/service-health.js';
import type { ProxyOptions } from './config/options.js';
import { nodePortAddressSpec } from './model/node-facts.js';
import type { DualStackProxier } from './proxiers/dual-stack.js';
import { ModeRegistry, createProxier, type ModeDefinition } from './proxiers/modes.js';
import { Store } from './sources/store.js';
import type { IPFamily } from './sources/types.js';
import { SyncLoop, type SyncReport } from './sync/sync-loop.js';

export { UnsupportedModeError } from './proxiers/modes.js';

export interface DaemonHooks {
  onSync?: (report: SyncReport) => void;
  /** The modes to choose from; the built-in registry by default (tests bring their own). */
  modes?: ModeRegistry;
}

export class Daemon {
  readonly options: ProxyOptions;
  readonly logger: Logger;
  readonly store: Store;
  /** The mode's proxier per IP family, behind the dual-stack meta proxier. */
  readonly proxier: DualStackProxier;
  readonly loop: SyncLoop;
  /** Health, metrics and the read-only API (servers per the bind addresses). */
  readonly ops: OpsApi;
  readonly #modes: ModeRegistry;
  /** The health-check node ports of Local load-balancer services, per family served. */
  readonly #serviceHealth = new Map<IPFamily, ServiceHealthServers>();
  #source: { start(): Promise<void> | void; stop(): Promise<void> | void } | undefined;
  /**
   * What another mode left on this node is removed once this mode has
   * programmed its first sync, as kube-proxy removes other modes' leftovers:
   * until then the old rules keep serving instead of nothing.
   */
  #othersRemoved: Promise<void> | undefined;

  /**
   * Loads the mode, runs its start-up check (a node that cannot run it fails
   * here with the check's error code, before anything is created) and builds
   * the daemon around its proxier.
   */
  static async create(options: ProxyOptions, logger: Logger, hooks: DaemonHooks = {}): Promise<Daemon> {
    const modes = hooks.modes ?? new ModeRegistry();
    const mode = await modes.load(options.mode);
    mode.requires?.({ options, logger });
    return new Daemon(options, logger, { ...hooks, modes, mode });
  }

  private constructor(
    options: ProxyOptions,
    logger: Logger,
    init: DaemonHooks & { modes: ModeRegistry; mode: ModeDefinition },
  ) {
    this.options = options;
    this.logger = logger;
    this.#modes = init.modes;
    this.store = new Store(options.hostname);
    const metrics = createMetrics();
    const healthLogger = logger.child({ component: 'service-health' });
    this.proxier = createProxier(
      options.mode,
      init.mode,
      { options, logger, metrics },
      {
        // kube-proxy's proxiers sync the health-check node ports at the end of each sync, one set per family.
        afterSync: async (family, req) => {
          let servers = this.#serviceHealth.get(family);
          if (!servers) {
            servers = new ServiceHealthServers({
              family,
              logger: healthLogger,
              healthy: () => this.ops.context.health.report().healthy,
            });
            this.#serviceHealth.set(family, servers);
          }
          try {
            await servers.sync(serviceHealthOf(req.desired.values()), req.node.nodePortAddresses[family]);
          } catch (err) {
            healthLogger.error({ err, family }, 'cannot sync the health check node ports');
          }
        },
        onFamilyUnavailable: (family, err) => {
          logger.warn(
            { family, err: err.message, code: (err as { code?: string }).code },
            `the ${options.mode} mode cannot program ${family} on this node; it serves the other family only, and reports each ${family} address as not programmed`,
          );
        },
      },
    );
    const periods = init.mode.periods(options);
    this.loop = new SyncLoop({
      store: this.store,
      proxier: this.proxier,
      nodeName: options.hostname,
      serviceProxyName: options.serviceProxyName,
      periods,
      nodePortAddresses: nodePortAddressSpec(options.nodePortAddresses),
      logger: logger.child({ component: 'sync' }),
      onSync: (report) => {
        if (report.error === undefined && !this.#othersRemoved) {
          this.#othersRemoved = this.#modes
            .removeOthers(options.mode, { options, logger })
            .then(() => logger.info({ mode: options.mode }, 'removed what other proxy modes left on this node'))
            .catch((err: unknown) => logger.error({ err }, 'cannot remove what another proxy mode left on this node'));
        }
        this.ops.onSync(report);
        init.onSync?.(report);
      },
    });
    this.ops = new OpsApi({
      options,
      logger: logger.child({ component: 'api' }),
      store: this.store,
      loop: this.loop,
      proxier: this.proxier,
      metrics,
      healthTimeoutMs: 2 * periods.syncPeriodMs,
      routes: () => this.#modes.routes(this.proxier),
    });
  }

  async start(): Promise<void> {
    const { options, logger } = this;
    logger.info({ mode: options.mode, node: options.hostname, source: options.manifests ?? 'kubernetes' }, 'starting');
    // Servers first: a bind address in use fails start-up before the dataplane is touched.
    await this.ops.start();
    await this.proxier.start();
    this.loop.start();
    // Only the source in use is loaded: the Kubernetes client is large.
    if (options.manifests) {
      const { ManifestSource } = await import('./sources/manifests.js');
      this.#source = new ManifestSource({
        path: options.manifests,
        store: this.store,
        logger: logger.child({ source: 'manifests' }),
      });
    } else {
      const { KubernetesSource } = await import('./sources/kubernetes.js');
      this.#source = new KubernetesSource({
        ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
        ...(options.master ? { master: options.master } : {}),
        nodeName: options.hostname,
        serviceProxyName: options.serviceProxyName,
        store: this.store,
        logger: logger.child({ source: 'kubernetes' }),
        onSynced: () => this.loop.sourcesMaybeSynced(),
      });
    }
    await this.#source.start();
    this.loop.sourcesMaybeSynced();
  }

  /** Graceful stop: no half-done sync, and the dataplane stays as programmed. */
  async stop(): Promise<void> {
    await this.#source?.stop();
    await this.loop.stop();
    await this.#othersRemoved;
    await this.ops.stop();
    for (const servers of this.#serviceHealth.values()) await servers.close();
    await this.proxier.stop();
    this.logger.info('stopped; the dataplane keeps serving what was programmed');
  }
}

/** --cleanup: removes what every mode may have left on this node, then exits. */
export async function cleanupAll(options: ProxyOptions, logger: Logger, modes = new ModeRegistry()): Promise<void> {
  await modes.cleanupAll({ options, logger });
}
