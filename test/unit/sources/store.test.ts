// The store: minimal change notifications, the slices-by-service index, and
// this node's Node only.
import { describe, expect, it } from 'vitest';
import { Store, type StoreChange } from '../../../control/sources/store.js';
import type { EndpointSlice, Node, Service } from '../../../control/sources/types.js';

function svc(name: string, port = 80, namespace = 'shop'): Service {
  return {
    namespace,
    name,
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.10'],
    headless: false,
    ports: [{ name: '', protocol: 'TCP', port, targetPort: port }],
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
  };
}

function slice(name: string, serviceName: string, ips: string[] = ['10.0.0.1'], namespace = 'shop'): EndpointSlice {
  return {
    namespace,
    name,
    serviceName,
    addressType: 'IPv4',
    ports: [{ name: '', protocol: 'TCP', port: 8080 }],
    endpoints: ips.map((ip) => ({ addresses: [ip], ready: true, serving: true, terminating: false })),
  };
}

function node(name: string, zone?: string): Node {
  return { name, labels: {}, addresses: ['192.168.1.5'], podCIDRs: [], ...(zone ? { zone } : {}) };
}

function recording(store: Store): StoreChange[] {
  const changes: StoreChange[] = [];
  store.onChange((c) => changes.push(c));
  return changes;
}

describe('Store', () => {
  it('announces an add, stays silent for an equal upsert, and announces an update', () => {
    const store = new Store('node-a');
    const changes = recording(store);
    expect(store.upsert('Service', svc('web'))).toBe(true);
    expect(store.upsert('Service', svc('web'))).toBe(false);
    expect(store.upsert('Service', svc('web', 81))).toBe(true);
    expect(changes).toEqual([
      { kind: 'Service', key: 'shop/web', op: 'add', serviceKey: 'shop/web' },
      { kind: 'Service', key: 'shop/web', op: 'update', serviceKey: 'shop/web' },
    ]);
    expect(store.service('shop/web')?.ports[0]?.port).toBe(81);
  });

  it('tells event listeners of every object handed to it, changed or not (what kube-proxy counts as changes)', () => {
    const store = new Store('node-a');
    const events: string[] = [];
    store.onEvent((kind) => events.push(kind));
    store.upsert('EndpointSlice', slice('web-1', 'web'));
    store.upsert('EndpointSlice', slice('web-1', 'web'));
    store.delete('EndpointSlice', 'shop', 'web-1');
    store.replace('Service', [svc('a'), svc('b')]);
    store.replace('Service', [svc('a')]);
    expect(events).toEqual([
      'EndpointSlice',
      'EndpointSlice',
      'EndpointSlice',
      'Service',
      'Service',
      'Service',
      'Service',
    ]);
  });

  it('replace emits only the adds, updates and deletes needed', () => {
    const store = new Store('node-a');
    store.replace('Service', [svc('a'), svc('b'), svc('c')]);
    const changes = recording(store);
    expect(store.replace('Service', [svc('a'), svc('b', 81), svc('d')])).toBe(3);
    expect(changes).toEqual([
      { kind: 'Service', key: 'shop/b', op: 'update', serviceKey: 'shop/b' },
      { kind: 'Service', key: 'shop/d', op: 'add', serviceKey: 'shop/d' },
      { kind: 'Service', key: 'shop/c', op: 'delete', serviceKey: 'shop/c' },
    ]);
    expect(store.serviceKeys().sort()).toEqual(['shop/a', 'shop/b', 'shop/d']);
    expect(store.replace('Service', [svc('a'), svc('b', 81), svc('d')])).toBe(0);
    expect(changes).toHaveLength(3);
  });

  it('indexes slices by their service and names that service in changes', () => {
    const store = new Store('node-a');
    const changes = recording(store);
    store.upsert('EndpointSlice', slice('web-1', 'web'));
    store.upsert('EndpointSlice', slice('web-2', 'web', ['10.0.0.2']));
    store.upsert('EndpointSlice', slice('api-1', 'api'));
    store.upsert('EndpointSlice', slice('web-1', 'web', ['10.0.0.1', '10.0.0.3']));
    expect(
      store
        .slicesForService('shop/web')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['web-1', 'web-2']);
    expect(store.slicesForService('shop/api').map((s) => s.name)).toEqual(['api-1']);
    expect(store.slicesForService('other/web')).toEqual([]);
    expect(changes.map((c) => [c.op, c.key, c.serviceKey])).toEqual([
      ['add', 'shop/web-1', 'shop/web'],
      ['add', 'shop/web-2', 'shop/web'],
      ['add', 'shop/api-1', 'shop/api'],
      ['update', 'shop/web-1', 'shop/web'],
    ]);

    expect(store.delete('EndpointSlice', 'shop', 'web-2')).toBe(true);
    expect(store.delete('EndpointSlice', 'shop', 'web-2')).toBe(false);
    expect(changes.at(-1)).toEqual({ kind: 'EndpointSlice', key: 'shop/web-2', op: 'delete', serviceKey: 'shop/web' });
    expect(store.slicesForService('shop/web').map((s) => s.name)).toEqual(['web-1']);
  });

  it('moves a slice whose service-name label changed, telling both services', () => {
    const store = new Store('node-a');
    store.upsert('EndpointSlice', slice('s-1', 'web'));
    const changes = recording(store);
    store.upsert('EndpointSlice', slice('s-1', 'api'));
    expect(store.slicesForService('shop/web')).toEqual([]);
    expect(store.slicesForService('shop/api').map((s) => s.name)).toEqual(['s-1']);
    expect(changes.map((c) => c.serviceKey)).toEqual(['shop/web', 'shop/api']);
  });

  it('replaces slices and keeps the index in step', () => {
    const store = new Store('node-a');
    store.replace('EndpointSlice', [slice('web-1', 'web'), slice('web-2', 'web')]);
    const changes = recording(store);
    store.replace('EndpointSlice', [slice('web-2', 'web'), slice('api-1', 'api')]);
    expect(changes.map((c) => [c.op, c.key])).toEqual([
      ['add', 'shop/api-1'],
      ['delete', 'shop/web-1'],
    ]);
    expect(store.slicesForService('shop/web').map((s) => s.name)).toEqual(['web-2']);
  });

  it('keeps only the Node of its own name, and a Node change concerns every service', () => {
    const store = new Store('node-a');
    const changes = recording(store);
    expect(store.upsert('Node', node('node-b'))).toBe(false);
    expect(store.node()).toBeUndefined();
    store.upsert('Node', node('node-a', 'z1'));
    store.upsert('Node', node('node-a', 'z1'));
    store.replace('Node', [node('node-b'), node('node-a', 'z2')]);
    expect(store.node()?.zone).toBe('z2');
    store.replace('Node', [node('node-b')]);
    expect(store.node()).toBeUndefined();
    expect(changes).toEqual([
      { kind: 'Node', key: 'node-a', op: 'add', serviceKey: undefined },
      { kind: 'Node', key: 'node-a', op: 'update', serviceKey: undefined },
      { kind: 'Node', key: 'node-a', op: 'delete', serviceKey: undefined },
    ]);
    expect(store.delete('Node', '', 'node-a')).toBe(false);
  });

  it('tracks which kinds have synced', () => {
    const store = new Store('node-a');
    expect(store.synced(['Service'])).toBe(false);
    store.markSynced('Service');
    store.markSynced('EndpointSlice');
    expect(store.synced(['Service', 'EndpointSlice'])).toBe(true);
    expect(store.synced()).toBe(false);
    store.markSynced('Node');
    expect(store.synced()).toBe(true);
  });

  it('finishes a write before a failing listener throws, and still tells the others', () => {
    const store = new Store('node-a');
    const seen: string[] = [];
    store.onChange(() => {
      throw new Error('listener bug');
    });
    store.onChange((c) => seen.push(c.key));
    expect(() => store.replace('Service', [svc('a'), svc('b')])).toThrow('listener bug');
    expect(store.serviceKeys().sort()).toEqual(['shop/a', 'shop/b']);
    expect(seen).toEqual(['shop/a', 'shop/b']);
    expect(store.upsert('Service', svc('a'))).toBe(false); // no error left over
  });

  it('stops calling a listener that unsubscribed', () => {
    const store = new Store('node-a');
    const changes: StoreChange[] = [];
    const off = store.onChange((c) => changes.push(c));
    off();
    store.upsert('Service', svc('a'));
    expect(changes).toEqual([]);
  });

  it('relists 10,000 services and 10,000 slices quickly, and a repeat relist changes nothing', () => {
    const store = new Store('node-a');
    let changes = 0;
    store.onChange(() => changes++);
    const services = Array.from({ length: 10_000 }, (_, i) => svc(`svc-${i}`));
    const slices = Array.from({ length: 10_000 }, (_, i) =>
      slice(`svc-${i}-x`, `svc-${i}`, [`10.1.${i >> 8}.${i & 255}`]),
    );
    const started = performance.now();
    store.replace('Service', services);
    store.replace('EndpointSlice', slices);
    expect(changes).toBe(20_000);
    store.replace('Service', structuredClone(services));
    store.replace('EndpointSlice', structuredClone(slices));
    expect(changes).toBe(20_000);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(store.size).toEqual({ services: 10_000, endpointSlices: 10_000 });
    expect(store.slicesForService('shop/svc-9999')[0]?.name).toBe('svc-9999-x');
  });
});
