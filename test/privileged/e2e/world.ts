// What the end-to-end suite stands on: a dual-stack namespace cluster (2 nodes
// x 2 pods and the outside client), an agent serving TCP and UDP in every pod
// on both families' addresses, a manifest directory, and the real daemon on
// each node in the mode under test.
// Each node has a test cgroup, given to its daemon as --cgroup-root (the
// daemon runs in it too); the node's "own processes" in the suite are probes
// started in that cgroup, never in a root cgroup.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { POD_CIDR, POD_CIDR6, buildCluster, type Cluster, type Node, type Pod } from '../../harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { scaled, slow } from '../../harness/slow.js';
import {
  agentPath,
  httpGet,
  startServers,
  tcpProbe,
  udpProbe,
  type HttpResult,
  type ProbeOptions,
  type ProbeResult,
} from '../../harness/traffic.js';
import { ManifestDir, POD_TCP_PORT, POD_UDP_PORT, type ServiceSpec } from './fixtures.js';

export type ProxyMode = 'ebpf' | 'iptables' | 'ipvs' | 'userspace';
export type Protocol = 'tcp' | 'udp';

// The privileged project's 60 s per test and hook (vitest.config.ts), scaled:
// in the VM a daemon takes 25-60 s to its first sync, and beforeAll starts
// two, restart and cleanup one each. Set before the suite registers its tests and hooks,
// which take the timeout in force then.
if (slow > 1) vi.setConfig({ testTimeout: scaled(60_000), hookTimeout: scaled(60_000) });

/** The names of the servers that answered. */
export const names = (rs: ProbeResult[]) => new Set(rs.filter((r) => r.ok).map((r) => r.name ?? '?'));
export const failures = (rs: ProbeResult[]) => rs.filter((r) => !r.ok);

/**
 * Runs `fn` until `ok` holds or `timeoutMs` passes, and returns the last
 * value either way: the caller asserts on it, so a failure shows what was seen.
 * The default scales with `slow`: each try starts a probe process.
 */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = scaled(5000)): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() - t0 > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs `probe` until each server in `want` has answered, a probe fails, or
 * until's time is up, and returns the results of every round: a failure or a
 * missing server is the caller's to assert. A round of 16-24 usually reaches
 * every one of four backends; the rare one that misses by chance costs a
 * second round rather than flaking the test.
 */
export async function untilEvery(probe: () => Promise<ProbeResult[]>, want: Iterable<string>): Promise<ProbeResult[]> {
  const wanted = [...want];
  const seen: ProbeResult[] = [];
  await until(
    async () => {
      seen.push(...(await probe()));
      return seen;
    },
    (rs) => failures(rs).length > 0 || wanted.every((n) => names(rs).has(n)),
  );
  return seen;
}

export class E2eWorld {
  readonly net = new TestNet();
  readonly mode: ProxyMode;
  readonly #extraArgs: string[];
  #dir: string | undefined;
  readonly #daemons = new Map<string, DaemonProcess>();
  readonly #cgroups = new Map<string, string>();
  #cluster: Cluster | undefined;
  #manifests: ManifestDir | undefined;

  constructor(opts: { mode: ProxyMode; args?: string[] }) {
    this.mode = opts.mode;
    this.#extraArgs = opts.args ?? [];
  }

  get cluster(): Cluster {
    if (!this.#cluster) throw new Error('the e2e world is not started');
    return this.#cluster;
  }

  get manifests(): ManifestDir {
    if (!this.#manifests) throw new Error('the e2e world is not started');
    return this.#manifests;
  }

  pod(name: string): Pod {
    const pod = this.cluster.pods().find((p) => p.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    return pod;
  }

  node(name: string): Node {
    const node = this.cluster.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  daemon(node: string): DaemonProcess {
    const d = this.#daemons.get(node);
    if (!d) throw new Error(`no daemon on ${node}`);
    return d;
  }

  /** Builds the cluster, writes `services` and starts a daemon on every node; resolves after each has synced. */
  async start(services: (pods: (name: string) => Pod) => ServiceSpec[]): Promise<void> {
    this.#dir = mkdtempSync(join(tmpdir(), 'sy-e2e-'));
    this.#cluster = buildCluster(this.net, { nodes: 2, podsPerNode: 2, client: true });
    await Promise.all(
      this.cluster.pods().map((p) => startServers(this.net, p, { tcp: [POD_TCP_PORT], udp: [POD_UDP_PORT] })),
    );
    this.#manifests = new ManifestDir(this.#dir, this.cluster.nodes);
    this.#manifests.set(...services((name) => this.pod(name))).write();
    for (const node of this.cluster.nodes) this.#cgroups.set(node.name, this.net.cgroup(`${node.name}-host`));
    await Promise.all(this.cluster.nodes.map((n) => this.startDaemon(n.name)));
  }

  /** The flags every start of a node's daemon uses (a restart uses the same). */
  daemonArgs(node: string): string[] {
    // --cluster-cidr as an operator sets it: the pod CIDRs, so traffic from outside them is
    // masqueraded; a dual-stack cluster's is a pair, one CIDR per family (as kube-proxy takes it).
    return [
      `--proxy-mode=${this.mode}`,
      `--manifests=${this.manifests.dir}`,
      `--cgroup-root=${this.#cgroup(node)}`,
      `--cluster-cidr=${POD_CIDR},${POD_CIDR6}`,
      ...this.#extraArgs,
    ];
  }

  /** Starts (or restarts) the daemon on `node` and waits for its first sync. */
  async startDaemon(node: string, extraArgs: string[] = []): Promise<DaemonProcess> {
    const n = this.node(node);
    const d = startDaemon(this.net, {
      ns: n.ns,
      nodeName: node,
      // The same folder each time (mkdir -p): a restarted ebpf daemon adopts its pins.
      pinDir: this.net.pinDir(node),
      cgroup: this.#cgroup(node),
      args: [...this.daemonArgs(node), ...extraArgs],
    });
    this.#daemons.set(node, d);
    if (!extraArgs.includes('--cleanup')) await d.waitForLog((r) => r.msg === 'synced');
    return d;
  }

  /** `switchyard --cleanup` with the node's flags, as an operator runs it after stopping the daemon. */
  async cleanup(node: string): Promise<{ code: number | null; stderr: string }> {
    const d = await this.startDaemon(node, ['--cleanup']);
    return { code: await d.proc.exited, stderr: d.proc.stderr };
  }

  /** Writes the manifests and waits until every running daemon has synced once more. */
  async apply(): Promise<void> {
    const running = [...this.#daemons.values()].filter((d) => d.proc.child.exitCode === null);
    const before = running.map((d) => d.syncs().length);
    this.manifests.write();
    await Promise.all(running.map((d, i) => d.waitForLog((r) => r.msg === 'synced', { count: before[i]! + 1 })));
  }

  /** Fresh connections (TCP) or datagrams (UDP) from a pod. */
  fromPod(pod: string, proto: Protocol, target: string, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    return (proto === 'tcp' ? tcpProbe : udpProbe)(this.net, this.pod(pod).ns, target, opts);
  }

  /**
   * The same from the client outside the cluster, which routes service, pod
   * and external (EXTERNAL_CIDR, EXTERNAL_CIDR6) addresses through n1 and
   * reaches the nodes' own addresses on the wire; `source: client.secondIp`
   * (`secondIp6`) sends from its second address.
   */
  fromClient(proto: Protocol, target: string, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const client = this.cluster.client;
    if (!client) throw new Error('the cluster has no outside client');
    return (proto === 'tcp' ? tcpProbe : udpProbe)(this.net, client.ns, target, opts);
  }

  /** One HTTP GET from the outside client, as a cloud load balancer's health check. */
  httpFromClient(target: string, path = '/'): Promise<HttpResult> {
    const client = this.cluster.client;
    if (!client) throw new Error('the cluster has no outside client');
    return httpGet(this.net, client.ns, target, { path });
  }

  /** The same from a process of the node itself, in the node's test cgroup. */
  async fromNode(node: string, proto: Protocol, target: string, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const { count = 1, timeoutMs = 2000, concurrency = 1 } = opts;
    const args = [
      agentPath,
      proto,
      '--target',
      target,
      '--count',
      String(count),
      '--timeout',
      String(timeoutMs),
      '--concurrency',
      String(concurrency),
    ];
    const p = this.net.spawnInCgroup(this.#cgroup(node), this.node(node).ns, nodeBinary, args);
    const code = await p.exited;
    if (code !== 0) throw new Error(`${proto} probe ${target} from node ${node} exited ${code}: ${p.stderr}`);
    return p.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProbeResult);
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.#daemons.values()].map((d) => d.stop()));
    await this.net.teardown();
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #cgroup(node: string): string {
    const cg = this.#cgroups.get(node);
    if (!cg) throw new Error(`no cgroup for ${node}`);
    return cg;
  }
}
