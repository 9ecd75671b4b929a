// /v1/ipvs in a dual-stack ipvs mode: one IPVS table holds both families'
// virtual servers, and each is shown with the service port of whichever
// family's proxier programmed it (the registry hands the route every running
// family's proxier, not only the primary one).
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../../control/api/app.js';
import type { ApiContext } from '../../../control/api/context.js';
import { HealthState } from '../../../control/api/health.js';
import { ProxyMetrics } from '../../../control/api/metrics.js';
import { buildMetricsServer } from '../../../control/api/server.js';
import { defaultOptions } from '../../../control/config/defaults.js';
import { virtualServerId, type ProgrammedVirtualServer } from '../../../control/netlink/types.js';
import { DualStackProxier } from '../../../control/proxiers/dual-stack.js';
import type { IpvsProxier } from '../../../control/proxiers/ipvs/proxier.js';
import { ModeRegistry } from '../../../control/proxiers/modes.js';
import type { Proxier } from '../../../control/proxiers/types.js';

const vs = (address: string): ProgrammedVirtualServer => ({ address, protocol: 'TCP', port: 80, scheduler: 'rr' });
/** What the kernel holds: both families' virtual servers, and one nobody here programmed. */
const KERNEL = [vs('10.96.0.10'), vs('fd00:10:96::a'), vs('192.0.2.99')].map((virtualServer) => ({
  virtualServer,
  realServers: [],
}));

/** A family's proxier as the route sees it: its own virtual servers' owners, and the kernel's whole table. */
function fakeIpvs(owned: Record<string, string>): Proxier & Pick<IpvsProxier, 'owners' | 'programmed'> {
  return {
    mode: 'ipvs',
    start: async () => {},
    sync: async () => ({ written: 0, removed: 0, skipped: [] }),
    view: () => ({ programmedCount: () => null, mapCount: () => null, interfaces: () => [] }),
    stop: async () => {},
    cleanup: async () => {},
    owners: () => new Map(Object.entries(owned)),
    programmed: async (owner = new Map(Object.entries(owned))) =>
      KERNEL.map((e) => {
        const servicePort = owner.get(virtualServerId(e.virtualServer));
        return servicePort ? { ...e, servicePort } : e;
      }),
  };
}

function context(): ApiContext {
  return {
    options: { ...defaultOptions({ hostname: () => 'node-a' }), mode: 'ipvs' as const },
    version: '0.0.0-test',
    startedAt: new Date(0),
    store: { size: { services: 1, endpointSlices: 2 } },
    loop: { state: new Map(), initialSyncDone: true },
    health: new HealthState({ timeoutMs: 60_000 }),
    metrics: new ProxyMetrics({ registry: new Registry() }),
    syncs: { last: undefined, lastSuccess: undefined },
    proxier: { programmedCount: () => null, mapCount: () => null, interfaces: () => [] },
  };
}

describe('/v1/ipvs, both families', () => {
  let app: ApiApp;
  beforeAll(async () => {
    const meta = new DualStackProxier('ipvs', {
      IPv4: fakeIpvs({ 'TCP 10.96.0.10:80': 'ns/web:http/TCP' }),
      IPv6: fakeIpvs({ 'TCP [fd00:10:96::a]:80': 'ns/web:http/TCP' }),
    });
    app = await buildMetricsServer(context(), { routes: await new ModeRegistry().routes(meta) });
  });
  afterAll(async () => {
    await app.close();
  });

  it("lists every virtual server IPVS holds, each family's with its owner", async () => {
    const r = await app.inject('/v1/ipvs');
    expect(r.statusCode).toBe(200);
    const items = (r.json() as { items: Array<{ id: string; servicePort?: string }> }).items;
    expect(items.map((i) => [i.id, i.servicePort])).toEqual([
      ['TCP 10.96.0.10:80', 'ns/web:http/TCP'],
      ['TCP 192.0.2.99:80', undefined],
      ['TCP [fd00:10:96::a]:80', 'ns/web:http/TCP'],
    ]);
    const web = await app.inject('/v1/ipvs?service=ns/web');
    expect((web.json() as { items: Array<{ id: string }> }).items.map((i) => i.id)).toEqual([
      'TCP 10.96.0.10:80',
      'TCP [fd00:10:96::a]:80',
    ]);
  });
});
