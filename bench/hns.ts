// The kernelspace mode's load test, against the HNS emulator: the real daemon
// (store, sync loop, dual-stack meta proxier, kernelspace proxiers) in the
// kernelspace mode, programming an HnsEmulator through the typed HCN client,
// as test/unit/kernelspace/world.ts runs it. N services × M endpoints, a
// share of them NodePorts; `--local` endpoints of each on this node (the
// CNI's endpoints, made in the emulator first), the rest on another node
// (remote endpoints the mode makes). Measured: the initial full sync, idle
// periodic syncs, one endpoint changed, one service added, and a daemon
// restart on the same HNS (adoption).
//
// What it measures is the HCN calls a Windows node would be asked to make,
// and switchyard's own time: each call's time inside the emulator is timed
// and taken off the sync's. HNS's own time on Windows is not measured here.
//
//   npm run bench:hns                       10,000 × 10, 1 local endpoint each
//   npm run bench:hns -- --services 1000 --endpoints 5 --local 2 --changes 10
//   flags: --services N --endpoints M --local L --changes K --idle I (idle syncs)
//          --nodeport 0.1 --udp 0.1 --period MS (the sync period; 3000)
//          --out DIR (default bench/report; writes hns.json)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { defaultOptions } from '../control/config/defaults.js';
import type { ProxyOptions } from '../control/config/options.js';
import { Daemon } from '../control/daemon.js';
import {
  CountingApi,
  MUTATING_CALLS,
  type HcnApi,
  type HcnCall,
  type HcnCallName,
} from '../control/proxiers/kernelspace/hcn/api.js';
import { HnsEmulator } from '../control/proxiers/kernelspace/hcn/emulator.js';
import { EndpointFlags, type HostComputeLoadBalancer } from '../control/proxiers/kernelspace/hcn/schema.js';
import { defineKernelspaceMode } from '../control/proxiers/kernelspace/mode.js';
import { frontendKeyOf } from '../control/proxiers/kernelspace/plan.js';
import { MODES, ModeRegistry } from '../control/proxiers/modes.js';
import { slimObject } from '../control/sources/slim.js';
import type { SyncReport } from '../control/sync/sync-loop.js';
import { NAMESPACE, clusterIP, slice } from './cluster-gen.js';

const NODE = 'win-1';
const NODE_IP = '10.0.0.4';
const REMOTE_NODE = 'win-2';
const ROOT_ENDPOINT = { ip: '10.244.1.2', name: 'cbr0' };
const NOTE =
  "against the HNS emulator: HCN call counts are what a Windows node would be asked; times are switchyard's own " +
  "processing (each call's time inside the emulator taken off), not HNS's";
const KUBE_PROXY_NOTE = "derived from kube-proxy's algorithm, not measured";

interface Options {
  services: number;
  endpoints: number;
  local: number;
  changes: number;
  idle: number;
  nodePort: number;
  udp: number;
  periodMs: number;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    services: 10_000,
    endpoints: 10,
    local: 1,
    changes: 20,
    idle: 3,
    nodePort: 0.1,
    udp: 0.1,
    periodMs: 3000,
    out: join(import.meta.dirname, '..', '..', 'bench', 'report'),
  };
  const numeric: Record<string, [keyof Options, number]> = {
    '--services': ['services', 1],
    '--endpoints': ['endpoints', 1],
    '--local': ['local', 0],
    '--changes': ['changes', 1],
    '--idle': ['idle', 1],
    '--nodeport': ['nodePort', 0],
    '--udp': ['udp', 0],
    '--period': ['periodMs', 100],
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i] ?? '';
    if (flag === '--out') {
      o.out = value;
      continue;
    }
    const spec = numeric[flag];
    if (!spec) throw new Error(`unknown flag ${flag}`);
    const n = Number(value);
    if (!Number.isFinite(n) || n < spec[1]) throw new Error(`${flag} needs a number ≥ ${spec[1]}`);
    (o as unknown as Record<string, number>)[spec[0]] = n;
  }
  if (o.local > o.endpoints) throw new Error('--local cannot exceed --endpoints');
  return o;
}

// ---- The cluster ------------------------------------------------------------

type Obj = Record<string, unknown>;

/** Endpoint addresses from 10.250.0.0 up: distinct per endpoint, as a cluster's pods are. */
const podIP = (n: number) => {
  const v = ((10 << 24) | (250 << 16)) + n;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
};

/**
 * Service i: ClusterIP, or NodePort for an evenly spread share (each with a
 * NodePort of its own, as the API server allots them), with M endpoints, the
 * first `local` of them on this node.
 */
function serviceOf(i: number, o: Options): { service: Obj; slice: Obj; localIps: string[] } {
  const share = (f: number) => Math.floor(i * f) !== Math.floor((i + 1) * f);
  const protocol = share(o.udp) ? 'UDP' : 'TCP';
  const nodePort = share(o.nodePort) ? 30000 + Math.floor(i * o.nodePort) : undefined;
  if (nodePort !== undefined && nodePort > 32767) throw new Error('more NodePort services than 30000-32767 holds');
  const name = `svc-${i}`;
  const eps = Array.from({ length: o.endpoints }, (_, j) => ({
    ip: podIP(i * o.endpoints + j),
    node: j < o.local ? NODE : REMOTE_NODE,
  }));
  const service: Obj = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      type: nodePort ? 'NodePort' : 'ClusterIP',
      clusterIP: clusterIP(i),
      clusterIPs: [clusterIP(i)],
      ports: [
        {
          name: 'p',
          protocol,
          port: protocol === 'UDP' ? 53 : 80,
          targetPort: 8080,
          ...(nodePort ? { nodePort } : {}),
        },
      ],
    },
  };
  return {
    service,
    slice: slice(name, `${name}-1`, protocol, eps),
    localIps: eps.filter((e) => e.node === NODE).map((e) => e.ip),
  };
}

// ---- Counting and timing the HCN calls --------------------------------------

const CALLS = Object.keys({
  HcnEnumerateNetworks: 1,
  HcnOpenNetwork: 1,
  HcnQueryNetworkProperties: 1,
  HcnCloseNetwork: 1,
  HcnEnumerateEndpoints: 1,
  HcnCreateEndpoint: 1,
  HcnOpenEndpoint: 1,
  HcnQueryEndpointProperties: 1,
  HcnDeleteEndpoint: 1,
  HcnCloseEndpoint: 1,
  HcnEnumerateLoadBalancers: 1,
  HcnCreateLoadBalancer: 1,
  HcnOpenLoadBalancer: 1,
  HcnQueryLoadBalancerProperties: 1,
  HcnModifyLoadBalancer: 1,
  HcnDeleteLoadBalancer: 1,
  HcnCloseLoadBalancer: 1,
  HNSCall: 1,
} satisfies Record<HcnCallName, 1>) as HcnCallName[];

/**
 * `api` with the time spent inside each call added to `spent.ms`. The
 * emulator does a call's work synchronously before handing back its promise,
 * so timing the call itself is the emulator's time, and nothing of the caller's.
 */
function timed(api: HcnApi, spent: { ms: number }): HcnApi {
  const out: Partial<Record<HcnCallName, (...args: unknown[]) => Promise<HcnCall>>> = {};
  for (const name of CALLS) {
    const call = api[name] as (...args: unknown[]) => Promise<HcnCall>;
    out[name] = (...args) => {
      const t = performance.now();
      try {
        return call.apply(api, args);
      } finally {
        spent.ms += performance.now() - t;
      }
    };
  }
  return out as HcnApi;
}

type Calls = Partial<Record<HcnCallName, number>>;

/** What one stretch of work cost: its calls, and the time the emulator took answering them. */
interface Cost {
  calls: Calls;
  total: number;
  mutating: number;
  emulatorMs: number;
}

/** The calls and emulator time since the last `take()`. */
class Meter {
  readonly api: CountingApi;
  readonly #spent = { ms: 0 };
  #seen = new Map<HcnCallName, number>();
  #seenMs = 0;

  constructor(hns: HnsEmulator) {
    this.api = new CountingApi(timed(hns, this.#spent));
  }

  take(): Cost {
    const calls: Calls = {};
    let total = 0;
    for (const [name, n] of this.api.counts) {
      const d = n - (this.#seen.get(name) ?? 0);
      if (d > 0) calls[name] = d;
      total += d;
    }
    const mutating = MUTATING_CALLS.reduce((m, name) => m + (calls[name] ?? 0), 0);
    const emulatorMs = this.#spent.ms - this.#seenMs;
    this.#seen = new Map(this.api.counts);
    this.#seenMs = this.#spent.ms;
    return { calls, total, mutating, emulatorMs };
  }
}

// ---- The daemon, as the contract tests' world runs it ------------------------

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));

/** One sync as measured: the loop's report, when it came, and its cost. */
interface Measured {
  report: SyncReport;
  at: number;
  cost: Cost;
}

class Bench {
  readonly hns: HnsEmulator;
  readonly meter: Meter;
  readonly dir: string;
  readonly syncs: Measured[] = [];
  /** What the store holds, so a restarted daemon reads it all again from its manifests. */
  readonly objects = new Map<string, Obj>();
  daemon!: Daemon;
  /** The calls of the proxiers' start (HNS version, network), before the first sync. */
  startCost: Cost | undefined;
  readonly #o: Options;
  #waiters: Array<() => void> = [];

  constructor(o: Options) {
    this.#o = o;
    this.hns = new HnsEmulator();
    this.meter = new Meter(this.hns);
    this.dir = mkdtempSync(join(tmpdir(), 'sy-bench-hns-'));
  }

  writeManifests(): void {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODE, labels: { 'kubernetes.io/os': 'windows' } },
      spec: { podCIDRs: ['10.244.1.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: NODE_IP }] },
    };
    writeFileSync(join(this.dir, 'node.json'), JSON.stringify(node));
    const items = [...this.objects.values()];
    writeFileSync(join(this.dir, 'objects.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  }

  async startDaemon(): Promise<void> {
    const entry = MODES.find((m) => m.name === 'kernelspace')!;
    const api = this.meter.api;
    const mode = defineKernelspaceMode({ api: async () => api, networkWaitMs: 0, hostMacOf: () => undefined, env: {} });
    const registry = new ModeRegistry([{ ...entry, load: async () => mode }], 'win32');
    const base = defaultOptions({ hostname: () => NODE });
    const options: ProxyOptions = {
      ...base,
      mode: 'kernelspace',
      manifests: this.dir,
      healthzBindAddress: '',
      metricsBindAddress: '127.0.0.1:0',
      sync: { syncPeriodMs: this.#o.periodMs, minSyncPeriodMs: 0 },
      winkernel: {
        ...base.winkernel,
        networkName: this.hns.networks()[0]!.Name!,
        rootHnsEndpointName: ROOT_ENDPOINT.name,
      },
    };
    this.startCost = undefined;
    this.daemon = await Daemon.create(options, silent, {
      modes: registry,
      onSync: (report) => {
        this.syncs.push({ report, at: performance.now(), cost: this.meter.take() });
        for (const wake of this.#waiters.splice(0)) wake();
      },
    });
    // A tap on the proxiers' start, so the first sync's cost is its own.
    const proxier = this.daemon.proxier;
    const start = proxier.start.bind(proxier);
    proxier.start = async () => {
      await start();
      this.startCost = this.meter.take();
    };
    await this.daemon.start();
  }

  /** Resolves with the first sync after `after` syncs that `pass` accepts. */
  async sync(after: number, pass: (r: SyncReport) => boolean = () => true, timeoutMs = 600_000): Promise<Measured> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.syncs.slice(after).find((s) => pass(s.report));
      if (hit) return hit;
      if (performance.now() > deadline) throw new Error(`no such sync in ${timeoutMs} ms`);
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        setTimeout(wake, 1000).unref();
      });
    }
  }

  /** Puts objects into the store as a source would; returns when it happened. */
  upsert(...raw: Obj[]): number {
    const at = performance.now();
    for (const r of raw) {
      const meta = r.metadata as { name: string };
      this.objects.set(`${String(r.kind)}/${meta.name}`, r);
      const { kind, value } = slimObject(r);
      this.daemon.store.upsert(kind, value as never);
    }
    return at;
  }

  async close(): Promise<void> {
    await this.daemon?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- Figures ----------------------------------------------------------------

const round = (ms: number) => Math.round(ms * 10) / 10;

function spread(samples: number[]): { n: number; p50Ms: number; p90Ms: number; maxMs: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN);
  return { n: s.length, p50Ms: at(0.5), p90Ms: at(0.9), maxMs: round(s.at(-1) ?? Number.NaN) };
}

/** A sync's figures: its time as the loop reports it, the emulator's share, switchyard's, and its calls. */
function figures(m: Measured) {
  const { cost, report } = m;
  return {
    syncMs: round(report.durationMs),
    emulatorMs: round(cost.emulatorMs),
    switchyardMs: round(report.durationMs - cost.emulatorMs),
    calls: cost.calls,
    totalCalls: cost.total,
    mutatingCalls: cost.mutating,
    skipped: report.result?.skipped.length ?? 0,
    ...(report.result?.skipped.length
      ? { skippedFirst: report.result.skipped.slice(0, 3).map((x) => `${x.name}: ${x.reason}`) }
      : {}),
    ...(report.error === undefined ? {} : { error: String(report.error) }),
  };
}

/** Several samples of one kind of sync: the spread of their times, and the calls of the first. */
function repeated(samples: Array<{ m: Measured; latencyMs?: number }>) {
  const totals = samples.map((s) => s.m.cost.total);
  return {
    ...(samples[0]?.latencyMs === undefined ? {} : { latencyMs: spread(samples.map((s) => s.latencyMs!)) }),
    syncMs: spread(samples.map((s) => s.m.report.durationMs)),
    switchyardMs: spread(samples.map((s) => s.m.report.durationMs - s.m.cost.emulatorMs)),
    emulatorMs: spread(samples.map((s) => s.m.cost.emulatorMs)),
    first: figures(samples[0]!.m),
    totalCalls: { min: Math.min(...totals), max: Math.max(...totals) },
    mutatingCalls: {
      min: Math.min(...samples.map((s) => s.m.cost.mutating)),
      max: Math.max(...samples.map((s) => s.m.cost.mutating)),
    },
    reasons: [...new Set(samples.map((s) => s.m.report.reason))],
  };
}

function held(hns: HnsEmulator) {
  const endpoints = hns.endpoints();
  const remote = endpoints.filter((e) => ((e.Flags ?? 0) & EndpointFlags.RemoteEndpoint) !== 0).length;
  return { loadBalancers: hns.loadBalancers().length, endpoints: endpoints.length, remoteEndpoints: remote };
}

/**
 * kube-proxy's winkernel per sync (research §1.4, §2.4): it re-reads the
 * network (one enumerate, then open, query and close) and lists every
 * endpoint of the network and every load balancer, one enumerate each and
 * open, query and close per object, whatever changed; a change's own creates
 * and modifies come on top.
 */
function kubeProxyPerSync(h: { loadBalancers: number; endpoints: number }) {
  return {
    note: KUBE_PROXY_NOTE,
    formula: '(1 + 3) network + (1 + 3 × endpoints) + (1 + 3 × loadBalancers), plus the change’s own calls',
    listingCallsPerSync: 4 + (1 + 3 * h.endpoints) + (1 + 3 * h.loadBalancers),
  };
}

const log = (line: string) => process.stderr.write(`[bench:hns] ${line}\n`);
const mib = (n: number) => Math.round(n / 2 ** 20);

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = Date.now();
  const bench = new Bench(o);
  try {
    // The CNI's endpoints first: this node's pods and the host's own (the root endpoint).
    let t = performance.now();
    bench.hns.addLocalEndpoint(ROOT_ENDPOINT);
    for (let i = 0; i < o.services; i++) {
      const s = serviceOf(i, o);
      for (const ip of s.localIps) bench.hns.addLocalEndpoint({ ip });
      bench.objects.set(`Service/svc-${i}`, s.service);
      bench.objects.set(`EndpointSlice/svc-${i}-1`, s.slice);
    }
    bench.writeManifests();
    log(
      `${o.services} services × ${o.endpoints} endpoints (${o.local} local) generated in ${round(performance.now() - t)} ms`,
    );

    // 1. The initial full sync.
    t = performance.now();
    await bench.startDaemon();
    const initial = await bench.sync(0);
    const fromStartMs = initial.at - t;
    const heldAfter = held(bench.hns);
    const mem = process.memoryUsage();
    log(
      `initial sync: ${round(initial.report.durationMs)} ms, ${initial.cost.total} calls, ${JSON.stringify(heldAfter)}`,
    );

    // 2. Idle periodic syncs: nothing changed, so the mode only checks HNS still holds what it programmed.
    const idle: Array<{ m: Measured }> = [];
    while (idle.length < o.idle) {
      const before = bench.syncs.length;
      idle.push({ m: await bench.sync(before, (r) => r.reason === 'period' && r.changed === 0) });
    }
    log(`idle sync: ${round(idle[0]!.m.report.durationMs)} ms, ${idle[0]!.m.cost.total} calls`);

    // 3. One endpoint changed: one remote endpoint's IP replaced, in services spread over the set.
    const changes: Array<{ m: Measured; latencyMs: number }> = [];
    let fresh = (o.services + o.changes) * o.endpoints;
    for (let k = 0; k < o.changes; k++) {
      const i = (k * 7919) % o.services;
      const sl = structuredClone(bench.objects.get(`EndpointSlice/svc-${i}-1`)!) as {
        endpoints: Array<{ addresses: string[] }>;
      };
      sl.endpoints.at(-1)!.addresses = [podIP(fresh++)];
      const before = bench.syncs.length;
      const at = bench.upsert(sl as unknown as Obj);
      const m = await bench.sync(before);
      changes.push({ m, latencyMs: m.at - at });
    }
    log(`endpoint change: p50 ${spread(changes.map((c) => c.latencyMs)).p50Ms} ms, ${changes[0]!.m.cost.total} calls`);

    // 4. One service added (its Service and EndpointSlice together), repeated.
    const added: Array<{ m: Measured; latencyMs: number }> = [];
    for (let k = 0; k < o.changes; k++) {
      const s = serviceOf(o.services + k, o);
      for (const ip of s.localIps) bench.hns.addLocalEndpoint({ ip });
      const before = bench.syncs.length;
      const at = bench.upsert(s.service, s.slice);
      const m = await bench.sync(before);
      added.push({ m, latencyMs: m.at - at });
    }
    log(`new service: p50 ${spread(added.map((c) => c.latencyMs)).p50Ms} ms, ${added[0]!.m.cost.total} calls`);

    // 5. A restart on the same HNS: the new daemon reads what HNS holds and adopts it.
    const backendsOf = (lb: HostComputeLoadBalancer) => [...lb.HostComputeEndpoints].sort().join(',');
    const lbsBefore = new Map(bench.hns.loadBalancers().map((lb) => [lb.ID!, backendsOf(lb)]));
    await bench.daemon.stop();
    bench.writeManifests();
    bench.meter.take();
    const before = bench.syncs.length;
    t = performance.now();
    await bench.startDaemon();
    const restart = await bench.sync(before);
    const after = bench.hns.loadBalancers();
    const kept = after.length === lbsBefore.size && after.every((lb) => lbsBefore.has(lb.ID!));
    // Load balancers the restart changed, and whether each is one of a service added in step 4.
    const addedVips = new Set(added.map((_, k) => clusterIP(o.services + k)));
    const changed = after.filter((lb) => lbsBefore.get(lb.ID!) !== backendsOf(lb));
    const changedLbs = changed.map((lb) => frontendKeyOf(lb));
    const changedAreAdded = changed.every((lb) => addedVips.has(lb.FrontendVIPs?.[0] ?? ''));
    log(`restart: ${round(restart.at - t)} ms to its first sync, ${restart.cost.mutating} mutating calls`);

    const derived = kubeProxyPerSync(heldAfter);
    const { out: _out, ...params } = o;
    const report = {
      version: 1,
      note: NOTE,
      startedAt: new Date(startedAt).toISOString(),
      durationSec: Math.round((Date.now() - startedAt) / 1000),
      command: `npm run bench:hns -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: {
        cpus: cpus().length,
        kernel: release(),
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      params: { ...params, hnsVersion: '16.0', network: 'L2Bridge' },
      initial: {
        ...figures(initial),
        fromDaemonStartMs: round(fromStartMs),
        startUp: bench.startCost,
        held: heldAfter,
        memoryMiB: { rss: mib(mem.rss), heapUsed: mib(mem.heapUsed) },
      },
      idle: repeated(idle),
      endpointChange: repeated(changes),
      newService: repeated(added),
      restart: {
        ...figures(restart),
        fromDaemonStartMs: round(restart.at - t),
        startUp: bench.startCost,
        loadBalancersKept: kept,
        backendsChanged: {
          count: changedLbs.length,
          first: changedLbs.slice(0, 5),
          allOfAddedServices: changedAreAdded,
        },
      },
      kubeProxy: {
        ...derived,
        idleSyncCalls: derived.listingCallsPerSync,
        endpointChangeCalls: derived.listingCallsPerSync + changes[0]!.m.cost.total,
      },
    };
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, 'hns.json');
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(render(report));
    log(`done in ${report.durationSec} s; wrote ${file}`);
  } finally {
    await bench.close();
  }
}

type Report = {
  note: string;
  params: Omit<Options, 'out'>;
  initial: ReturnType<typeof figures> & { held: ReturnType<typeof held>; fromDaemonStartMs: number };
  idle: ReturnType<typeof repeated>;
  endpointChange: ReturnType<typeof repeated>;
  newService: ReturnType<typeof repeated>;
  restart: ReturnType<typeof figures> & {
    fromDaemonStartMs: number;
    loadBalancersKept: boolean;
    backendsChanged: { count: number; allOfAddedServices: boolean };
  };
  kubeProxy: ReturnType<typeof kubeProxyPerSync> & { idleSyncCalls: number; endpointChangeCalls: number };
};

function render(r: Report): string {
  const p = r.params;
  const rows: string[][] = [
    ['', 'sync ms', 'switchyard ms', 'emulator ms', 'HCN calls', 'mutating'],
    [
      'initial full sync',
      `${r.initial.syncMs}`,
      `${r.initial.switchyardMs}`,
      `${r.initial.emulatorMs}`,
      `${r.initial.totalCalls}`,
      `${r.initial.mutatingCalls}`,
    ],
  ];
  const line = (name: string, x: ReturnType<typeof repeated>) =>
    rows.push([
      `${name} (p50 of ${x.syncMs.n})`,
      `${x.syncMs.p50Ms}`,
      `${x.switchyardMs.p50Ms}`,
      `${x.emulatorMs.p50Ms}`,
      `${x.first.totalCalls}`,
      `${x.first.mutatingCalls}`,
    ]);
  line('idle periodic sync', r.idle);
  line('one endpoint changed', r.endpointChange);
  line('one service added', r.newService);
  rows.push([
    'restart (adoption)',
    `${r.restart.syncMs}`,
    `${r.restart.switchyardMs}`,
    `${r.restart.emulatorMs}`,
    `${r.restart.totalCalls}`,
    `${r.restart.mutatingCalls}`,
  ]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const table = rows.map((row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
  );
  const lat = (x: ReturnType<typeof repeated>) => `p50 ${x.latencyMs?.p50Ms} ms, p90 ${x.latencyMs?.p90Ms} ms`;
  return [
    `kernelspace mode, ${p.services} services × ${p.endpoints} endpoints (${p.local} local), ${p.nodePort * 100}% NodePort`,
    `(${r.note})`,
    '',
    ...table,
    '',
    `HNS after the initial sync: ${r.initial.held.loadBalancers} load balancers, ${r.initial.held.endpoints} endpoints (${r.initial.held.remoteEndpoints} remote)`,
    `initial sync calls: ${JSON.stringify(r.initial.calls)}`,
    `endpoint change, upsert to sync report: ${lat(r.endpointChange)}; calls ${JSON.stringify(r.endpointChange.first.calls)}`,
    `service added, upsert to sync report: ${lat(r.newService)}; calls ${JSON.stringify(r.newService.first.calls)}`,
    `idle sync calls: ${JSON.stringify(r.idle.first.calls)}`,
    `restart: ${r.restart.fromDaemonStartMs} ms from daemon start to its first sync; load balancers kept: ${r.restart.loadBalancersKept}; ` +
      `backends changed on ${r.restart.backendsChanged.count} (all of services added: ${r.restart.backendsChanged.allOfAddedServices})`,
    ...(r.newService.first.skippedFirst ? [`service added, left out: ${r.newService.first.skippedFirst[0]}`] : []),
    `kube-proxy's winkernel (${r.kubeProxy.note}): ${r.kubeProxy.idleSyncCalls} calls per sync idle, ${r.kubeProxy.endpointChangeCalls} for one endpoint change`,
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:hns: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
