// The ipvs mode's layout of a service port, against what kube-proxy's IPVS
// proxier programs (pkg/proxy/ipvs/proxier.go and proxier_test.go): one
// virtual server per address and port, NodePorts on every NodePort address of
// the node, endpoints of the address's traffic policy as real servers of
// weight 1, ClientIP affinity as persistence, and the ipset members its rules
// match, the load-balancer source ranges' included.
import { describe, expect, it } from 'vitest';
import { servicePortOfFamily } from '../../../control/model/family.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import { portLayout, type LayoutContext } from '../../../control/proxiers/ipvs/layout.js';
import type { Service } from '../../../control/sources/types.js';
import { NODE, NOT_READY, endpoint, service, slice } from '../model/fixtures.js';

/** A node with two addresses NodePorts answer on; its Node object lists the first. */
const NODE_IPS = ['172.31.0.11', '192.168.5.11'];
const CTX: LayoutContext = {
  family: 'IPv4',
  scheduler: '',
  nodePortAddresses: NODE_IPS,
  nodeAddresses: ['172.31.0.11'],
};

/** The layout of the port's IPv4 share, as the dual-stack meta proxier hands it to this mode. */
function layoutFor(svc: Partial<Service>, endpoints: Parameters<typeof slice>[1], ctx: Partial<LayoutContext> = {}) {
  const [sp] = buildServicePorts(service(svc), [slice('s1', endpoints)], NODE);
  return portLayout(servicePortOfFamily(sp!, 'IPv4')!, { ...CTX, ...ctx });
}

const HERE = { nodeName: NODE.nodeName };
const NODE_PORT = {
  type: 'NodePort' as const,
  ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 8080, nodePort: 30080 }],
};
const LB = {
  type: 'LoadBalancer' as const,
  ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 8080, nodePort: 30080 }],
  loadBalancerIPs: ['198.51.100.4'],
};
const ids = (l: ReturnType<typeof layoutFor>) =>
  l.virtualServers.map((v) => [
    `${v.virtualServer.address}:${v.virtualServer.port}`,
    v.realServers.map((r) => r.address),
  ]);

describe('portLayout', () => {
  it('lays out a ClusterIP service as kube-proxy does', () => {
    const l = layoutFor({}, [endpoint('10.244.1.5', { nodeName: NODE.nodeName }), endpoint('10.244.2.7')]);
    expect(l.virtualServers).toEqual([
      {
        virtualServer: { address: '10.96.0.10', protocol: 'TCP', port: 80, scheduler: 'rr' },
        realServers: [
          { address: '10.244.1.5', port: 8080, weight: 1 },
          { address: '10.244.2.7', port: 8080, weight: 1 },
        ],
      },
    ]);
    expect(l.addresses).toEqual(['10.96.0.10']);
    expect(l.sets).toEqual({
      clusterIP: ['10.96.0.10,tcp:80'],
      // Hairpin entries for this node's endpoints only, as kube-proxy.
      loopBack: ['10.244.1.5,tcp:8080,10.244.1.5'],
    });
    expect(l.skipped).toEqual([]);
  });

  it('uses the scheduler asked for, and persistence for ClientIP affinity', () => {
    const l = layoutFor({ affinityTimeoutSeconds: 300 }, [endpoint('10.244.1.5')], { scheduler: 'sh' });
    expect(l.virtualServers[0]!.virtualServer).toEqual({
      address: '10.96.0.10',
      protocol: 'TCP',
      port: 80,
      scheduler: 'sh',
      persistence: { timeoutSeconds: 300 },
    });
  });

  it('keeps a virtual server without real servers for a service without endpoints (IPVS refuses its traffic)', () => {
    const l = layoutFor({}, [endpoint('10.244.1.5', NOT_READY)]);
    expect(l.virtualServers).toEqual([
      { virtualServer: { address: '10.96.0.10', protocol: 'TCP', port: 80, scheduler: 'rr' }, realServers: [] },
    ]);
    expect(l.sets.noLocalEndpoints).toBeUndefined();
    expect(l.sets.clusterIP).toEqual(['10.96.0.10,tcp:80']);
  });

  it("with internalTrafficPolicy Local, programs only this node's endpoints, and drops when it has none", () => {
    const mixed = layoutFor({ internalTrafficPolicy: 'Local' }, [
      endpoint('10.244.1.5', { nodeName: NODE.nodeName }),
      endpoint('10.244.2.7'),
    ]);
    expect(mixed.virtualServers[0]!.realServers).toEqual([{ address: '10.244.1.5', port: 8080, weight: 1 }]);
    expect(mixed.sets.noLocalEndpoints).toBeUndefined();
    const none = layoutFor({ internalTrafficPolicy: 'Local' }, [endpoint('10.244.2.7')]);
    expect(none.virtualServers[0]!.realServers).toEqual([]);
    expect(none.sets.noLocalEndpoints).toEqual(['10.96.0.10,tcp:80']);
    expect(none.noLocalEndpoints).toEqual({ internal: true, external: false });
  });

  it('gives externalIPs and load-balancer IPs their own virtual servers and sets, by external policy', () => {
    const l = layoutFor(
      {
        type: 'LoadBalancer',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
        externalIPs: ['192.0.2.10'],
        loadBalancerIPs: ['198.51.100.4'],
        externalTrafficPolicy: 'Local',
      },
      [endpoint('10.244.1.5', { nodeName: NODE.nodeName }), endpoint('10.244.2.7')],
    );
    expect(l.virtualServers.map((v) => [v.virtualServer.address, v.realServers.map((r) => r.address)])).toEqual([
      ['10.96.0.10', ['10.244.1.5', '10.244.2.7']],
      ['192.0.2.10', ['10.244.1.5']],
      ['198.51.100.4', ['10.244.1.5']],
      // Its NodePort, on each NodePort address.
      ['172.31.0.11', ['10.244.1.5']],
      ['192.168.5.11', ['10.244.1.5']],
    ]);
    expect(l.addresses).toEqual(['10.96.0.10', '192.0.2.10', '198.51.100.4']);
    expect(l.sets.externalIPLocal).toEqual(['192.0.2.10,tcp:80']);
    expect(l.sets.loadBalancer).toEqual(['198.51.100.4,tcp:80']);
    expect(l.sets.loadBalancerLocal).toEqual(['198.51.100.4,tcp:80']);
    expect(l.skipped).toEqual([]);
  });

  it('gives a NodePort a virtual server on each NodePort address, bound nowhere, its port in KUBE-NODE-PORT-TCP', () => {
    const l = layoutFor(NODE_PORT, [endpoint('10.244.1.5', HERE), endpoint('10.244.2.7')]);
    // kube-proxy: one virtual server per node IP, with the cluster endpoints (externalTrafficPolicy Cluster).
    expect(l.virtualServers.slice(1)).toEqual(
      NODE_IPS.map((address) => ({
        virtualServer: { address, protocol: 'TCP', port: 30080, scheduler: 'rr' },
        realServers: [
          { address: '10.244.1.5', port: 8080, weight: 1 },
          { address: '10.244.2.7', port: 8080, weight: 1 },
        ],
      })),
    );
    // Node addresses are the node's own: not on kube-ipvs0, not in KUBE-IPVS-IPS.
    expect(l.addresses).toEqual(['10.96.0.10']);
    expect(l.sets).toEqual({
      clusterIP: ['10.96.0.10,tcp:80'],
      nodePortTCP: ['30080'],
      loopBack: ['10.244.1.5,tcp:8080,10.244.1.5'],
    });
    expect(l.skipped).toEqual([]);
  });

  it('puts a UDP NodePort in KUBE-NODE-PORT-UDP, and gives NodePort virtual servers the persistence of ClientIP affinity', () => {
    const [dns] = buildServicePorts(
      service({
        type: 'NodePort',
        ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 8080, nodePort: 30053 }],
      }),
      [slice('s1', [endpoint('10.244.2.7')], { ports: [{ name: 'dns', protocol: 'UDP', port: 8080 }] })],
      NODE,
    );
    const udp = portLayout(dns!, CTX);
    expect(udp.sets.nodePortUDP).toEqual(['30053']);
    expect(udp.sets.nodePortTCP).toBeUndefined();
    expect(ids(udp)).toEqual([
      ['10.96.0.10:53', ['10.244.2.7']],
      ['172.31.0.11:30053', ['10.244.2.7']],
      ['192.168.5.11:30053', ['10.244.2.7']],
    ]);
    const sticky = layoutFor({ ...NODE_PORT, affinityTimeoutSeconds: 60 }, [endpoint('10.244.2.7')]);
    expect(sticky.virtualServers.map((v) => v.virtualServer.persistence)).toEqual([
      { timeoutSeconds: 60 },
      { timeoutSeconds: 60 },
      { timeoutSeconds: 60 },
    ]);
  });

  it('with externalTrafficPolicy Local, a NodePort uses local endpoints only and is in the LOCAL set too (no masquerading)', () => {
    const l = layoutFor({ ...NODE_PORT, externalTrafficPolicy: 'Local' }, [
      endpoint('10.244.1.5', HERE),
      endpoint('10.244.2.7'),
    ]);
    expect(ids(l)).toEqual([
      // The ClusterIP keeps the internal policy's endpoints.
      ['10.96.0.10:80', ['10.244.1.5', '10.244.2.7']],
      ['172.31.0.11:30080', ['10.244.1.5']],
      ['192.168.5.11:30080', ['10.244.1.5']],
    ]);
    // kube-proxy adds a Local NodePort to both sets; KUBE-NODE-PORT returns on the LOCAL one before it marks.
    expect(l.sets.nodePortTCP).toEqual(['30080']);
    expect(l.sets.nodePortLocalTCP).toEqual(['30080']);
    expect(l.sets.noLocalEndpoints).toBeUndefined();
    expect(l.noLocalEndpoints).toEqual({ internal: false, external: false });
  });

  it('with externalTrafficPolicy Local and no local endpoint, sends to every endpoint for pods and drops outside clients', () => {
    const l = layoutFor({ ...NODE_PORT, externalTrafficPolicy: 'Local' }, [endpoint('10.244.2.7')]);
    // kube-proxy's IPVS mode (kubernetes#97081): the cluster endpoints, so pods on this node are served.
    expect(ids(l)).toEqual([
      ['10.96.0.10:80', ['10.244.2.7']],
      ['172.31.0.11:30080', ['10.244.2.7']],
      ['192.168.5.11:30080', ['10.244.2.7']],
    ]);
    // From outside the cluster it is dropped, as kube-proxy's iptables mode drops it.
    expect(l.sets.noLocalExternal).toEqual(['172.31.0.11,tcp:30080', '192.168.5.11,tcp:30080']);
    expect(l.sets.noLocalEndpoints).toBeUndefined();
    expect(l.noLocalEndpoints).toEqual({ internal: false, external: true });
    // The same for externalIPs and load-balancer IPs.
    const lb = layoutFor({ ...LB, externalIPs: ['192.0.2.10'], externalTrafficPolicy: 'Local' }, [
      endpoint('10.244.2.7'),
    ]);
    expect(lb.sets.noLocalExternal).toEqual([
      '192.0.2.10,tcp:80',
      '198.51.100.4,tcp:80',
      '172.31.0.11,tcp:30080',
      '192.168.5.11,tcp:30080',
    ]);
    expect(lb.virtualServers.every((v) => v.realServers.length === 1)).toBe(true);
    // Without any endpoint at all it is refused instead: no drop entry.
    const none = layoutFor({ ...NODE_PORT, externalTrafficPolicy: 'Local' }, []);
    expect(none.sets.noLocalExternal).toBeUndefined();
    expect(none.sets.noLocalEndpoints).toBeUndefined();
    expect(ids(none)).toEqual([
      ['10.96.0.10:80', []],
      ['172.31.0.11:30080', []],
      ['192.168.5.11:30080', []],
    ]);
  });

  it('programs no NodePort when no node address answers NodePorts (kube-proxy skips it), the ClusterIP still', () => {
    const l = layoutFor(NODE_PORT, [endpoint('10.244.2.7')], { nodePortAddresses: [] });
    expect(ids(l)).toEqual([['10.96.0.10:80', ['10.244.2.7']]]);
    expect(l.sets.nodePortTCP).toBeUndefined();
  });

  it('firewalls a load-balancer IP with loadBalancerSourceRanges: KUBE-LOAD-BALANCER-FW and a SOURCE-CIDR member per range', () => {
    const l = layoutFor({ ...LB, loadBalancerSourceRanges: ['203.0.113.0/24', '10.1.2.3/16', '192.0.2.7/32'] }, [
      endpoint('10.244.2.7'),
    ]);
    expect(l.sets.loadBalancer).toEqual(['198.51.100.4,tcp:80']);
    expect(l.sets.loadBalancerFW).toEqual(['198.51.100.4,tcp:80']);
    // As the kernel stores them: the network of each range, a /32 as the bare address.
    expect(l.sets.loadBalancerSourceCIDR).toEqual([
      '198.51.100.4,tcp:80,203.0.113.0/24',
      '198.51.100.4,tcp:80,10.1.0.0/16',
      '198.51.100.4,tcp:80,192.0.2.7',
    ]);
    // No range holds the node: its own connections to the LB IP are dropped on the way out.
    expect(l.sets.loadBalancerSourceIP).toBeUndefined();
    expect(l.noNodeAccess).toEqual([{ address: '198.51.100.4', protocol: 'TCP', port: 80 }]);
    // The ranges are the load balancer's only: the NodePort and the ClusterIP are served as always.
    expect(ids(l).map(([id]) => id)).toEqual([
      '10.96.0.10:80',
      '198.51.100.4:80',
      '172.31.0.11:30080',
      '192.168.5.11:30080',
    ]);
    expect(l.sets.nodePortTCP).toEqual(['30080']);
  });

  it('lets the load-balancer IP reach itself when a range holds a node address (KUBE-LOAD-BALANCER-SOURCE-IP)', () => {
    const l = layoutFor({ ...LB, loadBalancerSourceRanges: ['172.31.0.0/24'] }, [endpoint('10.244.2.7')]);
    expect(l.sets.loadBalancerSourceCIDR).toEqual(['198.51.100.4,tcp:80,172.31.0.0/24']);
    expect(l.sets.loadBalancerSourceIP).toEqual(['198.51.100.4,tcp:80,198.51.100.4']);
    expect(l.noNodeAccess).toEqual([]);
  });

  it('does not firewall externalIPs, nor a load balancer whose ranges admit every source (0.0.0.0/0)', () => {
    const ext = layoutFor({ externalIPs: ['192.0.2.10'], loadBalancerSourceRanges: ['203.0.113.0/24'] }, [
      endpoint('10.244.2.7'),
    ]);
    expect(ext.sets.loadBalancerFW).toBeUndefined();
    expect(ext.sets.externalIP).toEqual(['192.0.2.10,tcp:80']);
    const open = layoutFor({ ...LB, loadBalancerSourceRanges: ['203.0.113.0/24', '0.0.0.0/0'] }, [
      endpoint('10.244.2.7'),
    ]);
    expect(open.sets.loadBalancerFW).toBeUndefined();
    expect(open.sets.loadBalancerSourceCIDR).toBeUndefined();
    expect(open.noNodeAccess).toEqual([]);
    expect(open.sets.loadBalancer).toEqual(['198.51.100.4,tcp:80']);
  });

  it('programs nothing of a load-balanced port whose source range does not parse, and says why', () => {
    const sp = servicePortOfFamily(
      buildServicePorts(service(LB), [slice('s1', [endpoint('10.244.2.7')])], NODE)[0]!,
      'IPv4',
    )!;
    // The source drops such ranges; a state that still holds one must not open the LB IP to all.
    const l = portLayout({ ...sp, loadBalancerSourceRanges: ['203.0.113.0/24', '10.0.0.0/40'] }, CTX);
    expect(l.invalid).toMatch(/"10\.0\.0\.0\/40" is not an IPv4 CIDR/);
    expect(l.skipped).toEqual([l.invalid]);
    expect(l.virtualServers).toEqual([]);
    expect(l.sets).toEqual({});
  });

  it('reports SCTP as skipped instead of programming it half (IPv6 never reaches it: the meta proxier reports it)', () => {
    const sctp = layoutFor({ ports: [{ name: 'http', protocol: 'SCTP', port: 80, targetPort: 8080 }] }, []);
    expect(sctp.virtualServers).toEqual([]);
    expect(sctp.skipped).toContain('SCTP is not programmed by the ipvs mode yet');
  });
});

/** A dual-stack node: the IPv6 proxier's context, with the node's IPv6 addresses. */
const NODE_IPS6 = ['fd00:172:31::11', 'fd00:5::11'];
const CTX6: LayoutContext = {
  family: 'IPv6',
  scheduler: '',
  nodePortAddresses: NODE_IPS6,
  nodeAddresses: ['fd00:172:31::11'],
};

/** A dual-stack service with both families' slices, laid out by the proxier of `family`. */
function dualStackLayout(family: 'IPv4' | 'IPv6', svc: Partial<Service>) {
  const slices = [
    slice('v4', [endpoint('10.244.1.5', HERE), endpoint('10.244.2.7')]),
    slice('v6', [endpoint('fd00:10:244:1::5', HERE), endpoint('fd00:10:244:2::7')], { addressType: 'IPv6' }),
  ];
  const [sp] = buildServicePorts(service({ clusterIPs: ['10.96.0.10', 'fd00:10:96::a'], ...svc }), slices, NODE);
  return portLayout(servicePortOfFamily(sp!, family)!, family === 'IPv4' ? CTX : CTX6);
}

describe('portLayout: the IPv6 proxier', () => {
  it("lays out a dual-stack service's IPv6 share: AF_INET6 virtual servers with the IPv6 endpoints, IPv6 members", () => {
    const l = dualStackLayout('IPv6', {});
    expect(l.virtualServers).toEqual([
      {
        virtualServer: { address: 'fd00:10:96::a', protocol: 'TCP', port: 80, scheduler: 'rr' },
        realServers: [
          { address: 'fd00:10:244:1::5', port: 8080, weight: 1 },
          { address: 'fd00:10:244:2::7', port: 8080, weight: 1 },
        ],
      },
    ]);
    expect(l.addresses).toEqual(['fd00:10:96::a']);
    // Members as ipset prints them: "IP,proto:port", the IPv6 address bare (no brackets).
    expect(l.sets).toEqual({
      clusterIP: ['fd00:10:96::a,tcp:80'],
      loopBack: ['fd00:10:244:1::5,tcp:8080,fd00:10:244:1::5'],
    });
    // The IPv4 proxier's share of the same port has nothing of IPv6.
    expect(ids(dualStackLayout('IPv4', {}))).toEqual([['10.96.0.10:80', ['10.244.1.5', '10.244.2.7']]]);
  });

  it('writes service addresses as the kernel prints them back (compressed, lower-case), so read-backs match', () => {
    const l = dualStackLayout('IPv6', {
      clusterIPs: ['10.96.0.10', 'FD00:10:96:0:0:0:0:A'],
      externalIPs: ['2001:DB8:0:0::10'],
    });
    expect(l.virtualServers.map((v) => v.virtualServer.address)).toEqual(['fd00:10:96::a', '2001:db8::10']);
    expect(l.sets.externalIP).toEqual(['2001:db8::10,tcp:80']);
  });

  it('gives an IPv6 NodePort a virtual server on each IPv6 NodePort address; the port sets are the same ports', () => {
    const l = dualStackLayout('IPv6', NODE_PORT);
    expect(ids(l)).toEqual([
      ['fd00:10:96::a:80', ['fd00:10:244:1::5', 'fd00:10:244:2::7']],
      ['fd00:172:31::11:30080', ['fd00:10:244:1::5', 'fd00:10:244:2::7']],
      ['fd00:5::11:30080', ['fd00:10:244:1::5', 'fd00:10:244:2::7']],
    ]);
    expect(l.addresses).toEqual(['fd00:10:96::a']);
    expect(l.sets.nodePortTCP).toEqual(['30080']);
  });

  it('firewalls an IPv6 load-balancer IP with its IPv6 source ranges, written as the kernel stores them', () => {
    const l = dualStackLayout('IPv6', {
      ...LB,
      loadBalancerIPs: ['198.51.100.4', '2001:db8:100::4'],
      // The IPv4 range is the IPv4 proxier's; each family gets its own (the meta proxier splits them).
      loadBalancerSourceRanges: ['203.0.113.0/24', '2001:DB8:FFFF::1/48', 'fd00:172:31::100/128'],
    });
    expect(l.sets.loadBalancer).toEqual(['2001:db8:100::4,tcp:80']);
    expect(l.sets.loadBalancerFW).toEqual(['2001:db8:100::4,tcp:80']);
    expect(l.sets.loadBalancerSourceCIDR).toEqual([
      '2001:db8:100::4,tcp:80,2001:db8:ffff::/48',
      '2001:db8:100::4,tcp:80,fd00:172:31::100',
    ]);
    // No range holds the node's IPv6 address: its own connections are dropped on the way out.
    expect(l.noNodeAccess).toEqual([{ address: '2001:db8:100::4', protocol: 'TCP', port: 80 }]);
    const v4 = dualStackLayout('IPv4', {
      ...LB,
      loadBalancerIPs: ['198.51.100.4', '2001:db8:100::4'],
      loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8:ffff::/48'],
    });
    expect(v4.sets.loadBalancerSourceCIDR).toEqual(['198.51.100.4,tcp:80,203.0.113.0/24']);
  });

  it('lets an IPv6 load-balancer IP reach itself when a range holds the node, and opens it to all for ::/0', () => {
    const nodes = dualStackLayout('IPv6', {
      ...LB,
      loadBalancerIPs: ['2001:db8:100::4'],
      loadBalancerSourceRanges: ['fd00:172:31::/64'],
    });
    expect(nodes.sets.loadBalancerSourceIP).toEqual(['2001:db8:100::4,tcp:80,2001:db8:100::4']);
    expect(nodes.noNodeAccess).toEqual([]);
    const open = dualStackLayout('IPv6', {
      ...LB,
      loadBalancerIPs: ['2001:db8:100::4'],
      loadBalancerSourceRanges: ['2001:db8::/32', '::/0'],
    });
    expect(open.sets.loadBalancerFW).toBeUndefined();
    expect(open.noNodeAccess).toEqual([]);
  });

  it('programs nothing of a port whose IPv6 source range does not parse as one', () => {
    const sp = servicePortOfFamily(
      buildServicePorts(
        service({ ...LB, clusterIPs: ['fd00:10:96::a'], loadBalancerIPs: ['2001:db8:100::4'] }),
        [slice('v6', [endpoint('fd00:10:244:2::7')], { addressType: 'IPv6' })],
        NODE,
      )[0]!,
      'IPv6',
    )!;
    const l = portLayout({ ...sp, loadBalancerSourceRanges: ['2001:db8::/129'] }, CTX6);
    expect(l.invalid).toMatch(/"2001:db8::\/129" is not an IPv6 CIDR/);
    expect(l.virtualServers).toEqual([]);
  });
});
