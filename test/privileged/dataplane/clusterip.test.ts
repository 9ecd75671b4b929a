// End to end, with real kernel traffic: two nodes with pods, each node running
// its own eBPF dataplane (its own pinned maps, programs attached inside its
// namespace only), programmed through the dataplane API as a proxier would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EbpfDataplane, type ServicePortSpec } from '../../../control/proxiers/ebpf/dataplane.js';
import { buildCluster, type Cluster, type Pod } from '../../harness/cluster.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { agentPath, holdConnection, startServers, tcpProbe, udpProbe, type ProbeResult } from '../../harness/traffic.js';

const WEB = '10.96.0.10';
const EMPTY = '10.96.0.11';
const DNS = '10.96.0.12';
const SELF = '10.96.0.13';
const STICKY = '10.96.0.14';

const names = (rs: ProbeResult[]) => new Set(rs.filter((r) => r.ok).map((r) => r.name));

describe.runIf(requirePrivileges())('ClusterIP end to end (ebpf)', () => {
  const net = new TestNet();
  let cluster: Cluster;
  let pods: Pod[];
  const dataplanes: EbpfDataplane[] = [];
  let services: ServicePortSpec[];

  /** What a proxier does on every node: program the same service ports. */
  const program = (spec: ServicePortSpec) => dataplanes.forEach((dp) => dp.upsertService(spec));

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2 });
    pods = cluster.pods();
    await Promise.all(pods.map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
    for (const node of cluster.nodes) {
      const dp = await EbpfDataplane.open({ objectDir: `${repoRoot}/build/bpf`, pinRoot: net.pinDir(node.name) });
      dataplanes.push(dp);
      const netns = net.netnsPath(node.ns);
      for (const ifname of [...node.pods.map((p) => p.hostIf), node.wireIf]) {
        dp.attachInterface({ ifindex: net.ifindex(node.ns, ifname), netns });
      }
    }
    const all = (port: number) => pods.map((p) => ({ address: p.ip, port }));
    services = [
      { address: WEB, port: 80, protocol: 'TCP', backends: all(8080) },
      { address: DNS, port: 53, protocol: 'UDP', backends: all(5353) },
      { address: EMPTY, port: 80, protocol: 'TCP', backends: [] },
      { address: SELF, port: 80, protocol: 'TCP', backends: [{ address: pods[0]!.ip, port: 8080 }] },
      { address: STICKY, port: 80, protocol: 'TCP', backends: all(8080), affinityTimeoutSeconds: 300 },
    ];
    services.forEach(program);
  });
  afterAll(async () => {
    for (const dp of dataplanes) dp.close();
    await net.teardown();
  });

  it('carries TCP from a pod to every backend, local and on the other node', async () => {
    const rs = await tcpProbe(net, pods[0]!.ns, `${WEB}:80`, { count: 40, concurrency: 4 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    expect(names(rs)).toEqual(new Set(pods.map((p) => p.name)));
    // Backends see the client's own address (no masquerade for pod traffic),
    // except the client itself, reached by hairpin from the hairpin address.
    for (const r of rs) expect(r.peer).toMatch(r.name === pods[0]!.name ? /^169\.254\.42\.1:/ : new RegExp(`^${pods[0]!.ip.replaceAll('.', '\\.')}:`));
  });

  it('carries UDP, with replies from the service address', async () => {
    const rs = await udpProbe(net, pods[2]!.ns, `${DNS}:53`, { count: 30 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    expect(names(rs).size).toBeGreaterThan(1);
  });

  it('refuses a service without endpoints at once', async () => {
    const [r] = await tcpProbe(net, pods[1]!.ns, `${EMPTY}:80`, { count: 1, timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(r!.ms).toBeLessThan(1000);
  });

  it('hairpins a pod reaching itself through its service', async () => {
    const rs = await tcpProbe(net, pods[0]!.ns, `${SELF}:80`, { count: 5 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    expect(names(rs)).toEqual(new Set([pods[0]!.name]));
  });

  it('pins a client to one backend with ClientIP affinity', async () => {
    const rs = await tcpProbe(net, pods[3]!.ns, `${STICKY}:80`, { count: 20 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    expect(names(rs).size).toBe(1);
  });

  it('sends no new connections to a removed backend while its open ones finish', async () => {
    const held = await holdConnection(net, pods[1]!.ns, `${WEB}:80`);
    try {
      const victim = pods.find((p) => p.name === held.name)!;
      program({ ...services[0]!, backends: services[0]!.backends.filter((b) => b.address !== victim.ip) });

      const rs = await tcpProbe(net, pods[1]!.ns, `${WEB}:80`, { count: 30, concurrency: 3 });
      expect(rs.filter((r) => !r.ok)).toEqual([]);
      expect(names(rs).has(victim.name)).toBe(false);
      expect(names(rs).size).toBe(3);
      // The established connection still reaches the removed backend.
      expect(await held.send('still-there')).toBe(`${victim.name} still-there`);
    } finally {
      await held.close();
      program(services[0]!);
    }
  });

  it('translates node-originated traffic at the socket, in a cgroup the test made', async () => {
    const node = cluster.nodes[0]!;
    const cg = net.cgroup('node1-procs');
    const hooks = dataplanes[0]!.attachCgroup(cg);
    try {
      const run = async (mode: 'tcp' | 'udp', target: string, count: number) => {
        const p = net.spawnInCgroup(cg, node.ns, nodeBinary, [agentPath, mode, '--target', target, '--count', String(count), '--timeout', '2000']);
        await p.exited;
        return p.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ProbeResult);
      };
      const tcp = await run('tcp', `${WEB}:80`, 20);
      expect(tcp.filter((r) => !r.ok)).toEqual([]);
      expect(names(tcp).size).toBeGreaterThan(1);
      const udp = await run('udp', `${DNS}:53`, 10);
      expect(udp.filter((r) => !r.ok)).toEqual([]);
      const [refused] = await run('tcp', `${EMPTY}:80`, 1);
      expect(refused).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    } finally {
      hooks.forEach((h) => h.detach());
    }
  });

  it('keeps its maps pinned: a second dataplane on the same pins sees the same services', async () => {
    const again = await EbpfDataplane.open({ objectDir: `${repoRoot}/build/bpf`, pinRoot: net.pinDir(cluster.nodes[0]!.name) });
    try {
      const programmed = again.programmed().map((s) => `${s.address}:${s.port}/${s.protocol}=${s.backends.length}`).sort();
      expect(programmed).toEqual(services.map((s) => `${s.address}:${s.port}/${s.protocol}=${s.backends.length}`).sort());
      expect(await again.servicesInMaps()).toHaveLength(services.length);
    } finally {
      again.close();
    }
  });
});
