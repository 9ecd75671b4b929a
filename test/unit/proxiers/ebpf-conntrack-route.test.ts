// /v1/conntrack's JSON is a contract: these bodies are pinned byte for byte.
// The entries are encoded with the real codecs (the objects' BTF), the way
// the tc program writes them, and read through a stand-in for the pinned-map
// catalog; the privileged daemon test reads the same route from real maps.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiApp } from '../../../control/api/app.js';
import type { ApiContext } from '../../../control/api/context.js';
import { HealthState } from '../../../control/api/health.js';
import { ProxyMetrics } from '../../../control/api/metrics.js';
import { buildMetricsServer } from '../../../control/api/server.js';
import { defaultOptions } from '../../../control/config/defaults.js';
import type { ServicePortState } from '../../../control/model/types.js';
import type { RawEntry } from '../../../control/proxiers/ebpf/map-catalog.js';
import { CT_ORIGINAL, CT_REPLY, type CtEntry, type CtKey } from '../../../control/proxiers/ebpf/maps.js';
import type { EbpfProxier } from '../../../control/proxiers/ebpf/proxier.js';
import { conntrackRoutes } from '../../../control/proxiers/ebpf/routes/conntrack.js';
import { codecsOf } from './memory-maps.js';

const NOW = 5_000_000_000_000n;
const TCP = 6;
const UDP = 17;
const base = { flags: 0, peer_addr: '10.244.2.12', peer_port: 0 };

/** A TCP flow (both directions), a hairpin UDP flow (both), and an original entry of an unknown service with an unknown flag bit. */
const ENTRIES: Array<[CtKey, CtEntry]> = [
  [
    { saddr: '10.244.2.12', daddr: '10.96.0.10', sport: 41000, dport: 80, proto: TCP, dir: CT_ORIGINAL },
    {
      ...base,
      last_seen_ns: NOW - 1_500_000_000n,
      nat_addr: '10.244.1.11',
      nat_port: 8080,
      service_id: 1,
      backend_id: 3,
    },
  ],
  [
    { saddr: '10.244.1.11', daddr: '10.244.2.12', sport: 8080, dport: 41000, proto: TCP, dir: CT_REPLY },
    { ...base, last_seen_ns: NOW - 1_234_567n, nat_addr: '10.96.0.10', nat_port: 80, service_id: 1, backend_id: 3 },
  ],
  [
    { saddr: '10.244.1.11', daddr: '10.96.0.12', sport: 5000, dport: 53, proto: UDP, dir: CT_ORIGINAL },
    {
      last_seen_ns: NOW - 61_000_000_000n,
      nat_addr: '10.244.1.11',
      nat_port: 5353,
      flags: 1,
      peer_addr: '10.244.1.11',
      peer_port: 0,
      service_id: 2,
      backend_id: 4,
    },
  ],
  [
    { saddr: '10.244.1.11', daddr: '169.254.42.1', sport: 5353, dport: 5000, proto: UDP, dir: CT_REPLY },
    {
      last_seen_ns: NOW - 2_000_000n,
      nat_addr: '10.96.0.12',
      nat_port: 53,
      flags: 1,
      peer_addr: '10.244.1.11',
      peer_port: 0,
      service_id: 2,
      backend_id: 4,
    },
  ],
  [
    { saddr: '10.244.3.7', daddr: '10.96.0.99', sport: 33333, dport: 443, proto: TCP, dir: CT_ORIGINAL },
    {
      ...base,
      last_seen_ns: NOW + 1_000_000n, // written after the clock was read: idle 0, not negative
      peer_addr: '10.244.3.7',
      peer_port: 0,
      nat_addr: '10.244.9.9',
      nat_port: 8443,
      flags: 0x80,
      service_id: 9,
      backend_id: 7,
    },
  ],
];

/** The pinned-map catalog as the route uses it: encoded rows in key order, and the map's codecs (its BTF, its view's formats). */
function catalog(): EbpfProxier['maps'] {
  const { key, value } = codecsOf('sy_conntrack_v3');
  const rows: RawEntry[] = ENTRIES.map(([k, v]) => {
    const raw = { key: key.encode(k), value: value.encode(v) };
    return { id: raw.key.toString('hex'), ...raw };
  }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const fake = {
    has: (name: string) => name === 'sy_conntrack_v3',
    raw: async () => rows,
    codecs: () => ({ key, value }),
  };
  return fake as unknown as EbpfProxier['maps'];
}

function servicePort(name: string, ip: string, port: number, protocol: 'TCP' | 'UDP'): ServicePortState {
  return { name, clusterIPs: [ip], port, protocol } as unknown as ServicePortState;
}

function context(): ApiContext {
  const state = new Map<string, ServicePortState>([
    ['a/web:http/TCP', servicePort('a/web:http/TCP', '10.96.0.10', 80, 'TCP')],
    ['kube-system/dns:dns/UDP', servicePort('kube-system/dns:dns/UDP', '10.96.0.12', 53, 'UDP')],
  ]);
  return {
    options: { ...defaultOptions({ hostname: () => 'node-a' }), mode: 'ebpf' as const },
    version: '0.0.0-test',
    startedAt: new Date(0),
    store: { size: { services: 2, endpointSlices: 2 } },
    loop: { state, initialSyncDone: true },
    health: new HealthState({ timeoutMs: 60_000 }),
    metrics: new ProxyMetrics({ registry: new Registry() }),
    syncs: { last: undefined, lastSuccess: undefined },
    proxier: {
      programmedCount: () => 2,
      mapCount: () => 1,
      interfaces: () => [],
      servicePorts: (ports) => ports.map(() => ({ programmed: [] })),
    },
  };
}

function proxier(): EbpfProxier {
  const programmed = [
    { id: 1, address: '10.96.0.10', port: 80, protocol: 'TCP', backends: [] },
    { id: 2, address: '10.96.0.12', port: 53, protocol: 'UDP', backends: [] },
  ];
  return { maps: catalog(), started: { programmed: () => programmed } } as unknown as EbpfProxier;
}

const TCP_ORIGINAL =
  '{"direction":"original","protocol":"TCP","source":"10.244.2.12:41000","destination":"10.96.0.10:80","translatedTo":"10.244.1.11:8080","client":"10.244.2.12","flags":[],"serviceId":1,"service":"a/web:http/TCP","backendId":3,"idleSeconds":1.5}';
const TCP_REPLY =
  '{"direction":"reply","protocol":"TCP","source":"10.244.1.11:8080","destination":"10.244.2.12:41000","translatedTo":"10.96.0.10:80","client":"10.244.2.12","flags":[],"serviceId":1,"service":"a/web:http/TCP","backendId":3,"idleSeconds":0.001}';
const UDP_ORIGINAL =
  '{"direction":"original","protocol":"UDP","source":"10.244.1.11:5000","destination":"10.96.0.12:53","translatedTo":"10.244.1.11:5353","client":"10.244.1.11","flags":["hairpin"],"serviceId":2,"service":"kube-system/dns:dns/UDP","backendId":4,"idleSeconds":61}';
const UDP_REPLY =
  '{"direction":"reply","protocol":"UDP","source":"10.244.1.11:5353","destination":"169.254.42.1:5000","translatedTo":"10.96.0.12:53","client":"10.244.1.11","flags":["hairpin"],"serviceId":2,"service":"kube-system/dns:dns/UDP","backendId":4,"idleSeconds":0.002}';
const UNKNOWN =
  '{"direction":"original","protocol":"TCP","source":"10.244.3.7:33333","destination":"10.96.0.99:443","translatedTo":"10.244.9.9:8443","client":"10.244.3.7","flags":["0x80"],"serviceId":9,"service":null,"backendId":7,"idleSeconds":0}';

describe('/v1/conntrack JSON (pinned)', () => {
  let app: ApiApp;
  beforeAll(async () => {
    vi.spyOn(process.hrtime, 'bigint').mockReturnValue(NOW);
    app = await buildMetricsServer(context(), { routes: [(a, ctx) => conntrackRoutes(a, ctx, proxier())] });
  });
  afterAll(async () => {
    await app.close();
    vi.restoreAllMocks();
  });

  const body = async (url: string) => {
    const r = await app.inject(url);
    expect(r.statusCode, r.body).toBe(200);
    return r.body;
  };

  it('lists every entry, in key-byte order, each direction decoded and named', async () => {
    expect(await body('/v1/conntrack')).toBe(
      `{"items":[${[UDP_ORIGINAL, TCP_REPLY, UDP_REPLY, TCP_ORIGINAL, UNKNOWN].join(',')}],"remaining":0}`,
    );
  });

  it('pages', async () => {
    const first = await body('/v1/conntrack?limit=2');
    // The cursor is the last key's bytes: addresses 16 bytes each, IPv4 IPv4-mapped.
    const cont =
      'WyJjb25udHJhY2siLCIwMDAwMDAwMDAwMDAwMDAwMDAwMGZmZmYwYWY0MDEwYjAwMDAwMDAwMDAwMDAwMDAwMDAwZmZmZjBhZjQwMjBjMWY5MGEwMjgwNjAxMDAwMCJd';
    expect(first).toBe(`{"items":[${UDP_ORIGINAL},${TCP_REPLY}],"remaining":3,"continue":"${cont}"}`);
    const second = await body(`/v1/conntrack?limit=2&continue=${cont}`);
    const next = (JSON.parse(second) as { continue: string }).continue;
    expect(second).toBe(`{"items":[${UDP_REPLY},${TCP_ORIGINAL}],"remaining":1,"continue":"${next}"}`);
    expect(await body(`/v1/conntrack?limit=2&continue=${next}`)).toBe(`{"items":[${UNKNOWN}],"remaining":0}`);
  });

  it('filters by protocol, client and service', async () => {
    expect(await body('/v1/conntrack?protocol=UDP')).toBe(`{"items":[${UDP_ORIGINAL},${UDP_REPLY}],"remaining":0}`);
    expect(await body('/v1/conntrack?client=10.244.2.12')).toBe(
      `{"items":[${TCP_REPLY},${TCP_ORIGINAL}],"remaining":0}`,
    );
    expect(await body('/v1/conntrack?service=a/web')).toBe(`{"items":[${TCP_REPLY},${TCP_ORIGINAL}],"remaining":0}`);
    expect(await body('/v1/conntrack?service=10.96.0.12:53&limit=1')).toMatch(
      /^\{"items":\[\{"direction":"original","protocol":"UDP",.*"idleSeconds":61\}\],"remaining":1,"continue":"[^"]+"\}$/,
    );
  });
});
