// Planning what a service port's programming writes (service-writes.ts): the
// same plan is written element by element (upsertService) or a phase at a
// time across thousands of service ports (apply); what a plan holds is what
// both write. The order of the writes against a real kernel is
// test/privileged/dataplane/batch-writes.test.ts's.
import { describe, expect, it } from 'vitest';
import type { ServicePortSpec, ServiceState } from '../../../control/proxiers/ebpf/vocabulary.js';
import { IdAllocator } from '../../../control/proxiers/ebpf/ids.js';
import { SVC_F_AFFINITY, SVC_F_DROP_NO_BACKEND } from '../../../control/proxiers/ebpf/maps.js';
import { planRemove, planUpsert } from '../../../control/proxiers/ebpf/service-writes.js';

const backends = (...octets: number[]) => octets.map((o) => ({ address: `10.244.1.${o}`, port: 8080 }));
const web = (over: Partial<ServicePortSpec> = {}): ServicePortSpec => ({
  address: '10.96.0.10',
  port: 80,
  protocol: 'TCP',
  backends: backends(1, 2, 3),
  ...over,
});
const freshIds = () => ({ services: new IdAllocator(), backends: new IdAllocator() });
const KEY = '10.96.0.10|80|TCP';

/** What the first programming of `spec` leaves, as the dataplane keeps it. */
function programmed(
  spec: ServicePortSpec,
  ids = freshIds(),
): { state: ServiceState; ids: ReturnType<typeof freshIds> } {
  return { state: planUpsert(spec, KEY, undefined, ids).state, ids };
}

describe('planUpsert', () => {
  it('gives a new service port an id, a record per backend and every slot', () => {
    const plan = planUpsert(web(), KEY, undefined, freshIds());
    expect(plan.state).toMatchObject({ id: 1, slots: [1, 2, 3] });
    expect([...plan.state.backendIds]).toEqual([
      ['10.244.1.1:8080', 1],
      ['10.244.1.2:8080', 2],
      ['10.244.1.3:8080', 3],
    ]);
    expect(plan.newIds).toEqual([1, 2, 3]);
    expect(plan.newEndpoints).toEqual(backends(1, 2, 3));
    expect(plan.changedSlots).toEqual([0, 1, 2]);
    expect(plan.entry).toEqual([
      { addr: '10.96.0.10', port: 80, proto: 6 },
      { id: 1, backend_count: 3, flags: 0, affinity_timeout: 0, cluster_addr: '0.0.0.0', cluster_port: 0 },
    ]);
    expect(plan).toMatchObject({ oldSlotCount: 0, gone: [] });
    expect(plan.affinity).toBeUndefined();
  });

  it('counts the same endpoint twice as one backend', () => {
    const plan = planUpsert(web({ backends: backends(1, 1, 2) }), KEY, undefined, freshIds());
    expect(plan.state.slots).toEqual([1, 2]);
    expect(plan.entry[1].backend_count).toBe(2);
  });

  it('rewrites only the entry when nothing changed', () => {
    const { state, ids } = programmed(web());
    const plan = planUpsert(web(), KEY, state, ids);
    expect(plan).toMatchObject({ newIds: [], changedSlots: [], gone: [], oldSlotCount: 3 });
    expect(plan.state.slots).toEqual(state.slots);
  });

  it('replaces a backend: a new record, the one slot that changed, the old backend gone', () => {
    const { state, ids } = programmed(web());
    const plan = planUpsert(web({ backends: backends(1, 4, 3) }), KEY, state, ids);
    expect(plan.newIds).toEqual([4]);
    expect(plan.newEndpoints).toEqual(backends(4));
    expect(plan.changedSlots).toEqual([1]);
    expect(plan.state.slots).toEqual([1, 4, 3]);
    expect(plan.gone).toEqual([['10.244.1.2:8080', 2]]);
  });

  it('shrinks: slots past the new count are stale, their backends gone', () => {
    const { state, ids } = programmed(web());
    const plan = planUpsert(web({ backends: backends(1) }), KEY, state, ids);
    expect(plan).toMatchObject({
      changedSlots: [],
      oldSlotCount: 3,
      gone: [
        ['10.244.1.2:8080', 2],
        ['10.244.1.3:8080', 3],
      ],
    });
    expect(plan.state.slots).toEqual([1]);
    expect(plan.entry[1].backend_count).toBe(1);
  });

  it('plans affinity clean-up for gone backends, and for all entries when affinity is switched off', () => {
    const affine = web({ affinityTimeoutSeconds: 300 });
    const { state, ids } = programmed(affine);
    expect(planUpsert(affine, KEY, state, ids).affinity).toBeUndefined();
    expect(planUpsert({ ...affine, backends: backends(1, 2) }, KEY, state, ids).affinity).toEqual({
      serviceId: 1,
      backends: new Set([3]),
    });
    expect(planUpsert(web(), KEY, state, ids).affinity).toEqual({ serviceId: 1 });
    // Without affinity before, no entries can exist.
    const plain = programmed(web());
    expect(planUpsert(web({ backends: backends(1) }), KEY, plain.state, plain.ids).affinity).toBeUndefined();
  });

  it('sets the flags: affinity with its timeout, drop only when there is no backend', () => {
    expect(planUpsert(web({ affinityTimeoutSeconds: 60 }), KEY, undefined, freshIds()).entry[1]).toMatchObject({
      flags: SVC_F_AFFINITY,
      affinity_timeout: 60,
    });
    expect(planUpsert(web({ backends: [], dropWhenEmpty: true }), KEY, undefined, freshIds()).entry[1].flags).toBe(
      SVC_F_DROP_NO_BACKEND,
    );
    expect(planUpsert(web({ dropWhenEmpty: true }), KEY, undefined, freshIds()).entry[1].flags).toBe(0);
  });

  it('keeps its own copy of the spec', () => {
    const spec = web();
    const plan = planUpsert(spec, KEY, undefined, freshIds());
    spec.backends.push(...backends(9));
    expect(plan.state.spec.backends).toEqual(backends(1, 2, 3));
  });
});

describe('planRemove', () => {
  it('names the entry and every backend; affinity entries only for a service that had affinity', () => {
    const { state } = programmed(web());
    expect(planRemove(state)).toEqual({
      state,
      entry: { addr: '10.96.0.10', port: 80, proto: 6 },
      backends: [1, 2, 3],
    });
    const affine = programmed(web({ affinityTimeoutSeconds: 300 })).state;
    expect(planRemove(affine).affinity).toEqual({ serviceId: 1, backends: new Set([1, 2, 3]) });
  });
});
