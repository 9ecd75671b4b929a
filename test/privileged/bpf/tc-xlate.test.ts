// The tc program, packet by packet, through BPF_PROG_TEST_RUN: a table of
// input packet → expected verdict and output packet, against maps programmed
// through the dataplane API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type BpfProgram } from '../../../control/bpf/index.js';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { TestNet } from '../../harness/netns.js';
import { buildPacket, parseIcmp, parsePacket, TCP, type PacketSpec } from '../../harness/packet.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const TC_ACT_OK = 0;
const TC_ACT_REDIRECT = 7;
const objectDir = `${repoRoot}/build/bpf`;

const CLIENT = '10.244.1.11';
const WEB = '10.96.0.10';
const EMPTY = '10.96.0.11';
const DNS = '10.96.0.12';
const SELF = '10.96.0.13';
const STICKY = '10.96.0.14';
const SPREAD = '10.96.0.15';

describe.runIf(requirePrivileges())('tc service translation (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let obj: BpfObject;
  let prog: BpfProgram;
  let nextPort = 40000;

  const run = (spec: PacketSpec) => {
    const r = prog.testRun({ data: buildPacket(spec) });
    return { verdict: r.retval, out: parsePacket(r.data) };
  };
  const syn = (dst: string, dport: number, sport = nextPort++): PacketSpec => ({
    src: CLIENT,
    dst,
    sport,
    dport,
    proto: 'tcp',
    flags: TCP.SYN,
    seq: 7000,
  });

  beforeAll(async () => {
    const pinRoot = net.pinDir('xlate');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    dp.upsertService({ address: WEB, port: 80, protocol: 'TCP', backends: [{ address: '10.244.2.11', port: 8080 }] });
    dp.upsertService({ address: EMPTY, port: 80, protocol: 'TCP', backends: [] });
    dp.upsertService({ address: EMPTY, port: 53, protocol: 'UDP', backends: [] });
    dp.upsertService({ address: DNS, port: 53, protocol: 'UDP', backends: [{ address: '10.244.2.12', port: 5353 }] });
    dp.upsertService({ address: SELF, port: 80, protocol: 'TCP', backends: [{ address: CLIENT, port: 8080 }] });
    const five = [11, 12, 13, 14, 15].map((i) => ({ address: `10.244.3.${i}`, port: 8080 }));
    dp.upsertService({ address: STICKY, port: 80, protocol: 'TCP', backends: five, affinityTimeoutSeconds: 60 });
    dp.upsertService({ address: SPREAD, port: 80, protocol: 'TCP', backends: five });
    // A second handle on the same program and pinned maps, for test runs.
    obj = BpfObject.load(`${objectDir}/tc.bpf.o`, { pinRoot });
    prog = obj.program('sy_tc_ingress');
  });
  afterAll(async () => {
    prog?.close();
    obj?.close();
    dp?.close();
    await net.teardown();
  });

  it.each([
    { name: 'TCP to a pod address', spec: { src: CLIENT, dst: '10.244.2.11', sport: 1234, dport: 8080, proto: 'tcp' } },
    {
      name: 'TCP to a service address on a port it does not serve',
      spec: { src: CLIENT, dst: WEB, sport: 1234, dport: 81, proto: 'tcp' },
    },
    { name: 'UDP to a TCP-only service port', spec: { src: CLIENT, dst: WEB, sport: 1234, dport: 80, proto: 'udp' } },
  ] as Array<{ name: string; spec: PacketSpec }>)('passes $name untouched', ({ spec }) => {
    const input = buildPacket(spec);
    const r = prog.testRun({ data: input });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(r.data.equals(input)).toBe(true);
  });

  it('passes non-IPv4 frames untouched', () => {
    const arp = Buffer.concat([Buffer.from('ffffffffffff020000000002' + '0806', 'hex'), Buffer.alloc(28, 1)]);
    const r = prog.testRun({ data: arp });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(r.data.equals(arp)).toBe(true);
  });

  it('DNATs a new TCP flow to the backend with valid checksums, then keeps it there', () => {
    const sport = nextPort++;
    const first = run(syn(WEB, 80, sport));
    expect(first.verdict).toBe(TC_ACT_OK);
    expect(first.out).toMatchObject({
      src: CLIENT,
      sport,
      dst: '10.244.2.11',
      dport: 8080,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });

    const next = run({
      src: CLIENT,
      dst: WEB,
      sport,
      dport: 80,
      proto: 'tcp',
      flags: TCP.ACK,
      payload: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    });
    expect(next.out).toMatchObject({ dst: '10.244.2.11', dport: 8080, ipChecksumOk: true, l4ChecksumOk: true });
  });

  it('reverse-NATs the reply back to the service address', () => {
    const sport = nextPort++;
    run(syn(WEB, 80, sport));
    const reply = run({
      src: '10.244.2.11',
      dst: CLIENT,
      sport: 8080,
      dport: sport,
      proto: 'tcp',
      flags: TCP.SYN | TCP.ACK,
    });
    expect(reply.verdict).toBe(TC_ACT_OK);
    expect(reply.out).toMatchObject({
      src: WEB,
      sport: 80,
      dst: CLIENT,
      dport: sport,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
  });

  it('refuses a TCP SYN to a service without endpoints with a RST sent back', () => {
    const sport = nextPort++;
    const { verdict, out } = run(syn(EMPTY, 80, sport));
    expect(verdict).toBe(TC_ACT_REDIRECT);
    expect(out).toMatchObject({
      src: EMPTY,
      sport: 80,
      dst: CLIENT,
      dport: sport,
      flags: TCP.RST | TCP.ACK,
      ack: 7001,
      length: 54,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
  });

  it('refuses UDP to a service without endpoints with ICMP port unreachable sent back, quoting the datagram', () => {
    const input = buildPacket({
      src: CLIENT,
      dst: EMPTY,
      sport: 5000,
      dport: 53,
      proto: 'udp',
      payload: Buffer.alloc(300, 7),
    });
    const r = prog.testRun({ data: input });
    expect(r.retval).toBe(TC_ACT_REDIRECT);
    const icmp = parseIcmp(r.data);
    expect(icmp).toMatchObject({
      src: EMPTY,
      dst: CLIENT,
      protocol: 1,
      type: 3,
      code: 3,
      ipChecksumOk: true,
      icmpChecksumOk: true,
      length: 14 + 20 + 8 + 28,
    });
    // RFC 792: the offending datagram's IP header and its first 8 bytes, as sent.
    expect(icmp.quoted.equals(input.subarray(14, 14 + 28))).toBe(true);
    expect(r.data.subarray(0, 12).equals(Buffer.concat([input.subarray(6, 12), input.subarray(0, 6)]))).toBe(true);
  });

  it('DNATs UDP and fixes its checksum, keeping a zero checksum zero', () => {
    const sport = nextPort++;
    const q = run({ src: CLIENT, dst: DNS, sport, dport: 53, proto: 'udp', payload: Buffer.from('query') });
    expect(q.out).toMatchObject({ dst: '10.244.2.12', dport: 5353, ipChecksumOk: true, l4ChecksumOk: true });
    expect(q.out.l4Checksum).not.toBe(0);
    const a = run({
      src: '10.244.2.12',
      dst: CLIENT,
      sport: 5353,
      dport: sport,
      proto: 'udp',
      payload: Buffer.from('answer'),
    });
    expect(a.out).toMatchObject({ src: DNS, sport: 53, l4ChecksumOk: true });

    const none = run({ src: CLIENT, dst: DNS, sport: nextPort++, dport: 53, proto: 'udp', noUdpChecksum: true });
    expect(none.out).toMatchObject({ dst: '10.244.2.12', l4Checksum: 0, ipChecksumOk: true });
  });

  it('hairpins a pod that reaches itself through its service', () => {
    const sport = nextPort++;
    const out = run(syn(SELF, 80, sport)).out;
    expect(out).toMatchObject({
      src: '169.254.42.1',
      sport,
      dst: CLIENT,
      dport: 8080,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    const reply = run({
      src: CLIENT,
      dst: '169.254.42.1',
      sport: 8080,
      dport: sport,
      proto: 'tcp',
      flags: TCP.SYN | TCP.ACK,
    }).out;
    expect(reply).toMatchObject({
      src: SELF,
      sport: 80,
      dst: CLIENT,
      dport: sport,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
  });

  it('pins a client to one backend with ClientIP affinity, and spreads without it', () => {
    const sticky = new Set(Array.from({ length: 30 }, () => run(syn(STICKY, 80)).out.dst));
    expect(sticky.size).toBe(1);
    const spread = new Set(Array.from({ length: 60 }, () => run(syn(SPREAD, 80)).out.dst));
    expect(spread.size).toBe(5);
  });

  it('lets ClientIP affinity expire after its timeout', async () => {
    const five = [11, 12, 13, 14, 15].map((i) => ({ address: `10.244.4.${i}`, port: 8080 }));
    dp.upsertService({ address: '10.96.0.16', port: 80, protocol: 'TCP', backends: five, affinityTimeoutSeconds: 1 });
    const first = run(syn('10.96.0.16', 80)).out.dst;
    expect(new Set(Array.from({ length: 10 }, () => run(syn('10.96.0.16', 80)).out.dst))).toEqual(new Set([first]));
    await new Promise((r) => setTimeout(r, 1100));
    // Past the timeout the next flow is a fresh choice; over 30 flows, spaced
    // past the timeout each time, more than one backend must come up.
    const later = new Set<string>();
    for (let i = 0; i < 6; i++) {
      later.add(run(syn('10.96.0.16', 80)).out.dst);
      await new Promise((r) => setTimeout(r, 1050));
    }
    expect(later.size).toBeGreaterThan(1);
  });

  it('gives a reused port with a fresh SYN a fresh choice', () => {
    const sport = nextPort++;
    const seen = new Set(Array.from({ length: 40 }, () => run(syn(SPREAD, 80, sport)).out.dst));
    expect(seen.size).toBeGreaterThan(1);
  });

  it('leaves a direct connection alone that reuses the 4-tuple of a translated one', () => {
    const sport = nextPort++;
    run(syn(WEB, 80, sport)); // through the service: a REPLY entry for 10.244.2.11:8080 → CLIENT:sport
    // The client closes, then connects straight to the pod from the same port.
    const direct = run(syn('10.244.2.11', 8080, sport));
    expect(direct.out).toMatchObject({ dst: '10.244.2.11', dport: 8080 });
    const synAck = run({
      src: '10.244.2.11',
      dst: CLIENT,
      sport: 8080,
      dport: sport,
      proto: 'tcp',
      flags: TCP.SYN | TCP.ACK,
    });
    expect(synAck.verdict).toBe(TC_ACT_OK);
    expect(synAck.out).toMatchObject({ src: '10.244.2.11', sport: 8080 }); // not rewritten to the service address
  });

  it('shows the flows it tracks', async () => {
    const flows = await dp.conntrack();
    expect(
      flows.some(
        (f) => f.direction === 'original' && f.destination === `${WEB}:80` && f.translatedTo === '10.244.2.11:8080',
      ),
    ).toBe(true);
    expect(
      flows.some((f) => f.direction === 'reply' && f.source === '10.244.2.11:8080' && f.translatedTo === `${WEB}:80`),
    ).toBe(true);
    expect(flows.some((f) => f.hairpin)).toBe(true);
  });
});
