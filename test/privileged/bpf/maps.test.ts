// Map operations on a real kernel: single, batch, iteration, per-CPU, pins
// shared across processes, and codecs derived from the object's BTF.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfErrorCode, BpfMap, BpfObject, type TypedMap } from '../../../control/bpf/index.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot, testBpfObject } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

interface Key {
  addr: string;
  port: number;
  proto: number;
}
interface Value {
  packets: bigint;
  backend_id: number;
  flags: number;
}

const key = (i: number): Key => ({ addr: `10.96.${(i >> 8) & 255}.${i & 255}`, port: 80 + (i % 3), proto: 6 });

describe.runIf(requirePrivileges())('BPF maps', () => {
  const net = new TestNet();
  let obj: BpfObject;
  let hash: BpfMap;
  let typed: TypedMap<Key, Value>;

  beforeAll(() => {
    obj = BpfObject.load(testBpfObject('selftest'), { pinRoot: net.pinDir('maps') });
    hash = obj.map('sy_test_hash');
    typed = hash.typed<Key, Value>({ key: { addr: 'ipv4' } });
  });
  afterAll(async () => {
    obj?.close();
    await net.teardown();
  });

  it('describes the object and the map', () => {
    expect(obj.maps().map((m) => m.name)).toEqual(
      expect.arrayContaining([
        'sy_test_hash',
        'sy_test_counters',
        'sy_test_percpu',
        'sy_test_lru',
        'sy_test_pinned',
        'sy_test_nobatch',
      ]),
    );
    expect(obj.programs().map((p) => p.name)).toEqual(
      expect.arrayContaining(['sy_test_tc', 'sy_test_xdp', 'sy_test_cgroup']),
    );
    expect(hash.info).toMatchObject({
      name: 'sy_test_hash',
      type: 'hash',
      keySize: 8,
      valueSize: 16,
      maxEntries: 1024,
    });
  });

  it('exposes the BTF layout of key and value', () => {
    const btf = hash.btf()!;
    expect(btf.key).toMatchObject({ kind: 'struct', name: 'selftest_key', size: 8 });
    expect(btf.key!.members!.map((m) => [m.name, m.offset, m.type.typedef ?? m.type.name])).toEqual([
      ['addr', 0, '__be32'],
      ['port', 4, '__be16'],
      ['proto', 6, '__u8'],
      ['pad', 7, '__u8'],
    ]);
    expect(btf.value!.members!.map((m) => [m.name, m.offset, m.type.size])).toEqual([
      ['packets', 0, 8],
      ['backend_id', 8, 4],
      ['flags', 12, 2],
      ['pad', 14, 2],
    ]);
  });

  it('encodes big-endian fields from their __be typedefs', () => {
    const raw = typed.key.encode({ addr: '10.96.0.1', port: 443, proto: 17 });
    expect([...raw]).toEqual([10, 96, 0, 1, 0x01, 0xbb, 17, 0]);
  });

  it('updates, looks up and deletes; a missing key is undefined', () => {
    const k = key(1);
    expect(typed.get(k)).toBeUndefined();
    typed.set(k, { packets: 5n, backend_id: 7, flags: 1 });
    expect(typed.get(k)).toEqual({ packets: 5n, backend_id: 7, flags: 1 });
    expect(typed.delete(k)).toBe(true);
    expect(typed.delete(k)).toBe(false);
    expect(typed.get(k)).toBeUndefined();
  });

  it('honours update flags', () => {
    const k = key(2);
    expect(() => typed.set(k, { packets: 1n, backend_id: 1, flags: 0 }, 'exist')).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound }),
    );
    typed.set(k, { packets: 1n, backend_id: 1, flags: 0 }, 'noexist');
    expect(() => typed.set(k, { packets: 2n, backend_id: 2, flags: 0 }, 'noexist')).toThrow(
      expect.objectContaining({ code: BpfErrorCode.Exists, op: 'map.update', target: 'sy_test_hash' }),
    );
    typed.set(k, { packets: 3n, backend_id: 3, flags: 0 }, 'exist');
    expect(typed.get(k)?.backend_id).toBe(3);
    typed.delete(k);
  });

  it('checks key and value sizes before the syscall', () => {
    expect(() => hash.lookup(Buffer.alloc(7))).toThrow(
      expect.objectContaining({
        code: BpfErrorCode.InvalidArgument,
        message: expect.stringContaining('key is 7 bytes, the map wants 8'),
      }),
    );
    expect(() => hash.update(Buffer.alloc(8), Buffer.alloc(15))).toThrow(
      expect.objectContaining({ code: BpfErrorCode.InvalidArgument }),
    );
    expect(() =>
      typed.set({ addr: '10.96.0.300', port: 1, proto: 6 }, { packets: 0n, backend_id: 0, flags: 0 }),
    ).toThrow(/not an IPv4 address/);
  });

  it('writes, reads and deletes in batches, and iterates', async () => {
    const entries = Array.from(
      { length: 1000 },
      (_, i) => [key(i), { packets: BigInt(i), backend_id: i, flags: 0 }] as const,
    );
    const written = await typed.setMany(entries);
    expect(written).toEqual({ count: 1000, batched: true });

    const all = await typed.all();
    expect(all).toHaveLength(1000);
    expect(
      new Map(all.map(([k, v]) => [`${k.addr}:${k.port}`, v.backend_id])).get(`${key(999).addr}:${key(999).port}`),
    ).toBe(999);
    expect([...hash.keys()]).toHaveLength(1000);

    // Half of them, plus ten that are not there: missing keys are not errors.
    const doomed = [...entries.slice(0, 500).map(([k]) => k), ...Array.from({ length: 10 }, (_, i) => key(5000 + i))];
    const deleted = await typed.deleteMany(doomed);
    expect(deleted.count).toBe(500);
    expect(await typed.all()).toHaveLength(500);
    await typed.deleteMany(entries.map(([k]) => k));
    expect([...hash.keys()]).toHaveLength(0);
  });

  it('runs a large batch off the event loop', async () => {
    const big = BpfObject.load(testBpfObject('selftest'), {
      pinRoot: net.pinDir('big'),
      maxEntries: { sy_test_hash: 200_000 },
    });
    try {
      const m = big.map('sy_test_hash').typed<Key, Value>({ key: { addr: 'ipv4' } });
      const wide = (i: number): Key => ({
        addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: 80,
        proto: 6,
      });
      const entries = Array.from(
        { length: 200_000 },
        (_, i) => [wide(i), { packets: 0n, backend_id: i, flags: 0 }] as const,
      );
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const written = await m.setMany(entries);
      const read = await m.all();
      clearInterval(timer);
      expect(written.count).toBe(200_000);
      expect(read).toHaveLength(200_000);
      // The event loop kept turning while the kernel worked on the thread pool.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      big.close();
    }
  });

  it('falls back to one syscall per element where the kernel has no batch command', async () => {
    const m = obj.map('sy_test_nobatch');
    const u32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer);
    const LOOPBACK = 1; // the ifindex of lo in every network namespace
    const entries = Array.from({ length: 40 }, (_, i) => [u32(i), u32(LOOPBACK)] as const);
    expect(await m.updateBatch(entries)).toEqual({ count: 40, batched: false });
    const all = await m.lookupAll();
    expect(all.map(([k]) => k.readUInt32LE()).sort((a, b) => a - b)).toEqual(entries.map((_, i) => i));
    expect(all.every(([, v]) => v.readUInt32LE() === LOOPBACK)).toBe(true);
    // Missing keys are skipped there too.
    expect(await m.deleteBatch([...entries.map(([k]) => k), u32(1000)])).toEqual({ count: 40, batched: false });
    expect([...m.keys()]).toHaveLength(0);
  });

  it('reports a full map with its own code', async () => {
    const entries = Array.from({ length: 1024 }, (_, i) => [key(i), { packets: 0n, backend_id: i, flags: 0 }] as const);
    await typed.setMany(entries);
    expect(() => typed.set(key(4000), { packets: 0n, backend_id: 0, flags: 0 })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.MapFull, errno: 7 }),
    );
    await expect(typed.setMany([[key(4001), { packets: 0n, backend_id: 0, flags: 0 }]])).rejects.toMatchObject({
      code: BpfErrorCode.MapFull,
    });
    await typed.deleteMany(entries.map(([k]) => k));
  });

  it('reads per-CPU maps as one value per CPU', () => {
    const percpu = obj.map('sy_test_percpu').typed<number, number>();
    percpu.set(1, 42);
    const values = percpu.getPerCpu(1)!;
    expect(values.length).toBeGreaterThanOrEqual(1);
    expect(values.every((v) => v === 42)).toBe(true);
  });

  it('reads LRU hashes and arrays back in batches', async () => {
    // Both map types have batch commands on this kernel; both must read back fully.
    const lru = obj.map('sy_test_lru').typed<number, number>();
    await lru.setMany(Array.from({ length: 50 }, (_, i) => [i, i * 2] as const));
    expect((await lru.all()).sort((a, b) => a[0] - b[0]).slice(0, 3)).toEqual([
      [0, 0],
      [1, 2],
      [2, 4],
    ]);
    const counters = obj.map('sy_test_counters').typed<number, bigint>();
    expect(await counters.all()).toHaveLength(4); // arrays always hold every slot
  });

  it('refuses a TypeScript view that names a field the struct lacks', () => {
    expect(() => hash.typed({ key: { address: 'ipv4' } })).toThrow(
      expect.objectContaining({
        code: BpfErrorCode.LayoutMismatch,
        message: expect.stringContaining('no field "address"'),
      }),
    );
    expect(() => hash.typed({ key: { port: 'ipv4' } })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.LayoutMismatch }),
    );
  });

  it('pins a map, opens the pin, and unpins', () => {
    const path = `${net.pinDir('pin-one')}/hash`;
    hash.pin(path);
    const again = BpfMap.openPinned(path).typed<Key, Value>({ key: { addr: 'ipv4' } });
    typed.set(key(9), { packets: 9n, backend_id: 9, flags: 0 });
    expect(again.get(key(9))?.backend_id).toBe(9);
    again.map.close();
    again.map.close(); // closing twice is fine
    BpfMap.unpin(path);
    expect(() => BpfMap.openPinned(path)).toThrow(expect.objectContaining({ code: BpfErrorCode.NotFound, errno: 2 }));
    typed.delete(key(9));
  });

  it('reuses a pinned map across two separate processes', () => {
    const pinRoot = net.pinDir('shared');
    // Each process loads the object on its own; the map pinned by name is
    // created by the first and reused by the second.
    const script = (action: string) => `
      import { BpfObject } from ${JSON.stringify(`${repoRoot}/dist/control/bpf/index.js`)};
      const obj = BpfObject.load(${JSON.stringify(testBpfObject('selftest'))}, { pinRoot: ${JSON.stringify(pinRoot)} });
      const m = obj.map('sy_test_pinned').typed();
      ${action}
      obj.close();`;
    const child = (action: string) =>
      execFileSync(nodeBinary, ['--input-type=module', '-e', script(action)], { encoding: 'utf8' }).trim();

    child(`m.set(7, 700n);`);
    expect(child(`console.log(String(m.get(7)));`)).toBe('700');
    child(`m.set(8, 800n);`);
    const here = BpfMap.openPinned(`${pinRoot}/sy_test_pinned`).typed<number, bigint>();
    expect(here.get(8)).toBe(800n);
    here.map.close();
  });
});
