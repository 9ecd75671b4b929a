// The Kubernetes source against the test API server over real HTTP: initial
// paged lists, watch events, recovery from dropped, expired and silent
// watches, selectors, and invalid objects skipped without disturbing the rest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesSource } from '../../../control/sources/kubernetes.js';
import { Store } from '../../../control/sources/store.js';
import { ApiServer, kubeconfigFor } from '../../harness/apiserver.js';

const service = (name: string, ip: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default', ...extra },
  spec: { clusterIP: ip, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
});

const slice = (name: string, svc: string, ips: string[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('KubernetesSource against a real HTTP API server', () => {
  let server: ApiServer;
  let dir: string;
  let store: Store;
  let source: KubernetesSource | undefined;
  let logs: Array<Record<string, unknown>>;

  const start = (opts: { silenceTimeoutMs?: number; pageSize?: number; serviceProxyName?: string } = {}) => {
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          for (const l of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(l));
          done();
        },
      }),
    );
    const kubeconfig = join(dir, 'kubeconfig');
    kubeconfigFor(server.url, { file: kubeconfig });
    source = new KubernetesSource({
      kubeconfig,
      nodeName: 'n1',
      serviceProxyName: opts.serviceProxyName ?? '',
      store,
      logger,
      ...(opts.silenceTimeoutMs ? { silenceTimeoutMs: opts.silenceTimeoutMs } : {}),
      ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
    });
    source.start();
  };

  beforeEach(async () => {
    server = await ApiServer.start({ bookmarkIntervalMs: 200 });
    dir = mkdtempSync(join(tmpdir(), 'sy-k8s-'));
    store = new Store('n1');
    logs = [];
  });
  afterEach(async () => {
    source?.stop();
    source = undefined;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists in pages, marks every kind synced, then follows creates, updates and deletes', async () => {
    for (let i = 0; i < 25; i++) server.create(service(`s${i}`, `10.96.0.${i + 1}`));
    server.create(slice('s0-a', 's0', ['10.244.1.11']));
    server.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'a' } },
    });
    server.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } });
    start({ pageSize: 10 });
    await until(() => store.synced(['Service', 'EndpointSlice', 'Node']));
    expect(store.serviceKeys()).toHaveLength(25);
    expect(store.node()?.zone).toBe('a');
    expect(server.counts('Service').list).toBe(3); // 25 objects in pages of 10

    server.update(slice('s0-a', 's0', ['10.244.1.11', '10.244.1.12']));
    await until(() => store.slicesForService('default/s0')[0]?.endpoints.length === 2);
    server.delete('Service', 'default', 's3');
    await until(() => store.service('default/s3') === undefined);
    server.create(service('late', '10.96.1.1'));
    await until(() => store.service('default/late') !== undefined);
  });

  it('resumes a dropped watch from its resourceVersion without relisting', async () => {
    start();
    await until(() => store.synced(['Service', 'EndpointSlice', 'Node']));
    await server.waitForWatches('Service', 1);
    server.dropWatches();
    server.create(service('after-drop', '10.96.0.9'));
    await until(() => store.service('default/after-drop') !== undefined, 10_000);
    expect(server.counts('Service').list).toBe(1);
    expect(server.counts('Service').watch).toBeGreaterThanOrEqual(2);
  });

  it('relists after 410 Gone when its resourceVersion has been compacted away', async () => {
    server.create(service('a', '10.96.0.1'));
    start();
    await until(() => store.synced(['Service', 'EndpointSlice', 'Node']));
    await server.waitForWatches('Service', 1);
    server.silence(); // the client misses what follows…
    server.delete('Service', 'default', 'a');
    server.create(service('b', '10.96.0.2'));
    server.compact(); // …and the history it would resume from is gone
    server.dropWatches();
    await until(() => store.service('default/b') !== undefined && store.service('default/a') === undefined, 10_000);
    expect(server.counts('Service').list).toBeGreaterThanOrEqual(2);
    expect(logs.some((l) => String(l.msg).includes('410'))).toBe(true);
  });

  it('notices a watch that went silent and restarts it', async () => {
    start({ silenceTimeoutMs: 1000 });
    await until(() => store.synced(['Service', 'EndpointSlice', 'Node']));
    await server.waitForWatches('Service', 1);
    server.silence();
    server.create(service('during-silence', '10.96.0.7'));
    await until(() => store.service('default/during-silence') !== undefined, 10_000);
    expect(logs.some((l) => l.msg === 'watch silent for too long; restarting it')).toBe(true);
  });

  it('retries a failing list with backoff, then syncs', async () => {
    server.failNext(/services/, 500, 2);
    server.create(service('a', '10.96.0.1'));
    start();
    await until(() => store.synced(['Service']), 10_000);
    expect(store.service('default/a')).toBeDefined();
    expect(logs.filter((l) => l.msg === 'list/watch failed; retrying' && l.resource === 'Service')).toHaveLength(2);
  });

  it('skips invalid objects with a log line and keeps the valid ones', async () => {
    server.create(service('good', '10.96.0.1'));
    server.create({ ...service('bad-ip', 'not-an-ip'), spec: { clusterIP: 'not-an-ip', ports: [{ port: 70000 }] } });
    server.create(slice('mixed', 'good', ['10.244.1.11', '999.1.1.1']));
    start();
    await until(() => store.synced(['Service', 'EndpointSlice']));
    expect(store.service('default/good')).toBeDefined();
    expect(store.service('default/bad-ip')).toBeUndefined();
    expect(store.slicesForService('default/good')[0]?.endpoints.map((e) => e.addresses[0])).toEqual(['10.244.1.11']);
    expect(logs.some((l) => l.msg === 'skipping invalid object' && l.object === 'default/bad-ip')).toBe(true);
    // A later bad update of a good object does not remove the good version.
    server.update({ ...service('good', '10.96.0.1'), spec: { clusterIP: '10.96.0.1', ports: [{ port: -1 }] } });
    await until(() => logs.filter((l) => l.msg === 'skipping invalid object').length >= 2);
    expect(store.service('default/good')?.ports[0]?.port).toBe(80);
  });

  it("asks the API server for kube-proxy's selectors: labelled services and headless slices stay out", async () => {
    server.create(service('mine', '10.96.0.1'));
    server.create(
      service('other', '10.96.0.2', { labels: { 'service.kubernetes.io/service-proxy-name': 'other-proxy' } }),
    );
    server.create({
      ...slice('headless-x', 'h', ['10.244.1.11']),
      metadata: {
        name: 'headless-x',
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': 'h', 'service.kubernetes.io/headless': '' },
      },
    });
    start();
    await until(() => store.synced(['Service', 'EndpointSlice']));
    expect(store.serviceKeys()).toEqual(['default/mine']);
    expect(store.slicesForService('default/h')).toEqual([]);
  });
});
