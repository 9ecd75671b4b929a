// The load test: N services × M endpoints served by the Kubernetes API test
// server over real HTTP, switchyard run in each mode in turn on a node of a
// namespace cluster, and measured: full sync, incremental change latency,
// memory and CPU, new-connection rate and latency through a ClusterIP (at 10
// services and at N) against the backend pod directly, and north-south: an
// outside client's new connections to a NodePort whose backend is on the
// other node (the SNAT path) and on the same node, and its UDP datagrams per
// second through a NodePort, against the same client reaching those pods
// through the node with no proxy (routed-direct). North-south measures the
// ebpf mode twice, with XDP on the uplink (--bpf-lb-acceleration=native) and
// on tc only (disabled), each in daemon runs of its own; iptables and ipvs in
// their ClusterIP runs.
//
// The cluster is dual-stack by default (--families IPv4,IPv6): every service
// RequireDualStack with an IPv4 and an IPv6 ClusterIP and a slice of each
// family, so each mode programs both families' tables at every size, and
// the ClusterIP rate is measured over IPv6 too (the target's IPv6 ClusterIP
// at 10 services and at N, against the pod's own IPv6 address: IPv6
// direct). A mode that does not program IPv6 says so in its log (the dual-
// stack meta proxier's "service port not programmed" warning, with the
// reason): its IPv6 connections are still run, and reported "—" with that
// reason. --families IPv4 builds the single-stack cluster of the runs before.
//
//   npm run bench                      10,000 × 10, ebpf then iptables
//   npm run bench -- --services 100 --endpoints 3 --changes 5 --duration 1
//   npm run bench -- --modes ebpf,iptables,ipvs      and ipvs, in a VM here
//   npm run bench -- --modes ipvs --merge-from bench/report/latest.json
//   flags: --services N --endpoints M --changes K (per kind) --duration S
//          --warmup S (before each connection and datagram window; 1)
//          --concurrency C --modes ebpf,iptables,ipvs --udp 0.1 --nodeport 0
//          --no-north-south (skip it) --families IPv4,IPv6 (default; IPv4: single-stack)
//          --out DIR (default bench/report) --update-readme
//          --ipvs-services N (the ipvs run's size when it runs in the VM;
//          default --services) --merge-from FILE --vm-cpus 2 --vm-memory 8G
//          --vm-timeout S (3600) --vm-kernel 6.12 --daemon-logs DIR (each
//          daemon's JSON log kept there; inside the project for the VM's)
//          --tool-times (a diagnostic, with --daemon-logs: the time each sync
//          spends in ipset, ip, iptables-* and conntrack, logged; inflates
//          every sync by a shell start per tool call, so not for the figures)
//
// The ipvs mode needs the kernel's IPVS. Where it is missing (/proc/net/ip_vs
// absent after `modprobe ip_vs`, as on the machine the README's figures come
// from), the ipvs column is measured by this same script inside the project's
// test VM (test/vm/run.sh: Debian's 6.12 kernel under qemu, TCG emulation,
// 10-20× slower than this machine), with --modes ipvs and the same sizes
// (--ipvs-services to make it smaller), and merged in: marked "(emulated)",
// its "× direct" ratios against a direct-to-pod baseline measured in that
// same VM run, its times not comparable with the other columns'. A VM run
// that fails leaves the column "did not finish" with the reason (a VM that
// itself failed, qemu or its kernel, is first given a second run).
//
// --merge-from FILE takes the report FILE (an earlier latest.json at the same
// sizes) and replaces or adds only the modes given with --modes, keeping
// FILE's others and its direct baseline: `--modes ipvs --merge-from
// bench/report/latest.json` adds the ipvs column to the last full run.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiServer } from '../test/harness/apiserver.js';
import { CLIENT_IP, addPod, buildCluster, type Pod } from '../test/harness/cluster.js';
import { writeKubeconfig } from '../test/harness/daemon.js';
import type { IPFamily } from '../control/sources/types.js';
import { TestNet } from '../test/harness/netns.js';
import { nodeBinary, repoRoot } from '../test/harness/paths.js';
import type { Background } from '../test/harness/run.js';
import { agentPath } from '../test/harness/traffic.js';
import {
  GENERATED_NODE_PORTS,
  MAX_DUAL_STACK_SERVICES,
  NORTH_SOUTH,
  TARGET,
  clusterObjects,
  generated,
  generatedCount,
  slice,
  type GenOptions,
} from './cluster-gen.js';
import { connrateBinary, parseConnrate, type ConnrateResult } from './connrate.js';
import { MeasuredDaemon, type LogLine } from './daemon-run.js';
import { readReport, renderTable, updateReadme, writeChart, writeNorthSouthChart } from './report.js';
import {
  percentiles,
  type BenchMode,
  type BenchReport,
  type ChangeKind,
  type Connections,
  type ModeReport,
  type NorthSouthDirect,
  type NorthSouthVariant,
} from './types.js';
import {
  parseUdpSend,
  parseUdpSink,
  udpResult,
  udprateBinary,
  type UdpSinkReport,
  type UdprateResult,
} from './udprate.js';
import { readToolCalls, summarise, toolShims } from './tool-times.js';
import { VM_FAILED, needsVm, runModeInVm } from './vm-run.js';

interface Options {
  services: number;
  endpoints: number;
  changes: number;
  duration: number;
  warmup: number;
  concurrency: number;
  modes: BenchMode[];
  udp: number;
  nodePort: number;
  northSouth: boolean;
  /** ['IPv4'] or ['IPv4', 'IPv6']: the cluster's families, and the ClusterIP rates measured. */
  families: IPFamily[];
  out: string;
  updateReadme: boolean;
  ipvsServices: number | undefined;
  mergeFrom: string | undefined;
  daemonLogs: string | undefined;
  toolTimes: boolean;
  vm: { kernel: string; cpus: number; memory: string; timeoutSec: number };
}

const MODES: BenchMode[] = ['ebpf', 'iptables', 'ipvs', 'userspace'];

function parseArgs(argv: string[]): Options {
  const o: Options = {
    services: 10_000,
    endpoints: 10,
    changes: 40,
    duration: 5,
    warmup: 1,
    concurrency: 8,
    modes: ['ebpf', 'iptables', 'ipvs', 'userspace'],
    udp: 0.1,
    nodePort: 0,
    northSouth: true,
    families: ['IPv4', 'IPv6'],
    out: join(repoRoot, 'bench', 'report'),
    updateReadme: false,
    ipvsServices: undefined,
    mergeFrom: undefined,
    daemonLogs: undefined,
    toolTimes: false,
    vm: { kernel: '6.12', cpus: 2, memory: '8G', timeoutSec: 3600 },
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    const num = (_name: string, min: number) => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number ≥ ${min}`);
      return n;
    };
    switch (flag) {
      case '--services':
        o.services = num(flag, 10);
        break;
      case '--endpoints':
        o.endpoints = num(flag, 1);
        break;
      case '--changes':
        o.changes = num(flag, 1);
        break;
      case '--duration':
        o.duration = num(flag, 1);
        break;
      case '--warmup':
        o.warmup = num(flag, 0);
        break;
      case '--concurrency':
        o.concurrency = num(flag, 1);
        break;
      case '--udp':
        o.udp = num(flag, 0);
        break;
      case '--nodeport':
        o.nodePort = num(flag, 0);
        break;
      case '--no-north-south':
        o.northSouth = false;
        break;
      case '--families': {
        const families = value().split(',');
        // IPv4 is always in: the design's targets are stated in its figures, and north-south is IPv4's.
        if (families.join(',') !== 'IPv4' && families.join(',') !== 'IPv4,IPv6')
          throw new Error('--families: IPv4 (single-stack) or IPv4,IPv6 (dual-stack, the default)');
        o.families = families as IPFamily[];
        break;
      }
      case '--out':
        o.out = value();
        break;
      case '--update-readme':
        o.updateReadme = true;
        break;
      case '--ipvs-services':
        o.ipvsServices = num(flag, 10);
        break;
      case '--merge-from':
        o.mergeFrom = value();
        break;
      case '--daemon-logs':
        o.daemonLogs = resolve(value());
        break;
      case '--tool-times':
        o.toolTimes = true;
        break;
      case '--vm-kernel':
        o.vm.kernel = value();
        break;
      case '--vm-cpus':
        o.vm.cpus = num(flag, 1);
        break;
      case '--vm-memory':
        o.vm.memory = value();
        break;
      case '--vm-timeout':
        o.vm.timeoutSec = num(flag, 60);
        break;
      case '--modes': {
        const modes = value().split(',');
        for (const m of modes)
          if (!MODES.includes(m as BenchMode)) throw new Error(`--modes: unknown mode "${m}" (${MODES.join(', ')})`);
        if (new Set(modes).size !== modes.length) throw new Error('--modes: a mode is given twice');
        o.modes = modes as BenchMode[];
        break;
      }
      default:
        throw new Error(`unknown flag ${flag}; see the comment at the top of bench/run.ts`);
    }
  }
  if (o.toolTimes && !o.daemonLogs) throw new Error('--tool-times needs --daemon-logs DIR (where the tool log goes)');
  if (o.udp > 1 || o.nodePort > 1) throw new Error('--udp and --nodeport are fractions between 0 and 1');
  if (o.families.includes('IPv6') && o.services > MAX_DUAL_STACK_SERVICES)
    throw new Error(
      `--services: at most ${MAX_DUAL_STACK_SERVICES} fit the IPv6 service CIDR fd00:10:96::/112 (--families IPv4 for more)`,
    );
  if (o.services * o.nodePort > GENERATED_NODE_PORTS - 1)
    throw new Error(
      `--nodeport: at most ${GENERATED_NODE_PORTS - 1} NodePort services fit the default range (north-south keeps its top three)`,
    );
  return o;
}

const t0 = Date.now();
const progress = (msg: string) => process.stderr.write(`[bench] ${msg} (+${Math.round((Date.now() - t0) / 1000)} s)\n`);
/** kube-proxy's default --*-min-sync-period per mode: changes are spaced beyond it, so latency measures programming, not rate limiting. */
const MIN_SYNC_MS: Record<BenchMode, number> = { ebpf: 0, iptables: 1000, ipvs: 0, userspace: 1000 };
/** In the test VM (qemu TCG) everything runs 10-20× slower: the bounds that only guard against a hang stretch by this much. */
const SLOW = process.env.SWITCHYARD_IN_VM ? 10 : 1;
/** The first sync at N services; past it the mode is reported as not finished. */
const FULL_SYNC_TIMEOUT_MS = 600_000 * SLOW;
/** Failed attempts at the first sync before the mode is given up. */
const FAILED_SYNCS = 2;
/** One incremental change, API write to its sync. */
const CHANGE_TIMEOUT_MS = 60_000 * SLOW;
/** /readyz polling: each poll is a `curl` process, which under emulation costs the daemon CPU it would sync with. */
const READY_POLL_MS = 20 * SLOW;
/** Node n1's address on the wire: the outside client's NodePort target. */
const NODE_IP = '172.31.0.11';
/** The daemon's warning (its msg) for a service port address its mode did not program, logged with the reason (control/sync/sync-loop.ts). */
const NOT_PROGRAMMED = 'service port not programmed by this mode';
/** The backends' TCP port (connrate serve) and UDP port (udprate sink). */
const TCP_PORT = 8080;
const UDP_PORT = 9090;
/**
 * The ebpf mode's north-south variants, each measured in daemon runs of its
 * own: XDP on n1's uplink (a veth: `best-effort` leaves a virtual device on
 * tc, so `native` forces XDP there; it translates, and tc behind it sends
 * what it routes, since a veth may not XDP_TX it), and tc only.
 */
const EBPF_VARIANTS: Array<{ name: string; args: string[]; hook: 'xdp' | 'tc' }> = [
  { name: 'ebpf (XDP)', args: ['--bpf-lb-acceleration=native'], hook: 'xdp' },
  { name: 'ebpf (tc)', args: ['--bpf-lb-acceleration=disabled'], hook: 'tc' },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Bench {
  readonly net = new TestNet();
  readonly dir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
  readonly opts: Options;
  readonly gen: GenOptions;
  client!: Pod;
  backend!: Pod;
  nodeNs!: string;
  /** Dual-stack: the ClusterIP rate is measured over IPv6 too. */
  readonly ipv6: boolean;
  /** North-south: the outside client's namespace, the pod on n1 that is the same-node backend, and the datagram counter on `backend`. */
  outside: string | undefined;
  local: Pod | undefined;
  sink: Background | undefined;
  udpRun = 0;
  api: ApiServer | undefined;

  constructor(opts: Options) {
    this.opts = opts;
    this.ipv6 = opts.families.includes('IPv6');
    this.gen = {
      services: opts.services,
      endpoints: opts.endpoints,
      mix: { udp: opts.udp, nodePort: opts.nodePort },
      families: opts.families,
      target: { ip: '10.244.2.11', ip6: 'fd00:10:244:2::11', port: TCP_PORT, node: 'n2' },
      endpointNode: 'n2',
      ...(opts.northSouth
        ? {
            northSouth: {
              otherNode: { ip: '10.244.2.11', ip6: 'fd00:10:244:2::11', port: TCP_PORT, node: 'n2' },
              sameNode: { ip: '10.244.1.12', ip6: 'fd00:10:244:1::12', port: TCP_PORT, node: 'n1' },
              udp: { ip: '10.244.2.11', ip6: 'fd00:10:244:2::11', port: UDP_PORT, node: 'n2' },
            },
          }
        : {}),
    };
  }

  async setUp(): Promise<void> {
    // With north-south: the outside client on the nodes' L2 (routing the pod CIDR through n1), and a second pod on n1.
    const cluster = buildCluster(this.net, { nodes: 2, podsPerNode: 1, client: this.opts.northSouth });
    this.client = cluster.nodes[0]!.pods[0]!;
    this.backend = cluster.nodes[1]!.pods[0]!;
    this.nodeNs = cluster.nodes[0]!.ns;
    const t = this.gen.target;
    if (this.backend.ip !== t.ip || this.backend.ip6 !== t.ip6)
      throw new Error(
        `n2's pod is ${this.backend.ip} and ${this.backend.ip6}, not the target's backend the services name`,
      );
    // One connrate server per address: IPv6 the pod's own, as its IPv4 one.
    const serve = async (pod: Pod, host = pod.ip) => {
      const server = this.net.spawn(pod.ns, connrateBinary, [
        'serve',
        '--listen',
        `${host}:${TCP_PORT}`,
        '--threads',
        '2',
        '--name',
        pod.name,
      ]);
      await server.waitFor(/listening|ready/i).catch(() => new Promise((r) => setTimeout(r, 300)));
    };
    await serve(this.backend);
    if (this.ipv6) await serve(this.backend, `[${this.backend.ip6}]`);
    if (this.opts.northSouth) {
      this.outside = cluster.client!.ns;
      this.local = addPod(this.net, cluster.nodes[0]!);
      if (this.local.ip !== this.gen.northSouth!.sameNode.ip)
        throw new Error(`n1's second pod is ${this.local.ip}, not the north-south backend the services name`);
      await serve(this.local);
      this.sink = this.net.spawn(this.backend.ns, udprateBinary, [
        'sink',
        '--listen',
        `${this.backend.ip}:${UDP_PORT}`,
      ]);
      await this.sink.waitFor(/"listening"/);
    }
    const fwd = this.net.spawn(this.nodeNs, nodeBinary, [
      agentPath,
      'forward',
      '--listen',
      '127.0.0.1:6443',
      '--unix',
      join(this.dir, 'api.sock'),
    ]);
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

  /** New connections to `target` for --duration s, from pod n1p1 (or the namespace `from`, e.g. the outside client's). */
  async connections(target: string, from = this.client.ns): Promise<ConnrateResult> {
    const p = this.net.spawn(from, connrateBinary, [
      'client',
      '--target',
      target,
      '--duration',
      String(this.opts.duration),
      '--warmup',
      String(this.opts.warmup),
      '--concurrency',
      String(this.opts.concurrency),
      '--threads',
      '2',
    ]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`connrate client exited ${code}: ${p.stderr}`);
    return parseConnrate(p.stdout);
  }

  /** Datagrams from the outside client to `target` for --duration s, as the counter on n2p1 received them. */
  async datagrams(target: string): Promise<UdprateResult> {
    const run = ++this.udpRun;
    const p = this.net.spawn(this.outside!, udprateBinary, [
      'send',
      '--target',
      target,
      '--duration',
      String(this.opts.duration),
      '--warmup',
      String(this.opts.warmup),
      '--run',
      String(run),
    ]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`udprate send exited ${code}: ${p.stderr}`);
    const sent = parseUdpSend(p.stdout);
    await sleep(100); // what is still on its way
    return udpResult(sent, await this.sinkReport());
  }

  /** The counter's report (SIGUSR1: it prints one line and goes on counting). */
  async sinkReport(): Promise<UdpSinkReport> {
    const sink = this.sink!;
    const from = sink.stdout.length;
    sink.child.kill('SIGUSR1');
    const deadline = Date.now() + 5000 * SLOW;
    for (;;) {
      const fresh = sink.stdout.slice(from);
      const nl = fresh.indexOf('\n');
      if (nl >= 0) return parseUdpSink(fresh.slice(0, nl));
      if (sink.child.exitCode !== null) throw new Error(`udprate sink exited ${sink.child.exitCode}: ${sink.stderr}`);
      if (Date.now() > deadline) throw new Error('udprate sink did not report within 5 s of SIGUSR1');
      await sleep(10);
    }
  }

  /** Routed-direct: the outside client to the north-south pods by their own addresses, through n1 (no proxy yet). */
  async routedDirect(): Promise<NorthSouthDirect> {
    const b = this.gen.northSouth!;
    return {
      tcp: {
        otherNode: await this.connections(`${b.otherNode.ip}:${b.otherNode.port}`, this.outside),
        sameNode: await this.connections(`${b.sameNode.ip}:${b.sameNode.port}`, this.outside),
      },
      udp: await this.datagrams(`${b.udp.ip}:${b.udp.port}`),
    };
  }

  /**
   * North-south at `services` into `v`: connections from the outside client
   * to n1's NodePorts (backend on n2, then on n1), then datagrams to the UDP
   * one. A failure is recorded in `v` (and ends its measurements), never
   * thrown: north-south does not end the mode's other phases.
   */
  async northSouthAt(v: NorthSouthVariant, services: number): Promise<void> {
    if (v.failed) return;
    progress(`${v.name}: north-south at ${services} services`);
    try {
      for (const backend of ['otherNode', 'sameNode'] as const) {
        const result = await this.connections(`${NODE_IP}:${NORTH_SOUTH[backend].nodePort}`, this.outside);
        v.tcp.push({ services, backend, result });
      }
      v.udp.push({ services, result: await this.datagrams(`${NODE_IP}:${NORTH_SOUTH.udp.nodePort}`) });
      const [a, b] = v.tcp.slice(-2);
      const u = v.udp.at(-1)!.result;
      progress(
        `${v.name}: NodePort ${Math.round(a!.result.connPerSec)} conn/s (other node), ${Math.round(b!.result.connPerSec)} (same node); UDP ${Math.round(u.receivedPerSec)} of ${Math.round(u.sentPerSec)} datagrams/s received`,
      );
    } catch (err) {
      v.failed = `${services} services: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`;
      progress(`${v.name}: north-south did not finish: ${v.failed}`);
    }
  }

  /** What n1's uplink (wire) has attached: an XDP program, a tc ingress BPF filter. */
  uplinkHooks(): { xdp: boolean; tc: boolean } {
    const [link] = JSON.parse(this.net.ip(this.nodeNs, '-j', 'link', 'show', 'dev', 'wire')) as Array<{
      xdp?: unknown;
    }>;
    const tc = this.net.exec(this.nodeNs, 'tc', ['filter', 'show', 'dev', 'wire', 'ingress'], { allowFail: true });
    return { xdp: link?.xdp !== undefined, tc: /\bbpf\b/.test(tc) };
  }

  /** Waits (5 s at most) for the uplink to have the hook `want` and no other, as the daemon attaches it; throws otherwise. */
  async expectHook(want: 'xdp' | 'tc'): Promise<void> {
    const deadline = Date.now() + 5000 * SLOW;
    for (;;) {
      const h = this.uplinkHooks();
      if (want === 'xdp' ? h.xdp && h.tc : h.tc && !h.xdp) return;
      if (Date.now() > deadline)
        throw new Error(
          `n1's uplink has ${h.xdp ? 'an XDP program' : 'no XDP program'} and ${h.tc ? 'a tc filter' : 'no tc filter'}, not ${want === 'xdp' ? 'XDP in front of tc' : 'tc only'}`,
        );
      await sleep(50);
    }
  }

  /**
   * The ebpf mode's north-south variants (EBPF_VARIANTS), each in a daemon
   * run of its own at 10 services and at N, from a cold start as the mode's
   * other runs; the uplink's hook is checked before measuring.
   */
  async ebpfNorthSouth(): Promise<NorthSouthVariant[]> {
    const out: NorthSouthVariant[] = EBPF_VARIANTS.map((v) => ({
      name: v.name,
      args: v.args,
      tcp: [],
      udp: [],
      phaseSec: {},
    }));
    const why = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];
    for (const services of [10, this.opts.services]) {
      try {
        await this.serve(services);
      } catch (err) {
        for (const v of out) v.failed ??= `${services} services: the API server: ${why(err)}`;
      }
      for (const [i, v] of out.entries()) {
        if (v.failed) continue;
        const at = Date.now();
        let d: MeasuredDaemon | undefined;
        try {
          d = this.start('ebpf', `${v.name.replace(/\W+/g, '-').replace(/-$/, '')}-${services}`, v.args);
          await this.firstSync(d);
          await this.expectHook(EBPF_VARIANTS[i]!.hook);
          v.hook = EBPF_VARIANTS[i]!.hook;
        } catch (err) {
          v.failed = `${services} services: ${why(err)}`;
          progress(`${v.name}: did not start: ${v.failed}`);
        }
        if (!v.failed) await this.northSouthAt(v, services);
        await d?.stop();
        await this.cleanup();
        v.phaseSec![`${services} services`] = Math.round((Date.now() - at) / 100) / 10;
      }
    }
    return out;
  }

  /** The daemon in `mode`; with --daemon-logs its log is written to DIR/`logName`.log as it comes (readable from the host while the VM runs). */
  start(mode: BenchMode, logName: string, extraArgs: string[] = []): MeasuredDaemon {
    const path = this.opts.toolTimes ? toolShims(this.toolDir(mode)) : undefined;
    const d = new MeasuredDaemon(
      this.net,
      this.nodeNs,
      [
        `--proxy-mode=${mode}`,
        '--hostname-override=n1',
        `--kubeconfig=${join(this.dir, 'kubeconfig')}`,
        `--bpffs-root=${this.net.pinDir('n1')}`,
        '--healthz-bind-address=127.0.0.1:10256',
        '--metrics-bind-address=',
        ...extraArgs,
      ],
      path ? { path } : {},
    );
    if (this.opts.daemonLogs) {
      mkdirSync(this.opts.daemonLogs, { recursive: true });
      const file = join(this.opts.daemonLogs, `${logName}.log`);
      writeFileSync(file, '');
      d.proc.child.stderr!.on('data', (b: Buffer) => appendFileSync(file, b));
    }
    return d;
  }

  toolDir(mode: BenchMode): string {
    return join(this.opts.daemonLogs!, `tools-${mode}`);
  }

  /**
   * The daemon's first successful sync. One that keeps failing (the daemon
   * retries it with backoff, for ever) ends the phase at the third failure,
   * with the daemon's error, instead of at the timeout.
   */
  async firstSync(d: MeasuredDaemon): Promise<LogLine> {
    // waitFor looks at every line again on each poll: failures are counted once each.
    const failures = new Set<LogLine>();
    const { line } = await d.waitFor(
      (l) => l.msg === 'synced' || (l.msg === 'sync failed; retrying' && failures.add(l).size >= FAILED_SYNCS),
      { timeoutMs: FULL_SYNC_TIMEOUT_MS },
    );
    if (line.msg !== 'synced') {
      const err = line.err as { message?: string } | undefined;
      throw new Error(
        `the daemon's first sync failed ${FAILED_SYNCS} times: ${err?.message ?? JSON.stringify(line.err)}`,
      );
    }
    return line;
  }

  /** --tool-times: where the sync that ended with `line` spent its time, logged and kept. */
  toolTimes(mode: BenchMode, what: string, line: { time: number; ms?: unknown }): void {
    if (!this.opts.toolTimes) return;
    const text = `${mode} ${what}: ${summarise(readToolCalls(this.toolDir(mode)), line.time - Number(line.ms), line.time)}`;
    progress(`tool times: ${text}`);
    appendFileSync(join(this.opts.daemonLogs!, 'tool-times.txt'), `${text}\n`);
  }

  async cleanup(): Promise<void> {
    const d = new MeasuredDaemon(this.net, this.nodeNs, ['--cleanup', `--bpffs-root=${this.net.pinDir('n1')}`]);
    await d.proc.exited;
  }

  async readyAt(d: MeasuredDaemon): Promise<number> {
    while (d.proc.child.exitCode === null) {
      const code = this.net.exec(
        this.nodeNs,
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/readyz'],
        { allowFail: true },
      );
      if (code === '200') return Date.now();
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    return NaN;
  }

  /**
   * Waits (60 s at most) for IPVS to forget the ClusterIP run's connections.
   * Each is kept 10 s after its RST (CLOSE state), and while it is, a new
   * connection straight to the pod from a reused client port has its
   * SYN-ACK rewritten to the ClusterIP's address by that entry (IPVS matches
   * replies on the real server's address and port, the client's address and
   * port): the client never sees it, and the pod-IP figure would measure
   * port reuse, not the programmed services.
   */
  async ipvsConnectionsGone(): Promise<void> {
    const from = Date.now();
    const count = () =>
      Math.max(
        0,
        this.net
          .exec(this.nodeNs, 'cat', ['/proc/net/ip_vs_conn'], { allowFail: true })
          .split('\n')
          .filter((l) => l.trim()).length - 1,
      );
    let n = count();
    while (n > 0 && Date.now() - from < 60_000) {
      await new Promise((r) => setTimeout(r, 1000));
      n = count();
    }
    progress(
      `ipvs: waited ${Math.round((Date.now() - from) / 1000)} s for IPVS's connection entries to expire (${n} left)`,
    );
  }

  /**
   * New connections to the target's IPv6 ClusterIP, with `services`
   * programmed. They run whatever the daemon said; when it said it did not
   * program that address (its NOT_PROGRAMMED warning, logged once by the
   * sync that skipped it, before that sync's "synced"), its reason goes
   * with them, and the report shows "—" and the reason, never a figure.
   */
  async ipv6ClusterIP(mode: BenchMode, d: MeasuredDaemon, services: number): Promise<Connections> {
    const address = TARGET.clusterIP6;
    const said = d
      .lines()
      .find(
        (l) =>
          l.msg === NOT_PROGRAMMED &&
          typeof l.reason === 'string' &&
          l.reason.startsWith('IPv6 ') &&
          l.reason.split(/[\s(),]+/).includes(address),
      );
    const result = await this.connections(`[${address}]:${TARGET.port}`);
    const reason = said ? String(said.reason) : undefined;
    progress(
      `${mode}: IPv6 ClusterIP at ${services} services: ${Math.round(result.connPerSec)} conn/s${reason ? `; the daemon: ${reason}` : ''}`,
    );
    return {
      services,
      target: 'clusterIP',
      family: 'IPv6',
      ...(reason ? { notServed: reason } : {}),
      result,
    };
  }

  /**
   * The userspace mode holds a proxy socket per service port and family
   * (2,033 open files at 1,000 dual-stack services): past the open-file
   * limit it inherits from us, its sync fails with EMFILE. Said before it
   * starts, so a mode that stops there is not a mystery; measured anyway.
   */
  warnOpenFiles(): void {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const limit = m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
    const need = this.opts.services * this.opts.families.length + 100;
    if (need > limit)
      progress(
        `userspace: ${this.opts.services} services × ${this.opts.families.length} families need about ${need} open files, more than the limit of ${limit} (ulimit -n): its daemon may fail with EMFILE`,
      );
  }

  /** One change through the API, timed to the end of the sync that programmed it. */
  async change(d: MeasuredDaemon, write: () => void, label?: { mode: BenchMode; kind: ChangeKind }): Promise<number> {
    const from = d.lines().length;
    const at = Date.now();
    write();
    const { line } = await d.waitFor((l) => l.msg === 'synced' && Number(l.changed) + Number(l.removed) > 0, {
      from,
      timeoutMs: CHANGE_TIMEOUT_MS,
    });
    if (label) this.toolTimes(label.mode, `${label.kind} sync`, line);
    return line.time - at;
  }

  async incremental(d: MeasuredDaemon, mode: BenchMode): Promise<ModeReport['incremental']> {
    const api = this.api!;
    const samples: Record<ChangeKind, number[]> = {
      addEndpoint: [],
      removeEndpoint: [],
      addService: [],
      removeService: [],
    };
    const pause = () => new Promise((r) => setTimeout(r, MIN_SYNC_MS[mode] + 50));
    for (let k = 0; k < this.opts.changes; k++) {
      // A generated service, spread over the table.
      const i = 1 + Math.floor(((k + 0.5) * generatedCount(this.opts.services, this.gen)) / this.opts.changes);
      const g = generated(i, this.gen);
      const eps = (g.slice.endpoints as Array<{ addresses: string[] }>).map((e) => ({
        ip: e.addresses[0]!,
        node: 'n2',
      }));
      const withExtra = slice(g.name, `${g.name}-1`, g.protocol, [
        ...eps,
        { ip: `10.251.${k >> 8}.${k & 255}`, node: 'n2' },
      ]);
      await pause();
      samples.addEndpoint.push(
        await this.change(d, () => api.update(withExtra as never), { mode, kind: 'addEndpoint' }),
      );
      await pause();
      samples.removeEndpoint.push(
        await this.change(d, () => api.update(g.slice as never), { mode, kind: 'removeEndpoint' }),
      );
      // A service and its slice arrive together, and go together (the
      // garbage collector removes a deleted service's slices): one sync each.
      const name = `new-${k}`;
      const ip = `10.100.${k >> 8}.${k & 255}`;
      const svc = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: 'bench' },
        spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'p', protocol: 'TCP', port: 80, targetPort: 8080 }] },
      };
      const svcSlice = slice(name, `${name}-1`, 'TCP', [{ ip: this.backend.ip, node: 'n2' }]);
      await pause();
      samples.addService.push(
        await this.change(
          d,
          () => {
            api.create(svcSlice as never);
            api.create(svc as never);
          },
          { mode, kind: 'addService' },
        ),
      );
      await pause();
      samples.removeService.push(
        await this.change(
          d,
          () => {
            api.delete('Service', 'bench', name);
            api.delete('EndpointSlice', 'bench', `${name}-1`);
          },
          { mode, kind: 'removeService' },
        ),
      );
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
    let phaseAt = Date.now();
    const phaseSec: Record<string, number> = {};
    report.phaseSec = phaseSec;
    // A phase entered again (north-south, between the others) adds up.
    const enter = (next: string) => {
      phaseSec[phase] = Math.round(((phaseSec[phase] ?? 0) + (Date.now() - phaseAt) / 1000) * 10) / 10;
      phase = next;
      phaseAt = Date.now();
    };
    // North-south in this mode's own runs (iptables, ipvs); the ebpf mode's variants run after, in runs of their own.
    const inline: NorthSouthVariant | undefined =
      this.opts.northSouth && mode !== 'ebpf' ? { name: mode, args: [], tcp: [], udp: [] } : undefined;
    if (inline) report.northSouth = [inline];
    const northSouth = async (services: number) => {
      if (!inline) return;
      const back = phase;
      enter('north-south');
      await this.northSouthAt(inline, services);
      enter(back);
    };
    let d: MeasuredDaemon | undefined;
    if (mode === 'userspace') this.warnOpenFiles();
    try {
      progress(`${mode}: 10 services`);
      await this.serve(10);
      d = this.start(mode, `${mode}-10`);
      await this.firstSync(d);
      report.connections.push({ services: 10, target: 'clusterIP', result: await this.connections(target) });
      if (this.ipv6) report.connections.push(await this.ipv6ClusterIP(mode, d, 10));
      await northSouth(10);
      await d.stop();
      d = undefined;
      await this.cleanup();

      enter('full sync');
      progress(`${mode}: ${services} services × ${endpoints} endpoints: full sync`);
      await this.serve(services);
      d = this.start(mode, `${mode}-${services}`);
      const ready = this.readyAt(d);
      const first = await this.firstSync(d);
      report.fullSync = {
        servicePorts: Number(first.servicePorts),
        startToProgrammedMs: first.time - d.startedAt,
        syncMs: Number(first.ms),
        startToReadyMs: (await ready) - d.startedAt,
      };
      const f = report.fullSync;
      progress(
        `${mode}: programmed ${f.servicePorts} service ports: ${f.startToProgrammedMs} ms from start (sync ${f.syncMs} ms)`,
      );
      this.toolTimes(mode, `full sync at ${services}`, first);

      enter('steady state');
      await new Promise((r) => setTimeout(r, 2000));
      const windowSec = 5;
      const cpu0 = d.cpuSeconds();
      await new Promise((r) => setTimeout(r, windowSec * 1000));
      report.steady = {
        rssMB: Math.round(d.rssMB()),
        cpuPercent: Math.round(((d.cpuSeconds() - cpu0) / windowSec) * 1000) / 10,
        windowSec,
        fds: d.fds(),
      };
      progress(
        `${mode}: steady state ${report.steady.rssMB} MB, ${report.steady.cpuPercent}% CPU, ${report.steady.fds} open file descriptors`,
      );

      enter('connections');
      progress(`${mode}: connections through the ClusterIP and to the pod, ${services} services`);
      report.connections.push({ services, target: 'clusterIP', result: await this.connections(target) });
      if (mode === 'ipvs') await this.ipvsConnectionsGone();
      report.connections.push({ services, target: 'podIP', result: await this.connections(`${this.backend.ip}:8080`) });
      // IPv6 after every IPv4 figure, so those are measured exactly as before.
      if (this.ipv6) {
        report.connections.push(await this.ipv6ClusterIP(mode, d, services));
        if (mode === 'ipvs') await this.ipvsConnectionsGone();
        report.connections.push({
          services,
          target: 'podIP',
          family: 'IPv6',
          result: await this.connections(`[${this.backend.ip6}]:8080`),
        });
      }
      await northSouth(services);

      enter('incremental changes');
      progress(`${mode}: ${this.opts.changes} changes of each kind`);
      report.incremental = await this.incremental(d, mode);
      enter('stop and clean-up');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      report.failed = `${phase}: ${message.split('\n')[0]}`;
      progress(`${mode}: did not finish (${phase}); going on. ${message}`);
    } finally {
      await d?.stop();
      await this.cleanup();
      enter('');
      delete phaseSec[''];
    }
    if (inline && !inline.failed && report.failed && inline.udp.length < 2)
      inline.failed = `the mode stopped (${report.failed})`;
    if (mode === 'ebpf' && this.opts.northSouth) {
      const at = Date.now();
      report.northSouth = await this.ebpfNorthSouth();
      phaseSec['north-south'] = Math.round((Date.now() - at) / 100) / 10;
    }
    return report;
  }

  async tearDown(): Promise<void> {
    await this.api?.close();
    await this.net.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The run's parameters, as the report states them. */
function params(o: Options): BenchReport['params'] {
  return {
    services: o.services,
    endpoints: o.endpoints,
    changesPerKind: o.changes,
    connDurationSec: o.duration,
    // Only when not the default 1 s, so reports from before the flag still merge.
    ...(o.warmup !== 1 ? { connWarmupSec: o.warmup } : {}),
    concurrency: o.concurrency,
    mix: { udp: o.udp, nodePort: o.nodePort },
    // Only when dual-stack, so single-stack reports from before IPv6 still merge.
    ...(o.families.includes('IPv6') ? { families: o.families } : {}),
  };
}

/** An earlier report to merge into, checked to be at the same parameters: otherwise its columns and ours would not compare. */
function loadBase(o: Options): BenchReport | undefined {
  if (!o.mergeFrom) return undefined;
  const base = readReport(o.mergeFrom);
  const want = JSON.stringify(params(o));
  if (JSON.stringify(base.params) !== want) {
    throw new Error(
      `--merge-from ${o.mergeFrom}: its parameters ${JSON.stringify(base.params)} differ from this run's ${want}; give the same --services, --endpoints, --changes, --duration, --warmup, --concurrency, --udp, --nodeport and --families`,
    );
  }
  return base;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const base = loadBase(opts);
  const inVm = opts.modes.filter(needsVm);
  const here = opts.modes.filter((m) => !inVm.includes(m));
  const bench = here.length || !base ? new Bench(opts) : undefined;
  const vmRuns = new Set<() => void>();
  // Interrupted: the namespaces, pins and processes go with us (a VM's
  // run.sh kills its qemu when it gets SIGTERM).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: tearing down`);
      for (const abort of vmRuns) abort();
      void (bench?.tearDown() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  const measured = new Map<BenchMode, ModeReport>();
  let direct: BenchReport['direct'] | undefined;
  let directIPv6: ConnrateResult | undefined;
  let nsDirect: NorthSouthDirect | undefined;
  if (bench) {
    try {
      await bench.setUp();
      progress(`direct: connections to the pod, no proxy (${opts.duration} s)`);
      direct = await bench.connections(`${bench.backend.ip}:8080`);
      if (bench.ipv6) {
        progress(`IPv6 direct: connections to the pod's IPv6 address, no proxy (${opts.duration} s)`);
        directIPv6 = await bench.connections(`[${bench.backend.ip6}]:8080`);
      }
      if (opts.northSouth) {
        progress(`routed-direct: the outside client (${CLIENT_IP}) to the pods through n1, no proxy`);
        nsDirect = await bench.routedDirect();
        progress(
          `routed-direct: ${Math.round(nsDirect.tcp.otherNode.connPerSec)} conn/s (other node), ${Math.round(nsDirect.tcp.sameNode.connPerSec)} (same node); UDP ${Math.round(nsDirect.udp.receivedPerSec)} of ${Math.round(nsDirect.udp.sentPerSec)} datagrams/s received`,
        );
      }
      for (const mode of here) measured.set(mode, await bench.mode(mode));
    } finally {
      await bench.tearDown();
    }
  }
  const inner = [
    '--services',
    String(opts.ipvsServices ?? opts.services),
    '--endpoints',
    String(opts.endpoints),
    '--changes',
    String(opts.changes),
    '--duration',
    String(opts.duration),
    '--warmup',
    String(opts.warmup),
    '--concurrency',
    String(opts.concurrency),
    '--udp',
    String(opts.udp),
    '--nodeport',
    String(opts.nodePort),
    ...(opts.northSouth ? [] : ['--no-north-south']),
    '--families',
    opts.families.join(','),
  ];
  // The guest writes only inside the project.
  if (opts.daemonLogs?.startsWith(`${repoRoot}/`))
    inner.push('--daemon-logs', opts.daemonLogs, ...(opts.toolTimes ? ['--tool-times'] : []));
  for (const mode of inVm) {
    progress(`${mode}: this kernel (${release()}) has no IPVS: measuring ${mode} in the test VM`);
    let m = await runModeInVm(mode, { ...opts.vm, args: inner }, progress, vmRuns);
    // The VM itself failing (qemu, or the guest's kernel: one panicked under TCG once, in tcp_v4_connect)
    // says nothing of the mode: once more, then it stands.
    if (m.failed?.startsWith(VM_FAILED)) {
      progress(`${mode}: ${m.failed}; running the VM once more`);
      m = await runModeInVm(mode, { ...opts.vm, args: inner }, progress, vmRuns);
    }
    const t = m.phaseSec?.['VM run (boot to power-off)'];
    progress(
      `${mode}: ${m.failed ? `did not finish: ${m.failed}` : 'measured in the VM'}${t !== undefined ? ` (${t} s)` : ''}`,
    );
    measured.set(mode, m);
  }

  const ours = opts.modes.map((m) => measured.get(m)!);
  let modes = ours;
  const keptModes = base ? base.modes.filter((m) => !measured.has(m.mode)) : [];
  const kept = keptModes.map((m) => m.mode);
  // The report's direct-to-pod baseline is this run's unless an earlier run's mode measured
  // here (not in a VM) stays: then that one keeps its baseline and ours carry their own.
  const keepBaseDirect = base !== undefined && keptModes.some((m) => !m.emulated && !m.direct);
  if (base) {
    // Ours replace theirs of the same mode; the rest of theirs stay, in their order.
    if (direct && keepBaseDirect)
      for (const m of ours)
        if (!m.emulated) {
          m.direct = direct;
          if (directIPv6) m.directIPv6 = directIPv6;
        }
    if (nsDirect && keepBaseDirect) for (const m of ours) if (!m.emulated) m.northSouthDirect = nsDirect;
    modes = [
      ...base.modes.map((m) => measured.get(m.mode) ?? m),
      ...ours.filter((m) => !base.modes.some((b) => b.mode === m.mode)),
    ];
  }
  // North-south's routed-direct baseline goes with the ClusterIP one.
  const baseline6 = keepBaseDirect ? base!.directIPv6 : (directIPv6 ?? base?.directIPv6);
  const nsBaseline = keepBaseDirect ? base!.northSouthDirect : (nsDirect ?? base?.northSouthDirect);
  const report: BenchReport = {
    version: 1,
    startedAt: new Date(started).toISOString(),
    durationSec: Math.round((Date.now() - started) / 1000),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: base?.machine ?? { cpus: cpus().length, kernel: release(), memoryGiB: Math.round(totalmem() / 2 ** 30) },
    params: params(opts),
    direct: keepBaseDirect ? base!.direct : (direct ?? base?.direct)!,
    ...(baseline6 ? { directIPv6: baseline6 } : {}),
    ...(nsBaseline ? { northSouthDirect: nsBaseline } : {}),
    modes,
    ...(base && kept.length
      ? {
          merged: {
            from: opts.mergeFrom!,
            startedAt: base.startedAt,
            durationSec: base.durationSec,
            command: base.command,
            modes: kept,
          },
        }
      : {}),
  };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeChart(report, join(opts.out, 'latest.svg'));
  const nsChart = writeNorthSouthChart(report, join(opts.out, 'latest-north-south.svg'));
  process.stdout.write(renderTable(report));
  if (opts.updateReadme) updateReadme(report, join(repoRoot, 'README.md'));
  progress(
    `done in ${report.durationSec} s; wrote ${join(opts.out, 'latest.json')}, latest.svg${nsChart ? ' and latest-north-south.svg' : ''}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
