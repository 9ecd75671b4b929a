// The load test's cluster: single-stack it is the cluster of the runs before
// IPv6; dual-stack every service carries an IPv6 ClusterIP and a slice of
// IPv6 endpoints as large as its IPv4 one, in canonical, unique addresses
// that never collide with the real ones.
import { describe, expect, it } from 'vitest';
import { canonicalIP } from '../../../control/model/address.js';
import {
  MAX_DUAL_STACK_SERVICES,
  NORTH_SOUTH,
  TARGET,
  clusterIP6,
  clusterObjects,
  endpointIP6,
  type GenOptions,
} from '../../../bench/cluster-gen.js';

type Obj = Record<string, any>;
const pod = { ip: '10.244.2.11', ip6: 'fd00:10:244:2::11', port: 8080, node: 'n2' };
const gen = (families: GenOptions['families']): GenOptions => ({
  services: 200,
  endpoints: 3,
  mix: { udp: 0.1, nodePort: 0.05 },
  families,
  target: pod,
  endpointNode: 'n2',
  northSouth: {
    otherNode: pod,
    sameNode: { ip: '10.244.1.12', ip6: 'fd00:10:244:1::12', port: 8080, node: 'n1' },
    udp: { ...pod, port: 9090 },
  },
});
const of = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);

describe('clusterObjects', () => {
  it('single-stack: one IPv4 ClusterIP and an IPv4 slice per service, no family fields', () => {
    const objs = clusterObjects(200, gen(['IPv4'])) as Obj[];
    const services = of(objs, 'Service');
    expect(services).toHaveLength(200);
    for (const s of services) {
      expect(s.spec.clusterIPs).toEqual([s.spec.clusterIP]);
      expect(s.spec.ipFamilies).toBeUndefined();
      expect(s.spec.ipFamilyPolicy).toBeUndefined();
    }
    expect(of(objs, 'EndpointSlice').map((e) => e.addressType)).toEqual(Array(200).fill('IPv4'));
  });

  it('dual-stack: every service RequireDualStack, IPv4 first, with an IPv6 slice of as many endpoints', () => {
    const objs = clusterObjects(200, gen(['IPv4', 'IPv6'])) as Obj[];
    const services = of(objs, 'Service');
    expect(services).toHaveLength(200);
    for (const s of services) {
      expect(s.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
      expect(s.spec.ipFamilyPolicy).toBe('RequireDualStack');
      expect(s.spec.clusterIP).toBe(s.spec.clusterIPs[0]);
      expect(s.spec.clusterIPs[1]).toMatch(/^fd00:10:96::[0-9a-f]+$/);
    }
    const slices = of(objs, 'EndpointSlice');
    const byService = (name: string, type: string) =>
      slices.filter((e) => e.metadata.labels['kubernetes.io/service-name'] === name && e.addressType === type);
    for (const s of services) {
      const v4 = byService(s.metadata.name, 'IPv4')[0]!;
      const v6 = byService(s.metadata.name, 'IPv6')[0]!;
      expect(v6.endpoints).toHaveLength(v4.endpoints.length);
      expect(v6.ports).toEqual(v4.ports);
    }
    // The real ones: the target's IPv6 slice is the pod's own IPv6 address.
    expect(services.find((s) => s.metadata.name === TARGET.name)!.spec.clusterIPs).toEqual([
      TARGET.clusterIP,
      TARGET.clusterIP6,
    ]);
    expect(byService(TARGET.name, 'IPv6')[0]!.endpoints[0].addresses).toEqual([pod.ip6]);
    expect(byService(NORTH_SOUTH.sameNode.name, 'IPv6')[0]!.endpoints[0].addresses).toEqual(['fd00:10:244:1::12']);
  });

  it('gives canonical, unique IPv6 addresses, clear of the real services and pods', () => {
    const objs = clusterObjects(200, gen(['IPv4', 'IPv6'])) as Obj[];
    const ips = of(objs, 'Service').map((s) => s.spec.clusterIPs[1] as string);
    expect(new Set(ips).size).toBe(ips.length);
    const eps = of(objs, 'EndpointSlice')
      .filter((e) => e.addressType === 'IPv6')
      .flatMap((e) => e.endpoints.map((x: Obj) => x.addresses[0] as string));
    for (const ip of [...ips, ...eps]) expect(canonicalIP(ip)).toBe(ip);
    const generated = eps.filter((ip) => ip.startsWith('fd00:10:250::'));
    expect(new Set(generated).size).toBe(generated.length);
    // Beyond 65,535 endpoints the address takes a second group.
    expect(endpointIP6(10_000, 9, 10)).toBe('fd00:10:250::1:86a9');
    // The last generated ClusterIP a dual-stack cluster may hold is below the north-south ones'.
    expect(clusterIP6(MAX_DUAL_STACK_SERVICES - 1 - 3)).toBe('fd00:10:96::fff0');
    expect(NORTH_SOUTH.otherNode.clusterIP6).toBe('fd00:10:96::fff1');
  });
});
