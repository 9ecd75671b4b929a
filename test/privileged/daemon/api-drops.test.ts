// The drop counters end to end: a running daemon in a node's namespace, real
// traffic from a pod that its tc program drops, and the counts in /metrics
// (switchyard_dataplane_drops_total) and /v1/status (drops, decimal strings).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, type Node, type Pod } from '../../harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { tcpProbe, udpProbe } from '../../harness/traffic.js';

const METRICS = 10249;

/** A UDP service without endpoints (dropped: no_backend) and a Local one whose only endpoint is on n2 (no_backend_policy). */
const MANIFESTS = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1' },
      status: { addresses: [{ type: 'InternalIP', address: '172.31.0.11' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'void', namespace: 'drops' },
      spec: { clusterIP: '10.96.0.20', ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'remote', namespace: 'drops' },
      spec: {
        clusterIP: '10.96.0.21',
        internalTrafficPolicy: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'remote-1', namespace: 'drops', labels: { 'kubernetes.io/service-name': 'remote' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.244.2.11'], nodeName: 'n2' }],
    },
  ],
};

describe.runIf(requirePrivileges())('drop counters through the daemon (/metrics, /v1/status)', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-drops-'));
  let n1: Node;
  let pod: Pod;
  let daemon: DaemonProcess;

  const get = (path: string) => net.exec(n1.ns, 'curl', ['-sS', `http://127.0.0.1:${METRICS}${path}`]);
  const metric = (body: string, reason: string) =>
    Number(new RegExp(`^switchyard_dataplane_drops_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(body)?.[1]);

  beforeAll(async () => {
    const cluster = buildCluster(net, { nodes: 1, podsPerNode: 1, client: false });
    n1 = cluster.nodes[0]!;
    pod = n1.pods[0]!;
    writeFileSync(join(dir, 'drops.json'), JSON.stringify(MANIFESTS));
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('drops-daemon'),
      args: [`--manifests=${dir}`, `--metrics-bind-address=127.0.0.1:${METRICS}`],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  });
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with every reason at zero', () => {
    const body = get('/metrics');
    for (const reason of ['malformed', 'no_backend', 'no_backend_policy', 'nat_failed']) {
      expect(metric(body, reason), reason).toBe(0);
    }
    expect(JSON.parse(get('/v1/status')).drops).toMatchObject({ no_backend: '0', no_backend_policy: '0' });
  });

  it('counts what the dataplane drops, by reason', async () => {
    // UDP to a service without endpoints is refused (ICMP port unreachable), not dropped: no count.
    const udp = await udpProbe(net, pod.ns, '10.96.0.20:53', { count: 3, timeoutMs: 1000 });
    expect(udp.map((r) => r.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    // A SYN is dropped, not refused: the client retries until it gives up (at least one SYN each).
    const tcp = await tcpProbe(net, pod.ns, '10.96.0.21:80', { count: 2, timeoutMs: 300 });
    expect(tcp.every((r) => !r.ok)).toBe(true);

    const body = get('/metrics');
    expect(metric(body, 'no_backend')).toBe(0);
    expect(metric(body, 'no_backend_policy')).toBeGreaterThanOrEqual(2);
    expect(metric(body, 'malformed')).toBe(0);
    const status = JSON.parse(get('/v1/status'));
    expect(status.drops.no_backend).toBe('0');
    expect(Number(status.drops.no_backend_policy)).toBe(metric(body, 'no_backend_policy'));
    expect(status).toMatchObject({ mode: 'ebpf', counts: { maps: 12 } });
  });
});
