// The dataplane's batch path (EbpfDataplane.apply) against the kernel's maps:
// thousands of service ports programmed, changed and removed in one call read
// back as they were meant (servicesInMaps), exactly as element-by-element
// writes leave them; no service is ever seen half-written while a batch runs;
// affinity entries of removed backends go; a batch that fails part-way
// leaves a view rebuilt from the maps, and the next one converges. No
// program is attached: packets are test/privileged/bpf's and the e2e suite's.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfErrorCode, BpfMap, type TypedMap } from '../../../control/bpf/index.js';
import {
  EbpfDataplane,
  type ProgrammedServicePort,
  type ServicePortSpec,
} from '../../../control/proxiers/ebpf/dataplane.js';
import type {
  AffinityKey,
  AffinityValue,
  BackendValue,
  ServiceKey,
  ServiceValue,
  SlotKey,
  SlotValue,
} from '../../../control/proxiers/ebpf/maps.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;

const serviceAddress = (i: number) => `10.96.${(i >> 8) & 255}.${i & 255}`;
/** `n` endpoints of service port `i`, starting at the `from`-th; distinct across service ports. */
const endpoints = (i: number, n: number, from = 0) =>
  Array.from({ length: n }, (_, j) => ({
    address: `10.${100 + ((i >> 8) & 63)}.${i & 255}.${from + j + 1}`,
    port: 8080,
  }));

/** Service port `i` as first programmed: mostly TCP with 10 endpoints; some UDP, affine, empty, dropping. */
function initial(i: number): ServicePortSpec {
  const spec: ServicePortSpec = {
    address: serviceAddress(i),
    port: 80,
    protocol: i % 7 === 0 ? 'UDP' : 'TCP',
    backends: endpoints(i, 10),
  };
  if (i % 11 === 0) spec.affinityTimeoutSeconds = 300;
  if (i % 97 === 0) spec.backends = [];
  if (i % 194 === 0) spec.dropWhenEmpty = true;
  return spec;
}

/** A service port without its id: ids are the dataplane's, not the caller's. */
const specOf = ({ id: _id, ...spec }: ProgrammedServicePort): ServicePortSpec => spec;
const byKey = (a: ServicePortSpec, b: ServicePortSpec) =>
  `${a.address}:${a.port}/${a.protocol}`.localeCompare(`${b.address}:${b.port}/${b.protocol}`);
/** A spec as the maps give it back: dropWhenEmpty only means something without backends. */
const asRead = (s: ServicePortSpec): ServicePortSpec => {
  const { dropWhenEmpty, ...rest } = s;
  return dropWhenEmpty && s.backends.length === 0 ? { ...rest, dropWhenEmpty } : rest;
};
const sorted = (specs: ServicePortSpec[]) => specs.map(asRead).sort(byKey);

interface RawMaps {
  services: TypedMap<ServiceKey, ServiceValue>;
  slots: TypedMap<SlotKey, SlotValue>;
  backends: TypedMap<number, BackendValue>;
  affinity: TypedMap<AffinityKey, AffinityValue>;
  close(): void;
}

/** The dataplane's maps, opened from their pins as another process would. */
function openRaw(pinRoot: string): RawMaps {
  const open = (name: string) => BpfMap.openPinned(`${pinRoot}/${name}`);
  const services = open('sy_services_v3').typed<ServiceKey, ServiceValue>({ key: { addr: 'ip' } });
  const slots = open('sy_slots').typed<SlotKey, SlotValue>();
  const backends = open('sy_backends_v2').typed<number, BackendValue>({ value: { addr: 'ip' } });
  const affinity = open('sy_affinity_v2').typed<AffinityKey, AffinityValue>({ key: { client: 'ip' } });
  return {
    services,
    slots,
    backends,
    affinity,
    close: () => [services, slots, backends, affinity].forEach((m) => m.map.close()),
  };
}

/** Nothing left behind: a slot per counted backend of each service, a record per backend a slot names. */
async function expectNoStrays(raw: RawMaps): Promise<void> {
  const services = await raw.services.all();
  const slots = await raw.slots.all();
  const backends = await raw.backends.all();
  expect(slots.length).toBe(services.reduce((n, [, v]) => n + v.backend_count, 0));
  expect(new Set(slots.map(([, v]) => v.backend_id)).size).toBe(backends.length);
  expect(new Set(services.map(([, v]) => v.id)).size).toBe(services.length);
}

describe.runIf(requirePrivileges())('ebpf dataplane: batch writes', () => {
  const net = new TestNet();
  const opened: EbpfDataplane[] = [];
  const open = async (name: string, mapSizes?: Record<string, number>) => {
    const pinRoot = net.pinDir(name);
    const dp = await EbpfDataplane.open({ objectDir, pinRoot, ...(mapSizes ? { mapSizes } : {}) });
    opened.push(dp);
    return { dp, pinRoot };
  };
  afterAll(async () => {
    for (const dp of opened) dp.close();
    await net.teardown();
  });

  const N = 3000;
  const first = Array.from({ length: N }, (_, i) => initial(i));
  /**
   * Service port `i` in the second sync: a tenth go, a third change one
   * endpoint, some shrink (to 4) or grow (to 12), some switch affinity off
   * or on, some lose every endpoint; the rest stay as they were.
   */
  const next = (spec: ServicePortSpec, i: number): ServicePortSpec | undefined => {
    const { affinityTimeoutSeconds: _, ...withoutAffinity } = spec;
    if (i % 10 === 3) return undefined;
    if (i % 3 === 0) return { ...spec, backends: [...endpoints(i, 9), ...endpoints(i, 1, 20)] };
    if (i % 5 === 1) return { ...spec, backends: endpoints(i, 4) };
    if (i % 10 === 2) return { ...spec, backends: endpoints(i, 12) };
    if (i % 11 === 0 && i % 2 === 0) return withoutAffinity;
    if (i % 13 === 0) return { ...spec, affinityTimeoutSeconds: 60 };
    if (i % 17 === 0) return { ...spec, backends: [], dropWhenEmpty: true };
    return spec;
  };
  const nexts = first.map(next);
  const second = nexts.filter((s) => s !== undefined);
  const changed = nexts.filter((s, i) => s !== undefined && s !== first[i]) as ServicePortSpec[];
  const removed = first.filter((_, i) => nexts[i] === undefined);

  it(`programs ${N} service ports in one batch, as the maps then show`, async () => {
    const { dp, pinRoot } = await open('batch');
    expect(await dp.apply({ upsert: first, remove: [] })).toEqual({ written: N, removed: 0 });
    expect(sorted((await dp.servicesInMaps()).map(specOf))).toEqual(sorted(first));
    expect(sorted(dp.programmed().map(specOf))).toEqual(sorted(first));
    const raw = openRaw(pinRoot);
    try {
      await expectNoStrays(raw);
    } finally {
      raw.close();
    }
  });

  it('changes the endpoints of many service ports and removes others in one batch, leaving no strays', async () => {
    const { dp, pinRoot } = await open('change');
    await dp.apply({ upsert: first, remove: [] });
    expect(await dp.apply({ upsert: changed, remove: removed })).toEqual({
      written: changed.length,
      removed: removed.length,
    });
    expect(sorted((await dp.servicesInMaps()).map(specOf))).toEqual(sorted(second));
    expect(sorted(dp.programmed().map(specOf))).toEqual(sorted(second));
    const raw = openRaw(pinRoot);
    try {
      await expectNoStrays(raw);
    } finally {
      raw.close();
    }
    // Restarted, a dataplane finds the same in the pinned maps.
    dp.release();
    opened.splice(opened.indexOf(dp), 1);
    const again = await EbpfDataplane.open({ objectDir, pinRoot });
    opened.push(again);
    expect(sorted(again.programmed().map(specOf))).toEqual(sorted(second));
  });

  it('writes what element-by-element writes', async () => {
    const batched = (await open('same-batched')).dp;
    const single = (await open('same-single')).dp;
    await batched.apply({ upsert: first, remove: [] });
    for (const s of first) single.upsertService(s);
    await batched.apply({ upsert: second, remove: removed });
    for (const s of removed) single.deleteService(s);
    for (const s of second) single.upsertService(s);
    expect(sorted((await batched.servicesInMaps()).map(specOf))).toEqual(
      sorted((await single.servicesInMaps()).map(specOf)),
    );
  });

  it('never shows a half-written service port while a batch runs', async () => {
    const { dp, pinRoot } = await open('order');
    await dp.apply({ upsert: first, remove: [] });
    const raw = openRaw(pinRoot);
    // Whatever a reader finds mid-batch must be the old service port or the new one:
    // each slot below the count names a backend record of one of the two.
    const allowed = new Map<string, Set<string>>();
    const note = (s: ServicePortSpec) => {
      const set = allowed.get(s.address) ?? new Set<string>();
      for (const b of s.backends) set.add(`${b.address}:${b.port}`);
      allowed.set(s.address, set);
    };
    [...first, ...second].forEach(note);
    const problems: string[] = [];
    let checked = 0;
    let done = false;
    const reader = (async () => {
      for (let round = 0; !done; round++) {
        for (let k = 0; k < 50; k++) {
          const spec = first[(round * 50 + k) % N]!;
          const key = { addr: spec.address, port: 80, proto: spec.protocol === 'UDP' ? 17 : 6 };
          const before = raw.services.get(key);
          if (!before) continue;
          const found: string[] = [];
          for (let slot = 0; slot < before.backend_count; slot++) {
            const s = raw.slots.get({ service_id: before.id, slot });
            const b = s && raw.backends.get(s.backend_id);
            found.push(
              b ? `${b.addr}:${b.port}` : s ? `slot ${slot}: no backend ${s.backend_id}` : `slot ${slot} missing`,
            );
          }
          // The entry changed meanwhile: this read straddled the switch, as no packet's does.
          if (JSON.stringify(raw.services.get(key)) !== JSON.stringify(before)) continue;
          checked++;
          for (const f of found) if (!allowed.get(spec.address)!.has(f)) problems.push(`${spec.address}: ${f}`);
        }
        await yieldToEventLoop();
      }
    })();
    try {
      await dp.apply({ upsert: second, remove: removed });
    } finally {
      done = true;
      await reader;
      raw.close();
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });

  it('deletes the affinity entries of removed backends, of removed service ports and of affinity switched off', async () => {
    const { dp, pinRoot } = await open('affinity');
    await dp.apply({ upsert: first, remove: [] });
    const raw = openRaw(pinRoot);
    try {
      const ids = new Map(dp.programmed().map((p) => [p.address, p]));
      const backendIdOf = (p: ProgrammedServicePort, slot: number) =>
        raw.slots.get({ service_id: p.id, slot })!.backend_id;
      // Clients of affine service ports, each pinned to the service's slot-9 backend
      // (the one the shrinking change removes) and slot-0 one.
      const affine = first.filter((s) => s.affinityTimeoutSeconds !== undefined && s.backends.length === 10);
      const entries: Array<[AffinityKey, AffinityValue]> = [];
      for (const s of affine) {
        const p = ids.get(s.address)!;
        entries.push([
          { service_id: p.id, client: '10.244.9.1' },
          { last_used_ns: 1n, backend_id: backendIdOf(p, 0) },
        ]);
        entries.push([
          { service_id: p.id, client: '10.244.9.2' },
          { last_used_ns: 1n, backend_id: backendIdOf(p, 9) },
        ]);
      }
      await raw.affinity.setMany(entries);
      await dp.apply({ upsert: changed, remove: removed });

      const left = new Set((await raw.affinity.all()).map(([k]) => `${k.service_id}/${k.client}`));
      const expected = new Set<string>();
      for (const s of affine) {
        const now = second.find((x) => x.address === s.address);
        if (!now || now.affinityTimeoutSeconds === undefined) continue; // removed, or affinity off: every entry goes
        const id = ids.get(s.address)!.id;
        const kept = new Set(now.backends.map((b) => `${b.address}:${b.port}`));
        if (kept.has(`${s.backends[0]!.address}:8080`)) expected.add(`${id}/10.244.9.1`);
        if (kept.has(`${s.backends[9]!.address}:8080`)) expected.add(`${id}/10.244.9.2`);
      }
      expect(left).toEqual(expected);
      // Some stayed, and more went than the removed service ports had.
      expect(expected.size).toBeGreaterThan(0);
      expect(entries.length - expected.size).toBeGreaterThan(2 * affine.filter((s) => removed.includes(s)).length);
    } finally {
      raw.close();
    }
  });

  it('rebuilds its view from the maps when a batch fails part-way, and the next batch converges', async () => {
    // Room for 1,000 service entries: the batch below fails in its service-entry
    // phase, in a chunk while the next is in flight (and fails too).
    const { dp, pinRoot } = await open('full', { sy_services_v3: 1000 });
    await dp.apply({ upsert: first.slice(0, 900), remove: [] });
    const raw = openRaw(pinRoot);
    try {
      // An affinity entry no programmed service owns: the clean-up after a failure removes it.
      await raw.affinity.setMany([
        [
          { service_id: 4242, client: '10.244.9.9' },
          { last_used_ns: 1n, backend_id: 1 },
        ],
      ]);
      await expect(dp.apply({ upsert: first, remove: [] })).rejects.toMatchObject({ code: BpfErrorCode.MapFull });
      const inMaps = (await dp.servicesInMaps()).map(specOf);
      expect(inMaps.length).toBe(1000);
      expect(sorted(dp.programmed().map(specOf))).toEqual(sorted(inMaps));
      // What the batch wrote for service ports whose entry did not fit is gone again.
      await expectNoStrays(raw);
      expect(await raw.affinity.all()).toEqual([]);

      // Fewer service ports fit: the retried sync writes what differs from the maps.
      const want = first.slice(300, 1200);
      const programmed = new Set(dp.programmed().map((p) => p.address));
      const result = await dp.apply({
        upsert: want,
        remove: inMaps.filter((s) => !want.some((w) => w.address === s.address)),
      });
      expect(result.removed).toBe([...programmed].filter((a) => !want.some((w) => w.address === a)).length);
      expect(sorted((await dp.servicesInMaps()).map(specOf))).toEqual(sorted(want));
      await expectNoStrays(raw);
    } finally {
      raw.close();
    }
  });

  it('refuses a change that names a service port twice, before writing anything', async () => {
    const { dp } = await open('refuse');
    await expect(dp.apply({ upsert: [first[1]!, ...first.slice(2, 40), first[1]!], remove: [] })).rejects.toThrow(
      /twice in one change/,
    );
    await expect(dp.apply({ upsert: [{ ...first[5]!, port: 0 }, ...first.slice(6, 40)], remove: [] })).rejects.toThrow(
      /out of range/,
    );
    expect(await dp.servicesInMaps()).toEqual([]);
  });
});
