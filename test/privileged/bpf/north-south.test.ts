// North-south translation, packet by packet through BPF_PROG_TEST_RUN, in
// both entry programs (tc ingress and XDP run the same lib/xlate.h): NodePorts
// source-NATed to the node and their replies, the NAT port's collisions and
// exhaustion, load-balancer source ranges, externalTrafficPolicy Local and
// its short-circuit for pods, ClusterIP clients outside --cluster-cidr.
// Maps are programmed through the dataplane API, as the daemon does. The
// programs run in a test namespace shaped as a node (an uplink with the
// node's address, routes and neighbours; a pod's veth), as if received on
// one of its interfaces: what leaves from a node address is routed by the
// program itself (fib.h), tc by redirecting, XDP by sending it back out.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfObject, type BpfProgram, type TypedMap } from '../../../control/bpf/index.js';
import { EbpfDataplane, NAT_PORTS } from '../../../control/proxiers/ebpf/dataplane.js';
import { DropCounters } from '../../../control/proxiers/ebpf/drops.js';
import { UPLINK_F_XDP_TX } from '../../../control/proxiers/ebpf/maps.js';
import { TestNet } from '../../harness/netns.js';
import {
  buildFragment,
  buildIcmpError,
  buildPacket,
  parseIcmp,
  parseIpHeader,
  parsePacket,
  parseQuoted,
  TCP,
  type PacketSpec,
  SCTP,
} from '../../harness/packet.js';
import { runTc, runXdp } from '../../harness/test-run.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const objectDir = `${repoRoot}/build/bpf`;

/** The Ethernet address at `at` of a frame, as "02:00:…". */
const macOf = (frame: Buffer, at: number) =>
  [...frame.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

const NODE = '172.31.0.11';
const CLIENT = '172.31.0.100';
const OTHER_CLIENT = '172.31.0.101';
const POD = '10.244.1.11'; // a pod of this node: inside --cluster-cidr
const LOCAL_BACKEND = '10.244.1.12';
const REMOTE_BACKEND = '10.244.2.11';
const WEB = '10.96.0.10'; // ClusterIP of the NodePort service
const LOCAL_SVC = '10.96.0.15'; // ClusterIP of the externalTrafficPolicy Local service
const LB_IP = '198.51.100.10';
const EXT_IP = '198.51.100.20';
const NODEPORT = 30080;
const LOCAL_NODEPORT = 30081;
const EMPTY_LOCAL_NODEPORT = 30082;
const UDP_NODEPORT = 30053;
const SCTP_NODEPORT = 30068;
const POD_CIDR = '10.244.0.0/16';

const ROUTER_MAC = '02:00:00:00:00:12'; // n2, the next hop to 10.244.2.0/24
const CLIENT_MAC = '02:00:00:00:00:64';
const PROGRAMS = [
  // What "routed by the program" is at each hook: tc redirects (bpf_redirect_neigh), XDP sends back out (XDP_TX).
  { hook: 'tc', object: 'tc.bpf.o', program: 'sy_tc_ingress', pass: 0, drop: 2, routed: 7 },
  { hook: 'xdp', object: 'xdp.bpf.o', program: 'sy_xdp_ingress', pass: 2, drop: 1, routed: 3 },
] as const;

describe.runIf(requirePrivileges())('north-south translation (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let drops: DropCounters;
  const programs = new Map<string, { obj: BpfObject; prog: BpfProgram }>();
  let nextPort = 20000;
  let node = '';
  let wire = 0;
  let podIf = 0;
  let uplinks: TypedMap<number, { flags: number }>;

  // The tests that pin the NAT range to one port use 61000 and up; every other
  // flow here gets its port below, so no random choice can take theirs.
  const RANDOM_PORTS = { min: NAT_PORTS.min, max: 60999 };
  const configure = (natPorts: { min: number; max: number } = RANDOM_PORTS, snatAddress: string | null = NODE) =>
    dp.configure({ snatAddress: snatAddress ?? undefined, natPorts, clusterCidrs: [POD_CIDR] });

  beforeAll(async () => {
    // The node: its uplink "wire" (172.31.0.11/24, the client and n2 on it,
    // their MACs known) and a pod's veth "p1"; it forwards.
    node = net.namespace('node');
    const lan = net.namespace('lan');
    const pod = net.namespace('pod');
    net.sysctl(node, 'net.ipv4.ip_forward', 1);
    net.veth({ ns: node, name: 'wire' }, { ns: lan, name: 'port' });
    net.veth({ ns: node, name: 'p1' }, { ns: pod, name: 'eth0' });
    net.ip(node, 'addr', 'add', `${NODE}/24`, 'dev', 'wire');
    net.ip(node, 'route', 'add', '10.244.2.0/24', 'via', '172.31.0.12', 'dev', 'wire');
    net.ip(node, 'route', 'add', `${LOCAL_BACKEND}/32`, 'dev', 'p1');
    net.ip(node, 'route', 'add', `${POD}/32`, 'dev', 'p1');
    net.ip(node, 'neigh', 'add', '172.31.0.12', 'lladdr', ROUTER_MAC, 'dev', 'wire');
    for (const c of [CLIENT, OTHER_CLIENT]) net.ip(node, 'neigh', 'add', c, 'lladdr', CLIENT_MAC, 'dev', 'wire');
    wire = net.ifindex(node, 'wire');
    podIf = net.ifindex(node, 'p1');
    const pinRoot = net.pinDir('north-south');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    configure();
    const all = [
      { address: LOCAL_BACKEND, port: 8080 },
      { address: REMOTE_BACKEND, port: 8080 },
    ];
    // web: a NodePort service, externalTrafficPolicy Cluster, one remote endpoint.
    dp.upsertService({
      address: WEB,
      port: 80,
      protocol: 'TCP',
      backends: [{ address: REMOTE_BACKEND, port: 8080 }],
      snat: 'off-cluster',
    });
    const cluster = {
      protocol: 'TCP' as const,
      backends: [{ address: REMOTE_BACKEND, port: 8080 }],
      snat: 'always' as const,
    };
    dp.upsertService({ address: NODE, port: NODEPORT, ...cluster, nodeAddress: true });
    dp.upsertService({ address: EXT_IP, port: 80, ...cluster });
    dp.upsertService({ address: LB_IP, port: 80, ...cluster, sourceRanges: [`${CLIENT}/32`] });
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: UDP_NODEPORT,
      protocol: 'UDP',
      backends: [{ address: REMOTE_BACKEND, port: 5353 }],
      snat: 'always',
    });
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: SCTP_NODEPORT,
      protocol: 'SCTP',
      backends: [{ address: REMOTE_BACKEND, port: 3868 }],
      snat: 'always',
    });
    // local: externalTrafficPolicy Local; the ClusterIP entry has every endpoint.
    dp.upsertService({ address: LOCAL_SVC, port: 80, protocol: 'TCP', backends: all, snat: 'off-cluster' });
    const internal = { address: LOCAL_SVC, port: 80 };
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: LOCAL_NODEPORT,
      protocol: 'TCP',
      backends: [{ address: LOCAL_BACKEND, port: 8080 }],
      internal,
    });
    // The same service seen from a node without a local endpoint.
    dp.upsertService({
      address: NODE,
      nodeAddress: true,
      port: EMPTY_LOCAL_NODEPORT,
      protocol: 'TCP',
      backends: [],
      dropWhenEmpty: true,
      internal,
    });
    for (const p of PROGRAMS) {
      const obj = BpfObject.load(`${objectDir}/${p.object}`, { pinRoot });
      programs.set(p.hook, { obj, prog: obj.program(p.program) });
    }
    drops = new DropCounters({ pinRoot });
    // The uplink is a physical NIC as far as XDP is told: it may XDP_TX what it routes.
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

  /** One packet through a program, received on the uplink (or the pod's veth). */
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

    it('sends an external client to a NodePort on, from the node, with a port of the NAT range; the reply goes back to the client from the NodePort', () => {
      const sport = nextPort++; // below the NAT range: a random NAT port is given
      const fwd = run(syn(CLIENT, NODE, NODEPORT, sport));
      // From the node's address: routed by the program toward n2.
      expect(fwd.verdict).toBe(routed);
      if (hook === 'xdp') expect(macOf(fwd.frame, 0)).toBe(ROUTER_MAC);
      expect(fwd.out).toMatchObject({
        src: NODE,
        dst: REMOTE_BACKEND,
        dport: 8080,
        ipChecksumOk: true,
        l4ChecksumOk: true,
      });
      const natPort = fwd.out.sport;
      expect(natPort).toBeGreaterThanOrEqual(NAT_PORTS.min);
      expect(natPort).toBeLessThanOrEqual(NAT_PORTS.max);

      // The client's next packet leaves with the same NAT port.
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
      expect(reply.out).toMatchObject({
        src: NODE,
        sport: NODEPORT,
        dst: CLIENT,
        dport: sport,
        ipChecksumOk: true,
        l4ChecksumOk: true,
      });
    });

    it('sends an SCTP association to a NodePort on from the node with a NAT port (both ports rewritten, CRC32c checked independently), and its replies back', () => {
      const sport = nextPort++;
      const sctp = (spec: Partial<PacketSpec>): PacketSpec => ({
        src: CLIENT,
        dst: NODE,
        sport,
        dport: SCTP_NODEPORT,
        proto: 'sctp',
        chunk: SCTP.INIT,
        payload: randomBytes(300),
        ...spec,
      });
      const init = run(sctp({}));
      expect(init.verdict).toBe(routed);
      expect(init.out).toMatchObject({
        src: NODE,
        dst: REMOTE_BACKEND,
        dport: 3868,
        ipChecksumOk: true,
        l4ChecksumOk: true,
      });
      const natPort = init.out.sport;
      expect(natPort).not.toBe(sport);
      expect(natPort).toBeGreaterThanOrEqual(NAT_PORTS.min);

      const data = run(sctp({ chunk: SCTP.DATA, vtag: 0xfeed, payload: randomBytes(1001) }));
      expect(data.out).toMatchObject({ src: NODE, sport: natPort, dst: REMOTE_BACKEND, l4ChecksumOk: true });

      for (const [chunk, len] of [
        [SCTP.INIT_ACK, 500],
        [SCTP.SACK, 12],
      ] as const) {
        const reply = run({
          src: REMOTE_BACKEND,
          dst: NODE,
          sport: 3868,
          dport: natPort,
          proto: 'sctp',
          chunk,
          vtag: 0xabc,
          payload: randomBytes(len),
        });
        expect(reply.verdict).toBe(routed);
        expect(reply.out).toMatchObject({
          src: NODE,
          sport: SCTP_NODEPORT,
          dst: CLIENT,
          dport: sport,
          flags: chunk,
          ipChecksumOk: true,
          l4ChecksumOk: true,
        });
      }
    });

    it("keeps the client's own port when it is in the NAT range and free, and gives a second client on the same port another", () => {
      const sport = 50000 + (hook === 'tc' ? 0 : 1);
      const first = run(syn(CLIENT, NODE, NODEPORT, sport));
      expect(first.out).toMatchObject({ src: NODE, sport });
      // The same client starting over on that port keeps it.
      expect(run(syn(CLIENT, NODE, NODEPORT, sport)).out.sport).toBe(sport);
      const second = run(syn(OTHER_CLIENT, NODE, NODEPORT, sport));
      expect(second.out.src).toBe(NODE);
      expect(second.out.sport).not.toBe(sport);
      // Each reply finds its own client.
      const back = (port: number) =>
        run({ src: REMOTE_BACKEND, dst: NODE, sport: 8080, dport: port, proto: 'tcp', flags: TCP.ACK }).out;
      expect(back(sport)).toMatchObject({ dst: CLIENT, dport: sport });
      expect(back(second.out.sport)).toMatchObject({ dst: OTHER_CLIENT, dport: sport });
    });

    it('drops a new flow when every NAT port it tries is taken, counting it; the flows that hold them keep working', async () => {
      const port = hook === 'tc' ? 61000 : 61001;
      configure({ min: port, max: port });
      try {
        const holder = run(syn(CLIENT, EXT_IP, 80, port));
        expect(holder.out).toMatchObject({ src: NODE, sport: port, dst: REMOTE_BACKEND });
        const before = await drops.read();
        expect(run(syn(OTHER_CLIENT, EXT_IP, 80, port)).verdict).toBe(drop);
        expect(run(syn(OTHER_CLIENT, EXT_IP, 80)).verdict).toBe(drop);
        const after = await drops.read();
        expect(after.nat_exhausted! - before.nat_exhausted!).toBe(2n);
        const reply = run({ src: REMOTE_BACKEND, dst: NODE, sport: 8080, dport: port, proto: 'tcp', flags: TCP.ACK });
        expect(reply.out).toMatchObject({ src: EXT_IP, sport: 80, dst: CLIENT, dport: port });
      } finally {
        configure();
      }
    });

    it("does not give a reset flow's NAT port away at once (the closing time is below)", async () => {
      const port = hook === 'tc' ? 61010 : 61011;
      configure({ min: port, max: port });
      try {
        run(syn(CLIENT, EXT_IP, 80, port));
        run({ ...syn(CLIENT, EXT_IP, 80, port), flags: TCP.RST });
        expect(run(syn(OTHER_CLIENT, EXT_IP, 80, port)).verdict).toBe(drop);
      } finally {
        configure();
      }
    });

    it("drops flows to source-NAT while the node's address is unknown", async () => {
      configure(RANDOM_PORTS, null);
      try {
        const before = await drops.read();
        expect(run(syn(CLIENT, NODE, NODEPORT)).verdict).toBe(drop);
        expect((await drops.read()).no_snat_addr! - before.no_snat_addr!).toBe(1n);
      } finally {
        configure();
      }
    });

    it('source-NATs UDP to a NodePort, keeping a zero checksum zero, and turns the reply back', () => {
      const sport = nextPort++;
      const fwd = run({ src: CLIENT, dst: NODE, sport, dport: UDP_NODEPORT, proto: 'udp', noUdpChecksum: true });
      expect(fwd.out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND, dport: 5353, l4Checksum: 0 });
      const withSum = run({
        src: CLIENT,
        dst: NODE,
        sport,
        dport: UDP_NODEPORT,
        proto: 'udp',
        payload: Buffer.from('q'),
      });
      expect(withSum.out).toMatchObject({ src: NODE, sport: fwd.out.sport, l4ChecksumOk: true });
      const reply = run({ src: REMOTE_BACKEND, dst: NODE, sport: 5353, dport: fwd.out.sport, proto: 'udp' });
      expect(reply.out).toMatchObject({
        src: NODE,
        sport: UDP_NODEPORT,
        dst: CLIENT,
        dport: sport,
        l4ChecksumOk: true,
      });
    });

    it("admits a load-balancer IP's source ranges and drops the rest, counted; its externalIP twin has no ranges", async () => {
      expect(run(syn(CLIENT, LB_IP, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
      const before = await drops.read();
      expect(run(syn(OTHER_CLIENT, LB_IP, 80)).verdict).toBe(drop);
      expect((await drops.read()).src_range! - before.src_range!).toBe(1n);
      expect(run(syn(OTHER_CLIENT, EXT_IP, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
    });

    it("externalTrafficPolicy Local: an external client reaches the node's own endpoint with its address kept", () => {
      const sport = nextPort++;
      const fwd = run(syn(CLIENT, NODE, LOCAL_NODEPORT, sport));
      // DNAT only: the stack delivers it to the pod.
      expect(fwd.verdict).toBe(pass);
      expect(fwd.out).toMatchObject({ src: CLIENT, sport, dst: LOCAL_BACKEND, dport: 8080, l4ChecksumOk: true });
      // The pod's reply, at its veth: from the NodePort, routed by the program (tc is what a pod's veth has).
      const reply = run(
        { src: LOCAL_BACKEND, dst: CLIENT, sport: 8080, dport: sport, proto: 'tcp', flags: TCP.ACK },
        'pod',
      );
      expect(reply.out).toMatchObject({ src: NODE, sport: LOCAL_NODEPORT, dst: CLIENT, dport: sport });
      expect(reply.verdict).toBe(hook === 'tc' ? routed : pass); // XDP: toward another interface, handed to tc
    });

    it('externalTrafficPolicy Local: a pod short-circuits to every endpoint, unNATed', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const out = run(syn(POD, NODE, LOCAL_NODEPORT), 'pod').out;
        expect(out.src).toBe(POD);
        seen.add(out.dst);
      }
      expect(seen).toEqual(new Set([LOCAL_BACKEND, REMOTE_BACKEND]));
    });

    it('externalTrafficPolicy Local without a local endpoint: an external client is dropped, a pod still served', async () => {
      const before = await drops.read();
      expect(run(syn(CLIENT, NODE, EMPTY_LOCAL_NODEPORT)).verdict).toBe(drop);
      expect((await drops.read()).no_backend_policy! - before.no_backend_policy!).toBe(1n);
      expect(run(syn(POD, NODE, EMPTY_LOCAL_NODEPORT), 'pod').verdict).toBe(pass);
    });

    it('translates an ICMP error about a client packet it forwarded back to the client (fragmentation needed through a NodePort)', () => {
      const sport = nextPort++;
      const fwd = run(syn(CLIENT, NODE, NODEPORT, sport));
      const natPort = fwd.out.sport;
      // A router toward n2 cannot forward the translated packet: it tells its source, the node.
      const error = buildIcmpError({ src: '172.31.0.1', dst: NODE, type: 3, code: 4, rest: 1400, about: fwd.frame });
      const r = runOn(hook, error);
      expect(r.retval).toBe(pass);
      const icmp = parseIcmp(r.data);
      expect(icmp).toMatchObject({
        src: '172.31.0.1',
        dst: CLIENT,
        type: 3,
        code: 4,
        ipChecksumOk: true,
        icmpChecksumOk: true,
      });
      expect(r.data.readUInt32BE(14 + 20 + 4)).toBe(1400); // the MTU, untouched
      expect(parseQuoted(icmp.quoted)).toEqual({ src: CLIENT, dst: NODE, sport, dport: NODEPORT, ipChecksumOk: true });
      expect(natPort).not.toBe(0);
    });

    it("translates an ICMP error about a backend's reply back to the backend, quoting what it sent", () => {
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
      // The client's side cannot take the reply (from the NodePort): it tells the reply's source.
      const error = buildIcmpError({ src: '172.31.0.1', dst: NODE, type: 3, code: 4, rest: 1280, about: reply.frame });
      const icmp = parseIcmp(runOn(hook, error).data);
      expect(icmp).toMatchObject({ dst: REMOTE_BACKEND, ipChecksumOk: true, icmpChecksumOk: true });
      expect(parseQuoted(icmp.quoted)).toEqual({
        src: REMOTE_BACKEND,
        dst: NODE,
        sport: 8080,
        dport: natPort,
        ipChecksumOk: true,
      });
    });

    it('leaves an ICMP error about a flow it does not track untouched', () => {
      const about = buildPacket(syn(CLIENT, '10.244.2.99', 9999));
      const error = buildIcmpError({ src: '172.31.0.1', dst: CLIENT, type: 3, code: 1, about });
      const r = runOn(hook, error);
      expect(r.retval).toBe(pass);
      expect(r.data.equals(error)).toBe(true);
    });

    it("gives a datagram's later fragments the translation of its first, routed the same way", () => {
      const sport = nextPort++;
      const id = 0x4000 + (hook === 'tc' ? 1 : 2);
      // The first fragment: the UDP header and 16 bytes of data, more to come.
      const whole = buildPacket({
        src: CLIENT,
        dst: NODE,
        sport,
        dport: UDP_NODEPORT,
        proto: 'udp',
        payload: Buffer.alloc(40, 7),
      });
      const udp = whole.subarray(14 + 20);
      const frag = (offset: number, more: boolean, payload: Buffer) =>
        buildFragment({ src: CLIENT, dst: NODE, proto: 'udp', id, offset, more, payload });
      const first = runOn(hook, frag(0, true, udp.subarray(0, 24)));
      expect(first.retval).toBe(routed);
      expect(parseIpHeader(first.data)).toMatchObject({
        src: NODE,
        dst: REMOTE_BACKEND,
        more: true,
        ipChecksumOk: true,
      });
      const rest = runOn(hook, frag(24, false, udp.subarray(24)));
      expect(rest.retval).toBe(routed);
      expect(parseIpHeader(rest.data)).toEqual({
        src: NODE,
        dst: REMOTE_BACKEND,
        id,
        offset: 24,
        more: false,
        ipChecksumOk: true,
      });
      expect(rest.data.subarray(14 + 20).equals(udp.subarray(24))).toBe(true); // the data untouched
      // A later fragment of a datagram never seen (reordered, or not ours) passes untouched.
      const stray = buildFragment({
        src: CLIENT,
        dst: NODE,
        proto: 'udp',
        id: id + 100,
        offset: 24,
        more: false,
        payload: udp.subarray(24),
      });
      const r = runOn(hook, stray);
      expect(r.retval).toBe(pass);
      expect(r.data.equals(stray)).toBe(true);
    });

    it('--cluster-cidr: a ClusterIP client outside the pod ranges is source-NATed, a pod is not', () => {
      expect(run(syn(CLIENT, WEB, 80)).out).toMatchObject({ src: NODE, dst: REMOTE_BACKEND });
      const sport = nextPort++;
      expect(run(syn(POD, WEB, 80, sport), 'pod').out).toMatchObject({ src: POD, sport, dst: REMOTE_BACKEND });
    });
  });

  it("gives a reset flow's NAT port to a new flow once the closing time (10 s) has passed, in both programs", async () => {
    const ports = { tc: 61020, xdp: 61021 };
    const syn = (src: string, sport: number, flags: number = TCP.SYN): PacketSpec => ({
      src,
      dst: EXT_IP,
      sport,
      dport: 80,
      proto: 'tcp',
      flags,
    });
    for (const [hook, port] of Object.entries(ports)) {
      configure({ min: port, max: port });
      runOn(hook, buildPacket(syn(CLIENT, port)));
      runOn(hook, buildPacket(syn(CLIENT, port, TCP.RST | TCP.ACK)));
    }
    await new Promise((r) => setTimeout(r, 10_500));
    try {
      for (const [hook, port] of Object.entries(ports)) {
        configure({ min: port, max: port });
        const out = parsePacket(runOn(hook, buildPacket(syn(OTHER_CLIENT, port))).data);
        expect(out, hook).toMatchObject({ src: NODE, sport: port, dst: REMOTE_BACKEND });
      }
    } finally {
      configure();
    }
  }, 30_000);

  it('XDP hands a packet it routed to tc when the uplink may not send it back itself (a veth)', () => {
    uplinks.set(wire, { flags: 0 });
    try {
      const r = runXdp(
        programs.get('xdp')!.prog,
        buildPacket({ src: CLIENT, dst: NODE, sport: nextPort++, dport: NODEPORT, proto: 'tcp', flags: TCP.SYN }),
        { ifindex: wire, netns: net.netnsPath(node) },
      );
      expect(r.retval).toBe(2); // XDP_PASS, translated
      expect(parsePacket(r.data)).toMatchObject({ src: NODE, dst: REMOTE_BACKEND, l4ChecksumOk: true });
      expect(r.meta.readUInt32LE(0)).toBe(0x53590002); // SY_XDP_META_REDIRECT: tc routes it
    } finally {
      uplinks.set(wire, { flags: UPLINK_F_XDP_TX });
    }
  });

  it('Maglev: every node sends a flow to the same backend (the table and the hash agree), and flows spread over all', async () => {
    const spec = {
      address: '198.51.100.40',
      port: 80,
      protocol: 'TCP' as const,
      backends: [
        { address: REMOTE_BACKEND, port: 8080 },
        { address: '10.244.2.12', port: 8080 },
        { address: '10.244.2.13', port: 8080 },
      ],
      snat: 'always' as const,
      maglev: 251,
    };
    dp.upsertService(spec);
    // Another node: its own maps and programs, the same service.
    const other = await EbpfDataplane.open({ objectDir, pinRoot: net.pinDir('north-south-other') });
    const otherTc = BpfObject.load(`${objectDir}/tc.bpf.o`, { pinRoot: net.pinDir('north-south-other') });
    try {
      other.configure({ snatAddress: NODE, natPorts: NAT_PORTS, clusterCidrs: [POD_CIDR] });
      // Its ids differ: another order of creation.
      other.upsertService({
        address: '198.51.100.41',
        port: 80,
        protocol: 'TCP',
        backends: [{ address: '10.244.3.1', port: 1 }],
      });
      other.upsertService(spec);
      const prog = otherTc.program('sy_tc_ingress');
      const seen = new Set<string>();
      try {
        for (let i = 0; i < 24; i++) {
          const frame = buildPacket({
            src: CLIENT,
            dst: spec.address,
            sport: 41000 + i,
            dport: 80,
            proto: 'tcp',
            flags: TCP.SYN,
          });
          const here = parsePacket(runOn('tc', frame).data).dst;
          const there = parsePacket(runTc(prog, frame, { ifindex: wire, netns: net.netnsPath(node) }).data).dst;
          expect(there).toBe(here);
          // The same flow again (a fresh SYN: a new choice) lands on the same backend.
          expect(parsePacket(runOn('xdp', frame).data).dst).toBe(here);
          seen.add(here);
        }
      } finally {
        prog.close();
      }
      expect(seen).toEqual(new Set(spec.backends.map((b) => b.address)));
    } finally {
      otherTc.close();
      other.close();
    }
  });
});
