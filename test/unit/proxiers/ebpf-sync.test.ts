// EbpfProxier.sync() against the dataplane's maps held in memory
// (memory-maps.ts: the real codecs, max_entries enforced as the kernel does),
// with service ports built by the model from Services and EndpointSlices.
// Nothing is loaded or attached: start() only adopts what the maps hold.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/index.js';
import type { NodeFacts } from '../../../control/model/node-facts.js';
import type { ServicePortState } from '../../../control/model/types.js';
import type { Endpoint, Service } from '../../../control/sources/types.js';
import { SVC_F_AFFINITY, SVC_F_DROP_NO_BACKEND } from '../../../control/proxiers/ebpf/maps.js';
import { DualStackProxier } from '../../../control/proxiers/dual-stack.js';
import { EbpfProxier } from '../../../control/proxiers/ebpf/proxier.js';
import type { SyncResult } from '../../../control/proxiers/types.js';
import { endpoint, NODE, service, slice } from '../model/fixtures.js';
import { memoryMaps, type MemoryMaps } from './memory-maps.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

/** The model's service ports of `svc` with one EndpointSlice of `endpoints` (port 8080). */
function ports(svc: Service, endpoints: Endpoint[]): ServicePortState[] {
  return buildServicePorts(
    svc,
    [slice(`${svc.name}-1`, endpoints, { serviceName: svc.name, namespace: svc.namespace })],
    NODE,
  );
}

const FACTS: NodeFacts = {
  nodeName: NODE.nodeName,
  addresses: [],
  podCIDRs: [],
  nodePortAddresses: {},
  localAddresses: [],
};

/**
 * A proxier over in-memory maps, behind the dual-stack meta proxier as the
 * daemon runs it, and the model state it is synced to, as the sync loop keeps it.
 */
class Node {
  readonly maps: MemoryMaps;
  proxier!: EbpfProxier;
  meta!: DualStackProxier;
  readonly desired = new Map<string, ServicePortState>();

  constructor(maps = memoryMaps()) {
    this.maps = maps;
  }

  async start(): Promise<this> {
    this.proxier = new EbpfProxier({
      objectDir: '/nonexistent',
      pinRoot: '/nonexistent',
      devices: [],
      logger: silent,
      maps: this.maps,
    });
    this.meta = new DualStackProxier('ebpf', { IPv4: this.proxier });
    await this.meta.start();
    return this;
  }

  /** A partial sync: `set` added or changed, `remove` (names) gone. */
  sync(set: ServicePortState[], remove: string[] = []): Promise<SyncResult> {
    const removed = new Map<string, ServicePortState>();
    for (const name of remove) {
      removed.set(name, this.desired.get(name)!);
      this.desired.delete(name);
    }
    for (const sp of set) this.desired.set(sp.name, sp);
    return this.meta.sync({
      desired: new Map(this.desired),
      changed: new Set(set.map((sp) => sp.name)),
      removed,
      full: false,
      node: FACTS,
    });
  }

  fullSync(): Promise<SyncResult> {
    return this.meta.sync({
      desired: new Map(this.desired),
      changed: new Set(),
      removed: new Map(),
      full: true,
      node: FACTS,
    });
  }

  /** The maps, decoded: each service entry with its backends by slot, and the counts of each map. */
  contents() {
    const backends = new Map(this.maps.backends.decoded());
    const slots = new Map(this.maps.slots.decoded().map(([k, v]) => [`${k.service_id}/${k.slot}`, v.backend_id]));
    const services = this.maps.services.decoded().map(([k, v]) => ({
      service: `${k.addr}:${k.port}/${k.proto}`,
      ...v,
      backends: Array.from({ length: v.backend_count }, (_, i) => {
        const b = backends.get(slots.get(`${v.id}/${i}`)!);
        return b ? `${b.addr}:${b.port}` : 'missing';
      }),
    }));
    return { services, slots: this.maps.slots.size, backends: this.maps.backends.size };
  }
}

const web = (over: Partial<Service> = {}) => service({ name: 'web', clusterIPs: ['10.96.0.10'], ...over });
const eps = (...octets: number[]) => octets.map((o) => endpoint(`10.244.1.${o}`));

describe('EbpfProxier.sync over in-memory maps', () => {
  it('adds a service port: its service entry, a slot per backend, a backend record each', async () => {
    const node = await new Node().start();
    const result = await node.sync(ports(web(), eps(1, 2)));
    expect(result).toEqual({ written: 1, removed: 0, skipped: [] });
    expect(node.contents()).toEqual({
      services: [
        {
          service: '10.96.0.10:80/6',
          id: 1,
          backend_count: 2,
          flags: 0,
          affinity_timeout: 0,
          cluster_addr: '0.0.0.0',
          cluster_port: 0,
          backends: ['10.244.1.1:8080', '10.244.1.2:8080'],
        },
      ],
      slots: 2,
      backends: 2,
    });
    expect(node.proxier.dataplane.programmed()).toEqual([
      {
        id: 1,
        address: '10.96.0.10',
        port: 80,
        protocol: 'TCP',
        backends: [
          { address: '10.244.1.1', port: 8080 },
          { address: '10.244.1.2', port: 8080 },
        ],
      },
    ]);
  });

  it('changes its endpoints, then removes it: every entry gone and the ids free again', async () => {
    const node = await new Node().start();
    await node.sync(ports(web(), eps(1, 2, 3)));
    expect(await node.sync(ports(web(), eps(1, 4)))).toEqual({ written: 1, removed: 0, skipped: [] });
    expect(node.contents()).toMatchObject({
      services: [{ id: 1, backend_count: 2, backends: ['10.244.1.1:8080', '10.244.1.4:8080'] }],
      slots: 2,
      backends: 2,
    });
    const [sp] = ports(web(), eps(1, 4));
    expect(await node.sync([], [sp!.name])).toEqual({ written: 0, removed: 1, skipped: [] });
    expect(node.contents()).toEqual({ services: [], slots: 0, backends: 0 });
    expect(node.proxier.dataplane.programmed()).toEqual([]);
    // The ids were released: another service port takes freed ones, no new ones.
    await node.sync(ports(web({ name: 'api', clusterIPs: ['10.96.0.11'] }), eps(7, 8, 9)));
    expect(node.contents().services).toMatchObject([
      { id: 1, backends: ['10.244.1.7:8080', '10.244.1.8:8080', '10.244.1.9:8080'] },
    ]);
    for (const [id] of node.maps.backends.decoded()) expect([1, 2, 3, 4]).toContain(id);
  });

  it('ClientIP affinity: the flag and timeout; switched off, the flag goes and so do its affinity entries', async () => {
    const node = await new Node().start();
    await node.sync(ports(web({ affinityTimeoutSeconds: 600 }), eps(1)));
    expect(node.contents().services).toMatchObject([{ id: 1, flags: SVC_F_AFFINITY, affinity_timeout: 600 }]);
    // A client the programs pinned to the backend.
    node.maps.affinity.set({ service_id: 1, client: '10.244.2.5' }, { backend_id: 1, last_used_ns: 1n });
    node.maps.affinity.set({ service_id: 2, client: '10.244.2.5' }, { backend_id: 9, last_used_ns: 1n });
    await node.sync(ports(web(), eps(1)));
    expect(node.contents().services).toMatchObject([{ id: 1, flags: 0, affinity_timeout: 0 }]);
    expect(node.maps.affinity.decoded().map(([k]) => k.service_id)).toEqual([2]);
  });

  it('no endpoints at all refuses (no flag); endpoints, but none for this path, drops', async () => {
    const node = await new Node().start();
    const none = ports(web({ name: 'none', clusterIPs: ['10.96.0.20'] }), []);
    // internalTrafficPolicy Local with every endpoint on another node: none for traffic from here.
    const remote = ports(web({ name: 'remote', clusterIPs: ['10.96.0.21'], internalTrafficPolicy: 'Local' }), eps(1));
    expect(remote[0]).toMatchObject({ hasAnyEndpoints: true, localEndpoints: [] });
    await node.sync([...none, ...remote]);
    const byService = Object.fromEntries(node.contents().services.map((s) => [s.service, s]));
    expect(byService['10.96.0.20:80/6']).toMatchObject({ backend_count: 0, flags: 0 });
    expect(byService['10.96.0.21:80/6']).toMatchObject({ backend_count: 0, flags: SVC_F_DROP_NO_BACKEND });
    expect(node.contents()).toMatchObject({ slots: 0, backends: 0 });
  });

  it('a dual-stack service: the IPv4 ClusterIP is programmed, the IPv6 one skipped with its reason', async () => {
    const node = await new Node().start();
    const sps = ports(
      web({ clusterIPs: ['10.96.0.10', 'fd00::10'], ipFamilies: ['IPv4', 'IPv6'] } as Partial<Service>),
      eps(1),
    );
    const result = await node.sync(sps);
    expect(result.skipped).toEqual([
      {
        name: sps[0]!.name,
        reason: 'IPv6 ClusterIP fd00::10 is not programmed by the ebpf mode yet (it serves IPv4 only)',
      },
    ]);
    expect(result.written).toBe(1);
    expect(node.contents().services).toMatchObject([{ service: '10.96.0.10:80/6', backends: ['10.244.1.1:8080'] }]);
  });

  it('a restart adopts what the maps hold; the full resync keeps what is wanted and removes the strays', async () => {
    const first = await new Node().start();
    const keep = ports(web(), eps(1, 2));
    const stray = ports(web({ name: 'old', clusterIPs: ['10.96.0.99'] }), eps(5));
    await first.sync([...keep, ...stray]);
    await first.proxier.stop();

    // A new process over the same maps, told only of `keep`.
    const again = new Node(first.maps);
    await again.start();
    expect(
      again.proxier.dataplane
        .programmed()
        .map((p) => p.address)
        .sort(),
    ).toEqual(['10.96.0.10', '10.96.0.99']);
    for (const sp of keep) again.desired.set(sp.name, sp);
    const before = first.maps.services.writes.single + first.maps.services.writes.batches;
    expect(await again.fullSync()).toEqual({ written: 0, removed: 1, skipped: [] });
    // The adopted service port was not rewritten: nothing differed.
    expect(first.maps.services.writes.single + first.maps.services.writes.batches).toBe(before);
    expect(again.contents()).toEqual({
      services: [
        expect.objectContaining({ service: '10.96.0.10:80/6', backends: ['10.244.1.1:8080', '10.244.1.2:8080'] }),
      ],
      slots: 2,
      backends: 2,
    });
  });

  describe('a full services map', () => {
    /** Checks that the maps hold only complete service ports: every slot counted, every backend named by one. */
    function nothingLeaked(node: Node, { dense = true } = {}) {
      const c = node.contents();
      for (const s of c.services) expect(s.backends, s.service).not.toContain('missing');
      expect(c.slots).toBe(c.services.reduce((n, s) => n + s.backend_count, 0));
      expect(c.backends).toBe(c.slots); // one backend per slot here: no endpoint is shared
      const serviceIds = c.services.map((s) => s.id).sort((a, b) => a - b);
      const ids = node.maps.backends
        .decoded()
        .map(([id]) => id)
        .sort((a, b) => a - b);
      expect(new Set(serviceIds).size).toBe(serviceIds.length);
      // Before any change or removal, ids are dense: none was taken and lost.
      if (dense) {
        expect(serviceIds).toEqual(c.services.map((_, i) => i + 1));
        expect(ids).toEqual(ids.map((_, i) => i + 1));
      }
    }

    const many = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        ports(web({ name: `svc${i}`, clusterIPs: [`10.96.1.${i + 1}`] }), eps(10 + 2 * i, 11 + 2 * i)),
      ).flat();

    it.each([
      ['element by element (two service ports)', 1, 2],
      ['in batches', 3, 5],
    ])(
      '%s: the ports that fit are served, the rest refused one by one with the reason, nothing leaked',
      async (_, size, count) => {
        const node = await new Node(memoryMaps({ sy_services_v3: size })).start();
        const sps = many(count);
        const result = await node.sync(sps);
        const refused = sps.slice(size).map((sp) => sp.name);
        expect(result.skipped.map((s) => s.name)).toEqual(refused);
        for (const s of result.skipped) {
          expect(s.reason).toMatch(
            /^sy_services_v3 is full \(\d+ entries\): 10\.96\.1\.\d+:80\/TCP is not programmed; raise it with --bpf-map-sizes$/,
          );
        }
        expect(node.contents().services).toHaveLength(size);
        nothingLeaked(node);

        // The loop's periodic full sync: the same refusals, the served ones untouched.
        const served = node.contents();
        expect((await node.fullSync()).skipped.map((s) => s.name)).toEqual(refused);
        expect(node.contents()).toEqual(served);

        // A full map does not stop a change to a port it serves.
        const first = sps[0]!;
        const [moved] = ports(web({ name: 'svc0', clusterIPs: ['10.96.1.1'] }), eps(99));
        expect(moved!.name).toBe(first.name);
        const changed = await node.sync([moved!]);
        expect(changed.written).toBe(1);
        expect(node.contents().services.find((x) => x.service === '10.96.1.1:80/6')?.backends).toEqual([
          '10.244.1.99:8080',
        ]);
        nothingLeaked(node, { dense: false });

        // Room made by a removal: the next sync programs a refused port, untold.
        const after = await node.sync([], [first.name]);
        expect(after.skipped.map((s) => s.name)).toEqual(refused.slice(1));
        expect(node.contents().services).toHaveLength(size);
        expect(node.contents().services.map((x) => x.service)).toContain(`10.96.1.${size + 1}:80/6`);
        nothingLeaked(node, { dense: false });
      },
    );
  });
});
