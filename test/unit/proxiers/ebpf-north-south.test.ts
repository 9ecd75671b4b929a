// What the ebpf proxier programs for a service reachable from outside, from
// the model's service ports (kube-proxy's semantics): an entry per NodePort
// address, load-balancer IP and externalIP, each with its external policy,
// source NAT and source ranges; ClusterIPs source-NATed by --cluster-cidr or
// --masquerade-all; a node's address change re-planning the NodePorts; and
// the uplinks the interface watcher reports.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/index.js';
import type { NodeFacts } from '../../../control/model/node-facts.js';
import type { ServicePortState } from '../../../control/model/types.js';
import type { Endpoint, Service } from '../../../control/sources/types.js';
import { DualStackProxier } from '../../../control/proxiers/dual-stack.js';
import { parseIpAddressJson } from '../../../control/proxiers/ebpf/interfaces.js';
import {
  dataplaneSpecs,
  EbpfProxier,
  networkOf,
  specContext,
  type SpecContext,
} from '../../../control/proxiers/ebpf/proxier.js';
import { endpoint, NODE, service, slice } from '../model/fixtures.js';
import { memoryMaps } from './memory-maps.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

const NODE_IP = '172.31.0.11';
const facts = (over: Partial<NodeFacts> = {}): NodeFacts => ({
  nodeName: NODE.nodeName,
  addresses: [NODE_IP],
  podCIDRs: [],
  nodePortAddresses: {},
  localAddresses: [NODE_IP, '192.168.7.1'],
  ...over,
});
const ctx = (over: Partial<NodeFacts> = {}, masqueradeAll = false, clusterCidrs = ['10.244.0.0/16']): SpecContext =>
  specContext(facts(over), { masqueradeAll, clusterCidrs });

/** The one service port of `svc`, with `endpoints` in one slice (port 8080). */
function port(svc: Service, endpoints: Endpoint[]): ServicePortState {
  const [sp] = buildServicePorts(
    svc,
    [slice(`${svc.name}-1`, endpoints, { serviceName: svc.name, namespace: svc.namespace })],
    NODE,
  );
  return sp!;
}

const nodePortService = (over: Partial<Service> = {}) =>
  service({
    type: 'NodePort',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    ...over,
  });
// node-b is another node; NODE (the proxy's) is node-a.
const here = (ip: string) => endpoint(ip, { nodeName: NODE.nodeName });
const there = (ip: string) => endpoint(ip, { nodeName: 'node-b' });
const addrs = (specs: Array<{ address: string; port: number }>) => specs.map((s) => `${s.address}:${s.port}`);

describe('ebpf: external addresses', () => {
  it('an SCTP NodePort is programmed as a TCP one is, protocol SCTP, nothing skipped', () => {
    const sctp = nodePortService({
      ports: [{ name: 'diameter', protocol: 'SCTP', port: 3868, targetPort: 3868, nodePort: 30068 }],
    });
    const { specs, skipped } = dataplaneSpecs(port(sctp, [here('10.244.1.11')]), ctx());
    expect(skipped).toEqual([]);
    expect(addrs(specs)).toEqual(['10.96.0.10:3868', `${NODE_IP}:30068`, '192.168.7.1:30068', '127.0.0.1:30068']);
    expect(specs.every((s) => s.protocol === 'SCTP')).toBe(true);
  });

  it('a NodePort on every local IPv4 address and 127.0.0.1, source-NATed under policy Cluster, to every endpoint', () => {
    const { specs, skipped } = dataplaneSpecs(
      port(nodePortService(), [here('10.244.1.11'), there('10.244.2.11')]),
      ctx(),
    );
    expect(skipped).toEqual([]);
    expect(addrs(specs)).toEqual(['10.96.0.10:80', `${NODE_IP}:30080`, '192.168.7.1:30080', '127.0.0.1:30080']);
    const [cluster, ...nodePorts] = specs;
    expect(cluster).toMatchObject({ snat: 'off-cluster' });
    expect(cluster!.nodeAddress).toBeUndefined();
    for (const s of nodePorts) {
      expect(s).toMatchObject({ snat: 'always', nodeAddress: true });
      expect(s.backends.map((b) => b.address)).toEqual(['10.244.1.11', '10.244.2.11']);
      expect(s.internal).toBeUndefined();
    }
  });

  it('--nodeport-addresses with IPv4 ranges: NodePorts on exactly those addresses, not on 127.0.0.1', () => {
    const { specs } = dataplaneSpecs(
      port(nodePortService(), [there('10.244.2.11')]),
      ctx({ nodePortAddresses: { IPv4: [NODE_IP] } }),
    );
    expect(addrs(specs)).toEqual(['10.96.0.10:80', `${NODE_IP}:30080`]);
  });

  it("externalTrafficPolicy Local: the node's own endpoints, the client's address kept, pods sent to the ClusterIP", () => {
    const sp = port(nodePortService({ externalTrafficPolicy: 'Local' }), [here('10.244.1.11'), there('10.244.2.11')]);
    const [cluster, nodePort] = dataplaneSpecs(sp, ctx()).specs;
    expect(cluster!.backends).toHaveLength(2);
    expect(nodePort).toMatchObject({ internal: { address: '10.96.0.10', port: 80 }, nodeAddress: true });
    expect(nodePort!.snat).toBeUndefined();
    expect(nodePort!.backends.map((b) => b.address)).toEqual(['10.244.1.11']);
  });

  it('externalTrafficPolicy Local with endpoints only elsewhere: external clients are dropped, not refused', () => {
    const sp = port(nodePortService({ externalTrafficPolicy: 'Local' }), [there('10.244.2.11')]);
    const [, nodePort] = dataplaneSpecs(sp, ctx()).specs;
    expect(nodePort).toMatchObject({ backends: [], dropWhenEmpty: true, internal: { address: '10.96.0.10' } });
  });

  it('load-balancer IPs carry their source ranges (as networks, the LB IP itself where one holds a node address); externalIPs none', () => {
    const sp = port(
      service({
        type: 'LoadBalancer',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30081 }],
        loadBalancerIPs: ['198.51.100.10'],
        externalIPs: ['198.51.100.20'],
        loadBalancerSourceRanges: ['203.0.113.7/24', '172.31.0.0/16'],
      }),
      [there('10.244.2.11')],
    );
    const specs = dataplaneSpecs(sp, ctx()).specs;
    const lb = specs.find((s) => s.address === '198.51.100.10')!;
    expect(lb).toMatchObject({ port: 80, snat: 'always' });
    expect(lb.sourceRanges).toEqual(['172.31.0.0/16', '198.51.100.10/32', '203.0.113.0/24']);
    expect(lb.nodeAddress).toBeUndefined();
    const ext = specs.find((s) => s.address === '198.51.100.20')!;
    expect(ext.sourceRanges).toBeUndefined();
    // NodePorts are not subject to the ranges either.
    expect(specs.filter((s) => s.port === 30081).every((s) => s.sourceRanges === undefined)).toBe(true);
    // No range holding a node address: the LB IP is not added.
    const far = port(
      service({
        type: 'LoadBalancer',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30081 }],
        loadBalancerIPs: ['198.51.100.10'],
        loadBalancerSourceRanges: ['203.0.113.0/24'],
      }),
      [there('10.244.2.11')],
    );
    expect(dataplaneSpecs(far, ctx()).specs.find((s) => s.address === '198.51.100.10')!.sourceRanges).toEqual([
      '203.0.113.0/24',
    ]);
  });

  it('an externalIP that is a node address is routed by the programs (nodeAddress)', () => {
    const sp = port(service({ externalIPs: [NODE_IP] }), [there('10.244.2.11')]);
    expect(dataplaneSpecs(sp, ctx()).specs.find((s) => s.address === NODE_IP)).toMatchObject({
      nodeAddress: true,
      snat: 'always',
    });
  });

  it('a load-balancer IP that is a node address is served there, routed by the programs, its ranges applied', () => {
    const sp = port(
      service({
        type: 'LoadBalancer',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30081 }],
        loadBalancerIPs: [NODE_IP],
        loadBalancerSourceRanges: ['203.0.113.0/24'],
      }),
      [there('10.244.2.11')],
    );
    const { specs, skipped } = dataplaneSpecs(sp, ctx());
    expect(skipped).toEqual([]);
    expect(specs.find((s) => s.address === NODE_IP && s.port === 80)).toMatchObject({
      nodeAddress: true,
      snat: 'always',
      sourceRanges: ['203.0.113.0/24'],
    });
  });

  it('ClusterIPs: source-NATed off the cluster with --cluster-cidr, always with --masquerade-all, never without either', () => {
    const sp = port(service(), [there('10.244.2.11')]);
    expect(dataplaneSpecs(sp, ctx()).specs[0]!.snat).toBe('off-cluster');
    expect(dataplaneSpecs(sp, ctx({}, true)).specs[0]!.snat).toBe('always');
    expect(dataplaneSpecs(sp, ctx({}, false, [])).specs[0]!.snat).toBeUndefined();
  });

  it('networkOf masks host bits as kube-proxy parses a CIDR', () => {
    expect(networkOf('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(networkOf('172.31.0.100/32')).toBe('172.31.0.100/32');
    expect(networkOf('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(networkOf('192.168.7.200/25')).toBe('192.168.7.128/25');
  });
});

describe('ebpf: external addresses through a sync', () => {
  async function proxier() {
    const maps = memoryMaps();
    const p = new EbpfProxier({
      objectDir: '/nonexistent',
      pinRoot: '/nonexistent',
      devices: [],
      clusterCidrs: ['10.244.0.0/16'],
      logger: silent,
      maps,
    });
    const meta = new DualStackProxier('ebpf', { IPv4: p });
    await meta.start();
    const sync = (desired: ServicePortState[], node: NodeFacts, full = false) =>
      meta.sync({
        desired: new Map(desired.map((sp) => [sp.name, sp])),
        changed: new Set(desired.map((sp) => sp.name)),
        removed: new Map(),
        full,
        node,
      });
    const entries = () =>
      maps.services
        .decoded()
        .map(([k]) => `${k.addr}:${k.port}`)
        .sort();
    return { maps, sync, entries };
  }

  it("follows the node's addresses: a NodePort moves to a new address and leaves the old one, without a service change", async () => {
    const { sync, entries, maps } = await proxier();
    const sp = port(nodePortService(), [there('10.244.2.11')]);
    await sync([sp], facts({ localAddresses: [NODE_IP] }));
    expect(entries()).toEqual(['10.96.0.10:80', '127.0.0.1:30080', `${NODE_IP}:30080`]);
    expect(maps.config.decoded()).toEqual([
      [0, { snat_addr4: NODE_IP, snat_addr6: '::', nat_port_min: 32768, nat_port_max: 65535 }],
    ]);
    // DHCP: the node's address changes; a partial sync that changes no service.
    const moved = '172.31.0.99';
    const r = await sync([], facts({ addresses: [moved], localAddresses: [moved] }));
    expect(r.skipped).toEqual([]);
    expect(entries()).toEqual(['10.96.0.10:80', '127.0.0.1:30080', `${moved}:30080`]);
    expect(maps.config.decoded()[0]![1].snat_addr4).toBe(moved);
    // 128-bit prefixes: an IPv4 /16 is ::ffff:10.244.0.0/112.
    expect(maps.clusterCidrs.decoded().map(([k]) => `${k.addr}/${k.prefixlen}`)).toEqual(['10.244.0.0/112']);
  });

  it('two services on one externalIP and port: the second is refused with the first named, the rest of it programmed', async () => {
    const { sync, entries } = await proxier();
    const a = port(service({ name: 'a', clusterIPs: ['10.96.0.20'], externalIPs: ['198.51.100.20'] }), [
      there('10.244.2.11'),
    ]);
    const b = port(service({ name: 'b', clusterIPs: ['10.96.0.21'], externalIPs: ['198.51.100.20'] }), [
      there('10.244.2.12'),
    ]);
    const r = await sync([a, b], facts(), true);
    expect(r.skipped).toEqual([{ name: b.name, reason: `198.51.100.20:80/TCP is already served by ${a.name}` }]);
    expect(entries()).toEqual(['10.96.0.20:80', '10.96.0.21:80', '198.51.100.20:80']);
  });
});

describe('ebpf: uplinks', () => {
  it('an interface with a global IPv4 address is an uplink; a virtual one says its kind', () => {
    const links = parseIpAddressJson(
      JSON.stringify([
        { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', scope: 'host', local: '127.0.0.1' }] },
        { ifindex: 2, ifname: 'eth0', addr_info: [{ family: 'inet', scope: 'global', local: '172.31.0.11' }] },
        {
          ifindex: 3,
          ifname: 'wire@if2',
          linkinfo: { info_kind: 'veth' },
          addr_info: [{ family: 'inet', scope: 'global', local: '10.0.0.1' }],
        },
        {
          ifindex: 4,
          ifname: 'p1@if3',
          linkinfo: { info_kind: 'veth' },
          addr_info: [{ family: 'inet6', scope: 'link' }],
        },
      ]),
    );
    expect(links).toEqual([
      { name: 'lo', ifindex: 1, uplink: false },
      { name: 'eth0', ifindex: 2, uplink: true },
      { name: 'wire', ifindex: 3, uplink: true, kind: 'veth' },
      { name: 'p1', ifindex: 4, uplink: false, kind: 'veth' },
    ]);
  });
});
