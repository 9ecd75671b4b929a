// The load test: N services × M endpoints served by the Kubernetes API test
// server over real HTTP, switchyard run in each mode in turn on a node of a
// namespace cluster, and measured: full sync, incremental change latency,
// memory and CPU, and new-connection rate and latency through a ClusterIP
// (at 10 services and at N) against the backend pod directly.
//
//   npm run bench                      10,000 × 10, ebpf then iptables
//   npm run bench -- --services 100 --endpoints 3 --changes 5 --duration 1
//   flags: --services N --endpoints M --changes K (per kind) --duration S
//          --concurrency C --modes ebpf,iptables --udp 0.1 --nodeport 0
//          --out DIR (default bench/report) --update-readme
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ApiServer } from '../test/harness/apiserver.js';
import { buildCluster, type Pod } from '../test/harness/cluster.js';
import { writeKubeconfig } from '../test/harness/daemon.js';
import { TestNet } from '../test/harness/netns.js';
import { nodeBinary, repoRoot } from '../test/harness/paths.js';
import { agentPath } from '../test/harness/traffic.js';
import { TARGET, clusterObjects, generated, slice, type GenOptions } from './cluster-gen.js';
import { connrateBinary, parseConnrate, type ConnrateResult } from './connrate.js';
import { MeasuredDaemon } from './daemon-run.js';
import { renderTable, updateReadme, writeChart } from './report.js';
import { percentiles, type BenchMode, type BenchReport, type ChangeKind, type ModeReport } from './types.js';

interface Options {
  services: number;
  endpoints: number;
  changes: number;
  duration: number;
  concurrency: number;
  modes: BenchMode[];
  udp: number;
  nodePort: number;
  out: string;
  updateReadme: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { services: 10_000, endpoints: 10, changes: 40, duration: 5, concurrency: 8, modes: ['ebpf', 'iptables'], udp: 0.1, nodePort: 0, out: join(repoRoot, 'bench', 'report'), updateReadme: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    const num = (name: string, min: number) => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number ≥ ${min}`);
      return n;
    };
    switch (flag) {
      case '--services': o.services = num(flag, 10); break;
      case '--endpoints': o.endpoints = num(flag, 1); break;
      case '--changes': o.changes = num(flag, 1); break;
      case '--duration': o.duration = num(flag, 1); break;
      case '--concurrency': o.concurrency = num(flag, 1); break;
      case '--udp': o.udp = num(flag, 0); break;
      case '--nodeport': o.nodePort = num(flag, 0); break;
      case '--out': o.out = value(); break;
      case '--update-readme': o.updateReadme = true; break;
      case '--modes': {
        const modes = value().split(',');
        for (const m of modes) if (!['ebpf', 'iptables'].includes(m)) throw new Error(`--modes: unknown or unavailable mode "${m}" (ebpf, iptables)`);
        o.modes = modes as BenchMode[];
        break;
      }
      default:
        throw new Error(`unknown flag ${flag}; see the comment at the top of bench/run.ts`);
    }
  }
  if (o.udp > 1 || o.nodePort > 1) throw new Error('--udp and --nodeport are fractions between 0 and 1');
  if (o.services * o.nodePort > 2767) throw new Error('--nodeport: at most 2767 NodePort services fit the default range');
  return o;
}

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
/** kube-proxy's default --*-min-sync-period per mode: changes are spaced beyond it, so latency measures programming, not rate limiting. */
const MIN_SYNC_MS: Record<BenchMode, number> = { ebpf: 0, iptables: 1000, ipvs: 0 };
/** The first sync at N services; past it the mode is reported as not finished. */
const FULL_SYNC_TIMEOUT_MS = 600_000;

class Bench {
  readonly net = new TestNet();
  readonly dir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
  readonly opts: Options;
  readonly gen: GenOptions;
  client!: Pod;
  backend!: Pod;
  nodeNs!: string;
  api: ApiServer | undefined;

  constructor(opts: Options) {
    this.opts = opts;
    this.gen = { services: opts.services, endpoints: opts.endpoints, mix: { udp: opts.udp, nodePort: opts.nodePort }, target: { ip: '10.244.2.11', port: 8080, node: 'n2' }, endpointNode: 'n2' };
  }

  async setUp(): Promise<void> {
    const cluster = buildCluster(this.net, { nodes: 2, podsPerNode: 1, client: false });
    this.client = cluster.nodes[0]!.pods[0]!;
    this.backend = cluster.nodes[1]!.pods[0]!;
    this.nodeNs = cluster.nodes[0]!.ns;
    const server = this.net.spawn(this.backend.ns, connrateBinary, ['serve', '--listen', `${this.backend.ip}:8080`, '--threads', '2', '--name', this.backend.name]);
    await server.waitFor(/listening|ready/i).catch(() => new Promise((r) => setTimeout(r, 300)));
    const fwd = this.net.spawn(this.nodeNs, nodeBinary, [agentPath, 'forward', '--listen', '127.0.0.1:6443', '--unix', join(this.dir, 'api.sock')]);
    await fwd.waitFor(/^ready$/m);
    writeKubeconfig(this.dir, 'http://127.0.0.1:6443');
  }

  /** A fresh API server on the same socket, holding a cluster of `count` services. */
  async serve(count: number): Promise<void> {
    await this.api?.close();
    this.api = new ApiServer();
    for (const obj of clusterObjects(count, this.gen)) this.api.create(obj as never);
    await this.api.listen({ path: join(this.dir, 'api.sock') });
  }

  async connections(target: string): Promise<ConnrateResult> {
    const p = this.net.spawn(this.client.ns, connrateBinary, [
      'client', '--target', target, '--duration', String(this.opts.duration), '--warmup', '1', '--concurrency', String(this.opts.concurrency), '--threads', '2',
    ]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`connrate client exited ${code}: ${p.stderr}`);
    return parseConnrate(p.stdout);
  }

  start(mode: BenchMode): MeasuredDaemon {
    return new MeasuredDaemon(this.net, this.nodeNs, [
      `--proxy-mode=${mode}`, '--hostname-override=n1', `--kubeconfig=${join(this.dir, 'kubeconfig')}`, `--bpffs-root=${this.net.pinDir('n1')}`,
      '--healthz-bind-address=127.0.0.1:10256', '--metrics-bind-address=',
    ]);
  }

  async cleanup(): Promise<void> {
    const d = new MeasuredDaemon(this.net, this.nodeNs, ['--cleanup', `--bpffs-root=${this.net.pinDir('n1')}`]);
    await d.proc.exited;
  }

  async readyAt(d: MeasuredDaemon): Promise<number> {
    while (d.proc.child.exitCode === null) {
      const code = this.net.exec(this.nodeNs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/readyz'], { allowFail: true });
      if (code === '200') return Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    return NaN;
  }

  /** One change through the API, timed to the end of the sync that programmed it. */
  async change(d: MeasuredDaemon, write: () => void): Promise<number> {
    const from = d.lines().length;
    const at = Date.now();
    write();
    const { line } = await d.waitFor((l) => l.msg === 'synced' && Number(l.changed) + Number(l.removed) > 0, { from, timeoutMs: 60_000 });
    return line.time - at;
  }

  async incremental(d: MeasuredDaemon, mode: BenchMode): Promise<ModeReport['incremental']> {
    const api = this.api!;
    const samples: Record<ChangeKind, number[]> = { addEndpoint: [], removeEndpoint: [], addService: [], removeService: [] };
    const pause = () => new Promise((r) => setTimeout(r, MIN_SYNC_MS[mode] + 50));
    for (let k = 0; k < this.opts.changes; k++) {
      // A generated service, spread over the table.
      const i = 1 + Math.floor(((k + 0.5) * (this.opts.services - 1)) / this.opts.changes);
      const g = generated(i, this.gen);
      const eps = (g.slice.endpoints as Array<{ addresses: string[] }>).map((e) => ({ ip: e.addresses[0]!, node: 'n2' }));
      const withExtra = slice(g.name, `${g.name}-1`, g.protocol, [...eps, { ip: `10.251.${k >> 8}.${k & 255}`, node: 'n2' }]);
      await pause();
      samples.addEndpoint.push(await this.change(d, () => api.update(withExtra as never)));
      await pause();
      samples.removeEndpoint.push(await this.change(d, () => api.update(g.slice as never)));
      // A service and its slice arrive together, and go together (the
      // garbage collector removes a deleted service's slices): one sync each.
      const name = `new-${k}`;
      const ip = `10.100.${k >> 8}.${k & 255}`;
      const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'p', protocol: 'TCP', port: 80, targetPort: 8080 }] } };
      const svcSlice = slice(name, `${name}-1`, 'TCP', [{ ip: this.backend.ip, node: 'n2' }]);
      await pause();
      samples.addService.push(await this.change(d, () => (api.create(svcSlice as never), api.create(svc as never))));
      await pause();
      samples.removeService.push(await this.change(d, () => (api.delete('Service', 'bench', name), api.delete('EndpointSlice', 'bench', `${name}-1`))));
    }
    return {
      addEndpoint: percentiles(samples.addEndpoint),
      removeEndpoint: percentiles(samples.removeEndpoint),
      addService: percentiles(samples.addService),
      removeService: percentiles(samples.removeService),
    };
  }

  /**
   * One mode, phase by phase. A phase that fails or times out ends the
   * mode: its figures and the later ones stay unmeasured (NaN, "—" in the
   * table), `failed` says where and why, and the run goes on to the next mode.
   */
  async mode(mode: BenchMode): Promise<ModeReport> {
    const { services, endpoints } = this.opts;
    const target = `${TARGET.clusterIP}:${TARGET.port}`;
    const nan = { n: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
    const report: ModeReport = {
      mode,
      args: [],
      fullSync: { servicePorts: NaN, startToProgrammedMs: NaN, syncMs: NaN, startToReadyMs: NaN },
      incremental: { addEndpoint: nan, removeEndpoint: nan, addService: nan, removeService: nan },
      steady: { rssMB: NaN, cpuPercent: NaN, windowSec: 0 },
      connections: [],
    };
    let phase = '10 services';
    let d: MeasuredDaemon | undefined;
    try {
      progress(`${mode}: 10 services`);
      await this.serve(10);
      d = this.start(mode);
      await d.waitFor((l) => l.msg === 'synced');
      report.connections.push({ services: 10, target: 'clusterIP', result: await this.connections(target) });
      await d.stop();
      await this.cleanup();

      phase = 'full sync';
      progress(`${mode}: ${services} services × ${endpoints} endpoints: full sync`);
      await this.serve(services);
      d = this.start(mode);
      const ready = this.readyAt(d);
      const { line: first } = await d.waitFor((l) => l.msg === 'synced', { timeoutMs: FULL_SYNC_TIMEOUT_MS });
      report.fullSync = {
        servicePorts: Number(first.servicePorts),
        startToProgrammedMs: first.time - d.startedAt,
        syncMs: Number(first.ms),
        startToReadyMs: (await ready) - d.startedAt,
      };
      const f = report.fullSync;
      progress(`${mode}: programmed ${f.servicePorts} service ports: ${f.startToProgrammedMs} ms from start (sync ${f.syncMs} ms)`);

      phase = 'steady state';
      await new Promise((r) => setTimeout(r, 2000));
      const windowSec = 5;
      const cpu0 = d.cpuSeconds();
      await new Promise((r) => setTimeout(r, windowSec * 1000));
      report.steady = { rssMB: Math.round(d.rssMB()), cpuPercent: Math.round(((d.cpuSeconds() - cpu0) / windowSec) * 1000) / 10, windowSec };
      progress(`${mode}: steady state ${report.steady.rssMB} MB, ${report.steady.cpuPercent}% CPU`);

      phase = 'connections';
      progress(`${mode}: connections through the ClusterIP and to the pod, ${services} services`);
      report.connections.push({ services, target: 'clusterIP', result: await this.connections(target) });
      report.connections.push({ services, target: 'podIP', result: await this.connections(`${this.backend.ip}:8080`) });

      phase = 'incremental changes';
      progress(`${mode}: ${this.opts.changes} changes of each kind`);
      report.incremental = await this.incremental(d, mode);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      report.failed = `${phase}: ${message.split('\n')[0]}`;
      progress(`${mode}: did not finish (${phase}); going on. ${message}`);
    } finally {
      await d?.stop();
      await this.cleanup();
    }
    return report;
  }

  async tearDown(): Promise<void> {
    await this.api?.close();
    await this.net.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const bench = new Bench(opts);
  // Interrupted: the namespaces, pins and processes go with us.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: tearing down`);
      void bench.tearDown().finally(() => process.exit(130));
    });
  }
  let report: BenchReport;
  try {
    await bench.setUp();
    progress(`direct: connections to the pod, no proxy (${opts.duration} s)`);
    const direct = await bench.connections(`${bench.backend.ip}:8080`);
    const modes: ModeReport[] = [];
    for (const mode of opts.modes) modes.push(await bench.mode(mode));
    report = {
      version: 1,
      startedAt: new Date(started).toISOString(),
      durationSec: Math.round((Date.now() - started) / 1000),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: { cpus: cpus().length, kernel: release(), memoryGiB: Math.round(totalmem() / 2 ** 30) },
      params: { services: opts.services, endpoints: opts.endpoints, changesPerKind: opts.changes, connDurationSec: opts.duration, concurrency: opts.concurrency, mix: { udp: opts.udp, nodePort: opts.nodePort } },
      direct,
      modes,
    };
  } finally {
    await bench.tearDown();
  }
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeChart(report, join(opts.out, 'latest.svg'));
  process.stdout.write(renderTable(report));
  if (opts.updateReadme) updateReadme(report, join(repoRoot, 'README.md'));
  progress(`done in ${report.durationSec} s; wrote ${join(opts.out, 'latest.json')} and latest.svg`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
