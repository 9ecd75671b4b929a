// The userspace mode's pure parts: --proxy-port-range as kube-proxy parses
// it, the port allocator on loopback-free 0.0.0.0 sockets of this process,
// endpoint choice, and the exact iptables lines of a service port.
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/index.js';
import type { EndpointState } from '../../../control/model/types.js';
import { Balancer } from '../../../control/proxiers/userspace/balancer.js';
import { PortAllocator, parsePortRange } from '../../../control/proxiers/userspace/ports.js';
import { portRules } from '../../../control/proxiers/userspace/rules.js';
import { slimEndpointSlice, slimService } from '../../../control/sources/slim.js';
import { service, slice } from '../kernelspace/world.js';

describe('--proxy-port-range', () => {
  it.each([
    ['', undefined],
    ['0', undefined],
    ['0-0', undefined],
    ['30000-30010', { base: 30000, size: 11 }],
    ['40000', { base: 40000, size: 1 }],
    ['40000+9', { base: 40000, size: 10 }],
  ])('%j', (raw, want) => expect(parsePortRange(raw)).toEqual(want));

  it.each(['30010-30000', '0-70000', 'a-b', '1-2-3', '65535+1'])('refuses %j', (raw) =>
    expect(() => parsePortRange(raw)).toThrow(/--|expected|ports must be/),
  );
});

describe('PortAllocator', () => {
  it('hands out the range once, says so when it is used up, and takes a released port back', async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const ports = new PortAllocator({ base, size: 2 });
    const a = await ports.bind('tcp');
    const b = await ports.bind('tcp');
    try {
      expect(new Set([a.port, b.port])).toEqual(new Set([base, base + 1]));
      await expect(ports.bind('tcp')).rejects.toMatchObject({
        code: 'ERR_PROXY_PORT_RANGE',
        message: expect.stringMatching(/has no free TCP port left \(2 in use/),
      });
      // UDP has its own ports.
      const u = await ports.bind('udp');
      if (u.kind === 'udp') u.socket.close();
      if (a.kind === 'tcp') a.server.close();
      ports.release('tcp', a.port);
      const c = await ports.bind('tcp');
      expect(c.port).toBe(a.port);
      if (c.kind === 'tcp') c.server.close();
    } finally {
      if (b.kind === 'tcp') b.server.close();
    }
  });
});

const ep = (ip: string): EndpointState => ({
  ip,
  port: 8080,
  family: 'IPv4',
  ready: true,
  serving: true,
  terminating: false,
  isLocal: false,
  zoneHints: [],
  nodeHints: [],
});

describe('Balancer', () => {
  it('round robin, and ClientIP affinity until it expires or the endpoint goes', () => {
    const b = new Balancer();
    b.update([ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')], undefined);
    expect([1, 2, 3, 4].map(() => b.pick('c')!.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
    b.update([ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')], 10);
    const first = b.pick('c', 0)!.ip;
    expect([1, 2, 3].map((i) => b.pick('c', i * 1000)!.ip)).toEqual([first, first, first]);
    // Expired after 10 s idle: a fresh choice, sticky again from then on.
    const next = b.pick('c', 20_000)!.ip;
    expect(b.pick('c', 21_000)!.ip).toBe(next);
    const sticky = b.pick('d', 30_000)!.ip;
    b.update(
      [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')].filter((e) => e.ip !== sticky),
      10,
    );
    expect(b.pick('d', 31_000)!.ip).not.toBe(sticky);
    b.update([], 10);
    expect(b.pick('d')).toBeUndefined();
  });
});

describe('portRules', () => {
  it("a LoadBalancer's lines: DNAT to the node IP, source ranges redirected and the rest dropped", () => {
    const svc = slimService(
      service({
        name: 'web',
        clusterIP: '10.96.0.10',
        type: 'LoadBalancer',
        nodePort: 30080,
        ingress: ['203.0.113.9'],
      }),
    ).value!;
    const [sp] = buildServicePorts(svc, [slimEndpointSlice(slice('web', [{ ip: '10.244.1.5' }])).value!], {
      nodeName: 'n1',
    });
    const r = portRules(
      { ...sp!, loadBalancerSourceRanges: ['192.0.2.0/24'] },
      { internal: { proxyPort: 40001 }, external: { proxyPort: 40002 } },
      { addresses: ['10.0.0.4'], nodePortAddresses: {} },
    );
    expect(r.nat).toContain(
      '-A KUBE-PORTALS-CONTAINER -m comment --comment "demo/web:p cluster IP" -p tcp -m tcp -d 10.96.0.10/32 --dport 80 -j DNAT --to-destination 10.0.0.4:40001',
    );
    expect(r.nat).toContain(
      '-A KUBE-NODEPORT-HOST -m comment --comment "demo/web:p node port" -p tcp -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.4:40002',
    );
    expect(r.nat.filter((l) => l.includes('203.0.113.9'))).toEqual([
      '-A KUBE-PORTALS-CONTAINER -m comment --comment "demo/web:p loadbalancer IP" -s 192.0.2.0/24 -p tcp -m tcp -d 203.0.113.9/32 --dport 80 -j DNAT --to-destination 10.0.0.4:40002',
      '-A KUBE-PORTALS-HOST -m comment --comment "demo/web:p loadbalancer IP" -s 192.0.2.0/24 -p tcp -m tcp -d 203.0.113.9/32 --dport 80 -j DNAT --to-destination 10.0.0.4:40002',
    ]);
    expect(r.filter).toEqual([
      '-A KUBE-PORTALS-FILTER -m comment --comment "demo/web:p traffic not accepted by loadBalancerSourceRanges" -p tcp -m tcp -d 203.0.113.9/32 --dport 80 -j DROP',
    ]);
  });

  it('no endpoints: REJECT for each address and the NodePort', () => {
    const svc = slimService(service({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', nodePort: 30080 }))
      .value!;
    const [sp] = buildServicePorts(svc, [], { nodeName: 'n1' });
    const no = { target: 'REJECT' as const, why: 'has no endpoints' };
    const r = portRules(sp!, { internal: no, external: no }, { addresses: ['10.0.0.4'], nodePortAddresses: {} });
    expect(r.nat).toEqual([]);
    expect(r.filter).toEqual([
      '-A KUBE-PORTALS-FILTER -m comment --comment "demo/web:p has no endpoints" -p tcp -m tcp -d 10.96.0.10/32 --dport 80 -j REJECT',
      '-A KUBE-PORTALS-FILTER -m comment --comment "demo/web:p has no endpoints" -p tcp -m tcp -m addrtype --dst-type LOCAL --dport 30080 -j REJECT',
    ]);
  });

  it('IPv6 (the ip6tables proxier): /128 matches, DNAT to the bracketed node address, ::1 never a NodePort address', () => {
    const svc = slimService(service({ name: 'web', clusterIP: 'fd00:10:96::10', type: 'NodePort', nodePort: 30080 }))
      .value!;
    const [sp] = buildServicePorts(svc, [], { nodeName: 'n1' });
    const r = portRules(
      sp!,
      { internal: { proxyPort: 40001 }, external: { proxyPort: 40002 } },
      { addresses: ['10.0.0.4', 'fd00::4'], nodePortAddresses: {} },
      'IPv6',
    );
    expect(r.nat).toContain(
      '-A KUBE-PORTALS-CONTAINER -m comment --comment "demo/web:p cluster IP" -p tcp -m tcp -d fd00:10:96::10/128 --dport 80 -j DNAT --to-destination [fd00::4]:40001',
    );
    expect(r.nat).toContain(
      '-A KUBE-NODEPORT-HOST -m comment --comment "demo/web:p node port" -p tcp -m tcp ! -d ::1/128 --dport 30080 -j DNAT --to-destination [fd00::4]:40002',
    );
    const listed = portRules(
      sp!,
      { internal: { proxyPort: 40001 }, external: { proxyPort: 40002 } },
      { addresses: ['fd00::4'], nodePortAddresses: { IPv6: ['::1', 'fd00::4'] } },
      'IPv6',
    );
    expect(listed.nat.filter((l) => l.includes('node port')).map((l) => /-d (\S+)/.exec(l)?.[1])).toEqual([
      'fd00::4/128',
      'fd00::4/128',
    ]);
  });
});
