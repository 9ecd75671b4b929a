// The kernelspace planner, pure: service ports as the model builds them from
// Services and EndpointSlices, and a node context, in; the exact HNS load
// balancers and endpoints winkernel would have HNS hold, out.
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/index.js';
import type { ServicePortState } from '../../../control/model/types.js';
import { hnsFeatures } from '../../../control/proxiers/kernelspace/hcn/schema.js';
import {
  conjureMac,
  frontendKeyOf,
  HnsPlanner,
  loadBalancerDocument,
  planHns,
} from '../../../control/proxiers/kernelspace/plan.js';
import type { HnsNodeContext } from '../../../control/proxiers/kernelspace/types.js';
import { servicePortOfFamily } from '../../../control/model/family.js';
import { slimEndpointSlice, slimService } from '../../../control/sources/slim.js';
import type { EndpointSlice } from '../../../control/sources/types.js';
import { NODE, service, slice, type Svc, type Ep } from './world.js';

function ports(s: Svc, eps: Ep[], o: Parameters<typeof slice>[2] = {}, family: 'IPv4' | 'IPv6' = 'IPv4') {
  const svc = slimService(service(s)).value!;
  const sl: EndpointSlice[] = [slimEndpointSlice(slice(s.name, eps, o)).value!];
  return buildServicePorts(svc, sl, { nodeName: NODE })
    .map((sp) => servicePortOfFamily(sp, family))
    .filter((sp): sp is ServicePortState => sp !== undefined);
}

const L2: HnsNodeContext = {
  family: 'IPv4',
  networkType: 'l2bridge',
  nodeIP: '10.0.0.4',
  remoteSubnets: [],
  features: hnsFeatures({ major: 16, minor: 0 }),
  enableDSR: false,
  forwardHealthCheckVip: false,
  healthzPort: 10256,
};
const OVERLAY: HnsNodeContext = {
  ...L2,
  networkType: 'overlay',
  sourceVip: '192.168.1.254',
  hostMac: '00-15-5D-00-00-04',
  remoteSubnets: [{ DestinationPrefix: '192.168.2.0/24', ProviderAddress: '10.0.0.3' }],
};

describe('planHns', () => {
  it('a cluster IP on l2bridge: the load balancer, and a remote endpoint with a conjured MAC', () => {
    const plan = planHns(
      ports({ name: 'web', clusterIP: '10.96.0.10' }, [{ ip: '10.244.1.5' }, { ip: '10.244.2.7', node: 'win-2' }]),
      L2,
    );
    expect(plan).toEqual({
      loadBalancers: [
        {
          key: 'IPv4/6/10.96.0.10/80',
          servicePort: 'demo/web:p/TCP',
          role: 'cluster-ip',
          family: 'IPv4',
          frontendVip: '10.96.0.10',
          protocol: 6,
          internalPort: 8080,
          externalPort: 80,
          flags: 0,
          portMappingFlags: 0,
          distributionType: 0,
          backends: [
            { kind: 'local', ip: '10.244.1.5' },
            { kind: 'remote', ip: '10.244.2.7' },
          ],
        },
      ],
      endpoints: [
        {
          ip: '10.244.2.7',
          kind: 'remote',
          role: 'backend',
          macAddress: '02-11-0a-f4-02-07',
          users: ['demo/web:p/TCP'],
        },
      ],
      skipped: [],
    });
  });

  it('overlay: provider addresses by subnet, the source VIP, the node IP toward a backend outside every subnet', () => {
    const plan = planHns(
      ports({ name: 'web', clusterIP: '10.96.0.10' }, [{ ip: '192.168.1.5' }, { ip: '192.168.2.7', node: 'win-2' }]),
      OVERLAY,
    );
    expect(plan.loadBalancers.map((l) => l.sourceVip)).toEqual(['192.168.1.254']);
    expect(plan.endpoints).toEqual([
      {
        ip: '10.96.0.10',
        kind: 'remote',
        role: 'service-vip',
        macAddress: '00-15-5D-00-00-04',
        providerAddress: '10.0.0.4',
        users: ['demo/web:p/TCP'],
      },
      {
        ip: '192.168.1.254',
        kind: 'local',
        role: 'source-vip',
        macAddress: '00-15-5D-00-00-04',
        users: [],
      },
      {
        ip: '192.168.2.7',
        kind: 'remote',
        role: 'backend',
        macAddress: '02-11-c0-a8-02-07',
        providerAddress: '10.0.0.3',
        users: ['demo/web:p/TCP'],
      },
    ]);
    // A backend in no remote subnet (a host-network pod on another node): reached from the node IP, PA the node IP.
    const outside = planHns(
      ports({ name: 'web', clusterIP: '10.96.0.10' }, [{ ip: '10.0.0.9', node: 'win-2' }]),
      OVERLAY,
    );
    expect(outside.loadBalancers.map((l) => l.sourceVip)).toEqual(['10.0.0.4']);
    expect(outside.endpoints.find((e) => e.ip === '10.0.0.9')?.providerAddress).toBe('10.0.0.4');
  });

  it('DSR: --enable-dsr for cluster IPs, ETP Local for external ones; dropped where HNS lacks it', () => {
    const sps = ports(
      { name: 'np', clusterIP: '10.96.0.11', type: 'NodePort', nodePort: 30080, externalTrafficPolicy: 'Local' },
      [{ ip: '10.244.1.5' }],
    );
    const flags = (ctx: HnsNodeContext) => planHns(sps, ctx).loadBalancers.map((l) => [l.key, l.flags]);
    expect(flags({ ...L2, enableDSR: true })).toEqual([
      ['IPv4/6/*/30080', 1],
      ['IPv4/6/10.96.0.11/80', 1],
    ]);
    expect(flags({ ...L2, enableDSR: true, features: hnsFeatures({ major: 10, minor: 1 }) })).toEqual([
      ['IPv4/6/*/30080', 0],
      ['IPv4/6/10.96.0.11/80', 0],
    ]);
  });

  it('a named target port: the first endpoint’s port, as HNS has one per load balancer', () => {
    const [lb] = planHns(
      ports({ name: 'web', clusterIP: '10.96.0.10' }, [{ ip: '10.244.1.5' }], { port: 9090 }),
      L2,
    ).loadBalancers;
    expect(lb?.internalPort).toBe(9090);
  });

  it('two services on one externalIP and port: the first keeps the frontend, the other is reported', () => {
    const plan = planHns(
      [
        ...ports({ name: 'b', clusterIP: '10.96.0.2', externalIPs: ['192.0.2.1'] }, [{ ip: '10.244.1.5' }]),
        ...ports({ name: 'a', clusterIP: '10.96.0.1', externalIPs: ['192.0.2.1'] }, [{ ip: '10.244.1.6' }]),
      ],
      L2,
    );
    expect(plan.loadBalancers.map((l) => [l.key, l.servicePort])).toEqual([
      ['IPv4/6/10.96.0.1/80', 'demo/a:p/TCP'],
      ['IPv4/6/10.96.0.2/80', 'demo/b:p/TCP'],
      ['IPv4/6/192.0.2.1/80', 'demo/a:p/TCP'],
    ]);
    expect(plan.skipped).toEqual([
      { name: 'demo/b:p/TCP', reason: "IPv4/6/192.0.2.1/80: the frontend is demo/a:p/TCP's already" },
    ]);
  });

  it('IPv6: the IPv6 flag, and a MAC from the address’s last four bytes, lowest first', () => {
    const plan = planHns(
      ports(
        { name: 'web', clusterIPs: ['fd00:10:96::20'], ipFamilies: ['IPv6'] },
        [{ ip: 'fd00:244:2::a:b07', node: 'win-2' }],
        { family: 'IPv6' },
        'IPv6',
      ),
      { ...L2, family: 'IPv6', nodeIP: 'fd00::4' },
    );
    expect(plan.loadBalancers.map((l) => [l.key, l.flags])).toEqual([['IPv6/6/fd00:10:96::20/80', 2]]);
    expect(conjureMac('fd00:244:2::a:b07')).toBe('02-11-07-0b-0a-00');
    expect(plan.endpoints.map((e) => e.macAddress)).toEqual(['02-11-07-0b-0a-00']);
  });
});

describe('loadBalancerDocument and frontendKeyOf', () => {
  it('the exact HCN document, whose frontend key reads back', () => {
    const [lb] = planHns(
      ports({ name: 'web', clusterIP: '10.96.0.10', affinity: true }, [{ ip: '10.244.1.5' }]),
      OVERLAY,
    ).loadBalancers;
    const doc = loadBalancerDocument(lb!, ['E0000000-0000-4000-8000-000000000001']);
    expect(JSON.stringify(doc)).toBe(
      '{"SourceVIP":"192.168.1.254","HostComputeEndpoints":["E0000000-0000-4000-8000-000000000001"],' +
        '"FrontendVIPs":["10.96.0.10"],"PortMappings":[{"Protocol":6,"InternalPort":8080,"ExternalPort":80,' +
        '"DistributionType":2,"Flags":0}],"SchemaVersion":{"Major":2,"Minor":0},"Flags":0}',
    );
    expect(frontendKeyOf(doc)).toBe(lb!.key);
    expect(frontendKeyOf({ ...doc, FrontendVIPs: [], Flags: 2 })).toBe('IPv6/6/*/80');
  });
});

describe('HnsPlanner, port by port', () => {
  /** A small deterministic generator (mulberry32): the same sequence on every run. */
  function random(seed: number) {
    let t = seed;
    return () => {
      t = (t + 0x6d2b79f5) | 0;
      let r = Math.imul(t ^ (t >>> 15), 1 | t);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
    };
  }

  for (const [name, ctx] of [
    ['l2bridge', L2],
    ['overlay', OVERLAY],
  ] as const)
    it(`gives what planHns gives after every change of a random sequence, with a true delta (${name})`, () => {
      const rnd = random(name === 'l2bridge' ? 7 : 11);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      // Few addresses, so endpoints are shared between services and external IPs clash.
      const podIps = [...Array(12).keys()].map((i) => (i % 2 ? `10.244.1.${10 + i}` : `192.168.2.${10 + i}`));
      const generate = (i: number): ServicePortState[] => {
        const eps = podIps
          .filter(() => rnd() < 0.3)
          .map((ip) => ({ ip, ...(ip.startsWith('192.168.2.') ? { node: 'win-2' } : {}), ready: rnd() < 0.9 }));
        const type = pick(['ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer'] as const);
        return ports(
          {
            name: `s${i}`,
            clusterIP: `10.96.0.${i + 1}`,
            type,
            ...(type !== 'ClusterIP' ? { nodePort: 30000 + i } : {}),
            ...(type === 'LoadBalancer' ? { ingress: [`203.0.113.${i + 1}`] } : {}),
            // Now and then two services on one external IP: a clash, settled by putting the plan together whole.
            ...(rnd() < 0.03 ? { externalIPs: [pick(['198.51.100.1', '198.51.100.2'])] } : {}),
            ...(rnd() < 0.2 ? { affinity: true } : {}),
            ...(rnd() < 0.2 ? { externalTrafficPolicy: 'Local' as const } : {}),
          },
          eps,
        );
      };
      const state = new Map<number, ServicePortState[]>();
      const planner = new HnsPlanner();
      let last: ReturnType<typeof planHns> | undefined;
      let deltas = 0;
      for (let step = 0; step < 300; step++) {
        const i = Math.floor(rnd() * 25);
        if (state.has(i) && rnd() < 0.25) state.delete(i);
        else state.set(i, generate(i));
        const all = [...state.values()].flat();
        const plan = planner.plan(all, ctx);
        const { delta, ...whole } = plan;
        expect(whole, `step ${step}`).toEqual(planHns(all, ctx));
        if (delta) {
          deltas++;
          expect(delta.previous).toBe(last);
          const before = new Set(last!.endpoints.map((e) => e.ip));
          for (const ip of delta.removed) before.delete(ip);
          for (const e of delta.added) before.add(e.ip);
          expect([...before].sort(), `step ${step}`).toEqual(plan.endpoints.map((e) => e.ip).sort());
          for (const e of plan.endpoints) expect(delta.has(e.ip)).toBe(true);
          for (const ip of delta.removed) expect(delta.has(ip)).toBe(false);
        }
        last = plan;
      }
      // Most plans are changes of the last, not wholes (clashing external IPs make some whole).
      expect(deltas).toBeGreaterThan(100);
    });
});
