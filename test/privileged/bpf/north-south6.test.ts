// North-south translation over IPv6, packet by packet through
// BPF_PROG_TEST_RUN in both entry programs (tc ingress and XDP), as
// north-south.test.ts does for IPv4: NodePorts source-NATed to the node's
// IPv6 address (sy_config_v2's snat_addr6) and their replies, routed by the
// program itself with an AF_INET6 fib lookup; load-balancer source ranges of
// IPv6 prefixes; externalTrafficPolicy Local and its short-circuit for pods
// (--cluster-cidr's IPv6 range); ICMPv6 errors about translated flows
// (packet too big through a NodePort) turned back; ICMPv6 that is not such an
// error (neighbour discovery) left alone. The programs run in a namespace
// shaped as a node: an uplink with the node's IPv6 address, routes and
// neighbours, and a pod's veth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfObject, type BpfProgram, type TypedMap } from '../../../control/bpf/index.js';
import { EbpfDataplane, NAT_PORTS } from '../../../control/proxiers/ebpf/dataplane.js';
import { DropCounters } from '../../../control/proxiers/ebpf/drops.js';
import { UPLINK_F_XDP_TX } from '../../../control/proxiers/ebpf/maps.js';
import { TestNet } from '../../harness/netns.js';
import {
  buildIcmp6Error,
  buildPacket,
  ip6,
  parseIcmp,
  parsePacket,
  parseQuoted6,
  TCP,
  type PacketSpec,
} from '../../harness/packet.js';
import { runTc, runXdp } from '../../harness/test-run.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;

const macOf = (frame: Buffer, at: number) =>
  [...frame.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

const NODE = 'fd00:172:31::b';
const NODE4 = '172.31.0.11';
const ROUTER = 'fd00:172:31::c'; // n2, the next hop to the remote pods
const HOP = 'fd00:172:31::1'; // a router on the way that sends ICMPv6 errors
const CLIENT = 'fd00:172:31::64';
const OTHER_CLIENT = 'fd00:172:31::65';
const POD = 'fd00:10:244:1::b'; // a pod of this node: inside --cluster-cidr
const LOCAL_BACKEND = 'fd00:10:244:1::c';
const REMOTE_BACKEND = 'fd00:10:244:2::b';
const LOCAL_SVC = 'fd00:10:96::f';
const LB_IP = '2001:db8::10';
const EXT_IP = '2001:db8::20';
const NODEPORT = 30080;
const LOCAL_NODEPORT = 30081;
const UDP_NODEPORT = 30053;
const EMPTY_NODEPORT = 30090;
const POD_CIDR = 'fd00:10:244::/56';

const ROUTER_MAC = '02:00:00:00:00:12';
const CLIENT_MAC = '02:00:00:00:00:64';
const PROGRAMS = [
  { hook: 'tc', object: 'tc.bpf.o', program: 'sy_tc_ingress', pass: 0, drop: 2, routed: 7 },
  { hook: 'xdp', object: 'xdp.bpf.o', program: 'sy_xdp_ingress', pass: 2, drop: 1, routed: 3 },
] as const;

describe.runIf(requirePrivileges())('north-south translation over IPv6 (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let drops: DropCounters;
  const programs = new Map<string, { obj: BpfObject; prog: BpfProgram }>();
  let nextPort = 20000;
  let node = '';
  let wire = 0;
  let podIf = 0;
  let uplinks: TypedMap<number, { flags: number }>;

  beforeAll(async () => {
    node = net.namespace('node');
    const lan = net.namespace('lan');
    const pod = net.namespace('pod');
    net.sysctls(node, { 'net.ipv6.conf.all.forwarding': 1 });
    net.veth({ ns: node, name: 'wire' }, { ns: lan, name: 'port' });
    net.veth({ ns: node, name: 'p1' }, { ns: pod, name: 'eth0' });
    net.ip(node, '-6', 'addr', 'add', `${NODE}/64`, 'dev', 'wire', 'nodad');
    net.ip(node, 'addr', 'add', `${NODE4}/24`, 'dev', 'wire');
    net.ip(node, '-6', 'route', 'add', 'fd00:10:244:2::/64', 'via', ROUTER, 'dev', 'wire');
    net.ip(node, '-6', 'route', 'add', '2001:db8:1::/48', 'via', ROUTER, 'dev', 'wire');
    net.ip(node, '-6', 'route', 'add', `${LOCAL_BACKEND}/128`, 'dev', 'p1');
    net.ip(node, '-6', 'route', 'add', `${POD}/128`, 'dev', 'p1');
    net.ip(node, '-6', 'neigh', 'add', ROUTER, 'lladdr', ROUTER_MAC, 'dev', 'wire', 'nud', 'permanent');
    for (const c of [CLIENT, OTHER_CLIENT])
      net.ip(node, '-6', 'neigh', 'add', c, 'lladdr', CLIENT_MAC, 'dev', 'wire', 'nud', 'permanent');
    wire = net.ifindex(node, 'wire');
    podIf = net.ifindex(node, 'p1');
    const pinRoot = net.pinDir('north-south6');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    // Both families' node addresses: each family's flows leave with its own.
    dp.configure({
      snatAddress: NODE4,
      snatAddress6: NODE,
      natPorts: { min: NAT_PORTS.min, max: 60999 },
      clusterCidrs: ['10.244.0.0/16', POD_CIDR],
    });
    const cluster = {
      protocol: 'TCP' as const,
      backends: [{ address: REMOTE_BACKEND, port: 8080 }],
      snat: 'always' as const,
    };
    dp.upsertService({ address: NODE, port: NODEPORT, ...cluster, nodeAddress: true });
    dp.upsertService({ address: EXT_IP, port: 80, ...cluster });
    dp.upsertService({ address: LB_IP, port: 80, ...cluster, sourceRanges: [`${CLIENT}/128`, '2001:db8:1::/48'] });
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: UDP_NODEPORT,
      protocol: 'UDP',
      backends: [{ address: REMOTE_BACKEND, port: 5353 }],
      snat: 'always',
    });
    dp.upsertService({
      address: LOCAL_SVC,
      port: 80,
      protocol: 'TCP',
      backends: [
        { address: LOCAL_BACKEND, port: 8080 },
        { address: REMOTE_BACKEND, port: 8080 },
      ],
      snat: 'off-cluster',
    });
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: LOCAL_NODEPORT,
      protocol: 'TCP',
      backends: [{ address: LOCAL_BACKEND, port: 8080 }],
      internal: { address: LOCAL_SVC, port: 80 },
    });
    // A NodePort without endpoints: refused (RST, ICMPv6 port unreachable), at XDP too.
    dp.upsertService({ address: NODE, nodeAddress: true, port: EMPTY_NODEPORT, protocol: 'TCP', backends: [] });
    dp.upsertService({ address: NODE, nodeAddress: true, port: EMPTY_NODEPORT, protocol: 'UDP', backends: [] });
    for (const p of PROGRAMS) {
      const obj = BpfObject.load(`${objectDir}/${p.object}`, { pinRoot });
      programs.set(p.hook, { obj, prog: obj.program(p.program) });
    }
    drops = new DropCounters({ pinRoot });
    uplinks = BpfMap.openPinned(`${pinRoot}/sy_uplinks`).typed<number, { flags: number }>({});
    uplinks.set(wire, { flags: UPLINK_F_XDP_TX });
  });
  afterAll(async () => {
    uplinks?.map.close();
    drops?.close();
    for (const { prog, obj } of programs.values()) {
      prog.close();
      obj.close();
    }
    dp?.close();
    await net.teardown();
  });

  const runOn = (hook: string, frame: Buffer, from: 'wire' | 'pod' = 'wire') => {
    const prog = programs.get(hook)!.prog;
    const opts = { ifindex: from === 'wire' ? wire : podIf, netns: net.netnsPath(node) };
    return hook === 'xdp' ? runXdp(prog, frame, opts) : runTc(prog, frame, opts);
  };

  describe.each(PROGRAMS)('$hook', ({ hook, pass, drop, routed }) => {
    const run = (spec: PacketSpec, from: 'wire' | 'pod' = 'wire') => {
      const r = runOn(hook, buildPacket(spec), from);
      return { verdict: r.retval, out: parsePacket(r.data), frame: r.data };
    };
    const syn = (src: string, dst: string, dport: number, sport = nextPort++): PacketSpec => ({
      src,
      dst,
      sport,
      dport,
      proto: 'tcp',
      flags: TCP.SYN,
      seq: 1000,
    });

    it('passes a packet to the node address on a port that is no NodePort untouched', () => {
      const input = buildPacket(syn(CLIENT, NODE, 22));
      const r = runOn(hook, input);
      expect(r.retval).toBe(pass);
      expect(r.data.equals(input)).toBe(true);
    });

    it("sends an external client to a NodePort on from the node's IPv6 address and a NAT port, routed; the reply goes back from the NodePort", () => {
      const sport = nextPort++;
      const fwd = run(syn(CLIENT, NODE, NODEPORT, sport));
      expect(fwd.verdict).toBe(routed);
      if (hook === 'xdp') expect(macOf(fwd.frame, 0)).toBe(ROUTER_MAC);
      expect(fwd.out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND, dport: 8080, l4ChecksumOk: true });
      const natPort = fwd.out.sport;
      expect(natPort).toBeGreaterThanOrEqual(NAT_PORTS.min);
      const ack = run({ ...syn(CLIENT, NODE, NODEPORT, sport), flags: TCP.ACK, payload: Buffer.from('GET /') });
      expect(ack.out).toMatchObject({ src: NODE, sport: natPort, dst: REMOTE_BACKEND, l4ChecksumOk: true });
      const reply = run({
        src: REMOTE_BACKEND,
        dst: NODE,
        sport: 8080,
        dport: natPort,
        proto: 'tcp',
        flags: TCP.SYN | TCP.ACK,
      });
      expect(reply.verdict).toBe(routed);
      if (hook === 'xdp') expect(macOf(reply.frame, 0)).toBe(CLIENT_MAC);
      expect(reply.out).toMatchObject({ src: NODE, sport: NODEPORT, dst: CLIENT, dport: sport, l4ChecksumOk: true });
    });

    it('source-NATs UDP to a NodePort with its checksum fixed, and turns the reply back', () => {
      const sport = nextPort++;
      const fwd = run({ src: CLIENT, dst: NODE, sport, dport: UDP_NODEPORT, proto: 'udp', payload: Buffer.from('q') });
      expect(fwd.out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND, dport: 5353, l4ChecksumOk: true });
      expect(fwd.out.l4Checksum).not.toBe(0);
      const reply = run({ src: REMOTE_BACKEND, dst: NODE, sport: 5353, dport: fwd.out.sport, proto: 'udp' });
      expect(reply.out).toMatchObject({
        src: NODE,
        sport: UDP_NODEPORT,
        dst: CLIENT,
        dport: sport,
        l4ChecksumOk: true,
      });
    });

    it("admits a load-balancer IP's IPv6 source ranges (a /128 and a /48) and drops the rest, counted", async () => {
      expect(run(syn(CLIENT, LB_IP, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
      expect(run(syn('2001:db8:1:2::7', LB_IP, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
      const before = await drops.read();
      expect(run(syn(OTHER_CLIENT, LB_IP, 80)).verdict).toBe(drop);
      expect(run(syn('2001:db8:2::7', LB_IP, 80)).verdict).toBe(drop);
      expect((await drops.read()).src_range! - before.src_range!).toBe(2n);
      expect(run(syn(OTHER_CLIENT, EXT_IP, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
    });

    it("externalTrafficPolicy Local: an external client reaches the node's own endpoint with its address kept", () => {
      const sport = nextPort++;
      const fwd = run(syn(CLIENT, NODE, LOCAL_NODEPORT, sport));
      expect(fwd.verdict).toBe(pass);
      expect(fwd.out).toMatchObject({ src: CLIENT, sport, dst: LOCAL_BACKEND, dport: 8080, l4ChecksumOk: true });
      const reply = run(
        { src: LOCAL_BACKEND, dst: CLIENT, sport: 8080, dport: sport, proto: 'tcp', flags: TCP.ACK },
        'pod',
      );
      expect(reply.out).toMatchObject({ src: NODE, sport: LOCAL_NODEPORT, dst: CLIENT, dport: sport });
      expect(reply.verdict).toBe(hook === 'tc' ? routed : pass);
    });

    it('externalTrafficPolicy Local: a pod (inside the IPv6 --cluster-cidr) short-circuits to every endpoint, unNATed', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const out = run(syn(POD, NODE, LOCAL_NODEPORT), 'pod').out;
        expect(out.src).toBe(POD);
        seen.add(out.dst);
      }
      expect(seen).toEqual(new Set([LOCAL_BACKEND, REMOTE_BACKEND]));
    });

    it('a ClusterIP client outside the IPv6 --cluster-cidr is source-NATed to the node, a pod is not', () => {
      const outside = run(syn(CLIENT, LOCAL_SVC, 80), 'wire').out;
      expect(outside.src).toBe(NODE);
      const inside = run(syn(POD, LOCAL_SVC, 80), 'pod').out;
      expect(inside.src).toBe(POD);
    });

    it('refuses a NodePort without endpoints: a SYN with a RST, a datagram with ICMPv6 port unreachable, sent back out', () => {
      const sport = nextPort++;
      const rst = run(syn(CLIENT, NODE, EMPTY_NODEPORT, sport));
      expect(rst.verdict).toBe(routed); // tc: bpf_redirect back out; XDP: XDP_TX
      expect(rst.out).toMatchObject({
        src: NODE,
        sport: EMPTY_NODEPORT,
        dst: CLIENT,
        dport: sport,
        flags: TCP.RST | TCP.ACK,
        ack: 1001,
        l4ChecksumOk: true,
      });
      const udp = buildPacket({
        src: CLIENT,
        dst: NODE,
        sport,
        dport: EMPTY_NODEPORT,
        proto: 'udp',
        payload: Buffer.alloc(64),
      });
      const r = runOn(hook, udp);
      expect(r.retval).toBe(routed);
      expect(parseIcmp(r.data)).toMatchObject({ src: NODE, dst: CLIENT, type: 1, code: 4, icmpChecksumOk: true });
    });

    it('translates an ICMPv6 packet too big about a client packet it forwarded back to the client (path MTU through a NodePort)', () => {
      const sport = nextPort++;
      const fwd = run(syn(CLIENT, NODE, NODEPORT, sport));
      const error = buildIcmp6Error({ src: HOP, dst: NODE, type: 2, code: 0, rest: 1280, about: fwd.frame });
      const r = runOn(hook, error);
      expect(r.retval).toBe(pass);
      const icmp = parseIcmp(r.data);
      expect(icmp).toMatchObject({ src: HOP, dst: CLIENT, type: 2, code: 0, icmpChecksumOk: true });
      expect(r.data.readUInt32BE(14 + 40 + 4)).toBe(1280); // the MTU, untouched
      expect(parseQuoted6(icmp.quoted)).toEqual({ src: CLIENT, dst: NODE, sport, dport: NODEPORT });
    });

    it("translates an ICMPv6 destination unreachable about a backend's reply back to the backend", () => {
      const sport = nextPort++;
      const natPort = run(syn(CLIENT, NODE, NODEPORT, sport)).out.sport;
      const reply = run({
        src: REMOTE_BACKEND,
        dst: NODE,
        sport: 8080,
        dport: natPort,
        proto: 'tcp',
        flags: TCP.SYN | TCP.ACK,
      });
      const error = buildIcmp6Error({ src: HOP, dst: CLIENT, type: 1, code: 3, about: reply.frame });
      const icmp = parseIcmp(runOn(hook, error).data);
      expect(icmp).toMatchObject({ dst: REMOTE_BACKEND, type: 1, code: 3, icmpChecksumOk: true });
      expect(parseQuoted6(icmp.quoted)).toEqual({ src: REMOTE_BACKEND, dst: NODE, sport: 8080, dport: natPort });
    });

    it('leaves an ICMPv6 error about a flow it does not track, and neighbour discovery, untouched', () => {
      const about = buildPacket(syn(CLIENT, 'fd00:10:244:2::99', 9999));
      const error = buildIcmp6Error({ src: HOP, dst: CLIENT, type: 1, code: 0, about });
      const r = runOn(hook, error);
      expect(r.retval).toBe(pass);
      expect(r.data.equals(error)).toBe(true);
      // A neighbour solicitation for the node's address (type 135): not an error, not ours.
      const ns = Buffer.concat([
        Buffer.from('333300000001020000000064' + '86dd', 'hex'),
        Buffer.from('6000000000203aff', 'hex'),
        ip6(CLIENT),
        ip6('ff02::1:ff00:b'),
        Buffer.from('87000000000000000', 'hex').subarray(0, 8),
        ip6(NODE),
        Buffer.alloc(8),
      ]);
      const nd = runOn(hook, ns);
      expect(nd.retval).toBe(pass);
      expect(nd.data.equals(ns)).toBe(true);
    });
  });
});
