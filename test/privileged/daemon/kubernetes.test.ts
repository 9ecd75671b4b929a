// The real daemon against the test API server, in a namespace cluster: each
// node runs `switchyard --kubeconfig …` inside its namespace, reaching the API
// server through a Unix socket forwarded into the namespace. Services and
// endpoints change through the API; traffic from a pod must follow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../harness/apiserver.js';
import { buildCluster, type Cluster, type Pod } from '../../harness/cluster.js';
import { startDaemon, writeKubeconfig, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { agentPath, holdConnection, startServers, tcpProbe, type ProbeResult } from '../../harness/traffic.js';

const names = (rs: ProbeResult[]) => new Set(rs.filter((r) => r.ok).map((r) => r.name ?? '?'));

const service = (name: string, ip: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { clusterIP: ip, ports: [{ name: 'http', port: 80, targetPort: 'web' }], ...extra },
});

const slice = (name: string, svc: string, pods: Pod[], extra: { endpoints?: unknown[] } = {}) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: [
    ...pods.map((p) => ({ addresses: [p.ip], nodeName: p.node, conditions: { ready: true } })),
    ...(extra.endpoints ?? []),
  ],
});

/** Probes until every attempt succeeds and reaches exactly `expected` pods, or the deadline passes. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`not converged after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.runIf(requirePrivileges())('switchyard against the Kubernetes API (ebpf, namespace cluster)', () => {
  const net = new TestNet();
  const api = new ApiServer({ bookmarkIntervalMs: 500 });
  const dir = mkdtempSync(join(tmpdir(), 'sy-daemon-'));
  let cluster: Cluster;
  let pods: Pod[];
  let client: Pod;
  const daemons = new Map<string, DaemonProcess>();
  let kubeconfig: string;

  const start = (node: string) => {
    const n = cluster.nodes.find((x) => x.name === node)!;
    const d = startDaemon(net, {
      ns: n.ns,
      nodeName: node,
      pinDir: `/sys/fs/bpf/${net.prefix}${node}`,
      args: [`--kubeconfig=${kubeconfig}`],
    });
    daemons.set(node, d);
    return d;
  };
  // 40 connections: the chance that a uniform choice misses one of 4 backends is 4·(3/4)^40 ≈ 4e-5 (16 gave 4%).
  // A quick look first: before a change is programmed, a packet to a new
  // ClusterIP leaves by the default route and is dropped, so every probe
  // would wait out its timeout and one round of 40 would outlast the deadline.
  const reaches = async (target: string, expected: Pod[], count = 40) => {
    const want = new Set(expected.map((p) => p.name));
    const quick = await tcpProbe(net, client.ns, target, { count: 4, concurrency: 4, timeoutMs: 500 });
    if (!quick.every((r) => r.ok && want.has(r.name ?? ''))) return false;
    const rs = await tcpProbe(net, client.ns, target, { count, concurrency: 4, timeoutMs: 1000 });
    return rs.every((r) => r.ok) && [...names(rs)].every((n) => want.has(n)) && names(rs).size === want.size;
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
    pods = cluster.pods();
    client = pods[0]!;
    await Promise.all(pods.map((p) => startServers(net, p, { tcp: [8080] })));
    const sock = join(dir, 'api.sock');
    await api.listen({ path: sock });
    for (const n of cluster.nodes) {
      net.pinDir(n.name);
      const fwd = net.spawn(n.ns, nodeBinary, [agentPath, 'forward', '--listen', '127.0.0.1:6443', '--unix', sock]);
      await fwd.waitFor(/^ready$/m);
    }
    kubeconfig = writeKubeconfig(dir, 'http://127.0.0.1:6443');
    api.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'a' } },
    });
    api.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n2', labels: { 'topology.kubernetes.io/zone': 'b' } },
    });
    api.create(service('web', '10.96.0.10'));
    api.create(slice('web-1', 'web', pods.slice(0, 2)));
    for (const n of cluster.nodes) start(n.name);
    await Promise.all([...daemons.values()].map((d) => d.waitForLog((r) => r.msg === 'synced')));
  });
  afterAll(async () => {
    await Promise.all([...daemons.values()].map((d) => d.stop()));
    await net.teardown();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('programs what the API holds at start-up, attaching to every interface of the node', async () => {
    // (Retried: on a loaded machine one probe of the quick look can miss its 500 ms.)
    expect(await eventually(() => reaches('10.96.0.10:80', pods.slice(0, 2)), 5000)).toBeLessThan(5000);
    const attached = daemons
      .get('n1')!
      .logs()
      .filter((r) => r.msg === 'attached tc ingress')
      .map((r) => r.interface);
    expect(new Set(attached)).toEqual(new Set(['wire', 'p1', 'p2']));
  });

  it('follows scale-up, scale-down and deletion of endpoints within a second', async () => {
    api.update(slice('web-1', 'web', pods));
    expect(await eventually(() => reaches('10.96.0.10:80', pods), 1000)).toBeLessThan(1000);
    api.update(slice('web-1', 'web', [pods[3]!]));
    expect(await eventually(() => reaches('10.96.0.10:80', [pods[3]!]), 1000)).toBeLessThan(1000);
    api.update(slice('web-1', 'web', []));
    await eventually(async () => {
      const [r] = await tcpProbe(net, client.ns, '10.96.0.10:80', { timeoutMs: 1000 });
      return r?.error === 'ECONNREFUSED';
    }, 1000);
  });

  it('creates and deletes services through the API', async () => {
    api.create(service('api', '10.96.0.20'));
    api.create(slice('api-1', 'api', [pods[2]!]));
    await eventually(() => reaches('10.96.0.20:80', [pods[2]!]), 1000);
    api.delete('Service', 'default', 'api');
    await eventually(async () => {
      const [r] = await tcpProbe(net, client.ns, '10.96.0.20:80', { timeoutMs: 300 });
      return r?.ok === false && r.error !== 'ECONNREFUSED'; // no service: nothing answers for the VIP
    }, 3000);
  });

  it('applies internalTrafficPolicy Local per node: each node uses only its own endpoints', async () => {
    api.create(service('loc', '10.96.0.30', { internalTrafficPolicy: 'Local' }));
    api.create(slice('loc-1', 'loc', [pods[1]!, pods[2]!]));
    await eventually(() => reaches('10.96.0.30:80', [pods[1]!]), 2000); // client is on n1
  });

  it('recovers when the API server drops its watches, and after 410 Gone relists', async () => {
    const before = api.counts('Service').list;
    api.dropWatches();
    api.create(service('after-drop', '10.96.0.40'));
    api.create(slice('after-drop-1', 'after-drop', [pods[0]!]));
    await eventually(() => reaches('10.96.0.40:80', [pods[0]!]), 5000);

    api.silence();
    api.delete('Service', 'default', 'after-drop');
    api.create(service('after-gone', '10.96.0.41'));
    api.create(slice('after-gone-1', 'after-gone', [pods[3]!]));
    api.compact();
    api.dropWatches();
    await eventually(() => reaches('10.96.0.41:80', [pods[3]!]), 8000);
    expect(api.counts('Service').list).toBeGreaterThan(before);
  });

  it('skips malformed objects with a log line and keeps serving the rest', async () => {
    api.create({
      ...service('bad', '10.96.0.50'),
      spec: { clusterIP: '10.96.0.50', ports: [{ name: 'x', port: 99999 }] },
    });
    api.create(
      slice('web-2', 'web', [pods[1]!], {
        endpoints: [{ addresses: ['300.1.2.3'] }, { addresses: ['10.244.1.12', 'garbage'] }],
      }),
    );
    await daemons.get('n1')!.waitForLog((r) => r.msg === 'skipping invalid object' && r.object === 'default/bad');
    // web-1 is empty by now: web is web-2's one valid endpoint (n1p2; the bad addresses are dropped).
    await eventually(() => reaches('10.96.0.10:80', [pods[1]!]), 3000);
    expect(
      daemons
        .get('n1')!
        .logs()
        .some((r) => r.msg === 'ignoring part of an object'),
    ).toBe(true);
    expect(daemons.get('n1')!.proc.child.exitCode).toBeNull();
  });

  it('restarts under steady traffic without losing an established connection', async () => {
    api.update(slice('web-1', 'web', pods));
    api.delete('EndpointSlice', 'default', 'web-2');
    await eventually(() => reaches('10.96.0.10:80', pods), 2000);
    const held = await holdConnection(net, client.ns, '10.96.0.10:80');
    try {
      expect(await held.send('before')).toMatch(/before/);
      const old = daemons.get('n1')!;
      expect(await old.stop('SIGTERM')).toBe(0);
      expect(old.logs().some((r) => r.msg === 'stopped; the dataplane keeps serving what was programmed')).toBe(true);
      // No proxy runs on n1 now: the connection and new ones still work.
      expect(await held.send('while-down')).toMatch(/while-down/);
      expect(await reaches('10.96.0.10:80', pods)).toBe(true);

      const fresh = start('n1');
      const first = await fresh.waitForLog((r) => r.msg === 'synced');
      expect(
        fresh.logs().some((r) => r.msg === 'adopted the service ports an earlier run left in the pinned maps'),
      ).toBe(true);
      expect(first.written).toBe(0); // everything was already as desired: nothing rewritten
      expect(await held.send('after')).toMatch(/after/);
      expect(await reaches('10.96.0.10:80', pods)).toBe(true);
    } finally {
      await held.close();
    }
  });
});
