// The namespace cluster the dataplane tests stand on: real TCP and UDP between
// pods on different nodes and from the client, long-lived connections, and a
// teardown that leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, ROUTER, type Cluster } from '../../harness/cluster.js';
import { TestNet } from '../../harness/netns.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { holdConnection, startServers, tcpProbe, udpProbe } from '../../harness/traffic.js';

const TCP = 8080;
const UDP = 5353;

const ourNamespaces = (prefix: string) =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix));

describe.runIf(requirePrivileges())('namespace cluster', () => {
  const net = new TestNet();
  let cluster: Cluster;
  let torndown = false;

  beforeAll(async () => {
    cluster = buildCluster(net);
    await Promise.all(cluster.pods().map((pod) => startServers(net, pod, { tcp: [TCP], udp: [UDP] })));
  });
  afterAll(async () => {
    if (!torndown) await net.teardown();
  });

  const pod = (name: string) => cluster.pods().find((p) => p.name === name)!;

  it('lays out nodes, pods and the client as described', () => {
    expect(cluster.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(cluster.pods().map((p) => `${p.name}=${p.ip}@${p.node}/${p.hostIf}`)).toEqual([
      'n1p1=10.244.1.11@n1/p1',
      'n1p2=10.244.1.12@n1/p2',
      'n2p1=10.244.2.11@n2/p1',
      'n2p2=10.244.2.12@n2/p2',
    ]);
    expect(cluster.client?.ip).toBe('172.31.0.100');
    for (const ns of [cluster.switchNs, ...cluster.nodes.map((n) => n.ns), ...cluster.pods().map((p) => p.ns)]) {
      expect(ns.startsWith(net.prefix)).toBe(true);
    }
  });

  it('answers every pod for its gateway 169.254.1.1', () => {
    for (const p of cluster.pods()) {
      net.exec(p.ns, 'ping', ['-c', '1', '-W', '1', '-q', '169.254.1.1']);
      expect(net.ip(p.ns, 'neigh', 'show', '169.254.1.1')).toMatch(/lladdr .* REACHABLE/);
    }
  });

  it('gives every node a default route to a router that forwards nothing', async () => {
    for (const n of cluster.nodes)
      expect(net.ip(n.ns, 'route', 'show', 'default').trim()).toBe(`default via ${ROUTER} dev wire`);
    // A service address nothing translates leaves the node and dies at the router, unanswered.
    const [r] = await tcpProbe(net, pod('n1p1').ns, '10.96.0.1:443', { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
  });

  it('carries TCP from a pod on n1 to a pod on n2, unNATed', async () => {
    const results = await tcpProbe(net, pod('n1p1').ns, `${pod('n2p2').ip}:${TCP}`, { count: 5, timeoutMs: 2000 });
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r).toMatchObject({ ok: true, name: 'n2p2' });
      expect(r.peer).toMatch(/^10\.244\.1\.11:\d+$/);
    }
    // Fresh connections: a new source port each time.
    expect(new Set(results.map((r) => r.peer)).size).toBe(5);
  });

  it('carries UDP between pods on different nodes, a new source port per datagram', async () => {
    const results = await udpProbe(net, pod('n2p1').ns, `${pod('n1p2').ip}:${UDP}`, { count: 5, timeoutMs: 2000 });
    expect(results.map((r) => r.name)).toEqual(Array(5).fill('n1p2'));
    expect(results.every((r) => r.peer?.startsWith('10.244.2.11:'))).toBe(true);
    expect(new Set(results.map((r) => r.peer)).size).toBe(5);
  });

  it('carries traffic between pods on the same node', async () => {
    const [r] = await tcpProbe(net, pod('n1p1').ns, `${pod('n1p2').ip}:${TCP}`);
    expect(r).toMatchObject({ ok: true, name: 'n1p2', peer: expect.stringMatching(/^10\.244\.1\.11:/) });
  });

  it('lets the client reach pods on every node through n1', async () => {
    for (const target of cluster.pods()) {
      const [tcp] = await tcpProbe(net, cluster.client!.ns, `${target.ip}:${TCP}`);
      expect(tcp).toMatchObject({ ok: true, name: target.name, peer: expect.stringMatching(/^172\.31\.0\.100:/) });
      const [udp] = await udpProbe(net, cluster.client!.ns, `${target.ip}:${UDP}`);
      expect(udp).toMatchObject({ ok: true, name: target.name });
    }
  });

  it('reports refused and timed-out attempts instead of hanging', async () => {
    const [refused] = await tcpProbe(net, pod('n1p1').ns, `${pod('n2p1').ip}:${TCP + 1}`);
    expect(refused).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    const [udpRefused] = await udpProbe(net, pod('n1p1').ns, `${pod('n2p1').ip}:${UDP + 1}`);
    expect(udpRefused).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    // Nothing answers for an unassigned address in a routed pod subnet: n2 cannot resolve it.
    const [nobody] = await tcpProbe(net, pod('n1p1').ns, `10.244.2.99:${TCP}`, { timeoutMs: 300 });
    expect(nobody).toMatchObject({ ok: false });
    expect(nobody!.ms).toBeLessThan(2000);
    await expect(holdConnection(net, pod('n1p1').ns, `${pod('n2p1').ip}:${TCP + 1}`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('keeps a held connection that echoes lines', async () => {
    const held = await holdConnection(net, cluster.client!.ns, `${pod('n2p1').ip}:${TCP}`);
    expect(held.name).toBe('n2p1');
    expect(await held.send('hello')).toBe('n2p1 hello');
    expect(await held.send('again, with spaces')).toBe('n2p1 again, with spaces');
    await held.close();
  });

  it('runs concurrent probes', async () => {
    const results = await tcpProbe(net, pod('n2p2').ns, `${pod('n1p1').ip}:${TCP}`, { count: 40, concurrency: 8 });
    expect(results.filter((r) => r.ok)).toHaveLength(40);
  });

  it('leaves no namespace of the run behind after teardown', async () => {
    expect(ourNamespaces(net.prefix).length).toBe(1 + 2 + 2 * 2 + 1 + 2); // switch, nodes, pods, client, far router and client
    await net.teardown();
    torndown = true;
    expect(ourNamespaces(net.prefix)).toEqual([]);
  });
});
