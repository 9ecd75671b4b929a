// The demo: a two-node cluster of network namespaces, `switchyard
// --manifests examples/demo` running inside each node's namespace (standalone
// mode: no API server), and real requests from a pod showing which backend
// answered. Then a live change to the manifests, followed by the daemons.
// Everything is torn down at the end, on failure too.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCluster } from '../test/harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../test/harness/daemon.js';
import { TestNet, sweepLeftovers } from '../test/harness/netns.js';
import { repoRoot } from '../test/harness/paths.js';
import { startServers, tcpProbe, udpProbe, type ProbeResult } from '../test/harness/traffic.js';

const say = (s: string) => console.log(`\x1b[1;34m==>\x1b[0m ${s}`);

function show(label: string, rs: ProbeResult[]): void {
  const counts = new Map<string, number>();
  for (const r of rs) {
    const k = r.ok ? r.name! : `error ${r.error}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const sorted = [...counts].sort(([a], [b]) => a.localeCompare(b));
  console.log(`    ${label.padEnd(34)}: ${sorted.map(([k, v]) => `${k}×${v}`).join('  ')}`);
}

sweepLeftovers();
const net = new TestNet();
const manifests = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
const daemons: DaemonProcess[] = [];
try {
  say('building a cluster of network namespaces: 2 nodes, 2 pods each');
  const cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
  const pods = cluster.pods();
  await Promise.all(pods.map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
  for (const p of pods) console.log(`    pod ${p.name} ${p.ip} on ${p.node}`);

  cpSync(join(repoRoot, 'examples', 'demo'), manifests, { recursive: true });
  say(`starting switchyard in each node's namespace: switchyard --manifests ${manifests} (a copy of examples/demo)`);
  for (const node of cluster.nodes) {
    const d = startDaemon(net, {
      ns: node.ns,
      nodeName: node.name,
      pinDir: net.pinDir(node.name),
      args: [`--manifests=${manifests}`],
    });
    daemons.push(d);
  }
  for (const [i, d] of daemons.entries()) {
    const synced = await d.waitForLog((r) => r.msg === 'synced');
    const attached = d
      .logs()
      .filter((r) => r.msg === 'attached tc ingress')
      .map((r) => r.interface);
    console.log(
      `    n${i + 1}: ${synced.servicePorts} service ports programmed in ${synced.ms} ms; tc on ${attached.join(', ')}`,
    );
  }

  const client = pods[0]!;
  say(`requests from pod ${client.name} (${client.ip}, on n1)`);
  show('web      20 TCP, 4 pods in 2 slices', await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 20 }));
  show('dns      10 UDP, 1 pod not ready', await udpProbe(net, client.ns, '10.96.0.12:53', { count: 10 }));
  show('sticky   10 TCP, ClientIP affinity', await tcpProbe(net, client.ns, '10.96.0.14:80', { count: 10 }));
  show('local    10 TCP, internalTrafficPolicy', await tcpProbe(net, client.ns, '10.96.0.15:80', { count: 10 }));
  show('draining 10 TCP, all terminating', await tcpProbe(net, client.ns, '10.96.0.16:80', { count: 10 }));
  show('empty     1 TCP, no endpoints', await tcpProbe(net, client.ns, '10.96.0.11:80', { count: 1 }));

  say('editing the manifests: web loses its slice on n2');
  const file = join(manifests, 'endpointslices.yaml');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(
    '  - apiVersion: discovery.k8s.io/v1\n    kind: EndpointSlice\n    metadata: { name: web-n2',
  );
  const end = text.indexOf('  - apiVersion', start + 10);
  const before = daemons.map((d) => d.syncs().length);
  writeFileSync(file, text.slice(0, start) + text.slice(end));
  for (const [i, d] of daemons.entries()) {
    const s = await d.waitForLog((r) => r.msg === 'synced', { count: before[i]! + 1 });
    console.log(`    n${i + 1}: synced ${s.changed} changed service port(s) in ${s.ms} ms`);
  }
  show('web      20 TCP', await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 20 }));
} finally {
  say('stopping the daemons (SIGTERM leaves the dataplane serving) and tearing down');
  await Promise.all(daemons.map((d) => d.stop()));
  await net.teardown();
  rmSync(manifests, { recursive: true, force: true });
}
