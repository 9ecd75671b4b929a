// The kernelspace contract tests' world: the real daemon (store, model, sync
// loop, the dual-stack meta proxier, the kernelspace proxiers, the ops API)
// in the kernelspace mode, programming an HNS emulator through the typed HCN
// client, the way it would program computenetwork.dll on a Windows node.
// Objects go into the store as the manifest and API-server sources put them
// (through slimObject); HNS is read back from the emulator, not from the
// proxy's memory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect } from 'vitest';
import { defaultOptions } from '../../../control/config/defaults.js';
import type { ProxyOptions } from '../../../control/config/options.js';
import { Daemon } from '../../../control/daemon.js';
import { CountingApi } from '../../../control/proxiers/kernelspace/hcn/api.js';
import { HnsEmulator, type HnsEmulatorOptions } from '../../../control/proxiers/kernelspace/hcn/emulator.js';
import type { HostComputeEndpoint, HostComputeLoadBalancer } from '../../../control/proxiers/kernelspace/hcn/schema.js';
import { defineKernelspaceMode } from '../../../control/proxiers/kernelspace/mode.js';
import { MODES, ModeRegistry } from '../../../control/proxiers/modes.js';
import { slimObject } from '../../../control/sources/slim.js';
import type { SyncReport } from '../../../control/sync/sync-loop.js';

export const NODE = 'win-1';
export const NODE_IP = '10.0.0.4';
export const NODE_IP6 = 'fd00::4';
export const HOST_MAC = '00-15-5D-00-00-04';
export const NS = 'demo';

export const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

type Obj = Record<string, unknown>;

export interface WorldOptions {
  hns?: HnsEmulatorOptions;
  winkernel?: Partial<ProxyOptions['winkernel']>;
  /** The HNS network's name the daemon is told (default: the emulator's first network's). */
  networkName?: string;
  /** The node's addresses (default NODE_IP). */
  addresses?: string[];
  syncPeriodMs?: number;
  /** What HNS holds before the daemon starts (a previous run, the CNI's pods). */
  before?: (hns: HnsEmulator) => void;
}

export class HnsWorld {
  readonly hns: HnsEmulator;
  readonly api: CountingApi;
  readonly syncs: SyncReport[] = [];
  daemon!: Daemon;
  readonly #dir: string;
  readonly #options: WorldOptions;
  /** What the store holds, so a restarted daemon is given it again before its first sync. */
  readonly #objects = new Map<string, Obj>();

  private constructor(hns: HnsEmulator, o: WorldOptions) {
    this.hns = hns;
    this.api = new CountingApi(hns);
    this.#dir = mkdtempSync(join(tmpdir(), 'sy-hns-'));
    this.#options = o;
  }

  static async start(o: WorldOptions = {}): Promise<HnsWorld> {
    const w = new HnsWorld(new HnsEmulator(o.hns), o);
    o.before?.(w.hns);
    writeFileSync(join(w.#dir, 'node.yaml'), nodeYaml(o.addresses ?? [NODE_IP]));
    await w.#startDaemon();
    return w;
  }

  /**
   * Stops the daemon (HNS keeps what it programmed, as on a real node) and
   * starts a new one on the same HNS, given the same objects: a proxy restart
   * or upgrade. Counts are reset first, so they are the new daemon's.
   */
  async restartDaemon(before?: (hns: HnsEmulator) => void): Promise<void> {
    await this.daemon.stop();
    // The new daemon's source lists them at start-up, as an API server's list would.
    const items = [...this.#objects.values()];
    writeFileSync(join(this.#dir, 'objects.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    before?.(this.hns);
    this.api.reset();
    this.syncs.length = 0;
    await this.#startDaemon();
  }

  async #startDaemon(): Promise<void> {
    const o = this.#options;
    const network = o.networkName ?? this.hns.networks()[0]!.Name!;
    const entry = MODES.find((m) => m.name === 'kernelspace')!;
    const registry = new ModeRegistry(
      [
        {
          ...entry,
          load: async () =>
            defineKernelspaceMode({ api: async () => this.api, networkWaitMs: 0, hostMacOf: () => HOST_MAC, env: {} }),
        },
      ],
      'win32',
    );
    const base = defaultOptions({ hostname: () => NODE });
    const options: ProxyOptions = {
      ...base,
      mode: 'kernelspace',
      manifests: this.#dir,
      healthzBindAddress: '',
      metricsBindAddress: '127.0.0.1:0',
      sync: { syncPeriodMs: o.syncPeriodMs ?? 3_600_000, minSyncPeriodMs: 0 },
      winkernel: { ...base.winkernel, networkName: network, ...o.winkernel },
    };
    this.daemon = await Daemon.create(options, silent, { modes: registry, onSync: (r) => this.syncs.push(r) });
    await this.daemon.start();
    await expect.poll(() => this.syncs.length).toBeGreaterThan(0);
  }

  #upsert(raw: Obj): void {
    const { kind, value } = slimObject(raw);
    this.daemon.store.upsert(kind, value as never);
  }

  /** Puts objects into the store as a source would, then waits for the sync that carries them. */
  async apply(...objects: Obj[]): Promise<SyncReport> {
    const before = this.syncs.length;
    for (const raw of objects) {
      const meta = raw.metadata as { name: string };
      this.#objects.set(`${String(raw.kind)}/${meta.name}`, raw);
      this.#upsert(raw);
    }
    return this.nextSync(before);
  }

  async remove(kind: 'Service' | 'EndpointSlice', name: string): Promise<SyncReport> {
    const before = this.syncs.length;
    this.#objects.delete(`${kind}/${name}`);
    this.daemon.store.delete(kind, NS, name);
    return this.nextSync(before);
  }

  /** The first sync report after `before` syncs. */
  async nextSync(before = this.syncs.length): Promise<SyncReport> {
    await expect.poll(() => this.syncs.length, { timeout: 5000 }).toBeGreaterThan(before);
    return this.syncs[before]!;
  }

  /** HNS's load balancers, sorted by frontend, without their (assigned) IDs. */
  loadBalancers(): Array<Omit<HostComputeLoadBalancer, 'ID'>> {
    return this.hns
      .loadBalancers()
      .map(({ ID: _id, ...rest }) => rest)
      .sort((a, b) => frontend(a).localeCompare(frontend(b)));
  }

  /** The IP of each endpoint an LB names, in HNS's order: what an assertion can spell out. */
  backendIps(lb: Pick<HostComputeLoadBalancer, 'HostComputeEndpoints'>): string[] {
    const byId = new Map(this.hns.endpoints().map((e) => [e.ID!.toUpperCase(), e]));
    return lb.HostComputeEndpoints.map((id) => byId.get(id.toUpperCase())?.IpConfigurations?.[0]?.IpAddress ?? id);
  }

  endpoint(ip: string): HostComputeEndpoint | undefined {
    return this.hns.endpoints().find((e) => e.IpConfigurations?.[0]?.IpAddress === ip);
  }

  async stop(): Promise<void> {
    await this.daemon?.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

const frontend = (lb: Omit<HostComputeLoadBalancer, 'ID'>) =>
  `${lb.FrontendVIPs?.[0] ?? '*'}:${lb.PortMappings[0]?.ExternalPort}/${lb.PortMappings[0]?.Protocol}`;

function nodeYaml(addresses: string[]): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE, labels: { 'kubernetes.io/os': 'windows' } },
    spec: { podCIDRs: ['10.244.1.0/24'] },
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  });
}

// ---- Kubernetes objects ---------------------------------------------------

export interface Ep {
  ip: string;
  /** Default: on this node. */
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface Svc {
  name: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  port?: number;
  targetPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  nodePort?: number;
  externalIPs?: string[];
  ingress?: string[];
  affinity?: boolean;
  internalTrafficPolicy?: 'Local';
  externalTrafficPolicy?: 'Local';
  healthCheckNodePort?: number;
  annotations?: Record<string, string>;
}

export function service(s: Svc): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: NS, ...(s.annotations ? { annotations: s.annotations } : {}) },
    spec: {
      type: s.type ?? 'ClusterIP',
      clusterIP: s.clusterIP ?? s.clusterIPs?.[0],
      ...(s.clusterIPs ? { clusterIPs: s.clusterIPs, ipFamilyPolicy: 'PreferDualStack' } : {}),
      ...(s.ipFamilies ? { ipFamilies: s.ipFamilies } : {}),
      ports: [
        {
          name: 'p',
          port: s.port ?? 80,
          protocol: s.protocol ?? 'TCP',
          targetPort: s.targetPort ?? 8080,
          ...(s.nodePort ? { nodePort: s.nodePort } : {}),
        },
      ],
      ...(s.externalIPs ? { externalIPs: s.externalIPs } : {}),
      ...(s.affinity ? { sessionAffinity: 'ClientIP' } : {}),
      ...(s.internalTrafficPolicy ? { internalTrafficPolicy: s.internalTrafficPolicy } : {}),
      ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
      ...(s.healthCheckNodePort ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
    },
    ...(s.ingress ? { status: { loadBalancer: { ingress: s.ingress.map((ip) => ({ ip })) } } } : {}),
  };
}

export function slice(
  svc: string,
  endpoints: Ep[],
  o: { port?: number; family?: 'IPv4' | 'IPv6'; suffix?: string; protocol?: 'TCP' | 'UDP' | 'SCTP' } = {},
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc}-${o.suffix ?? (o.family === 'IPv6' ? 'v6' : 'v4')}`,
      namespace: NS,
      labels: { 'kubernetes.io/service-name': svc },
    },
    addressType: o.family ?? 'IPv4',
    ports: [{ name: 'p', port: o.port ?? 8080, protocol: o.protocol ?? 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? NODE,
      conditions: {
        ready: e.ready ?? !(e.terminating ?? false),
        serving: e.serving ?? true,
        terminating: e.terminating ?? false,
      },
    })),
  };
}

/** One load balancer as a line an assertion can spell out: frontend, ports, flags, backend IPs. */
export interface LbSummary {
  frontend: string;
  internalPort: number;
  flags: number;
  portMappingFlags: number;
  distribution: number;
  sourceVip?: string;
  backends: string[];
}

export function summarize(w: HnsWorld): LbSummary[] {
  return w.loadBalancers().map((lb) => {
    const m = lb.PortMappings[0]!;
    return {
      frontend: frontend(lb),
      internalPort: m.InternalPort,
      flags: lb.Flags ?? 0,
      portMappingFlags: m.Flags ?? 0,
      distribution: m.DistributionType ?? 0,
      ...(lb.SourceVIP ? { sourceVip: lb.SourceVIP } : {}),
      backends: w.backendIps(lb),
    };
  });
}
