// The ebpf mode's two family proxiers over one dataplane (in-memory maps,
// memory-maps.ts): the IPv6 proxier shares the IPv4 one's maps, each
// programs its family's share of a dual-stack service port, and neither's
// full sync nor node-wide settings touch the other family's entries.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/index.js';
import type { NodeFacts } from '../../../control/model/node-facts.js';
import type { ServicePortState } from '../../../control/model/types.js';
import type { Service } from '../../../control/sources/types.js';
import { DualStackProxier } from '../../../control/proxiers/dual-stack.js';
import { EbpfProxier } from '../../../control/proxiers/ebpf/proxier.js';
import { endpoint, NODE, service, slice } from '../model/fixtures.js';
import { memoryMaps } from './memory-maps.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

const FACTS: NodeFacts = {
  nodeName: NODE.nodeName,
  addresses: ['172.31.0.11', 'fd00:172:31::b'],
  podCIDRs: [],
  nodePortAddresses: {},
  localAddresses: ['172.31.0.11', 'fd00:172:31::b'],
};

/** A dual-stack service port with one endpoint of each family. */
function dualStack(over: Partial<Service> = {}): ServicePortState[] {
  const svc = service({
    clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
    ipFamilies: ['IPv4', 'IPv6'],
    ...over,
  } as Partial<Service>);
  return buildServicePorts(
    svc,
    [
      slice('web-v4', [endpoint('10.244.1.11')], { serviceName: svc.name, namespace: svc.namespace }),
      slice('web-v6', [endpoint('FD00:10:244:1:0::B')], {
        serviceName: svc.name,
        namespace: svc.namespace,
        addressType: 'IPv6',
      }),
    ],
    NODE,
  );
}

async function node(maps = memoryMaps()) {
  const common = { objectDir: '/nonexistent', pinRoot: '/nonexistent', devices: [], logger: silent, maps };
  const v4 = new EbpfProxier({ ...common, family: 'IPv4', clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] });
  const v6 = new EbpfProxier({
    ...common,
    family: 'IPv6',
    shared: v4,
    clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  });
  const meta = new DualStackProxier('ebpf', { IPv4: v4, IPv6: v6 });
  await meta.start();
  const entries = () =>
    maps.services
      .decoded()
      .map(([k]) => `${k.addr}|${k.port}`)
      .sort();
  return { maps, v4, v6, meta, entries };
}

const full = (desired: ServicePortState[], facts = FACTS) => ({
  desired: new Map(desired.map((sp) => [sp.name, sp])),
  changed: new Set<string>(),
  removed: new Map(),
  full: true,
  node: facts,
});

describe('ebpf mode, both families over one dataplane', () => {
  it('programs each family of a dual-stack service port, IPv6 in the form the maps give back', async () => {
    const { meta, maps, entries, v6 } = await node();
    const sps = dualStack({
      type: 'NodePort',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    } as Partial<Service>);
    const r = await meta.sync(full(sps));
    expect(r.skipped).toEqual([]);
    // ClusterIPs of both families; NodePorts on the node's address of each, and 127.0.0.1 for IPv4 only.
    expect(entries()).toEqual([
      '10.96.0.10|80',
      '127.0.0.1|30080',
      '172.31.0.11|30080',
      'fd00:10:96::a|80',
      'fd00:172:31::b|30080',
    ]);
    expect(new Set(maps.backends.decoded().map(([, b]) => b.addr))).toEqual(
      new Set(['10.244.1.11', 'fd00:10:244:1::b']),
    );
    expect(v6.view().programmedCount()).toBe(2);
    expect(meta.view().programmedCount()).toBe(5);
    // Each family's node address for its source NAT, each family's --cluster-cidr.
    expect(maps.config.decoded()[0]![1]).toMatchObject({ snat_addr4: '172.31.0.11', snat_addr6: 'fd00:172:31::b' });
    expect(
      maps.clusterCidrs
        .decoded()
        .map(([k]) => `${k.addr}/${k.prefixlen}`)
        .sort(),
    ).toEqual(['10.244.0.0/112', 'fd00:10:244::/56']);
  });

  it("a full sync of one family never removes the other family's entries or settings", async () => {
    const { meta, v4, maps, entries } = await node();
    await meta.sync(full(dualStack()));
    // The IPv4 proxier alone, told of no service port at all: its entries go, IPv6's stay.
    const r = await v4.sync(full([], { ...FACTS, addresses: ['172.31.0.11'], localAddresses: ['172.31.0.11'] }));
    expect(r.removed).toBe(1);
    expect(entries()).toEqual(['fd00:10:96::a|80']);
    expect(maps.config.decoded()[0]![1].snat_addr6).toBe('fd00:172:31::b');
    expect(maps.clusterCidrs.decoded().some(([k]) => k.addr === 'fd00:10:244::')).toBe(true);
  });

  it('a restart adopts both families, and the first full sync rewrites nothing', async () => {
    const first = await node();
    await first.meta.sync(full(dualStack()));
    await first.meta.stop();
    const again = await node(first.maps);
    const writes = () => first.maps.services.writes.single + first.maps.services.writes.batches;
    const before = writes();
    expect(await again.meta.sync(full(dualStack()))).toEqual({ written: 0, removed: 0, skipped: [] });
    expect(writes()).toBe(before);
    expect(again.entries()).toEqual(['10.96.0.10|80', 'fd00:10:96::a|80']);
  });
});
