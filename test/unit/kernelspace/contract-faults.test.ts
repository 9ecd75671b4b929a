// The kernelspace mode converging after what HNS does in the field: the
// service down or restarting (with and without rehydration), a delete that
// fails once, objects deleted behind the proxy's back, a frontend another
// load balancer already holds, and a ModifyLoadBalancer the build refuses.
// Each case ends with HNS holding exactly what the services ask for.
import { afterEach, describe, expect, it } from 'vitest';
import { HResult } from '../../../control/proxiers/kernelspace/hcn/schema.js';
import { HnsWorld, service, slice, summarize, type WorldOptions } from './world.js';

const LOCAL = '10.244.1.5';
const LOCAL2 = '10.244.1.6';
const REMOTE = '10.244.2.7';
const E_FAIL = 0x80004005;

let world: HnsWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

async function start(o: WorldOptions = {}): Promise<HnsWorld> {
  world = await HnsWorld.start({
    syncPeriodMs: 100,
    ...o,
    before: (hns) => {
      hns.addLocalEndpoint({ ip: LOCAL });
      hns.addLocalEndpoint({ ip: LOCAL2 });
    },
  });
  await world.apply(
    service({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', nodePort: 30080 }),
    slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
  );
  return world;
}

const WANTED = [
  { frontend: '*:30080/6', backends: [LOCAL, REMOTE] },
  { frontend: '10.96.0.10:80/6', backends: [LOCAL, REMOTE] },
];
const held = (w: HnsWorld) => summarize(w).map((l) => ({ frontend: l.frontend, backends: l.backends }));

describe('kernelspace: convergence after HNS faults', () => {
  it('HNS down: the sync fails and deletes nothing; once HNS answers, the change lands', async () => {
    const w = await start();
    expect(held(w)).toEqual(WANTED);
    w.hns.setDown(true);
    const report = await w.apply(slice('web', [{ ip: LOCAL }, { ip: LOCAL2 }]));
    expect(report.error).toMatchObject({ hresult: HResult.RPC_UNAVAILABLE });
    w.hns.setDown(false);
    // Nothing was taken for gone while HNS was silent (kubernetes#139519): the retry finds it all and modifies.
    await expect
      .poll(() => held(w), { timeout: 4000 })
      .toEqual([
        { frontend: '*:30080/6', backends: [LOCAL, LOCAL2] },
        { frontend: '10.96.0.10:80/6', backends: [LOCAL, LOCAL2] },
      ]);
    expect(w.api.counts.get('HcnCreateLoadBalancer')).toBe(2);
    expect(w.endpoint(REMOTE)).toBeUndefined();
  });

  it('a delete failing once is retried by a later sync', async () => {
    const w = await start();
    w.hns.failNext('HcnDeleteLoadBalancer', E_FAIL);
    const report = await w.remove('Service', 'web');
    expect(report.error).toBeUndefined();
    expect(w.hns.loadBalancers()).toHaveLength(1);
    await expect.poll(() => w.hns.loadBalancers(), { timeout: 4000 }).toEqual([]);
    // The remote endpoint goes once no load balancer names it.
    await expect.poll(() => w.endpoint(REMOTE), { timeout: 4000 }).toBeUndefined();
  });

  it('an HNS restart that drops its objects: the periodic check sees it and puts them back', async () => {
    const w = await start();
    w.hns.restart({ rehydrate: false });
    expect(w.hns.loadBalancers()).toEqual([]);
    await expect.poll(() => held(w), { timeout: 4000 }).toEqual(WANTED);
    expect(w.endpoint(REMOTE)?.Flags).toBe(1);
  });

  it('an HNS restart that rehydrates: nothing is recreated', async () => {
    const w = await start();
    const ids = w.hns.loadBalancers().map((l) => l.ID);
    w.hns.restart({ rehydrate: true });
    w.api.reset();
    const before = w.syncs.length;
    await expect.poll(() => w.syncs.length - before, { timeout: 4000 }).toBeGreaterThanOrEqual(2);
    expect(w.api.mutating()).toBe(0);
    expect(w.hns.loadBalancers().map((l) => l.ID)).toEqual(ids);
  });

  it('a load balancer deleted out of band is recreated (kubernetes#135802 never did)', async () => {
    const w = await start();
    const [victim] = w.hns.loadBalancers();
    w.hns.deleteOutOfBand(victim!.ID!);
    await expect.poll(() => held(w), { timeout: 4000 }).toEqual(WANTED);
  });

  it('a remote endpoint deleted out of band is made again, and the load balancers name the new one', async () => {
    const w = await start();
    const old = w.endpoint(REMOTE)!.ID!;
    // HNS would refuse while load balancers name it; out of band, it is simply gone.
    w.hns.deleteOutOfBand(old);
    await expect.poll(() => w.endpoint(REMOTE)?.ID, { timeout: 4000 }).not.toBe(undefined);
    await expect.poll(() => held(w), { timeout: 4000 }).toEqual(WANTED);
    expect(w.endpoint(REMOTE)!.ID).not.toBe(old);
  });

  it('a frontend already held (0x800700b7): taken over and set to what the service wants', async () => {
    const w = await start();
    // A load balancer someone else created on the frontend the next service wants.
    const squatter = JSON.stringify({
      HostComputeEndpoints: [w.endpoint(LOCAL)!.ID],
      FrontendVIPs: ['10.96.0.20'],
      PortMappings: [{ Protocol: 6, InternalPort: 9999, ExternalPort: 80 }],
      SchemaVersion: { Major: 2, Minor: 0 },
    });
    const made = await w.hns.HcnCreateLoadBalancer('00000000-0000-0000-0000-000000000000', squatter);
    expect(made.hr).toBe(0);
    await w.hns.HcnCloseLoadBalancer(made.handle);
    const report = await w.apply(service({ name: 'api', clusterIP: '10.96.0.20' }), slice('api', [{ ip: LOCAL2 }]));
    expect(report.result?.skipped).toEqual([]);
    expect(summarize(w).find((l) => l.frontend === '10.96.0.20:80/6')).toMatchObject({
      internalPort: 8080,
      backends: [LOCAL2],
    });
    expect(w.hns.loadBalancers()).toHaveLength(3);
  });

  it('ModifyLoadBalancer answering E_NOTIMPL: delete and create from then on', async () => {
    const w = await start();
    w.hns.failNext('HcnModifyLoadBalancer', HResult.E_NOTIMPL);
    w.api.reset();
    await w.apply(slice('web', [{ ip: LOCAL }]));
    expect(held(w)).toEqual([
      { frontend: '*:30080/6', backends: [LOCAL] },
      { frontend: '10.96.0.10:80/6', backends: [LOCAL] },
    ]);
    // One refused modify, then two delete-and-creates, and no modify tried for the second frontend.
    expect(w.api.counts.get('HcnModifyLoadBalancer')).toBe(1);
    expect(w.api.counts.get('HcnDeleteLoadBalancer')).toBe(2);
    expect(w.api.counts.get('HcnCreateLoadBalancer')).toBe(2);
  });

  it('a restart adopts what matches and deletes the load balancers no service wants', async () => {
    const w = await start();
    await w.restartDaemon(async (hns) => {
      // Left by an earlier proxy on this host, for a service that is gone.
      const res = await hns.HcnCreateLoadBalancer(
        '00000000-0000-0000-0000-000000000000',
        JSON.stringify({
          HostComputeEndpoints: [w.endpoint(LOCAL)!.ID],
          FrontendVIPs: ['10.96.0.99'],
          PortMappings: [{ Protocol: 6, InternalPort: 8080, ExternalPort: 80 }],
          SchemaVersion: { Major: 2, Minor: 0 },
        }),
      );
      await hns.HcnCloseLoadBalancer(res.handle);
    });
    await expect.poll(() => held(w), { timeout: 4000 }).toEqual(WANTED);
    expect(w.api.counts.get('HcnCreateLoadBalancer')).toBeUndefined();
    expect(w.api.counts.get('HcnDeleteLoadBalancer')).toBe(1);
  });
});
