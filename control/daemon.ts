// The daemon: wires a source, the store, the sync loop and a proxier, and
// owns their lifetimes. SIGTERM stops watching and syncing but leaves the
// dataplane programmed: a proxy restarting (or being upgraded) must not take
// the node's services down with it.
import type { Logger } from 'pino';
import { OpsApi } from './api/ops.js';
import type { ProxyMode, ProxyOptions } from './config/options.js';
import { requireIpvs } from './ipvs/index.js';
import { EbpfProxier, cleanupEbpf } from './proxiers/ebpf/proxier.js';
import { IptablesProxier, type RestoreReport } from './proxiers/iptables/proxier.js';
import { IPTABLES_MODE_ONLY, cleanupIptables } from './proxiers/iptables/tables.js';
import { cleanupIpvsMode } from './proxiers/ipvs/cleanup.js';
import { IpvsProxier } from './proxiers/ipvs/proxier.js';
import type { Proxier } from './proxiers/types.js';
import { ProxierErrorCode } from './proxiers/errors.js';
import { KubernetesSource } from './sources/kubernetes.js';
import { ManifestSource } from './sources/manifests.js';
import { Store } from './sources/store.js';
import { SyncLoop, type SyncReport } from './sync/sync-loop.js';

export class UnsupportedModeError extends Error {
  readonly code = ProxierErrorCode.ModeUnsupported;
}

/** The proxier for a mode, or a clear refusal for a mode this build or node cannot run. */
export function createProxier(options: ProxyOptions, logger: Logger, hooks: { onRestore?: (r: RestoreReport) => void } = {}): Proxier {
  const mode: ProxyMode = options.mode;
  switch (mode) {
    case 'ebpf':
      if (options.masqueradeAll || options.clusterCIDRs.length) {
        logger.warn(
          { masqueradeAll: options.masqueradeAll, clusterCIDRs: options.clusterCIDRs },
          'the ebpf mode does not masquerade yet: --masquerade-all and --cluster-cidr are ignored (clients outside the cluster reach ClusterIPs only through a node that holds the backend)',
        );
      }
      return new EbpfProxier({
        objectDir: options.ebpf.objectDir,
        pinRoot: options.ebpf.bpffsRoot,
        mapSizes: options.ebpf.mapSizes,
        devices: options.ebpf.devices,
        ...(options.ebpf.cgroupRoot ? { cgroupRoot: options.ebpf.cgroupRoot } : {}),
        logger: logger.child({ proxier: 'ebpf' }),
      });
    case 'iptables':
      return new IptablesProxier({
        masqueradeAll: options.masqueradeAll,
        masqueradeBit: options.iptables.masqueradeBit,
        clusterCIDRs: options.clusterCIDRs,
        localhostNodePorts: options.iptables.localhostNodePorts,
        logger: logger.child({ proxier: 'iptables' }),
        ...(hooks.onRestore ? { onRestore: hooks.onRestore } : {}),
      });
    case 'ipvs': {
      // Before anything is created: a kernel without IPVS fails here, with
      // ERR_IPVS_UNAVAILABLE and what modprobe said, and nothing half-programmed.
      const info = requireIpvs({ purpose: '--proxy-mode=ipvs' });
      logger.info({ ipvsVersion: info.version, connectionTableSize: info.connectionTableSize }, 'the kernel has IPVS');
      const seconds = (ms: number) => Math.round(ms / 1000);
      return new IpvsProxier({
        scheduler: options.ipvs.scheduler,
        excludeCIDRs: options.ipvs.excludeCIDRs,
        strictARP: options.ipvs.strictARP,
        timeouts: { tcp: seconds(options.ipvs.tcpTimeoutMs), tcpFin: seconds(options.ipvs.tcpFinTimeoutMs), udp: seconds(options.ipvs.udpTimeoutMs) },
        masqueradeAll: options.masqueradeAll,
        masqueradeBit: options.iptables.masqueradeBit,
        clusterCIDRs: options.clusterCIDRs,
        logger: logger.child({ proxier: 'ipvs' }),
      });
    }
    default:
      throw new UnsupportedModeError(
        `--proxy-mode=${mode} is not available in this build yet; use --proxy-mode=ebpf (the default), --proxy-mode=iptables or --proxy-mode=ipvs`,
      );
  }
}

export interface DaemonHooks {
  onSync?: (report: SyncReport) => void;
}

export class Daemon {
  readonly options: ProxyOptions;
  readonly logger: Logger;
  readonly store: Store;
  readonly proxier: Proxier;
  readonly loop: SyncLoop;
  /** Health, metrics and the read-only API (servers per the bind addresses). */
  readonly ops: OpsApi;
  #source: { start(): Promise<void> | void; stop(): Promise<void> | void } | undefined;
  /**
   * What another mode left on this node is removed once this mode has
   * programmed its first sync, as kube-proxy removes other modes' leftovers:
   * until then the old rules keep serving instead of nothing.
   */
  #othersRemoved: Promise<void> | undefined;

  constructor(options: ProxyOptions, logger: Logger, hooks: DaemonHooks = {}) {
    this.options = options;
    this.logger = logger;
    this.store = new Store(options.hostname);
    this.proxier = createProxier(options, logger, { onRestore: (r) => this.ops.context.metrics.observeRestore(r) });
    const periods = options.mode === 'iptables' ? options.iptables : options.mode === 'ipvs' ? options.ipvs : options.sync;
    this.loop = new SyncLoop({
      store: this.store,
      proxier: this.proxier,
      nodeName: options.hostname,
      serviceProxyName: options.serviceProxyName,
      periods,
      logger: logger.child({ component: 'sync' }),
      onSync: (report) => {
        if (report.error === undefined && !this.#othersRemoved) {
          this.#othersRemoved = removeOtherModes(options, logger).catch((err: unknown) =>
            logger.error({ err }, 'cannot remove what another proxy mode left on this node'),
          );
        }
        this.ops.onSync(report);
        hooks.onSync?.(report);
      },
    });
    this.ops = new OpsApi({ options, logger: logger.child({ component: 'api' }), store: this.store, loop: this.loop, proxier: this.proxier });
  }

  async start(): Promise<void> {
    const { options, logger } = this;
    logger.info({ mode: options.mode, node: options.hostname, source: options.manifests ?? 'kubernetes' }, 'starting');
    // Servers first: a bind address in use fails start-up before the dataplane is touched.
    await this.ops.start();
    await this.proxier.start();
    this.loop.start();
    if (options.manifests) {
      this.#source = new ManifestSource({ path: options.manifests, store: this.store, logger: logger.child({ source: 'manifests' }) });
    } else {
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
    await this.proxier.stop();
    await this.ops.stop();
    this.logger.info('stopped; the dataplane keeps serving what was programmed');
  }
}

/** --cleanup: removes what every mode may have left on this node, then exits. */
export async function cleanupAll(options: ProxyOptions, logger: Logger): Promise<void> {
  cleanupEbpf({ pinRoot: options.ebpf.bpffsRoot, devices: options.ebpf.devices, logger });
  await cleanupIptables(logger);
  await cleanupIpvsMode(logger, { excludeCIDRs: options.ipvs.excludeCIDRs });
}

/** Removes the leftovers of every mode but the one running. */
async function removeOtherModes(options: ProxyOptions, logger: Logger): Promise<void> {
  if (options.mode !== 'ebpf') cleanupEbpf({ pinRoot: options.ebpf.bpffsRoot, devices: options.ebpf.devices, logger });
  // The ipvs mode shares KUBE-SERVICES and the masquerade chains with the iptables mode, and keeps them.
  if (options.mode === 'ipvs') await cleanupIptables(logger, undefined, IPTABLES_MODE_ONLY);
  else if (options.mode !== 'iptables') await cleanupIptables(logger);
  if (options.mode !== 'ipvs') await cleanupIpvsMode(logger, { excludeCIDRs: options.ipvs.excludeCIDRs });
  logger.info({ mode: options.mode }, 'removed what other proxy modes left on this node');
}
