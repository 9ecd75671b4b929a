// The kernelspace mode: kube-proxy's winkernel proxier on the shared model.
// Windows forwards service traffic in VFP, the Hyper-V switch's filtering
// platform, and a proxy programs it through HNS: one HostComputeLoadBalancer
// per service frontend (ClusterIP, NodePort, externalIP, ingress IP), naming
// HostComputeEndpoints (the CNI's for local pods, the proxy's own "remote"
// ones for pods on other nodes). One proxier per IP family; both share one
// HNS session (HnsHost), which loads the HCN library and reads the network.
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { ProxyOptions } from '../../config/options.js';
import type { IPFamily } from '../../sources/types.js';
import { ProxierErrorCode } from '../errors.js';
import type { Proxier, ProxierView, SyncRequest, SyncResult } from '../types.js';
import type { HcnApi } from './hcn/api.js';
import { HcnClient, isHcnError } from './hcn/client.js';
import {
  HResult,
  hnsFeatures,
  type HnsFeatures,
  type HnsVersion,
  type HostComputeNetwork,
  type RemoteSubnetRoute,
} from './hcn/schema.js';
import { HnsPlanner } from './plan.js';
import { HnsReconciler, type HeldEndpoint, type HeldLoadBalancer } from './reconcile.js';
import type { HnsNetworkType, HnsNodeContext } from './types.js';

export class HnsUnavailableError extends Error {
  readonly code = ProxierErrorCode.HnsUnavailable;
}

export class HnsNetworkError extends Error {
  readonly code = ProxierErrorCode.HnsNetwork;
}

/** HNS's V2 API (HostComputeNetwork and its load balancers) came with 9.2. */
const V2_API: HnsVersion = { major: 9, minor: 2 };

export interface HnsHostOptions {
  /** Loads the HCN library: koffi over computenetwork.dll on Windows, the emulator in tests. */
  api: () => Promise<HcnApi>;
  winkernel: ProxyOptions['winkernel'];
  /** $KUBE_NETWORK, read when --network-name is empty (kube-proxy's fallback). */
  envNetworkName?: string;
  /** How long start-up waits for the CNI to create the network (kube-proxy waits forever, retrying every second). */
  networkWaitMs: number;
  logger: Logger;
}

export interface HnsSession {
  client: HcnClient;
  version: HnsVersion;
  features: HnsFeatures;
}

/** The HNS session both family proxiers share: the library, the version, the network. */
export class HnsHost {
  readonly options: HnsHostOptions;
  #session: Promise<HnsSession> | undefined;
  #version: HnsVersion | undefined;
  #network: HostComputeNetwork | undefined;
  /** The family proxiers on this host, for /v1/hns. */
  readonly proxiers: KernelspaceProxier[] = [];

  constructor(options: HnsHostOptions) {
    this.options = options;
  }

  get networkName(): string {
    return this.options.winkernel.networkName || this.options.envNetworkName || '';
  }

  /** Loads the library and checks the version, once. */
  session(): Promise<HnsSession> {
    this.#session ??= this.#open();
    return this.#session;
  }

  async #open(): Promise<HnsSession> {
    let client: HcnClient;
    let version: HnsVersion;
    try {
      client = new HcnClient(await this.options.api());
      version = await client.version();
    } catch (err) {
      this.#session = undefined;
      throw new HnsUnavailableError(
        `the kernelspace mode cannot reach the Host Networking Service: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#version = version;
    const features = hnsFeatures(version);
    const shown = `${version.major}.${version.minor}`;
    if (!features.remoteSubnet)
      throw new HnsUnavailableError(
        `HNS ${shown} has no V2 API; the kernelspace mode needs HNS ${V2_API.major}.${V2_API.minor} or later (Windows Server 2019)`,
      );
    if (this.options.winkernel.enableDSR && !features.dsr)
      throw new HnsUnavailableError(`--enable-dsr: HNS ${shown} does not support direct server return`);
    this.options.logger.info({ hnsVersion: shown, features }, 'HNS answers');
    return { client, version, features };
  }

  /** The HNS version, once read. */
  get version(): HnsVersion | undefined {
    return this.#version;
  }

  /** The network as last read. */
  get network(): HostComputeNetwork | undefined {
    return this.#network;
  }

  /**
   * Reads the network by name. At start-up it waits up to networkWaitMs for
   * the CNI to create it; later a missing network fails the sync (retried).
   */
  async readNetwork(wait = false): Promise<HostComputeNetwork> {
    const { client } = await this.session();
    const name = this.networkName;
    if (!name)
      throw new HnsNetworkError(
        'the kernelspace mode needs the HNS network the pods are on: set --network-name (winkernel.networkName) or $KUBE_NETWORK',
      );
    const deadline = Date.now() + (wait ? this.options.networkWaitMs : 0);
    for (;;) {
      try {
        this.#network = await client.networkByName(name);
        return this.#network;
      } catch (err) {
        const missing = isHcnError(err, HResult.HCN_NETWORK_NOT_FOUND);
        if (!missing) throw err;
        if (Date.now() >= deadline)
          throw new HnsNetworkError(
            `HNS has no network named "${name}" (--network-name): the CNI creates it; check \`Get-HnsNetwork\``,
            { cause: err },
          );
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

/** The network's type as the mode serves it; winkernel serves overlay and l2bridge. */
export function networkTypeOf(network: HostComputeNetwork): HnsNetworkType {
  const type = (network.Type ?? '').toLowerCase();
  if (type === 'overlay' || type === 'l2bridge') return type;
  throw new HnsNetworkError(
    `HNS network "${network.Name ?? ''}" is of type ${network.Type ?? '(none)'}; the kernelspace mode serves Overlay and L2Bridge networks`,
  );
}

/** The network's RemoteSubnetRoute policies (overlay: other nodes' pod subnets and their provider addresses). */
export function remoteSubnetsOf(network: HostComputeNetwork): RemoteSubnetRoute[] {
  return (network.Policies ?? [])
    .filter((p) => p.Type === 'RemoteSubnetRoute' && p.Settings)
    .map((p) => p.Settings as unknown as RemoteSubnetRoute)
    .filter((r) => typeof r.DestinationPrefix === 'string' && typeof r.ProviderAddress === 'string');
}

/** The MAC of the interface holding `ip`, as HNS writes MACs ("00-15-5D-01-02-03"). */
export function interfaceMacOf(ip: string): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    const hit = addrs?.find((a) => a.address === ip);
    if (hit?.mac && hit.mac !== '00:00:00:00:00:00') return hit.mac.toUpperCase().replaceAll(':', '-');
  }
  return undefined;
}

export interface KernelspaceProxierOptions {
  host: HnsHost;
  family: IPFamily;
  winkernel: ProxyOptions['winkernel'];
  /** The port of --healthz-bind-address: the health-check load balancers' port without a healthCheckNodePort. */
  healthzPort: number;
  logger: Logger;
  /** The MAC of the node-IP interface (os.networkInterfaces() by default). */
  hostMacOf?: (ip: string) => string | undefined;
}

/** What /v1/hns shows of one family. */
export interface HnsFamilyView {
  family: IPFamily;
  /** Why this family programs nothing, if so. */
  disabled?: string;
  loadBalancers: HeldLoadBalancer[];
  endpoints: Array<HeldEndpoint & { users: string[] }>;
}

export class KernelspaceProxier implements Proxier {
  readonly mode = 'kernelspace' as const;
  readonly #o: KernelspaceProxierOptions;
  #reconciler: HnsReconciler | undefined;
  readonly #planner = new HnsPlanner();
  #session: HnsSession | undefined;
  #networkType: HnsNetworkType | undefined;
  /** Why this family is not programmed (IPv6 on overlay, or below HNS 11.10). */
  #disabled: string | undefined;

  constructor(options: KernelspaceProxierOptions) {
    this.#o = options;
    options.host.proxiers.push(this);
  }

  get host(): HnsHost {
    return this.#o.host;
  }

  async start(): Promise<void> {
    const { host, family, winkernel, logger } = this.#o;
    this.#session = await host.session();
    const network = await host.readNetwork(true);
    this.#networkType = networkTypeOf(network);
    if (this.#networkType === 'overlay' && !winkernel.sourceVip)
      throw new HnsNetworkError(
        `HNS network "${network.Name ?? ''}" is an overlay network: set --source-vip (winkernel.sourceVip), the address load balancers source-NAT to`,
      );
    if (family === 'IPv6') {
      if (this.#networkType === 'overlay') this.#disabled = 'HNS serves IPv6 services on l2bridge networks only';
      else if (!this.#session.features.ipv6DualStack)
        this.#disabled = `HNS ${this.#session.version.major}.${this.#session.version.minor} has no IPv6 load balancers (11.10 or later)`;
    }
    if (this.#disabled) logger.info({ family, reason: this.#disabled }, 'this family is not programmed');
    this.#reconciler = new HnsReconciler({
      client: this.#session.client,
      family,
      features: this.#session.features,
      rootEndpointName: winkernel.rootHnsEndpointName,
      logger,
    });
  }

  async sync(req: SyncRequest): Promise<SyncResult> {
    const reconciler = this.#reconciler;
    if (!reconciler || !this.#session) throw new Error('the kernelspace proxier was not started');
    const { family, winkernel, host } = this.#o;
    const notProgrammed = (reason: string): SyncResult => ({
      written: 0,
      removed: 0,
      skipped: [...req.desired.keys()].map((name) => ({ name, reason })),
    });
    if (this.#disabled) return notProgrammed(this.#disabled);
    const nodeIP = req.node.addresses.find((a) => (family === 'IPv4' ? isIPv4(a) : isIPv6(a)));
    if (!nodeIP) return notProgrammed(`the node has no ${family} address`);

    // A full sync re-reads the network: remote subnets follow nodes joining, and a recreated network has a new ID.
    const network = req.full || !host.network ? await host.readNetwork() : host.network;
    const ctx: HnsNodeContext = {
      family,
      networkType: networkTypeOf(network),
      nodeIP,
      remoteSubnets: remoteSubnetsOf(network),
      features: this.#session.features,
      enableDSR: winkernel.enableDSR,
      forwardHealthCheckVip: winkernel.forwardHealthCheckVip,
      healthzPort: this.#o.healthzPort,
    };
    if (winkernel.sourceVip) ctx.sourceVip = winkernel.sourceVip;
    const mac = (this.#o.hostMacOf ?? interfaceMacOf)(nodeIP);
    if (mac) ctx.hostMac = mac;
    const plan = this.#planner.plan(req.desired.values(), ctx, { sorted: false });
    const idle = !req.full && req.changed.size === 0 && req.removed.size === 0;
    if (idle) await reconciler.checkDrift(network.ID!);
    return reconciler.reconcile(plan, { full: req.full, networkId: network.ID! });
  }

  /**
   * Always: every periodic sync checks that HNS still holds what this mode
   * programmed (two enumerate calls; HNS loses load balancers, and nothing
   * tells a proxy), where the loop would otherwise skip a sync with no change.
   */
  hasPendingWork(): boolean {
    return true;
  }

  /** The load balancers and endpoints as this family sees them (/v1/hns). */
  hns(): HnsFamilyView {
    const view: HnsFamilyView = {
      family: this.#o.family,
      loadBalancers: this.#reconciler?.loadBalancers() ?? [],
      endpoints: this.#reconciler?.endpoints() ?? [],
    };
    if (this.#disabled) view.disabled = this.#disabled;
    return view;
  }

  view(): ProxierView {
    return {
      programmedCount: () => (this.#reconciler ? this.#reconciler.loadBalancers().length : null),
      mapCount: () => null,
      interfaces: () => [],
    };
  }

  async stop(): Promise<void> {}

  async cleanup(): Promise<void> {
    if (!this.#reconciler) return;
    const network = this.#o.host.network ?? (await this.#o.host.readNetwork());
    const removed = await this.#reconciler.removeAll(network.ID!);
    this.#o.logger.info({ family: this.#o.family, removed }, 'removed the HNS load balancers and endpoints');
  }
}
