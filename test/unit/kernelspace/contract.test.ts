// The kernelspace mode against the HNS contract: for every scenario the
// Linux end-to-end suite serves (cluster IPs with their endpoints, affinity,
// Local policies, the terminating fallback, no endpoints, NodePorts,
// externalIPs, load-balancer IPs, dual-stack), the exact HNS objects the
// daemon leaves in an emulator that enforces HNS's rules; and what it costs
// in HCN calls. Faults are in contract-faults.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { overlayNetwork } from '../../../control/proxiers/kernelspace/hcn/emulator.js';
import { HResult, hresultHex } from '../../../control/proxiers/kernelspace/hcn/schema.js';
import { MODES, ModeRegistry } from '../../../control/proxiers/modes.js';
import { HnsWorld, NODE_IP, NODE_IP6, service, slice, summarize, type WorldOptions } from './world.js';

const LOCAL = '10.244.1.5';
const LOCAL2 = '10.244.1.6';
const REMOTE = '10.244.2.7';
const REMOTE2 = '10.244.2.8';
const ROOT = '10.244.1.2';
const LOCAL6 = 'fd00:244:1::5';

/** NodePort LBs: LocalRoutedVIP | VipExternalIP. */
const NODE_PORT_FLAGS = 2 | 16;

let world: HnsWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

/** A world on an l2bridge network whose CNI has made the endpoints of this node's pods and the root one. */
async function l2bridge(o: WorldOptions = {}): Promise<HnsWorld> {
  world = await HnsWorld.start({
    ...o,
    before: (hns) => {
      hns.addLocalEndpoint({ ip: LOCAL });
      hns.addLocalEndpoint({ ip: LOCAL2 });
      hns.addLocalEndpoint({ ip: ROOT, name: 'cbr0' });
      o.before?.(hns);
    },
  });
  return world;
}

describe('kernelspace: HNS objects per scenario (l2bridge)', () => {
  it('a cluster IP: one load balancer naming the local pod’s CNI endpoint and a remote endpoint the mode made', async () => {
    const w = await l2bridge();
    const report = await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10' }),
      slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    expect(report.error).toBeUndefined();
    expect(summarize(w)).toEqual([
      {
        frontend: '10.96.0.10:80/6',
        internalPort: 8080,
        flags: 0,
        portMappingFlags: 0,
        distribution: 0,
        backends: [LOCAL, REMOTE],
      },
    ]);
    // The exact document HNS was given.
    const [lb] = w.hns.loadBalancers();
    expect(lb).toEqual({
      ID: expect.any(String),
      HostComputeEndpoints: [w.endpoint(LOCAL)!.ID, w.endpoint(REMOTE)!.ID],
      FrontendVIPs: ['10.96.0.10'],
      PortMappings: [{ Protocol: 6, InternalPort: 8080, ExternalPort: 80, DistributionType: 0, Flags: 0 }],
      SchemaVersion: { Major: 2, Minor: 0 },
      Flags: 0,
    });
    expect(w.endpoint(REMOTE)).toMatchObject({
      Name: `switchyard-backend-${REMOTE}`,
      Flags: 1,
      MacAddress: '02-11-0a-f4-02-07',
      IpConfigurations: [{ IpAddress: REMOTE }],
    });
    expect(w.endpoint(REMOTE)!.Policies ?? []).toEqual([]);
    // The CNI's endpoint is used, not copied.
    expect(w.hns.endpoints().filter((e) => e.IpConfigurations?.[0]?.IpAddress === LOCAL)).toHaveLength(1);
    expect(w.hns.openHandles()).toBe(0);
  });

  it('ClientIP affinity: SourceIP distribution', async () => {
    const w = await l2bridge();
    await w.apply(service({ name: 'web', clusterIP: '10.96.0.10', affinity: true }), slice('web', [{ ip: LOCAL }]));
    expect(summarize(w).map((l) => l.distribution)).toEqual([2]);
  });

  it('internalTrafficPolicy Local: the local endpoints only', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10', internalTrafficPolicy: 'Local' }),
      slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL]]);
    // No load balancer names the remote pod, so no endpoint is made for it.
    expect(w.endpoint(REMOTE)).toBeUndefined();
  });

  it('a NodePort: a load balancer on every node address, besides the cluster IP’s', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'np', clusterIP: '10.96.0.11', type: 'NodePort', nodePort: 30080 }),
      slice('np', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    expect(summarize(w)).toEqual([
      {
        frontend: '*:30080/6',
        internalPort: 8080,
        flags: 0,
        portMappingFlags: NODE_PORT_FLAGS,
        distribution: 0,
        backends: [LOCAL, REMOTE],
      },
      {
        frontend: '10.96.0.11:80/6',
        internalPort: 8080,
        flags: 0,
        portMappingFlags: 0,
        distribution: 0,
        backends: [LOCAL, REMOTE],
      },
    ]);
  });

  it('externalTrafficPolicy Local: external frontends take local endpoints, with DSR; the cluster IP all', async () => {
    const w = await l2bridge();
    await w.apply(
      service({
        name: 'np',
        clusterIP: '10.96.0.11',
        type: 'NodePort',
        nodePort: 30080,
        externalTrafficPolicy: 'Local',
        externalIPs: ['192.0.2.10'],
      }),
      slice('np', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    expect(summarize(w).map((l) => [l.frontend, l.flags, l.portMappingFlags, l.backends])).toEqual([
      ['*:30080/6', 1, NODE_PORT_FLAGS, [LOCAL]],
      ['10.96.0.11:80/6', 0, 0, [LOCAL, REMOTE]],
      ['192.0.2.10:80/6', 1, 16, [LOCAL]],
    ]);
  });

  it('externalIPs and load-balancer ingress IPs: VipExternalIP load balancers; preserve-destination adds UseMux and PreserveDIP', async () => {
    const w = await l2bridge();
    await w.apply(
      service({
        name: 'lb',
        clusterIP: '10.96.0.12',
        type: 'LoadBalancer',
        nodePort: 30081,
        externalIPs: ['192.0.2.10'],
        ingress: ['198.51.100.1'],
      }),
      slice('lb', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
      service({
        name: 'kept',
        clusterIP: '10.96.0.13',
        type: 'LoadBalancer',
        nodePort: 30082,
        ingress: ['198.51.100.2'],
        annotations: { 'preserve-destination': 'true' },
      }),
      slice('kept', [{ ip: LOCAL2 }, { ip: REMOTE2, node: 'win-2' }]),
    );
    expect(summarize(w).map((l) => [l.frontend, l.flags, l.portMappingFlags, l.backends])).toEqual([
      ['*:30081/6', 0, NODE_PORT_FLAGS, [LOCAL, REMOTE]],
      ['*:30082/6', 0, NODE_PORT_FLAGS, [LOCAL2]],
      ['10.96.0.12:80/6', 0, 0, [LOCAL, REMOTE]],
      ['10.96.0.13:80/6', 0, 0, [LOCAL2, REMOTE2]],
      ['192.0.2.10:80/6', 0, 16, [LOCAL, REMOTE]],
      ['198.51.100.1:80/6', 0, 16, [LOCAL, REMOTE]],
      ['198.51.100.2:80/6', 1, 16 | 4 | 8, [LOCAL2]],
    ]);
  });

  it('--forward-healthcheck-vip: each ingress IP forwards the health-check node port to the root endpoint', async () => {
    const w = await l2bridge({ winkernel: { forwardHealthCheckVip: true } });
    await w.apply(
      service({
        name: 'lb',
        clusterIP: '10.96.0.12',
        type: 'LoadBalancer',
        nodePort: 30081,
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32001,
        ingress: ['198.51.100.1'],
      }),
      slice('lb', [{ ip: LOCAL }]),
    );
    expect(summarize(w).filter((l) => l.frontend === '198.51.100.1:32001/6')).toEqual([
      {
        frontend: '198.51.100.1:32001/6',
        internalPort: 32001,
        flags: 0,
        portMappingFlags: 0,
        distribution: 0,
        backends: [ROOT],
      },
    ]);
  });

  it('terminating endpoints: used when no endpoint is ready, while they still serve; then the load balancer goes', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10' }),
      slice('web', [
        { ip: LOCAL, terminating: true, serving: true },
        { ip: REMOTE, node: 'win-2', terminating: true, serving: true },
      ]),
    );
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL, REMOTE]]);
    await w.apply(
      slice('web', [
        { ip: LOCAL, terminating: true, serving: false },
        { ip: REMOTE, node: 'win-2', terminating: true, serving: false },
      ]),
    );
    expect(w.hns.loadBalancers()).toEqual([]);
    // The remote endpoint no load balancer names is deleted; the CNI's stays.
    expect(w.endpoint(REMOTE)).toBeUndefined();
    expect(w.endpoint(LOCAL)).toBeDefined();
  });

  it('no endpoints: no load balancer (HNS refuses one without backends), until endpoints come', async () => {
    const w = await l2bridge();
    const report = await w.apply(service({ name: 'web', clusterIP: '10.96.0.10' }));
    expect(report.error).toBeUndefined();
    expect(w.hns.loadBalancers()).toEqual([]);
    await w.apply(slice('web', [{ ip: LOCAL }]));
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL]]);
  });

  it('UDP and SCTP carry their IP protocol numbers', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'dns', clusterIP: '10.96.0.53', port: 53, protocol: 'UDP', targetPort: 5353 }),
      slice('dns', [{ ip: LOCAL }], { port: 5353, protocol: 'UDP' }),
      service({ name: 'sig', clusterIP: '10.96.0.54', port: 3868, protocol: 'SCTP', targetPort: 3868 }),
      slice('sig', [{ ip: LOCAL }], { port: 3868, protocol: 'SCTP' }),
    );
    expect(summarize(w).map((l) => [l.frontend, l.internalPort])).toEqual([
      ['10.96.0.53:53/17', 5353],
      ['10.96.0.54:3868/132', 3868],
    ]);
  });

  it('dual-stack: a load balancer per family, the IPv6 one flagged', async () => {
    const w = await l2bridge({
      addresses: [NODE_IP, NODE_IP6],
      before: (hns) => void hns.addLocalEndpoint({ ip: LOCAL6 }),
    });
    await w.apply(
      service({ name: 'web', clusterIPs: ['10.96.0.20', 'fd00:10:96::20'], ipFamilies: ['IPv4', 'IPv6'] }),
      slice('web', [{ ip: LOCAL }]),
      slice('web', [{ ip: LOCAL6 }], { family: 'IPv6' }),
    );
    expect(summarize(w).map((l) => [l.frontend, l.flags, l.backends])).toEqual([
      ['10.96.0.20:80/6', 0, [LOCAL]],
      ['fd00:10:96::20:80/6', 2, [LOCAL6]],
    ]);
  });

  it('one frontend HNS refuses is that service port’s: reported, the others programmed', async () => {
    const w = await l2bridge();
    // 10256 is the host's own port (kube-proxy's healthz holds 0.0.0.0:10256): HNS refuses an external frontend on it.
    const report = await w.apply(
      service({ name: 'clash', clusterIP: '10.96.0.30', port: 10256, externalIPs: ['192.0.2.30'] }),
      slice('clash', [{ ip: LOCAL }]),
      service({ name: 'web', clusterIP: '10.96.0.10' }),
      slice('web', [{ ip: LOCAL }]),
    );
    expect(report.error).toBeUndefined();
    expect(summarize(w).map((l) => l.frontend)).toEqual(['10.96.0.10:80/6', '10.96.0.30:10256/6']);
    expect(report.result?.skipped).toContainEqual({
      name: 'demo/clash:p/TCP',
      reason: expect.stringContaining(hresultHex(HResult.HCN_PORT_ALREADY_EXISTS)),
    });
  });
});

describe('kernelspace: overlay', () => {
  it('remote endpoints carry the provider address of their subnet; load balancers the source VIP', async () => {
    world = await HnsWorld.start({
      hns: { networks: [overlayNetwork()] },
      winkernel: { sourceVip: '192.168.1.254' },
      before: (hns) => void hns.addLocalEndpoint({ ip: '192.168.1.5' }),
    });
    const w = world;
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10' }),
      slice('web', [{ ip: '192.168.1.5' }, { ip: '192.168.2.7', node: 'win-2' }]),
    );
    expect(summarize(w)).toEqual([
      {
        frontend: '10.96.0.10:80/6',
        internalPort: 8080,
        flags: 0,
        portMappingFlags: 0,
        distribution: 0,
        sourceVip: '192.168.1.254',
        backends: ['192.168.1.5', '192.168.2.7'],
      },
    ]);
    expect(w.endpoint('192.168.2.7')).toMatchObject({
      Flags: 1,
      Policies: [{ Type: 'ProviderAddress', Settings: { ProviderAddress: '10.0.0.3' } }],
    });
    // The source VIP's own endpoint (local), and the service VIP's (remote, behind this node).
    expect(w.endpoint('192.168.1.254')).toMatchObject({ Flags: 0, MacAddress: '00-15-5D-00-00-04' });
    expect(w.endpoint('10.96.0.10')).toMatchObject({
      Flags: 1,
      Policies: [{ Type: 'ProviderAddress', Settings: { ProviderAddress: NODE_IP } }],
    });
  });

  it('refuses to start without --source-vip', async () => {
    await expect(HnsWorld.start({ hns: { networks: [overlayNetwork()] } })).rejects.toMatchObject({
      code: 'ERR_HNS_NETWORK',
      message: expect.stringContaining('--source-vip'),
    });
  });
});

describe('kernelspace: HCN calls', () => {
  it('a periodic sync with nothing changed checks HNS in two reads, and changes nothing', async () => {
    const w = await l2bridge({ syncPeriodMs: 100 });
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', nodePort: 30080 }),
      slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    w.api.reset();
    const before = w.syncs.length;
    await expect.poll(() => w.syncs.length - before, { timeout: 4000 }).toBeGreaterThanOrEqual(2);
    const periods = w.syncs.length - before;
    expect(w.syncs.slice(before).every((s) => s.reason === 'period' && !s.full)).toBe(true);
    // Per family served (IPv4 here; IPv6 has no node address and reads nothing): one enumerate each of LBs and endpoints.
    expect(Object.fromEntries(w.api.counts)).toEqual({
      HcnEnumerateLoadBalancers: periods,
      HcnEnumerateEndpoints: periods,
    });
  });

  it('one endpoint change: a remote endpoint made and the load balancers modified in place, nothing listed', async () => {
    const w = await l2bridge();
    await w.apply(service({ name: 'web', clusterIP: '10.96.0.10' }), slice('web', [{ ip: LOCAL }]));
    const ids = w.hns.loadBalancers().map((l) => l.ID);
    w.api.reset();
    await w.apply(slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]));
    expect(Object.fromEntries(w.api.counts)).toEqual({
      HcnOpenNetwork: 1,
      HcnCreateEndpoint: 1,
      HcnQueryEndpointProperties: 1,
      HcnCloseEndpoint: 1,
      HcnCloseNetwork: 1,
      HcnOpenLoadBalancer: 1,
      HcnModifyLoadBalancer: 1,
      HcnQueryLoadBalancerProperties: 1,
      HcnCloseLoadBalancer: 1,
    });
    expect(w.hns.loadBalancers().map((l) => l.ID)).toEqual(ids);
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL, REMOTE]]);
  });

  it('a pod started on this node since the last read: its CNI endpoint found by one enumerate and one query', async () => {
    const w = await l2bridge();
    await w.apply(service({ name: 'web', clusterIP: '10.96.0.10' }), slice('web', [{ ip: LOCAL }]));
    // The CNI makes the new pod's endpoint before its EndpointSlice lists it.
    const NEW = '10.244.1.9';
    w.hns.addLocalEndpoint({ ip: NEW });
    w.api.reset();
    const report = await w.apply(slice('web', [{ ip: LOCAL }, { ip: NEW }]));
    expect(report.error).toBeUndefined();
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL, NEW]]);
    expect(w.api.counts.get('HcnEnumerateEndpoints')).toBe(1);
    expect(w.api.counts.get('HcnQueryEndpointProperties')).toBe(1);
    expect(w.api.counts.get('HcnEnumerateLoadBalancers')).toBeUndefined();
    expect(w.api.counts.get('HcnCreateEndpoint')).toBeUndefined();
    // A pod the CNI has not made yet is left out, and served once its endpoint appears.
    const LATER = '10.244.1.10';
    const left = await w.apply(slice('web', [{ ip: LOCAL }, { ip: NEW }, { ip: LATER }]));
    expect(JSON.stringify(left.result)).toContain(`local endpoint ${LATER} not found`);
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL, NEW]]);
    w.hns.addLocalEndpoint({ ip: LATER });
    await w.apply(service({ name: 'web', clusterIP: '10.96.0.10', affinity: true }));
    expect(summarize(w).map((l) => l.backends)).toEqual([[LATER, LOCAL, NEW]]); // summarize sorts them as strings
    expect(w.hns.openHandles()).toBe(0);
  });

  it('below HNS 15.5 (no ModifyLoadBalancer) a change is a delete and a create', async () => {
    const w = await l2bridge({ hns: { version: { major: 15, minor: 4 } } });
    await w.apply(service({ name: 'web', clusterIP: '10.96.0.10' }), slice('web', [{ ip: LOCAL }]));
    w.api.reset();
    await w.apply(slice('web', [{ ip: LOCAL }, { ip: LOCAL2 }]));
    expect(w.api.counts.get('HcnModifyLoadBalancer')).toBeUndefined();
    expect(w.api.counts.get('HcnDeleteLoadBalancer')).toBe(1);
    expect(w.api.counts.get('HcnCreateLoadBalancer')).toBe(1);
    expect(summarize(w).map((l) => l.backends)).toEqual([[LOCAL, LOCAL2]]);
  });

  it('a restarted proxy adopts what HNS holds: no mutating call', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', nodePort: 30080 }),
      slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
    );
    const held = w.hns.loadBalancers();
    await w.restartDaemon();
    await expect.poll(() => w.syncs.some((s) => s.error === undefined && s.servicePorts > 0)).toBe(true);

    expect(w.api.mutating()).toBe(0);
    expect(w.hns.loadBalancers()).toEqual(held);
  });
});

describe('kernelspace: the ops API', () => {
  it('/v1/hns shows the load balancers with their service ports, and the endpoints with their users', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', nodePort: 30080, affinity: true }),
      slice('web', [{ ip: LOCAL }, { ip: REMOTE, node: 'win-2' }]),
      service({ name: 'api', clusterIP: '10.96.0.11' }),
      slice('api', [{ ip: REMOTE, node: 'win-2' }]),
    );
    const app = w.daemon.ops.servers[0]!;
    const body = (await app.inject('/v1/hns')).json();
    expect(body).toMatchObject({
      mode: 'kernelspace',
      network: { name: 'cbr0', type: 'L2Bridge' },
      hnsVersion: '16.0',
      families: [{ family: 'IPv4' }, { family: 'IPv6' }],
      remaining: 0,
    });
    expect(body.items.map((i: { frontend: string; servicePort: string }) => [i.frontend, i.servicePort])).toEqual([
      ['IPv4/6/*/30080', 'demo/web:p/TCP'],
      ['IPv4/6/10.96.0.10/80', 'demo/web:p/TCP'],
      ['IPv4/6/10.96.0.11/80', 'demo/api:p/TCP'],
    ]);
    expect(body.items[0]).toMatchObject({
      portMappingFlags: ['LocalRoutedVIP', 'VipExternalIP'],
      distribution: 'SourceIP',
      flags: [],
    });
    // The shared remote endpoint, with both its users (its reference count).
    expect(body.endpoints.find((e: { ip: string }) => e.ip === REMOTE)).toMatchObject({
      remote: true,
      owned: true,
      users: ['demo/api:p/TCP', 'demo/web:p/TCP'],
    });
    const api = (await app.inject('/v1/hns?service=demo/api')).json();
    expect(api.items.map((i: { frontend: string }) => i.frontend)).toEqual(['IPv4/6/10.96.0.11/80']);
    const status = (await app.inject('/v1/status')).json();
    expect(status).toMatchObject({ mode: 'kernelspace', counts: { programmed: 3, maps: null } });
  });

  it('the shared remote endpoint outlives one of its users, and goes with the last', async () => {
    const w = await l2bridge();
    await w.apply(
      service({ name: 'web', clusterIP: '10.96.0.10' }),
      slice('web', [{ ip: REMOTE, node: 'win-2' }]),
      service({ name: 'api', clusterIP: '10.96.0.11' }),
      slice('api', [{ ip: REMOTE, node: 'win-2' }]),
    );
    const id = w.endpoint(REMOTE)!.ID;
    await w.remove('Service', 'web');
    expect(w.endpoint(REMOTE)?.ID).toBe(id);
    await w.remove('Service', 'api');
    expect(w.endpoint(REMOTE)).toBeUndefined();
    expect(w.hns.loadBalancers()).toEqual([]);
  });
});

describe('kernelspace on Linux', () => {
  it('--proxy-mode=kernelspace is refused with ERR_PROXY_MODE_PLATFORM before anything loads', async () => {
    await expect(new ModeRegistry(MODES, 'linux').load('kernelspace')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_PLATFORM',
      message:
        '--proxy-mode=kernelspace needs Windows with the Host Networking Service (it programs VFP through computenetwork.dll), and this node runs Linux; here use --proxy-mode=ebpf, --proxy-mode=iptables, --proxy-mode=ipvs, --proxy-mode=userspace',
    });
  });
});
