// The test API server against the real @kubernetes/client-node: informers,
// paging, watches with their faults, selectors and writes, all over real HTTP
// on 127.0.0.1 (and one Unix socket).

import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Service, V1ServiceList } from '@kubernetes/client-node';
import {
  ApiException,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  makeInformer,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../harness/apiserver.js';
import { ApiError, ApiServer, kubeconfigFor } from '../../harness/apiserver.js';

// --- Fixtures.

function service(name: string, opts: { ns?: string; labels?: Record<string, string>; port?: number } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.ns ?? 'default', ...(opts.labels && { labels: opts.labels }) },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      ports: [{ name: 'http', protocol: 'TCP', port: opts.port ?? 80 }],
    },
  };
}

function slice(name: string, serviceName: string, endpoints: number, ns = 'default') {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: Array.from({ length: endpoints }, (_, i) => ({
      addresses: [`10.244.${(i >> 8) & 255}.${i & 255}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${i % 3}`,
      zone: 'zone-a',
    })),
  };
}

const node = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'topology.kubernetes.io/zone': 'zone-a' } },
  spec: { podCIDRs: ['10.244.1.0/24'] },
});

interface WatchEvent {
  type: string;
  object: KubernetesObject & { code?: number; reason?: string };
}

/** A client-node Watch that records its events and resolves `done` with the error it ended with. */
type WatchParams = Record<string, string | number | boolean | undefined>;

async function watchEvents(kc: KubeConfig, path: string, params: WatchParams, requestTimeoutMs?: number) {
  const events: WatchEvent[] = [];
  const watch = new Watch(kc);
  // The client's inactivity timeout (30 s by default) is private in the typings.
  if (requestTimeoutMs !== undefined) {
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = requestTimeoutMs;
  }
  let resolveDone: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => (resolveDone = resolve));
  const controller = await watch.watch(
    path,
    params,
    (type, object) => events.push({ type, object }),
    (err) => resolveDone(err),
  );
  return { events, done, stop: () => controller.abort() };
}

async function eventually(check: () => void, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The Status a client-node ApiException carries. */
function statusOf(err: unknown): { code?: number; reason?: string } {
  expect(err).toBeInstanceOf(ApiException);
  const body = (err as ApiException<unknown>).body;
  return (typeof body === 'string' ? JSON.parse(body) : body) as { code?: number; reason?: string };
}

const rvOf = (o: { metadata?: { resourceVersion?: string } }) => Number(o.metadata?.resourceVersion);
const names = (items: readonly { metadata?: { name?: string } }[]) => items.map((i) => i.metadata?.name);

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;

beforeEach(async () => {
  server = await ApiServer.start({ bookmarkIntervalMs: 50 });
  kc = new KubeConfig();
  kc.loadFromString(kubeconfigFor(server.url));
  core = kc.makeApiClient(CoreV1Api);
});

afterEach(async () => {
  await server.close();
});

describe('lists and gets', () => {
  it('lists every namespace or one, in key order, at the latest resourceVersion', async () => {
    server.create(service('b', { ns: 'ns1' }));
    server.create(service('a', { ns: 'ns2' }));
    server.create(service('a', { ns: 'ns1' }));
    const all = await core.listServiceForAllNamespaces();
    expect(all.kind).toBe('ServiceList');
    expect(all.apiVersion).toBe('v1');
    expect(all.metadata?.resourceVersion).toBe(server.resourceVersion);
    expect(all.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)).toEqual(['ns1/a', 'ns1/b', 'ns2/a']);
    const first = all.items[0];
    expect(first?.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.metadata?.creationTimestamp).toBeInstanceOf(Date);

    const ns1 = await core.listNamespacedService({ namespace: 'ns1' });
    expect(names(ns1.items)).toEqual(['a', 'b']);
    const one = await core.readNamespacedService({ namespace: 'ns2', name: 'a' });
    expect(one.metadata?.namespace).toBe('ns2');
  });

  it('answers missing objects and unknown paths with a NotFound Status', async () => {
    const err = await core.readNamespacedService({ namespace: 'default', name: 'nope' }).catch((e: unknown) => e);
    expect(statusOf(err)).toMatchObject({ code: 404, reason: 'NotFound' });
    const res = await fetch(`${server.url}/api/v1/pods`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
  });

  it('serves discovery and health', async () => {
    expect(await (await fetch(`${server.url}/version`)).json()).toMatchObject({ major: '1' });
    expect(await (await fetch(`${server.url}/api`)).json()).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const apis = (await (await fetch(`${server.url}/apis`)).json()) as { groups: { name: string }[] };
    expect(apis.groups.map((g) => g.name)).toContain('discovery.k8s.io');
    expect(await (await fetch(`${server.url}/healthz`)).text()).toBe('ok');
  });

  it('lists endpointslices and nodes through their typed clients', async () => {
    server.create(slice('web-abc', 'web', 3));
    server.create(node('n1'));
    const slices = await kc.makeApiClient(DiscoveryV1Api).listEndpointSliceForAllNamespaces();
    expect(slices.kind).toBe('EndpointSliceList');
    expect(slices.items[0]?.endpoints).toHaveLength(3);
    const nodes = await core.listNode();
    expect(names(nodes.items)).toEqual(['n1']);
    expect(nodes.items[0]?.metadata?.namespace).toBeUndefined();
  });
});

describe('paging', () => {
  it('pages with limit/continue from a snapshot consistent with the first page', async () => {
    for (let i = 0; i < 25; i++) server.create(service(`svc-${String(i).padStart(2, '0')}`));
    const first = await core.listServiceForAllNamespaces({ limit: 10 });
    expect(first.items).toHaveLength(10);
    expect(first.metadata?.remainingItemCount).toBe(15);
    const listRv = first.metadata?.resourceVersion;

    // Writes between pages do not show up in later pages.
    server.delete('Service', 'default', 'svc-15');
    server.create(service('svc-99'));

    const seen = [...first.items];
    let cont = first.metadata?._continue;
    let pages = 1;
    while (cont !== undefined && cont !== '') {
      const page: V1ServiceList = await core.listServiceForAllNamespaces({ limit: 10, _continue: cont });
      expect(page.metadata?.resourceVersion).toBe(listRv);
      seen.push(...page.items);
      cont = page.metadata?._continue;
      pages++;
    }
    expect(pages).toBe(3);
    expect(names(seen)).toEqual(Array.from({ length: 25 }, (_, i) => `svc-${String(i).padStart(2, '0')}`));
  });

  it('answers a continue token after compaction with 410 Expired', async () => {
    for (let i = 0; i < 5; i++) server.create(service(`s${i}`));
    const first = await core.listServiceForAllNamespaces({ limit: 2 });
    server.compact();
    const err = await core
      .listServiceForAllNamespaces({ limit: 2, _continue: first.metadata?._continue ?? '' })
      .catch((e: unknown) => e);
    expect(statusOf(err)).toMatchObject({ code: 410, reason: 'Expired' });
  });
});

describe('informers', () => {
  it('an informer sees creates, updates and deletes', async () => {
    server.create(service('before'));
    const informer = makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
    const log: string[] = [];
    informer.on('add', (s: V1Service) => log.push(`add ${s.metadata?.name}`));
    informer.on('update', (s: V1Service) => log.push(`update ${s.metadata?.name} ${s.spec?.ports?.[0]?.port}`));
    informer.on('delete', (s: V1Service) => log.push(`delete ${s.metadata?.name}`));
    await informer.start();
    try {
      await server.waitForWatches('Service');
      server.create(service('a'));
      server.update(service('a', { port: 81 }));
      server.delete('Service', 'default', 'before');
      await eventually(() => expect(log).toEqual(['add before', 'add a', 'update a 81', 'delete before']));
      expect(names(informer.list())).toEqual(['a']);
      expect(server.counts('Service')).toMatchObject({ list: 1, watch: 1 });
    } finally {
      await informer.stop();
    }
  });

  it('a ListWatch relists when its watch resumes from a compacted resourceVersion', async () => {
    server.create(service('a'));
    const informer = new ListWatch('/api/v1/services', new Watch(kc), () => core.listServiceForAllNamespaces(), false);
    await informer.start();
    try {
      await server.waitForWatches('Service');
      server.create(service('b'));
      await eventually(() => expect(informer.list()).toHaveLength(2));
      // The watch ends cleanly; while the client is away, history is compacted.
      server.silence();
      server.create(service('c'));
      server.compact();
      server.dropWatches({ graceful: true });
      // Rewatch from its last RV gets ERROR 410; the ListWatch relists and rewatches.
      await eventually(() => expect(names(informer.list()).sort()).toEqual(['a', 'b', 'c']));
      await server.waitForWatches('Service');
      expect(server.counts('Service')).toMatchObject({ list: 2, watch: 3 });
    } finally {
      await informer.stop();
    }
  });
});

describe('watches', () => {
  it('without a resourceVersion sends the current state as ADDED, then follows', async () => {
    server.create(service('a'));
    const w = await watchEvents(kc, '/api/v1/services', {});
    try {
      await eventually(() => expect(w.events.map((e) => e.type)).toEqual(['ADDED']));
      server.update(service('a', { port: 81 }));
      const deleted = server.delete('Service', 'default', 'a');
      await eventually(() => expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']));
      // A DELETED event carries the object's last state at the deletion's revision.
      expect(w.events[2]?.object.metadata?.resourceVersion).toBe(deleted.metadata?.resourceVersion);
      expect(deleted.metadata?.resourceVersion).toBe(server.resourceVersion);
    } finally {
      w.stop();
    }
  });

  it('answers a watch from a compacted resourceVersion with an ERROR 410 Expired event and ends', async () => {
    const old = rvOf(server.create(service('a')));
    server.create(service('b'));
    server.compact();
    const w = await watchEvents(kc, '/api/v1/services', { resourceVersion: String(old) });
    expect(await w.done).toBeNull();
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
  });

  it('sends bookmarks at the latest revision, even when a selector hides every event', async () => {
    server.create(service('a'));
    const w = await watchEvents(kc, '/api/v1/services', {
      resourceVersion: server.resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: 'app=none',
    });
    try {
      server.create(service('b'));
      await eventually(() => {
        const last = w.events.at(-1);
        expect(last?.type).toBe('BOOKMARK');
        expect(last?.object).toEqual({
          kind: 'Service',
          apiVersion: 'v1',
          metadata: { resourceVersion: server.resourceVersion },
        });
      });
      expect(w.events.every((e) => e.type === 'BOOKMARK')).toBe(true);
    } finally {
      w.stop();
    }
  });

  it('dropWatches ends the client watch; a new watch from its last revision gets what it missed', async () => {
    const w = await watchEvents(kc, '/api/v1/services', { resourceVersion: server.resourceVersion });
    server.create(service('a'));
    await eventually(() => expect(w.events).toHaveLength(1));
    const last = w.events[0]?.object.metadata?.resourceVersion ?? '';
    expect(server.dropWatches()).toBe(1);
    // client-node reports a stream cut mid-chunk as an error ("terminated").
    expect(await w.done).toBeInstanceOf(Error);
    await eventually(() => expect(server.openWatches('Service')).toBe(0));

    server.create(service('b'));
    server.update(service('a', { port: 82 }));
    const again = await watchEvents(kc, '/api/v1/services', { resourceVersion: last });
    try {
      await eventually(() =>
        expect(again.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED b', 'MODIFIED a']),
      );
    } finally {
      again.stop();
    }
  });

  it('silence stops everything, bookmarks included, until the client gives up; resume catches up', async () => {
    const w = await watchEvents(kc, '/api/v1/services', { allowWatchBookmarks: true }, 400);
    await eventually(() => expect(w.events.some((e) => e.type === 'BOOKMARK')).toBe(true));
    server.silence();
    const silencedAt = w.events.length;
    server.create(service('a'));
    const err = await w.done;
    expect((err as Error).name).toBe('TimeoutError');
    expect(w.events).toHaveLength(silencedAt);

    // A fresh watch is not silenced.
    const fresh = await watchEvents(kc, '/api/v1/services', {});
    try {
      await eventually(() => expect(fresh.events.map((e) => e.type)).toEqual(['ADDED']));
      server.resume();
    } finally {
      fresh.stop();
    }
  });

  it('stallWatches pauses open watches for a while, then delivers what they missed', async () => {
    const w = await watchEvents(kc, '/api/v1/services', { resourceVersion: server.resourceVersion });
    try {
      server.stallWatches(200);
      server.create(service('a'));
      await new Promise((r) => setTimeout(r, 100));
      expect(w.events).toHaveLength(0);
      await eventually(() => expect(w.events.map((e) => e.type)).toEqual(['ADDED']));
    } finally {
      w.stop();
    }
  });

  it('closes a watch that falls behind the history; resuming from its revision is then 410', async () => {
    const small = await ApiServer.start({ historyLimit: 10 });
    const smallKc = new KubeConfig();
    smallKc.loadFromString(kubeconfigFor(small.url));
    try {
      const w = await watchEvents(smallKc, '/api/v1/services', { resourceVersion: small.resourceVersion });
      small.create(service('first'));
      await eventually(() => expect(w.events).toHaveLength(1));
      const last = w.events[0]?.object.metadata?.resourceVersion ?? '';
      small.silence();
      for (let i = 0; i < 20; i++) small.create(service(`s${i}`));
      small.resume();
      expect(await w.done).toBeNull(); // ended cleanly, as the real server ends a too-slow watcher
      expect(w.events).toHaveLength(1);
      const again = await watchEvents(smallKc, '/api/v1/services', { resourceVersion: last });
      await again.done;
      expect(again.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    } finally {
      await small.close();
    }
  });

  it('close() ends open watches at once', async () => {
    const w = await watchEvents(kc, '/api/v1/services', { allowWatchBookmarks: true });
    await server.waitForWatches('Service');
    const started = Date.now();
    await server.close();
    await w.done;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('timeoutSeconds ends the stream cleanly', async () => {
    const started = Date.now();
    const w = await watchEvents(kc, '/api/v1/services', { timeoutSeconds: 1 });
    expect(await w.done).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('sendInitialEvents ends the initial state with an initial-events-end bookmark', async () => {
    server.create(service('a'));
    const w = await watchEvents(kc, '/api/v1/services', {
      sendInitialEvents: true,
      resourceVersionMatch: 'NotOlderThan',
      allowWatchBookmarks: true,
    });
    try {
      await eventually(() => expect(w.events.length).toBeGreaterThanOrEqual(2));
      expect(w.events[0]?.type).toBe('ADDED');
      expect(w.events[1]).toMatchObject({
        type: 'BOOKMARK',
        object: {
          metadata: { resourceVersion: server.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
        },
      });
    } finally {
      w.stop();
    }
  });
});

describe('selectors', () => {
  const KUBE_PROXY = '!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name';

  it("applies kube-proxy's label selector and a metadata.name field selector to lists", async () => {
    server.create(service('plain'));
    server.create(service('headless', { labels: { 'service.kubernetes.io/headless': '' } }));
    server.create(service('other-proxy', { labels: { 'service.kubernetes.io/service-proxy-name': 'x' } }));
    server.create(service('web', { labels: { app: 'web', tier: 'front' } }));
    const list = async (labelSelector: string) =>
      names((await core.listServiceForAllNamespaces({ labelSelector })).items);
    expect(await list(KUBE_PROXY)).toEqual(['plain', 'web']);
    expect(await list('app=web')).toEqual(['web']);
    expect(await list('app==web,tier!=back')).toEqual(['web']);
    expect(await list('app!=web')).toEqual(['headless', 'other-proxy', 'plain']);
    expect(await list('app')).toEqual(['web']);
    expect(await list('tier in (front,back)')).toEqual(['web']);
    expect(await list('tier notin (front)')).toEqual(['headless', 'other-proxy', 'plain']);

    server.create(node('n1'));
    server.create(node('n2'));
    expect(names((await core.listNode({ fieldSelector: 'metadata.name=n2' })).items)).toEqual(['n2']);
    const bad = await core.listNode({ fieldSelector: 'spec.nope=1' }).catch((e: unknown) => e);
    expect(statusOf(bad)).toMatchObject({ code: 400 });
  });

  it('a watch sees an object leave its selector as DELETED and come back as ADDED', async () => {
    server.create(service('a'));
    const w = await watchEvents(kc, '/api/v1/services', { labelSelector: KUBE_PROXY });
    try {
      await eventually(() => expect(w.events).toHaveLength(1));
      const labelled = server.update(service('a', { labels: { 'service.kubernetes.io/headless': '' } }));
      server.update(service('a', { labels: { 'service.kubernetes.io/headless': '' }, port: 81 })); // hidden
      server.update(service('a', { port: 82 }));
      await eventually(() => expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'ADDED']));
      // The DELETED carries the state it last matched in, at the revision that unmatched it.
      const deleted = w.events[1]?.object;
      expect(deleted?.metadata?.labels).toBeUndefined();
      expect(deleted?.metadata?.resourceVersion).toBe(labelled.metadata?.resourceVersion);
    } finally {
      w.stop();
    }
  });

  it('a node watch with a metadata.name field selector sees only that node', async () => {
    const w = await watchEvents(kc, '/api/v1/nodes', { fieldSelector: 'metadata.name=n2' });
    try {
      server.create(node('n1'));
      server.create(node('n2'));
      server.delete('Node', undefined, 'n2');
      await eventually(() =>
        expect(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED n2', 'DELETED n2']),
      );
    } finally {
      w.stop();
    }
  });
});

describe('writes', () => {
  it('creates, replaces and deletes over HTTP through the typed clients', async () => {
    const body = service('web', { ns: 'ns1' }) as V1Service;
    const created = await core.createNamespacedService({ namespace: 'ns1', body });
    expect(created.metadata?.resourceVersion).toBe(server.resourceVersion);
    expect(server.get('Service', 'ns1', 'web')).toBeDefined();

    const dup = await core.createNamespacedService({ namespace: 'ns1', body }).catch((e: unknown) => e);
    expect(statusOf(dup)).toMatchObject({ code: 409, reason: 'AlreadyExists' });

    const replaced = await core.replaceNamespacedService({
      namespace: 'ns1',
      name: 'web',
      body: { ...created, spec: { ...created.spec, ports: [{ port: 443, protocol: 'TCP' }] } },
    });
    expect(replaced.spec?.ports?.[0]?.port).toBe(443);
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);
    // Writing over a newer version with a stale resourceVersion is a Conflict.
    const stale = await core
      .replaceNamespacedService({ namespace: 'ns1', name: 'web', body: created })
      .catch((e: unknown) => e);
    expect(statusOf(stale)).toMatchObject({ code: 409, reason: 'Conflict' });

    const deleted = await core.deleteNamespacedService({ namespace: 'ns1', name: 'web' });
    expect(deleted.metadata?.name).toBe('web');
    expect(server.get('Service', 'ns1', 'web')).toBeUndefined();
    const missing = await core.deleteNamespacedService({ namespace: 'ns1', name: 'web' }).catch((e: unknown) => e);
    expect(statusOf(missing)).toMatchObject({ code: 404, reason: 'NotFound' });

    const discovery = kc.makeApiClient(DiscoveryV1Api);
    // No kind/apiVersion in the body: the server fills them from the path, as the real one does.
    const { kind: _k, apiVersion: _a, ...bare } = slice('web-1', 'web', 2);
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: bare as never });
    const status = await discovery.deleteNamespacedEndpointSlice({ namespace: 'default', name: 'web-1' });
    expect(status).toMatchObject({ status: 'Success' });
  });

  it('applies a JSON merge patch', async () => {
    server.create(service('web', { labels: { a: '1', b: '2' } }));
    const res = await fetch(`${server.url}/api/v1/namespaces/default/services/web`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { a: null, c: '3' } } }),
    });
    expect(res.status).toBe(200);
    expect(server.get('Service', 'default', 'web')?.metadata?.labels).toEqual({ b: '2', c: '3' });
  });

  it('validates programmatic writes with ApiErrors that carry the Status', () => {
    server.create(service('a'));
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        return { code: (err as ApiError).code, reason: (err as ApiError).reason };
      }
      throw new Error('expected an ApiError');
    };
    expect(attempt(() => server.create(service('a')))).toEqual({ code: 409, reason: 'AlreadyExists' });
    expect(attempt(() => server.update(service('b')))).toEqual({ code: 404, reason: 'NotFound' });
    expect(attempt(() => server.delete('Service', 'default', 'b'))).toEqual({ code: 404, reason: 'NotFound' });
    const noName = { apiVersion: 'v1', kind: 'Service', metadata: {} };
    expect(attempt(() => server.create(noName))).toMatchObject({ code: 400 });
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
    expect(attempt(() => server.create(pod))).toMatchObject({ code: 400 });
    // Namespace defaults to "default"; apply creates, then replaces.
    const { metadata: _m, ...rest } = service('x');
    const applied = server.apply({ ...rest, metadata: { name: 'x' } } as KubeObject);
    expect(applied.metadata?.namespace).toBe('default');
    expect(rvOf(server.apply(service('x', { port: 90 })))).toBeGreaterThan(rvOf(applied));
  });
});

describe('faults and accounting', () => {
  it('failNext answers the next matching requests with the given status, then recovers', async () => {
    server.failNext(/^GET \/api\/v1\/services(\?|$)/, 500, 2);
    for (let i = 0; i < 2; i++) {
      const err = await core.listServiceForAllNamespaces().catch((e: unknown) => e);
      expect(statusOf(err)).toMatchObject({ code: 500, reason: 'InternalError' });
    }
    await expect(core.listServiceForAllNamespaces()).resolves.toMatchObject({ kind: 'ServiceList' });

    server.failNext('watch=true', 429);
    const res = await fetch(`${server.url}/api/v1/nodes?watch=true`);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(server.counts('Service').list).toBe(3);
    expect(server.counts('Node').watch).toBe(1);
    server.resetCounts();
    expect(server.counts('Service').list).toBe(0);
  });
});

describe('unix socket', () => {
  it('serves lists and watches on a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apiserver-'));
    const socketPath = join(dir, 'api.sock');
    try {
      const listener = await server.listen({ path: socketPath });
      expect(listener.socketPath).toBe(socketPath);
      expect(server.socketPath).toBe(socketPath);
      server.create(service('a'));

      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          request({ socketPath, path }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
            .on('error', reject)
            .end();
        });
      const list = await get('/api/v1/services');
      expect(list.status).toBe(200);
      expect(names((JSON.parse(list.body) as V1ServiceList).items)).toEqual(['a']);

      const watched = await get(`/api/v1/services?watch=true&resourceVersion=1&timeoutSeconds=1`);
      expect(
        watched.body
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as WatchEvent).type),
      ).toEqual(['ADDED']);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scale', () => {
  it('serves 10,000 services and 10,000 slices of 10 endpoints (timings printed, not asserted)', async () => {
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      server.create(service(`svc-${i}`, { ns: `ns-${i % 100}` }));
      server.create(slice(`svc-${i}-abcde`, `svc-${i}`, 10, `ns-${i % 100}`));
    }
    const t1 = performance.now();
    const timed = async (path: string) => {
      const start = performance.now();
      const res = await fetch(`${server.url}${path}`);
      const body = await res.text();
      return { ms: performance.now() - start, mb: body.length / 1e6, body };
    };
    const svcList = await timed('/api/v1/services');
    const sliceList = await timed('/apis/discovery.k8s.io/v1/endpointslices');
    const sliceListAgain = await timed('/apis/discovery.k8s.io/v1/endpointslices');
    let paged = 0;
    const pagedStart = performance.now();
    let cont = '';
    do {
      const { body } = await timed(`/apis/discovery.k8s.io/v1/endpointslices?limit=500&continue=${cont}`);
      const page = JSON.parse(body) as {
        items: unknown[];
        metadata: { continue?: string };
      };
      paged += page.items.length;
      cont = page.metadata.continue ?? '';
    } while (cont !== '');
    const pagedMs = performance.now() - pagedStart;
    const watchStart = performance.now();
    const w = await watchEvents(kc, '/apis/discovery.k8s.io/v1/endpointslices', {});
    await eventually(() => expect(w.events).toHaveLength(10_000), 30_000);
    const watchMs = performance.now() - watchStart;
    w.stop();

    expect(JSON.parse(svcList.body).items).toHaveLength(10_000);
    expect(paged).toBe(10_000);
    console.log(
      [
        `apiserver scale: 20,000 creates ${(t1 - t0).toFixed(0)} ms`,
        `services list ${svcList.ms.toFixed(0)} ms (${svcList.mb.toFixed(1)} MB)`,
        `slices list ${sliceList.ms.toFixed(0)} ms (${sliceList.mb.toFixed(1)} MB), again ${sliceListAgain.ms.toFixed(0)} ms`,
        `slices paged by 500 ${pagedMs.toFixed(0)} ms`,
        `slices initial watch (client-node) ${watchMs.toFixed(0)} ms`,
      ].join('\n  '),
    );
  }, 60_000);
});
