// The sync loop's decisions: when to sync, what each sync carries, and what a
// failure does. The proxier here records what it is asked to do; the real
// dataplane under the same loop is tested in test/privileged/daemon.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Proxier, SyncRequest, SyncResult } from '../../../control/proxiers/types.js';
import { Store } from '../../../control/sources/store.js';
import { FULL_SYNC_PERIOD_MS, SyncLoop } from '../../../control/sync/sync-loop.js';
import { FakeClock, settle } from './fake-clock.js';
import { endpoint, service, slice as sliceOf } from '../model/fixtures.js';

const svc = (name: string, ip: string) => service({ namespace: 'default', name, clusterIPs: [ip] });
const slice = (name: string, ips: string[]) =>
  sliceOf(
    `${name}-1`,
    ips.map((ip) => endpoint(ip)),
    { namespace: 'default', serviceName: name },
  );

class RecordingProxier implements Proxier {
  readonly mode = 'ebpf' as const;
  requests: SyncRequest[] = [];
  failNext = 0;
  pending = false;
  hasPendingWork() {
    return this.pending;
  }
  async start() {}
  async sync(req: SyncRequest): Promise<SyncResult> {
    this.requests.push({ ...req, changed: new Set(req.changed), removed: new Map(req.removed) });
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('dataplane refused');
    }
    return { written: req.changed.size, removed: req.removed.size, skipped: [] };
  }
  view() {
    return { programmedCount: () => null, mapCount: () => null, interfaces: () => [] };
  }
  async stop() {}
  async cleanup() {}
}

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('SyncLoop', () => {
  let loop: SyncLoop | undefined;
  afterEach(async () => loop?.stop());

  const setup = (minSyncPeriodMs = 0) => {
    const store = new Store('n1');
    const proxier = new RecordingProxier();
    loop = new SyncLoop({
      store,
      proxier,
      nodeName: 'n1',
      serviceProxyName: '',
      periods: { syncPeriodMs: 60_000, minSyncPeriodMs },
      logger: silent,
    });
    loop.start();
    return { store, proxier, loop };
  };

  it('does not sync before services and endpoint slices have both been listed', async () => {
    const { store, proxier, loop } = setup();
    store.upsert('Service', svc('web', '10.96.0.10'));
    store.markSynced('Service');
    loop.sourcesMaybeSynced();
    await tick();
    expect(proxier.requests).toEqual([]);
    store.markSynced('EndpointSlice');
    loop.sourcesMaybeSynced();
    await tick();
    expect(proxier.requests).toHaveLength(1);
    expect(proxier.requests[0]!.full).toBe(true);
    expect([...proxier.requests[0]!.desired.values()].map((sp) => `${sp.namespace}/${sp.service}`)).toEqual([
      'default/web',
    ]);
  });

  it('hands a partial sync only the service ports that changed, with the removed ones', async () => {
    const { store, proxier, loop } = setup();
    store.upsert('Service', svc('a', '10.96.0.1'));
    store.upsert('Service', svc('b', '10.96.0.2'));
    store.markSynced('Service');
    store.markSynced('EndpointSlice');
    loop.sourcesMaybeSynced();
    await tick();
    const [aName, bName] = [...proxier.requests[0]!.desired.keys()];

    store.upsert('EndpointSlice', slice('a', ['10.244.1.11']));
    await tick();
    const partial = proxier.requests[1]!;
    expect(partial.full).toBe(false);
    expect([...partial.changed]).toEqual([aName]);
    expect(partial.desired.get(aName!)?.clusterEndpoints?.map((e) => `${e.ip}:${e.port}`)).toEqual([
      '10.244.1.11:8080',
    ]);

    store.delete('Service', 'default', 'b');
    await tick();
    expect([...proxier.requests[2]!.removed.keys()]).toEqual([bName]);
    expect(proxier.requests[2]!.desired.has(bName!)).toBe(false);

    // An update that changes nothing the model uses does not sync at all.
    store.upsert('EndpointSlice', slice('a', ['10.244.1.11']));
    await tick();
    expect(proxier.requests).toHaveLength(3);
  });

  it('coalesces a burst of changes into one sync after the minimum interval', async () => {
    const { store, proxier, loop } = setup(100);
    store.markSynced('Service');
    store.markSynced('EndpointSlice');
    loop.sourcesMaybeSynced();
    await tick();
    for (let i = 0; i < 20; i++) store.upsert('Service', svc(`s${i}`, `10.96.1.${i + 1}`));
    await tick(150);
    // The first change may start a sync at once (the interval since start-up has passed); the rest wait for one more.
    expect(proxier.requests.length).toBeLessThanOrEqual(3);
    expect(proxier.requests.at(-1)!.desired.size).toBe(20);
  });

  it('retries a failed sync as a full sync carrying the change', async () => {
    const { store, proxier, loop } = setup();
    store.markSynced('Service');
    store.markSynced('EndpointSlice');
    loop.sourcesMaybeSynced();
    await tick();
    proxier.failNext = 1;
    store.upsert('Service', svc('web', '10.96.0.10'));
    await tick();
    expect(proxier.requests).toHaveLength(2);
    expect(loop.state.size).toBe(0); // the failed sync did not become the known state
    await tick(1100); // retry interval: 1 s
    const retry = proxier.requests[2]!;
    expect(retry.full).toBe(true);
    expect(retry.desired.size).toBe(1);
    expect(loop.state.size).toBe(1);
  });

  /** A loop with a 30 s period on a fake clock, past its initial full sync of one service. */
  async function syncedOnFakeClock() {
    const clock = new FakeClock();
    const store = new Store('n1');
    const proxier = new RecordingProxier();
    loop = new SyncLoop({
      store,
      proxier,
      nodeName: 'n1',
      serviceProxyName: '',
      periods: { syncPeriodMs: 30_000, minSyncPeriodMs: 0 },
      logger: silent,
      clock,
      // The node's interfaces, while its Node lists no address: fixed here, not this machine's.
      localAddresses: () => ['192.0.2.1'],
    });
    loop.start();
    store.upsert('Service', svc('web', '10.96.0.10'));
    store.markSynced('Service');
    store.markSynced('EndpointSlice');
    loop.sourcesMaybeSynced();
    await clock.advance(1);
    return { clock, store, proxier };
  }

  it('syncs periodically with only what changed, and in full once an hour (kube-proxy’s FullSyncPeriod)', async () => {
    const { clock, store, proxier } = await syncedOnFakeClock();
    expect(proxier.requests.map((r) => r.full)).toEqual([true]);
    // Periods with nothing changed: nothing to hand the proxier.
    await clock.advance(90_000);
    expect(proxier.requests).toHaveLength(1);
    // A change: a partial sync.
    store.upsert('Service', svc('api', '10.96.0.11'));
    await clock.advance(30_000);
    await settle();
    expect(proxier.requests.map((r) => r.full)).toEqual([true, false]);
    await clock.advance(FULL_SYNC_PERIOD_MS);
    await settle();
    expect(proxier.requests.slice(2).map((r) => r.full)).toEqual([true]);
    expect(proxier.requests.at(-1)!.desired.size).toBe(2);
  });

  it("hands the proxier the node's new facts even when no service changed (NodePorts move with the node's addresses)", async () => {
    const { clock, store, proxier } = await syncedOnFakeClock();
    const node = (addresses: string[]) => ({ name: 'n1', labels: {}, addresses, podCIDRs: [] });
    store.upsert('Node', node(['172.31.0.11']));
    await clock.advance(1);
    await settle();
    expect(proxier.requests.map((r) => [r.full, r.changed.size, r.node.addresses])).toEqual([
      [true, 1, ['192.0.2.1']],
      [false, 0, ['172.31.0.11']],
    ]);
    // The same facts again: nothing to hand over.
    store.upsert('Node', { ...node(['172.31.0.11']), labels: { a: 'b' } });
    await clock.advance(30_000);
    await settle();
    expect(proxier.requests).toHaveLength(2);
    store.upsert('Node', node(['172.31.0.12']));
    await clock.advance(1);
    await settle();
    expect(proxier.requests.map((r) => r.node.addresses).at(-1)).toEqual(['172.31.0.12']);
  });

  it('hands the proxier a periodic sync with nothing changed while it has work of its own (draining real servers)', async () => {
    const { clock, proxier } = await syncedOnFakeClock();
    proxier.pending = true;
    await clock.advance(30_000);
    await settle();
    expect(proxier.requests.map((r) => [r.full, r.changed.size])).toEqual([
      [true, 1],
      [false, 0],
    ]);
    proxier.pending = false;
    await clock.advance(60_000);
    await settle();
    expect(proxier.requests).toHaveLength(2);
  });
});
