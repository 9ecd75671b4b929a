// The dataplane against the kernel's conntrack map: after a sync removes UDP
// backends, clearStaleUdpFlows() deletes exactly the entries of the flows that
// went to them (both directions), and nothing of TCP or of other services.
// That a client's next datagram then goes elsewhere is the e2e suite's
// (test/privileged/e2e, udp-endpoint-removal). No program is attached here:
// the entries are written as bpf/lib/conntrack.h ct_create() writes them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, type TypedMap } from '../../../control/bpf/index.js';
import { EbpfDataplane, type ServicePortSpec } from '../../../control/proxiers/ebpf/dataplane.js';
import { CT_ORIGINAL, CT_REPLY, type CtEntry, type CtKey } from '../../../control/proxiers/ebpf/maps.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;
const BACKENDS = ['10.244.1.11', '10.244.1.12', '10.244.2.11', '10.244.2.12'];
const CLIENT = '10.244.2.13';

const DNS: ServicePortSpec = {
  address: '10.96.0.12',
  port: 53,
  protocol: 'UDP',
  backends: BACKENDS.map((address) => ({ address, port: 5353 })),
};
const OTHER: ServicePortSpec = { ...DNS, address: '10.96.0.22' };
const WEB: ServicePortSpec = {
  address: '10.96.0.10',
  port: 80,
  protocol: 'TCP',
  backends: BACKENDS.map((address) => ({ address, port: 8080 })),
};
const without = (spec: ServicePortSpec, address: string): ServicePortSpec => ({
  ...spec,
  backends: spec.backends.filter((b) => b.address !== address),
});

/** Both entries of one flow from CLIENT, as ct_create() writes them. */
function flowEntries(spec: ServicePortSpec, backend: string, clientPort: number): Array<[CtKey, CtEntry]> {
  const proto = spec.protocol === 'UDP' ? 17 : 6;
  const port = spec.backends[0]!.port;
  const common = {
    last_seen_ns: process.hrtime.bigint(),
    flags: 0,
    peer_addr: CLIENT,
    peer_port: 0,
    service_id: 1,
    backend_id: 1,
  };
  return [
    [
      { saddr: CLIENT, daddr: spec.address, sport: clientPort, dport: spec.port, proto, dir: CT_ORIGINAL },
      { ...common, nat_addr: backend, nat_port: port },
    ],
    [
      { saddr: backend, daddr: CLIENT, sport: port, dport: clientPort, proto, dir: CT_REPLY },
      { ...common, nat_addr: spec.address, nat_port: spec.port },
    ],
  ];
}

/** A flow per (service, backend); client ports tell them apart. */
function allFlows(): Array<[CtKey, CtEntry]> {
  let port = 41000;
  return [DNS, OTHER, WEB].flatMap((spec) => BACKENDS.flatMap((b) => flowEntries(spec, b, port++)));
}

/** An entry as "PROTO dir service>backend", to compare tables readably. */
function describeEntry([k, v]: [CtKey, CtEntry]): string {
  const proto = k.proto === 17 ? 'UDP' : 'TCP';
  return k.dir === CT_ORIGINAL
    ? `${proto} original ${k.daddr}:${k.dport}>${v.nat_addr}:${v.nat_port}`
    : `${proto} reply ${v.nat_addr}:${v.nat_port}>${k.saddr}:${k.sport}`;
}

describe.runIf(requirePrivileges())('ebpf dataplane: conntrack entries of removed UDP backends', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let conntrack: TypedMap<CtKey, CtEntry>;
  const table = async () => (await conntrack.all()).map(describeEntry).sort();
  const expected = (keep: (e: [CtKey, CtEntry]) => boolean) => allFlows().filter(keep).map(describeEntry).sort();
  const isFlowOf =
    (spec: ServicePortSpec, backend = '') =>
    (e: [CtKey, CtEntry]) => {
      const d = describeEntry(e);
      return d.startsWith(`${spec.protocol} `) && d.includes(` ${spec.address}:${spec.port}>${backend}`);
    };

  beforeAll(async () => {
    const pinRoot = net.pinDir('dp');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    for (const s of [DNS, OTHER, WEB]) dp.upsertService(s);
    conntrack = BpfMap.openPinned(`${pinRoot}/sy_conntrack_v3`).typed<CtKey, CtEntry>({
      key: { saddr: 'ip', daddr: 'ip' },
      value: { nat_addr: 'ip', peer_addr: 'ip' },
    });
    await conntrack.setMany(allFlows());
  });
  afterAll(async () => {
    conntrack?.map.close();
    dp?.close();
    await net.teardown();
  });

  it('clears nothing while no UDP backend went, TCP backends removed included', async () => {
    dp.upsertService(without(WEB, BACKENDS[0]!));
    dp.upsertService(DNS); // unchanged
    expect(await dp.clearStaleUdpFlows()).toBe(0);
    expect(await table()).toEqual(expected(() => true));
  });

  it('clears both directions of the flows to a removed UDP backend, and only those', async () => {
    dp.upsertService(without(DNS, BACKENDS[1]!));
    expect(await dp.clearStaleUdpFlows()).toBe(2);
    expect(await table()).toEqual(expected((e) => !isFlowOf(DNS, BACKENDS[1])(e)));
    // Done once: the next sync pays nothing.
    expect(await dp.clearStaleUdpFlows()).toBe(0);
  });

  it('clears every flow of a UDP service port that is removed, and none of another with the same backends', async () => {
    expect(dp.deleteService(DNS)).toBe(true);
    expect(await dp.clearStaleUdpFlows()).toBe(6);
    expect(await table()).toEqual(expected((e) => !isFlowOf(DNS)(e)));
  });

  it('leaves the flows of a backend that came back before the clearing', async () => {
    dp.upsertService(without(OTHER, BACKENDS[2]!));
    dp.upsertService(OTHER);
    expect(await dp.clearStaleUdpFlows()).toBe(0);
    expect(await table()).toEqual(expected((e) => !isFlowOf(DNS)(e)));
  });
});
