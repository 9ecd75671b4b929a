// The userspace mode under bad backends and load: an endpoint that accepts
// and then resets, one that never answers (the dial times out and the next
// endpoint takes the connection), 1,000 connections at once, and a
// --proxy-port-range too small for every service (that one is skipped with a
// clear error, the rest served, and it is served once a port frees up).
// Everything runs inside the test's namespaces: one node, three pods.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, type Cluster, type Pod } from '../../harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { startServers, tcpProbe } from '../../harness/traffic.js';
import { ManifestDir, POD_TCP_PORT, type ServiceSpec } from '../e2e/fixtures.js';
import { failures, names } from '../e2e/world.js';

const RESETTER = `require('node:net').createServer((s) => s.resetAndDestroy()).listen(${POD_TCP_PORT}, () => console.log('ready'))`;

describe.runIf(requirePrivileges())('userspace mode: faults and load', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-userspace-'));
  let cluster: Cluster;
  let manifests: ManifestDir;
  let daemon: DaemonProcess;
  const pod = (name: string): Pod => cluster.pods().find((p) => p.name === name)!;
  let specs: ServiceSpec[];
  let other: DaemonProcess | undefined;
  const nodeNs = () => cluster.nodes[0]!.ns;
  const api = (path: string) => JSON.parse(net.exec(nodeNs(), 'curl', ['-sS', `http://127.0.0.1:10249${path}`]));
  const portalChains = () =>
    net
      .exec(nodeNs(), 'iptables-save', [])
      .split('\n')
      .filter((l) => /^:KUBE-(PORTALS|NODEPORT)-/.test(l))
      .map((l) => l.slice(1, l.indexOf(' ')));

  const apply = async () => {
    const before = daemon.syncs().length;
    manifests.write();
    await daemon.waitForLog((r) => r.msg === 'synced', { count: before + 1 });
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 1, podsPerNode: 3, client: false });
    // n1p1 answers; n1p2 accepts and resets; n1p3 drops every SYN (no answer at all).
    await startServers(net, pod('n1p1'), { tcp: [POD_TCP_PORT] });
    await net.spawn(pod('n1p2').ns, nodeBinary, ['-e', RESETTER]).waitFor(/^ready$/m);
    net.exec(pod('n1p3').ns, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(POD_TCP_PORT), '-j', 'DROP']);
    specs = [
      { name: 'silent-first', clusterIPs: ['10.96.0.50'], endpoints: [pod('n1p3'), pod('n1p1')] },
      { name: 'resets', clusterIPs: ['10.96.0.51'], endpoints: [pod('n1p2')] },
      { name: 'many', clusterIPs: ['10.96.0.52'], endpoints: [pod('n1p1')] },
      { name: 'extra', clusterIPs: ['10.96.0.53'], endpoints: [pod('n1p1')] },
      { name: 'last', clusterIPs: ['10.96.0.54'], endpoints: [pod('n1p1')] },
    ];
    manifests = new ManifestDir(dir, cluster.nodes);
    manifests.set(...specs).write();
    daemon = startDaemon(net, {
      ns: cluster.nodes[0]!.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      // Four proxy ports for five services: one is left without.
      args: [
        '--proxy-mode=userspace',
        '--iptables-min-sync-period=0',
        '--proxy-port-range=40100+3',
        `--manifests=${dir}`,
        '--metrics-bind-address=127.0.0.1:10249',
        '--healthz-bind-address=127.0.0.1:10256',
      ],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await other?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The service whose port the range could not give, from the daemon's log. */
  const skipped = () =>
    daemon
      .logs()
      .filter((r) => r.msg === 'service port not programmed by this mode')
      .map((r) => ({ servicePort: String(r.servicePort), reason: String(r.reason) }));

  it('a range too small: one service port skipped with a clear error, every other served', async () => {
    const s = skipped();
    expect(s).toHaveLength(1);
    expect(s[0]!.reason).toMatch(/--proxy-port-range 40100-40103 has no free TCP port left \(4 in use by this proxy\)/);
    const unserved = specs.find((x) => s[0]!.servicePort.startsWith(`e2e/${x.name}:`))!;
    expect(unserved).toBeDefined();
    for (const x of specs.filter((y) => y !== unserved && y.name !== 'resets')) {
      const rs = await tcpProbe(net, pod('n1p1').ns, `${x.clusterIPs[0]}:80`, { count: 3, timeoutMs: 5000 });
      expect(failures(rs), x.name).toEqual([]);
    }
    // Once a service goes, its port frees up and the skipped one is served.
    manifests.remove(['extra', 'last'].find((n) => n !== unserved.name)!);
    await apply();
    const rs = await tcpProbe(net, pod('n1p1').ns, `${unserved.clusterIPs[0]}:80`, { count: 3, timeoutMs: 5000 });
    if (unserved.name !== 'resets') expect(failures(rs)).toEqual([]);
    else expect(rs.every((r) => r.error === 'ECONNRESET')).toBe(true);
  });

  it('an endpoint that never answers: the dial times out and the next endpoint takes the connection', async () => {
    const rs = await tcpProbe(net, pod('n1p1').ns, '10.96.0.50:80', { count: 8, concurrency: 2, timeoutMs: 5000 });
    expect(failures(rs)).toEqual([]);
    expect(names(rs)).toEqual(new Set(['n1p1']));
  });

  it('an endpoint that accepts and resets: the client sees the reset, and the proxy serves on', async () => {
    const rs = await tcpProbe(net, pod('n1p1').ns, '10.96.0.51:80', { count: 4, timeoutMs: 5000 });
    expect(rs.map((r) => r.error)).toEqual(['ECONNRESET', 'ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
    const after = await tcpProbe(net, pod('n1p1').ns, '10.96.0.52:80', { count: 3, timeoutMs: 5000 });
    expect(failures(after)).toEqual([]);
    expect(daemon.proc.child.exitCode).toBeNull();
  });

  it('/v1/services shows each port’s proxy socket and its connections; /metrics counts them', async () => {
    await tcpProbe(net, pod('n1p1').ns, '10.96.0.52:80', { count: 5, timeoutMs: 5000 });
    const { items } = api('/v1/services/e2e/many');
    expect(items[0].proxy).toEqual([
      {
        class: 'internal',
        family: 'IPv4',
        protocol: 'tcp',
        proxyPort: expect.any(Number),
        active: 0,
        accepted: expect.any(Number),
        failed: 0,
      },
    ]);
    expect(items[0].proxy[0].proxyPort).toBeGreaterThanOrEqual(40100);
    expect(items[0].proxy[0].accepted).toBeGreaterThanOrEqual(5);
    const ready = JSON.parse(net.exec(nodeNs(), 'curl', ['-sS', 'http://127.0.0.1:10256/readyz']));
    expect(ready).toMatchObject({ ready: true, servesWhileStopped: false });
    const metrics = net.exec(nodeNs(), 'curl', ['-sS', 'http://127.0.0.1:10249/metrics']);
    expect(metrics).toMatch(/switchyard_userspace_connections_total\{protocol="tcp",result="accepted"\} \d+/);
    expect(metrics).toMatch(/switchyard_userspace_connections_active\{protocol="tcp"\} 0/);
  });

  it('1,000 connections at once, every one carried', async () => {
    const rs = await tcpProbe(net, pod('n1p2').ns, '10.96.0.52:80', {
      count: 1000,
      concurrency: 1000,
      timeoutMs: 20_000,
    });
    expect(rs).toHaveLength(1000);
    expect(failures(rs)).toEqual([]);
    expect(names(rs)).toEqual(new Set(['n1p1']));
  }, 120_000);

  it('stopped: refused (the proxy is the dataplane); the other modes’ start-up and --cleanup remove its chains', async () => {
    expect(portalChains().sort()).toEqual([
      'KUBE-NODEPORT-CONTAINER',
      'KUBE-NODEPORT-HOST',
      'KUBE-PORTALS-CONTAINER',
      'KUBE-PORTALS-FILTER',
      'KUBE-PORTALS-HOST',
    ]);
    expect(await daemon.stop()).toBe(0);
    const [r] = await tcpProbe(net, pod('n1p1').ns, '10.96.0.52:80', { timeoutMs: 3000 });
    expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });

    // Another mode takes the node over and removes what this one left.
    other = startDaemon(net, {
      ns: nodeNs(),
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: ['--proxy-mode=iptables', '--iptables-min-sync-period=0', `--manifests=${dir}`, '--metrics-bind-address='],
    });
    await other.waitForLog((l) => l.msg === 'removed what other proxy modes left on this node');
    expect(portalChains()).toEqual([]);
    expect(net.exec(nodeNs(), 'iptables-save', [])).not.toMatch(/KUBE-PORTALS-FILTER/);
    expect(failures(await tcpProbe(net, pod('n1p1').ns, '10.96.0.52:80', { count: 3, timeoutMs: 5000 }))).toEqual([]);
    expect(await other.stop()).toBe(0);
    other = undefined;

    // And back: userspace's chains again, then its --cleanup removes them.
    daemon = startDaemon(net, {
      ns: nodeNs(),
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: ['--proxy-mode=userspace', `--manifests=${dir}`, '--metrics-bind-address='],
    });
    await daemon.waitForLog((l) => l.msg === 'synced');
    expect(portalChains()).toHaveLength(5);
    expect(await daemon.stop()).toBe(0);
    const cleanup = startDaemon(net, {
      ns: nodeNs(),
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: ['--proxy-mode=userspace', `--manifests=${dir}`, '--cleanup'],
    });
    expect(await cleanup.proc.exited).toBe(0);
    expect(net.exec(nodeNs(), 'iptables-save', [])).not.toMatch(/KUBE-/);
  }, 120_000);
});
