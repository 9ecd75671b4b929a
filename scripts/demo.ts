// The demo: a two-node cluster of network namespaces, the eBPF dataplane on
// each node (attached inside the node's namespace only), a few services, and
// real requests from a pod showing which backend answered. Everything is torn
// down at the end, on failure too.
//
// Until the daemon lands (standalone mode from manifests), the services are
// programmed through the dataplane API, as a proxier does.
import { EbpfDataplane, type ServicePortSpec } from '../control/proxiers/ebpf/dataplane.js';
import { buildCluster } from '../test/harness/cluster.js';
import { TestNet, sweepLeftovers } from '../test/harness/netns.js';
import { repoRoot } from '../test/harness/paths.js';
import { startServers, tcpProbe, udpProbe } from '../test/harness/traffic.js';

const say = (s: string) => console.log(`\x1b[1;34m==>\x1b[0m ${s}`);

sweepLeftovers();
const net = new TestNet();
const dataplanes: EbpfDataplane[] = [];
try {
  say('building a cluster of network namespaces: 2 nodes, 2 pods each');
  const cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
  const pods = cluster.pods();
  await Promise.all(pods.map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
  for (const p of pods) console.log(`    pod ${p.name} ${p.ip} on ${p.node}`);

  say('loading the eBPF dataplane on each node (tc on pod veths and the uplink)');
  for (const node of cluster.nodes) {
    const dp = await EbpfDataplane.open({ objectDir: `${repoRoot}/build/bpf`, pinRoot: net.pinDir(node.name) });
    dataplanes.push(dp);
    for (const ifname of [...node.pods.map((p) => p.hostIf), node.wireIf]) {
      dp.attachInterface({ ifindex: net.ifindex(node.ns, ifname), netns: net.netnsPath(node.ns) });
    }
  }

  const services: Array<ServicePortSpec & { name: string }> = [
    { name: 'web', address: '10.96.0.10', port: 80, protocol: 'TCP', backends: pods.map((p) => ({ address: p.ip, port: 8080 })) },
    { name: 'dns', address: '10.96.0.53', port: 53, protocol: 'UDP', backends: pods.slice(2).map((p) => ({ address: p.ip, port: 5353 })) },
    { name: 'sticky', address: '10.96.0.20', port: 80, protocol: 'TCP', backends: pods.map((p) => ({ address: p.ip, port: 8080 })), affinityTimeoutSeconds: 600 },
    { name: 'empty', address: '10.96.0.30', port: 80, protocol: 'TCP', backends: [] },
  ];
  say('programming services');
  for (const { name, ...spec } of services) {
    dataplanes.forEach((dp) => dp.upsertService(spec));
    console.log(`    ${name.padEnd(7)} ${spec.address}:${spec.port}/${spec.protocol} -> ${spec.backends.map((b) => `${b.address}:${b.port}`).join(', ') || '(no endpoints)'}`);
  }

  const client = pods[0]!;
  const show = (label: string, rs: Array<{ ok: boolean; name?: string; error?: string }>) => {
    const counts = new Map<string, number>();
    for (const r of rs) counts.set(r.ok ? r.name! : `error ${r.error}`, (counts.get(r.ok ? r.name! : `error ${r.error}`) ?? 0) + 1);
    console.log(`    ${label}: ${[...counts].map(([k, v]) => `${k}×${v}`).join('  ')}`);
  };
  say(`requests from pod ${client.name}`);
  show('web    20 TCP connections  ', await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 20 }));
  show('dns    10 UDP queries      ', await udpProbe(net, client.ns, '10.96.0.53:53', { count: 10 }));
  show('sticky 10 TCP (ClientIP)   ', await tcpProbe(net, client.ns, '10.96.0.20:80', { count: 10 }));
  show('empty  1 TCP (no endpoints)', await tcpProbe(net, client.ns, '10.96.0.30:80', { count: 1 }));

  const flows = await dataplanes[0]!.conntrack();
  say(`node n1 tracks ${flows.length / 2} flows; a few of them:`);
  for (const f of flows.filter((f) => f.direction === 'original').slice(0, 4)) {
    console.log(`    ${f.protocol} ${f.source} -> ${f.destination} => ${f.translatedTo}`);
  }
} finally {
  say('tearing down');
  for (const dp of dataplanes) dp.close();
  await net.teardown();
}
