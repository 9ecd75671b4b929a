// Reused pins are checked: a restarted dataplane compares each pinned map
// with the object's definition. Another size (--bpf-map-sizes changed) is
// migrated with its entries; another layout is refused and the pin left as
// it was. Identical pins are adopted (pinned-maps.test.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfErrorCode, BpfMap, BpfObject, type PinnedMapMigration } from '../../../control/bpf/index.js';
import { EbpfDataplane, type ServicePortSpec } from '../../../control/proxiers/ebpf/dataplane.js';
import type { CtEntry, CtKey } from '../../../control/proxiers/ebpf/maps.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;
const backends = (n: number, port: number) =>
  Array.from({ length: n }, (_, i) => ({ address: `10.244.${1 + (i >> 1)}.${11 + (i & 1)}`, port }));
const SERVICES: ServicePortSpec[] = [
  { address: '10.96.0.10', port: 80, protocol: 'TCP', backends: backends(4, 8080) },
  { address: '10.96.0.12', port: 53, protocol: 'UDP', backends: backends(3, 5353) },
  { address: '10.96.0.14', port: 443, protocol: 'TCP', backends: backends(2, 8443), affinityTimeoutSeconds: 300 },
];
const FLOWS = 300;

function conntrackOf(pinRoot: string) {
  return BpfMap.openPinned(join(pinRoot, 'sy_conntrack_v3')).typed<CtKey, CtEntry>({
    key: { saddr: 'ip', daddr: 'ip' },
    value: { nat_addr: 'ip', peer_addr: 'ip' },
  });
}

const flow = (i: number): [CtKey, CtEntry] => [
  { saddr: `10.244.9.${1 + (i % 200)}`, daddr: '10.96.0.10', sport: 20000 + i, dport: 80, proto: 6, dir: 0 },
  {
    last_seen_ns: 1n,
    nat_addr: '10.244.1.11',
    nat_port: 8080,
    flags: 0,
    peer_addr: '0.0.0.0',
    peer_port: 0,
    service_id: 1,
    backend_id: 1,
  },
];

const pinnedInfo = (pinRoot: string, name: string) => {
  const m = BpfMap.openPinned(join(pinRoot, name));
  try {
    return m.info;
  } finally {
    m.close();
  }
};

describe.runIf(requirePrivileges())('ebpf dataplane: reused pins are checked', () => {
  const net = new TestNet();
  afterAll(() => net.teardown());

  it('another max_entries: a new map of the new size holds every entry, and the pin points at it', async () => {
    const pinRoot = net.pinDir('resize');
    const first = await EbpfDataplane.open({ objectDir, pinRoot });
    for (const s of SERVICES) first.upsertService(s);
    first.release();
    const ct = conntrackOf(pinRoot);
    await ct.setMany(Array.from({ length: FLOWS }, (_, i) => flow(i)));
    ct.map.close();
    const before = {
      services: pinnedInfo(pinRoot, 'sy_services_v3'),
      conntrack: pinnedInfo(pinRoot, 'sy_conntrack_v3'),
      slots: pinnedInfo(pinRoot, 'sy_slots'),
    };

    const migrated: PinnedMapMigration[] = [];
    const mapSizes = { sy_services_v3: 4096, sy_conntrack_v3: 131072 };
    const again = await EbpfDataplane.open({ objectDir, pinRoot, mapSizes, onMigrated: (m) => migrated.push(m) });
    try {
      expect(
        migrated.map(({ map, oldMaxEntries, newMaxEntries, entries, entriesCopied }) => ({
          map,
          oldMaxEntries,
          newMaxEntries,
          entries,
          entriesCopied,
        })),
      ).toEqual([
        { map: 'sy_services_v3', oldMaxEntries: 65536, newMaxEntries: 4096, entries: 3, entriesCopied: 3 },
        { map: 'sy_conntrack_v3', oldMaxEntries: 262144, newMaxEntries: 131072, entries: FLOWS, entriesCopied: FLOWS },
      ]);
      const services = pinnedInfo(pinRoot, 'sy_services_v3');
      const conntrack = pinnedInfo(pinRoot, 'sy_conntrack_v3');
      expect([services.maxEntries, conntrack.maxEntries]).toEqual([4096, 131072]);
      expect(services.id).not.toBe(before.services.id);
      expect(conntrack.id).not.toBe(before.conntrack.id);
      expect(pinnedInfo(pinRoot, 'sy_slots').id).toBe(before.slots.id); // unchanged size: adopted as it was
      // The new maps keep their BTF: typed views (and the check on the next start) work.
      expect(BpfMap.openPinned(join(pinRoot, 'sy_services_v3')).btf()?.key?.name).toBe('sy_service_key');
      // Entries present: the dataplane adopts the services, the flows are there.
      expect(
        again
          .programmed()
          .map((p) => p.address)
          .sort(),
      ).toEqual(SERVICES.map((s) => s.address).sort());
      const flows = await again.conntrack();
      expect(flows).toHaveLength(FLOWS);
      expect(flows.map((f) => f.source)).toContain('10.244.9.1:20000');
      // The programs and the control plane use the new map: a write shows through the pin.
      again.upsertService({ address: '10.96.0.30', port: 80, protocol: 'TCP', backends: backends(1, 8080) });
      const svc = BpfMap.openPinned(join(pinRoot, 'sy_services_v3'));
      expect((await svc.lookupAll()).length).toBe(4);
      svc.close();
    } finally {
      again.release();
    }
    // A third start with the same sizes adopts the migrated maps as they are.
    const third = await EbpfDataplane.open({ objectDir, pinRoot, mapSizes, onMigrated: (m) => migrated.push(m) });
    third.release();
    expect(migrated).toHaveLength(2);
  });

  it('a hash map shrunk below its entry count is refused before anything changes', async () => {
    const pinRoot = net.pinDir('shrink');
    const first = await EbpfDataplane.open({ objectDir, pinRoot });
    for (const s of SERVICES) first.upsertService(s);
    first.release();
    const before = pinnedInfo(pinRoot, 'sy_services_v3');
    const err = await EbpfDataplane.open({ objectDir, pinRoot, mapSizes: { sy_services_v3: 2 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: BpfErrorCode.MapFull, target: join(pinRoot, 'sy_services_v3') });
    expect(String((err as Error).message)).toMatch(/holds 3 entries, more than the new size 2/);
    expect(pinnedInfo(pinRoot, 'sy_services_v3')).toMatchObject({ id: before.id, maxEntries: 65536 });
  });

  it('an LRU map shrunk below its entry count keeps what fits, and says how many that was', async () => {
    const pinRoot = net.pinDir('lru');
    (await EbpfDataplane.open({ objectDir, pinRoot })).release();
    const ct = conntrackOf(pinRoot);
    await ct.setMany(Array.from({ length: FLOWS }, (_, i) => flow(i)));
    ct.map.close();
    const migrated: PinnedMapMigration[] = [];
    const dp = await EbpfDataplane.open({
      objectDir,
      pinRoot,
      mapSizes: { sy_conntrack_v3: 100 },
      onMigrated: (m) => migrated.push(m),
    });
    try {
      expect(migrated).toHaveLength(1);
      expect(migrated[0]).toMatchObject({
        map: 'sy_conntrack_v3',
        oldMaxEntries: 262144,
        newMaxEntries: 100,
        entries: FLOWS,
      });
      const kept = (await dp.conntrack()).length;
      expect(migrated[0]!.entriesCopied).toBe(kept);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(100);
      expect(pinnedInfo(pinRoot, 'sy_conntrack_v3').maxEntries).toBe(100);
    } finally {
      dp.release();
    }
  });

  it('another layout under the same name: ERR_BPF_MAP_INCOMPATIBLE lists the difference, the pin is untouched', async () => {
    const pinRoot = net.pinDir('layout');
    // Same key and value sizes as the dataplane's sy_backends_v2 (libbpf alone would reuse it), another value layout.
    const other = BpfObject.load(join(objectDir, 'test', 'pin-layout.bpf.o'), { pinRoot });
    const pinned = other.map('sy_backends_v2');
    const entry = Buffer.from('00000000000000000000ffff0af4010b901f0000', 'hex'); // ::ffff:10.244.1.11, port 8080 (host order)
    pinned.update(Buffer.from([1, 0, 0, 0]), entry);
    const before = pinned.info;
    pinned.close();
    other.close();

    const err = await EbpfDataplane.open({ objectDir, pinRoot }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const pinPath = join(pinRoot, 'sy_backends_v2');
    expect(err).toMatchObject({ code: BpfErrorCode.MapIncompatible, op: 'object.load', target: pinPath });
    const message = String((err as Error).message);
    expect(message).toContain(pinPath);
    expect(message).toContain('value.port size: pinned 4 vs object 2');
    expect(message).toContain('value.port byte order: pinned host vs object big-endian');
    expect(message).toContain('value.pad: pinned absent vs object');
    expect(message).toContain('switchyard --cleanup');
    // Untouched: the same map, its entry as written; nothing else was pinned either.
    const after = BpfMap.openPinned(pinPath);
    expect(after.info.id).toBe(before.id);
    expect(after.lookup(Buffer.from([1, 0, 0, 0]))).toEqual(entry);
    after.close();
    expect(existsSync(join(pinRoot, 'sy_services_v3'))).toBe(false);
  });

  it("an earlier version's maps of the IPv4-only layout (sy_services_v2, sy_conntrack_v2): the dataplane starts on new ones and removes the old pins", async () => {
    const pinRoot = net.pinDir('retired');
    const old = BpfObject.load(join(objectDir, 'test', 'retired-maps.bpf.o'), { pinRoot });
    // 10.96.0.10:80/TCP → service 1, as the old layout wrote it.
    old.map('sy_services_v2').update(Buffer.from('0a60000a00500600', 'hex'), Buffer.alloc(20, 0));
    old.close();
    expect(existsSync(join(pinRoot, 'sy_services_v2'))).toBe(true);
    expect(existsSync(join(pinRoot, 'sy_conntrack_v2'))).toBe(true);

    const dp = await EbpfDataplane.open({ objectDir, pinRoot });
    try {
      // Nothing of the old layout was read as programmed.
      expect(dp.programmed()).toEqual([]);
      expect(existsSync(join(pinRoot, 'sy_services_v2'))).toBe(false);
      expect(existsSync(join(pinRoot, 'sy_conntrack_v2'))).toBe(false);
      expect(existsSync(join(pinRoot, 'sy_services_v3'))).toBe(true);
      expect(existsSync(join(pinRoot, 'sy_conntrack_v3'))).toBe(true);
      dp.upsertService(SERVICES[0]!);
      expect(dp.programmed().map((p) => p.address)).toEqual(['10.96.0.10']);
    } finally {
      dp.close();
    }
    // A second start finds nothing more to remove.
    expect(EbpfDataplane.removeRetiredPins(pinRoot)).toEqual([]);
  });

  it("BpfObject.load (without migration) refuses another size with the difference instead of libbpf's EINVAL", async () => {
    const pinRoot = net.pinDir('sync');
    BpfObject.load(join(objectDir, 'tc.bpf.o'), { pinRoot }).close();
    const err = (() => {
      try {
        BpfObject.load(join(objectDir, 'tc.bpf.o'), { pinRoot, maxEntries: { sy_affinity_v2: 1024 } }).close();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: BpfErrorCode.MapIncompatible, target: join(pinRoot, 'sy_affinity_v2') });
    expect(String((err as Error).message)).toContain('max_entries: pinned 65536 vs object 1024');
  });
});
