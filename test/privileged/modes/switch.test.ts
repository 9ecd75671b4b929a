// Switching a node's mode by restarting the proxy with another --proxy-mode:
// each start removes what the other mode left (after its own first sync, so
// the node is never without a dataplane), traffic works after every switch,
// and --cleanup removes everything either mode wrote.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, type Cluster, type Node } from '../../harness/cluster.js';
import { daemonMain, startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { kubeLeftovers } from '../../harness/iptables.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { run } from '../../harness/run.js';
import { startServers, tcpProbe, type ProbeResult } from '../../harness/traffic.js';

const served = (rs: ProbeResult[]) => [...new Set(rs.filter((r) => r.ok).map((r) => r.name))].sort();

describe.runIf(requirePrivileges())('switching modes on a running node', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-switch-'));
  let cluster: Cluster;
  let n1: Node;
  let pinDir: string;
  let daemon: DaemonProcess | undefined;
  let other: DaemonProcess | undefined;

  /** Our tc filters (handle 0x5359) on n1's interfaces. */
  const tcFilters = () =>
    ['wire', ...n1.pods.map((p) => p.hostIf)].filter((dev) =>
      /handle 0x5359/.test(net.exec(n1.ns, 'tc', ['filter', 'show', 'dev', dev, 'ingress'], { allowFail: true })),
    );

  const start = async (mode: string) => {
    await daemon?.stop();
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir,
      args: [`--proxy-mode=${mode}`, '--iptables-min-sync-period=0', `--manifests=${dir}`],
    });
    await daemon.waitForLog((r) => r.msg === 'removed what other proxy modes left on this node');
  };

  const expectTraffic = async () => {
    const pod = n1.pods[0]!;
    expect(
      served(await tcpProbe(net, pod.ns, '10.96.0.10:80', { count: 40, concurrency: 4, timeoutMs: 1000 })),
    ).toEqual(['n1p1', 'n1p2', 'n2p1', 'n2p2']);
    const [refused] = await tcpProbe(net, pod.ns, '10.96.0.11:80', { count: 1, timeoutMs: 2000 });
    expect(refused).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
    n1 = cluster.nodes[0]!;
    pinDir = net.pinDir('n1');
    await Promise.all(cluster.pods().map((p) => startServers(net, p, { tcp: [8080] })));
    cpSync(join(repoRoot, 'examples', 'demo'), dir, { recursive: true });
    // n2 serves its own pods in ebpf mode throughout; only n1 switches.
    other = startDaemon(net, {
      ns: cluster.nodes[1]!.ns,
      nodeName: 'n2',
      pinDir: net.pinDir('n2'),
      args: [`--manifests=${dir}`],
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await other?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts in iptables mode', async () => {
    await start('iptables');
    expect(kubeLeftovers(net, n1.ns).length).toBeGreaterThan(20);
    expect(tcFilters()).toEqual([]);
    await expectTraffic();
  });

  it('switches to ebpf: no KUBE- rule or chain is left, traffic works', async () => {
    await start('ebpf');
    expect(kubeLeftovers(net, n1.ns)).toEqual([]);
    expect(tcFilters().length).toBeGreaterThan(0);
    await expectTraffic();
  });

  it('switches back to iptables: no tc filter or pinned map is left, traffic works', async () => {
    await start('iptables');
    expect(tcFilters()).toEqual([]);
    expect(existsSync(pinDir)).toBe(false);
    expect(kubeLeftovers(net, n1.ns).length).toBeGreaterThan(20);
    await expectTraffic();
  });

  it('--cleanup removes what either mode wrote', async () => {
    await daemon?.stop();
    daemon = undefined;
    run('nsenter', [
      `--net=${net.netnsPath(n1.ns)}`,
      '--',
      nodeBinary,
      daemonMain,
      `--bpffs-root=${pinDir}`,
      '--cleanup',
    ]);
    expect(kubeLeftovers(net, n1.ns)).toEqual([]);
    expect(tcFilters()).toEqual([]);
    expect(existsSync(pinDir)).toBe(false);
  });
});
