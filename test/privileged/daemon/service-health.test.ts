// The health-check node port of a LoadBalancer service with
// externalTrafficPolicy Local, probed as a cloud load balancer probes it:
// from an external client to the node's address. 200 while the node has a
// ready local endpoint, 503 once it has none, in every mode (it is the
// daemon's, not a dataplane's); a daemon stopped closes it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, type Cluster } from '../../harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { requirePrivileges } from '../../harness/privileged.js';

const HC_PORT = 32100;

const service = `apiVersion: v1
kind: Service
metadata: { name: lb, namespace: demo }
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.50
  clusterIPs: [10.96.0.50]
  externalTrafficPolicy: Local
  healthCheckNodePort: ${HC_PORT}
  ports: [{ name: http, port: 80, targetPort: 8080, nodePort: 30100, protocol: TCP }]
status: { loadBalancer: { ingress: [{ ip: 198.51.100.50 }] } }
`;

const slice = (ip: string, nodeName: string, ready = true) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: lb-1, namespace: demo, labels: { kubernetes.io/service-name: lb } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
  - { addresses: [${ip}], nodeName: ${nodeName}, conditions: { ready: ${ready} } }
`;

describe.runIf(requirePrivileges()).each(['ebpf', 'iptables'])('health-check node port (%s mode)', (mode) => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-hc-'));
  let cluster: Cluster;
  let daemon: DaemonProcess;

  /** One probe from the external client, as curl prints it: status line, headers, body. */
  const probe = (path = '/') => {
    const out = net.exec(
      cluster.client!.ns,
      'curl',
      ['-s', '-i', '--max-time', '2', `http://${cluster.nodes[0]!.wireIp}:${HC_PORT}${path}`],
      { allowFail: true },
    );
    const [head = '', body = ''] = out.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1] ?? 0), head, body };
  };
  const eventually = async (want: number) => {
    const t0 = Date.now();
    let r = probe();
    while (r.status !== want && Date.now() - t0 < 10_000) {
      await new Promise((res) => setTimeout(res, 100));
      r = probe();
    }
    return r;
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 1, client: true });
    writeFileSync(join(dir, 'service.yaml'), service);
    writeFileSync(join(dir, 'slice.yaml'), slice(cluster.nodes[0]!.pods[0]!.ip, 'n1'));
    daemon = startDaemon(net, {
      ns: cluster.nodes[0]!.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: [`--manifests=${dir}`, `--proxy-mode=${mode}`],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  });
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 200 with kube-proxy's headers and body while the node has a ready local endpoint", async () => {
    const r = await eventually(200);
    expect(r.status).toBe(200);
    expect(r.head).toMatch(/\r\nContent-Type: application\/json\r\n/i);
    expect(r.head).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(r.head).toMatch(/\r\nX-Load-Balancing-Endpoint-Weight: 1\r\n/i);
    expect(r.body).toBe(
      '{\n\t"service": {\n\t\t"namespace": "demo",\n\t\t"name": "lb"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}',
    );
    expect(probe('/any/path?x=1').status).toBe(200);
  });

  it('goes 503 when the local endpoint is not ready, and back to 200 when it is', async () => {
    writeFileSync(join(dir, 'slice.yaml'), slice(cluster.nodes[0]!.pods[0]!.ip, 'n1', false));
    const down = await eventually(503);
    expect(down.status).toBe(503);
    expect(down.body).toContain('"localEndpoints": 0');
    writeFileSync(join(dir, 'slice.yaml'), slice(cluster.nodes[0]!.pods[0]!.ip, 'n1'));
    expect((await eventually(200)).status).toBe(200);
  });

  it('goes 503 when the endpoints are on another node only', async () => {
    writeFileSync(join(dir, 'slice.yaml'), slice(cluster.nodes[1]!.pods[0]!.ip, 'n2'));
    const r = await eventually(503);
    expect(r.status).toBe(503);
    expect(r.head).toMatch(/\r\nX-Load-Balancing-Endpoint-Weight: 0\r\n/i);
  });

  it('is closed when the daemon stops', async () => {
    await daemon.stop();
    expect(probe().status).toBe(0);
  });
});
