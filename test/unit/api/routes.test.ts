// The metrics server's routes over fastify's inject, with fakes behind the
// context: schemas, error bodies and paging, without a daemon or BPF. The
// privileged daemon test covers the same routes against real maps.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../../control/api/app.js';
import type { ApiContext } from '../../../control/api/context.js';
import { HealthState } from '../../../control/api/health.js';
import { ProxyMetrics } from '../../../control/api/metrics.js';
import { buildHealthServer, buildMetricsServer } from '../../../control/api/server.js';
import { ModeRegistry } from '../../../control/proxiers/modes.js';
import { defaultOptions } from '../../../control/config/defaults.js';
import { buildServicePorts } from '../../../control/model/index.js';
import type { ServicePortState } from '../../../control/model/types.js';
import { endpoint, NODE, service, slice } from '../model/fixtures.js';

function state(): Map<string, ServicePortState> {
  const out = new Map<string, ServicePortState>();
  for (let i = 0; i < 7; i++) {
    const svc = service({ name: `web${i}`, namespace: i < 4 ? 'a' : 'b', clusterIPs: [`10.96.0.${10 + i}`] });
    const ports = buildServicePorts(
      svc,
      [
        slice(`web${i}-1`, [endpoint('10.244.1.1'), endpoint('10.244.2.1', { nodeName: NODE.nodeName })], {
          serviceName: `web${i}`,
          namespace: svc.namespace,
        }),
      ],
      NODE,
    );
    for (const p of ports) out.set(p.name, p);
  }
  return out;
}

function context(): ApiContext {
  const loopState = state();
  const options = { ...defaultOptions({ hostname: () => 'node-a' }), mode: 'iptables' as const };
  return {
    options,
    version: '0.0.0-test',
    startedAt: new Date(0),
    store: { size: { services: 7, endpointSlices: 7 } },
    loop: { state: loopState, initialSyncDone: true },
    health: new HealthState({ timeoutMs: 60_000 }),
    metrics: new ProxyMetrics({ registry: new Registry() }),
    syncs: { last: undefined, lastSuccess: undefined },
    // A mode that programmed one entry and shows it per service port.
    proxier: {
      programmedCount: () => 1,
      mapCount: () => null,
      interfaces: () => [{ name: 'wire', ifindex: 2 }],
      servicePorts: (ports) =>
        ports.map((sp) => ({
          programmed:
            sp.clusterIPs.includes('10.96.0.10') && sp.port === 80
              ? [{ id: 1, address: '10.96.0.10', port: 80, protocol: 'TCP', backends: ['10.244.1.1:8080'] }]
              : [],
        })),
    },
  };
}

describe('ops API routes (injected)', () => {
  let app: ApiApp;
  let health: ApiApp;
  const ctx = context();
  beforeAll(async () => {
    // Every mode's routes, none of them the running one's.
    app = await buildMetricsServer(ctx, { routes: await new ModeRegistry().routes(undefined) });
    health = await buildHealthServer(ctx);
  });
  afterAll(async () => {
    await app.close();
    await health.close();
  });

  it("/healthz and /livez have kube-proxy's bodies on both servers; /readyz says why", async () => {
    for (const a of [app, health]) {
      const h = await a.inject('/healthz');
      expect(h.statusCode).toBe(200);
      expect(h.headers['content-type']).toMatch(/application\/json/);
      expect(Object.keys(h.json())).toEqual(['lastUpdated', 'currentTime', 'nodeEligible']);
      expect((await a.inject('/livez')).statusCode).toBe(200);
    }
    expect((await app.inject('/readyz')).json()).toEqual({
      ready: true,
      initialSyncDone: true,
      healthy: true,
      servesWhileStopped: true,
    });
  });

  it('the health server has nothing else, and says so in JSON', async () => {
    const r = await health.inject('/v1/status');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ code: 'ERR_API_NOT_FOUND', message: 'no route for GET /v1/status', statusCode: 404 });
  });

  it('/v1/services pages through every service port in name order', async () => {
    const names: string[] = [];
    let cont: string | undefined;
    do {
      const r = await app.inject({ url: '/v1/services', query: { limit: '3', ...(cont ? { continue: cont } : {}) } });
      expect(r.statusCode).toBe(200);
      const body = r.json() as { items: ServicePortState[]; continue?: string };
      names.push(...body.items.map((i) => i.name));
      cont = body.continue;
    } while (cont);
    expect(names).toEqual([...ctx.loop.state.keys()].sort());
  });

  it('/v1/services shows clusterEndpoints, localEndpoints and the programmed entries', async () => {
    const r = await app.inject('/v1/services/a/web0');
    const [sp] = (r.json() as { items: Array<ServicePortState & { programmed: unknown[] }> }).items;
    expect(sp).toMatchObject({
      name: 'a/web0:http/TCP',
      clusterEndpoints: ['10.244.1.1:8080', '10.244.2.1:8080'],
      localEndpoints: null,
      programmed: [{ id: 1, address: '10.96.0.10', port: 80, protocol: 'TCP', backends: ['10.244.1.1:8080'] }],
    });
    expect(sp!.endpoints[1]).toMatchObject({ ip: '10.244.2.1', ready: true, isLocal: true });
  });

  it('/v1/services filters by namespace; an unknown service is a JSON 404', async () => {
    const r = await app.inject('/v1/services?namespace=b');
    expect((r.json() as { items: unknown[] }).items).toHaveLength(3);
    const nf = await app.inject('/v1/services/a/nope');
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toMatchObject({ code: 'ERR_API_NOT_FOUND', message: expect.stringContaining('a/nope') });
  });

  it('bad query parameters are 400s that name the parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/v1/services?limit=0', /limit must be >= 1/],
      ['/v1/services?limit=abc', /limit must be integer/],
      ['/v1/services?limit=99999', /limit must be <= 5000/],
      ['/v1/services?colour=red', /must NOT have additional properties/],
      ['/v1/services?continue=%21%21', /continue token/],
    ];
    for (const [url, message] of cases) {
      const r = await app.inject(url);
      expect(r.statusCode, url).toBe(400);
      expect(r.json(), url).toMatchObject({
        code: expect.stringMatching(/^ERR_API_BAD_/),
        message: expect.stringMatching(message),
      });
    }
  });

  it('a mode without BPF maps says so', async () => {
    expect((await app.inject('/v1/maps')).json()).toEqual({
      mode: 'iptables',
      items: [],
      message: 'the iptables mode programs no BPF maps',
    });
    expect((await app.inject('/v1/maps/sy_services_v3')).statusCode).toBe(404);
    expect((await app.inject('/v1/conntrack')).json()).toMatchObject({ code: 'ERR_API_UNAVAILABLE' });
  });

  it('/v1/status, /proxyMode and /configz', async () => {
    expect((await app.inject('/v1/status')).json()).toMatchObject({
      mode: 'iptables',
      node: 'node-a',
      counts: { services: 7, servicePorts: 7, programmed: 1, maps: null },
      interfaces: [{ name: 'wire', ifindex: 2 }],
      lastSync: null,
    });
    const pm = await app.inject('/proxyMode');
    expect(pm.body).toBe('iptables');
    expect(pm.headers['content-type']).toMatch(/text\/plain/);
    expect((await app.inject('/configz')).json()).toMatchObject({
      'kubeproxy.config.k8s.io': { kind: 'KubeProxyConfiguration', mode: 'iptables' },
    });
  });

  it('/openapi.json describes every route with its query parameters', async () => {
    const doc = (await app.inject('/openapi.json')).json() as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.0.3');
    for (const p of [
      '/healthz',
      '/livez',
      '/readyz',
      '/metrics',
      '/proxyMode',
      '/configz',
      '/v1/status',
      '/v1/services',
      '/v1/services/{namespace}/{name}',
      '/v1/maps',
      '/v1/maps/{name}',
      '/v1/conntrack',
    ]) {
      expect(doc.paths, p).toHaveProperty([p]);
    }
    expect(JSON.stringify(doc.paths['/v1/conntrack'])).toContain('"client"');
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['Error', 'ServicePort', 'MapSummary', 'Flow']),
    );
  });

  it("/metrics has kube-proxy's names", async () => {
    const text = (await app.inject('/metrics')).body;
    for (const name of [
      'kubeproxy_sync_proxy_rules_duration_seconds',
      'kubeproxy_network_programming_duration_seconds',
      'kubeproxy_proxy_healthz_total',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });
});

describe('/v1/status of a mode that counts drops (injected)', () => {
  it('adds drops per reason as decimal strings, every other field as before', async () => {
    const base = context();
    const counts: Record<string, bigint> = { malformed: 0n, no_backend: 2n ** 60n + 1n };
    const ctx: ApiContext = { ...base, proxier: { ...base.proxier, drops: async () => counts } };
    const app = await buildMetricsServer(ctx);
    try {
      const plain = (await buildMetricsServer(base)).inject('/v1/status');
      const without = (await plain).json();
      const body = (await app.inject('/v1/status')).json();
      expect(body.drops).toEqual({ malformed: '0', no_backend: '1152921504606846977' });
      expect(without.drops).toBeUndefined();
      const { drops: _, ...rest } = body;
      expect(Object.keys(rest)).toEqual(Object.keys(without));
    } finally {
      await app.close();
    }
  });

  it('leaves drops out, and counts a map failure, when they cannot be read', async () => {
    const base = context();
    const registry = new Registry();
    const ctx: ApiContext = {
      ...base,
      metrics: new ProxyMetrics({ registry }),
      proxier: { ...base.proxier, drops: async () => Promise.reject(Object.assign(new Error('x'), { code: 'E' })) },
    };
    const app = await buildMetricsServer(ctx);
    try {
      const r = await app.inject('/v1/status');
      expect(r.statusCode).toBe(200);
      expect(r.json().drops).toBeUndefined();
      expect(await registry.metrics()).toMatch(
        /^switchyard_bpf_map_operation_failures_total\{code="E",op="status.drops"\} 1$/m,
      );
    } finally {
      await app.close();
    }
  });
});
