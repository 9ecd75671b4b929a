// The tc program over IPv6, packet by packet, through BPF_PROG_TEST_RUN: the
// same table as tc-xlate.test.ts (DNAT, reverse NAT, conntrack, REJECT,
// hairpin, affinity) with 16-byte addresses, plus what only IPv6 has:
// extension headers skipped or refused as bpf/lib/packet.h documents, the
// fragment header, and IPv4-mapped addresses that must never reach an IPv4
// entry. Checksums are checked by the harness, independently of the kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type BpfProgram } from '../../../control/bpf/index.js';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { TestNet } from '../../harness/netns.js';
import {
  buildPacket,
  fragment6,
  type Ipv6Ext,
  parseIcmp,
  parseIp6Header,
  parsePacket,
  reassemble6,
  TCP,
  type PacketSpec,
} from '../../harness/packet.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const TC_ACT_OK = 0;
const TC_ACT_REDIRECT = 7;
const objectDir = `${repoRoot}/build/bpf`;

const CLIENT = 'fd00:10:244:1::b';
const POD = 'fd00:10:244:2::b';
const DNS_POD = 'fd00:10:244:2::c';
const WEB = 'fd00:10:96::a';
const EMPTY = 'fd00:10:96::b';
const DNS = 'fd00:10:96::c';
const SELF = 'fd00:10:96::d';
const STICKY = 'fd00:10:96::e';
const SPREAD = 'fd00:10:96::f';
const WEB4 = '10.96.0.10';

describe.runIf(requirePrivileges())('tc service translation over IPv6 (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let obj: BpfObject;
  let prog: BpfProgram;
  let nextPort = 40000;

  const run = (spec: PacketSpec) => {
    const r = prog.testRun({ data: buildPacket(spec) });
    return { verdict: r.retval, out: parsePacket(r.data), data: r.data };
  };
  const syn = (dst: string, dport: number, sport = nextPort++, ext?: Ipv6Ext[]): PacketSpec => ({
    src: CLIENT,
    dst,
    sport,
    dport,
    proto: 'tcp',
    flags: TCP.SYN,
    seq: 7000,
    ...(ext ? { ext } : {}),
  });

  beforeAll(async () => {
    const pinRoot = net.pinDir('xlate6');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    dp.upsertService({ address: WEB, port: 80, protocol: 'TCP', backends: [{ address: POD, port: 8080 }] });
    dp.upsertService({ address: WEB4, port: 80, protocol: 'TCP', backends: [{ address: '10.244.2.11', port: 8080 }] });
    dp.upsertService({ address: EMPTY, port: 80, protocol: 'TCP', backends: [] });
    dp.upsertService({ address: EMPTY, port: 53, protocol: 'UDP', backends: [] });
    dp.upsertService({ address: DNS, port: 53, protocol: 'UDP', backends: [{ address: DNS_POD, port: 5353 }] });
    dp.upsertService({ address: SELF, port: 80, protocol: 'TCP', backends: [{ address: CLIENT, port: 8080 }] });
    const five = [11, 12, 13, 14, 15].map((i) => ({ address: `fd00:10:244:3::${i.toString(16)}`, port: 8080 }));
    dp.upsertService({ address: STICKY, port: 80, protocol: 'TCP', backends: five, affinityTimeoutSeconds: 60 });
    dp.upsertService({ address: SPREAD, port: 80, protocol: 'TCP', backends: five });
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
    { name: 'TCP to a pod address', spec: { src: CLIENT, dst: POD, sport: 1234, dport: 8080, proto: 'tcp' } },
    {
      name: 'TCP to a service port it does not serve',
      spec: { src: CLIENT, dst: WEB, sport: 1, dport: 81, proto: 'tcp' },
    },
    { name: 'UDP to a TCP-only service port', spec: { src: CLIENT, dst: WEB, sport: 1234, dport: 80, proto: 'udp' } },
    {
      name: 'TCP to the IPv4-mapped form of an IPv4 service (never on the wire; never the IPv4 entry)',
      spec: { src: CLIENT, dst: `::ffff:${WEB4}`, sport: 1234, dport: 80, proto: 'tcp' },
    },
    {
      name: 'TCP behind a routing header with segments left (not yet at its destination)',
      spec: { ...syn(WEB, 80, 1234, [{ type: 'routing', segmentsLeft: 1 }]) },
    },
    {
      name: 'TCP behind a header the parser does not skip (AH)',
      spec: { ...syn(WEB, 80, 1234, [{ type: 'other', next: 51 }]) },
    },
    {
      name: 'TCP behind more extension headers than the bound (5 > 4)',
      spec: { ...syn(WEB, 80, 1234, [{ type: 'hop' }, ...Array(4).fill({ type: 'dest' })]) },
    },
  ] as Array<{ name: string; spec: PacketSpec }>)('passes $name untouched', ({ spec }) => {
    const input = buildPacket(spec);
    const r = prog.testRun({ data: input });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(r.data.equals(input)).toBe(true);
  });

  it('DNATs a new TCP flow to the backend with a valid checksum, keeps it there, and reverse-NATs the reply', () => {
    const sport = nextPort++;
    const first = run(syn(WEB, 80, sport));
    expect(first.verdict).toBe(TC_ACT_OK);
    expect(first.out).toMatchObject({ src: CLIENT, sport, dst: POD, dport: 8080, l4ChecksumOk: true });
    const next = run({
      src: CLIENT,
      dst: WEB,
      sport,
      dport: 80,
      proto: 'tcp',
      flags: TCP.ACK,
      payload: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    });
    expect(next.out).toMatchObject({ dst: POD, dport: 8080, l4ChecksumOk: true });
    const reply = run({ src: POD, dst: CLIENT, sport: 8080, dport: sport, proto: 'tcp', flags: TCP.SYN | TCP.ACK });
    expect(reply.verdict).toBe(TC_ACT_OK);
    expect(reply.out).toMatchObject({ src: WEB, sport: 80, dst: CLIENT, dport: sport, l4ChecksumOk: true });
  });

  it('keeps the families apart: the IPv4 service on the same port still answers IPv4', () => {
    const sport = nextPort++;
    const v4 = prog.testRun({
      data: buildPacket({ src: '10.244.1.11', dst: WEB4, sport, dport: 80, proto: 'tcp', flags: TCP.SYN }),
    });
    expect(parsePacket(v4.data)).toMatchObject({ dst: '10.244.2.11', dport: 8080, ipChecksumOk: true });
  });

  it.each([
    { name: 'hop-by-hop options', ext: [{ type: 'hop' }] },
    { name: 'destination options', ext: [{ type: 'dest' }] },
    { name: 'a routing header with no segments left', ext: [{ type: 'routing', segmentsLeft: 0 }] },
    {
      name: 'hop-by-hop, routing and destination options (4 in all)',
      ext: [{ type: 'hop' }, { type: 'routing', segmentsLeft: 0 }, { type: 'dest' }, { type: 'dest' }],
    },
    {
      name: 'an atomic fragment header (offset 0, no more: a whole datagram)',
      ext: [{ type: 'fragment', id: 77, offset: 0, more: false }],
    },
  ] as Array<{ name: string; ext: Ipv6Ext[] }>)('skips $name and translates what follows', ({ ext }) => {
    const sport = nextPort++;
    const input = buildPacket(syn(WEB, 80, sport, ext));
    const r = prog.testRun({ data: input });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(parsePacket(r.data)).toMatchObject({ src: CLIENT, dst: POD, sport, dport: 8080, l4ChecksumOk: true });
    // The extension headers themselves are left as they were.
    expect(r.data.subarray(54, 54 + 8 * ext.length).equals(input.subarray(54, 54 + 8 * ext.length))).toBe(true);
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
      length: 14 + 40 + 20,
      l4ChecksumOk: true,
    });
  });

  it('refuses UDP to a service without endpoints with ICMPv6 port unreachable, quoting its headers', () => {
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
      protocol: 58,
      type: 1,
      code: 4,
      icmpChecksumOk: true,
      length: 14 + 40 + 8 + 48,
    });
    // RFC 4443 3.1: as much of the datagram as fits; here its IPv6 and UDP headers, as sent.
    expect(icmp.quoted.equals(input.subarray(14, 14 + 48))).toBe(true);
    expect(r.data.subarray(0, 12).equals(Buffer.concat([input.subarray(6, 12), input.subarray(0, 6)]))).toBe(true);
  });

  it('drops, not answers, a refused SYN behind extension headers (as IPv4 options)', () => {
    const r = prog.testRun({ data: buildPacket(syn(EMPTY, 80, nextPort++, [{ type: 'hop' }])) });
    expect(r.retval).toBe(2); // TC_ACT_SHOT
  });

  it('DNATs UDP and fixes its checksum both ways', () => {
    const sport = nextPort++;
    const q = run({ src: CLIENT, dst: DNS, sport, dport: 53, proto: 'udp', payload: Buffer.from('query') });
    expect(q.out).toMatchObject({ dst: DNS_POD, dport: 5353, l4ChecksumOk: true });
    expect(q.out.l4Checksum).not.toBe(0);
    const a = run({
      src: DNS_POD,
      dst: CLIENT,
      sport: 5353,
      dport: sport,
      proto: 'udp',
      payload: Buffer.from('answer'),
    });
    expect(a.out).toMatchObject({ src: DNS, sport: 53, dst: CLIENT, l4ChecksumOk: true });
  });

  it('translates a fragmented UDP datagram: the first fragment by its ports, the later one by its identification', () => {
    const sport = nextPort++;
    const datagram = buildPacket({
      src: CLIENT,
      dst: DNS,
      sport,
      dport: 53,
      proto: 'udp',
      payload: Buffer.alloc(64, 3),
    });
    const [first, second] = fragment6(datagram, 32, 0xabcd1234);
    const a = prog.testRun({ data: first });
    const b = prog.testRun({ data: second });
    expect(a.retval).toBe(TC_ACT_OK);
    expect(b.retval).toBe(TC_ACT_OK);
    expect(parseIp6Header(a.data)).toEqual({ src: CLIENT, dst: DNS_POD });
    expect(parseIp6Header(b.data)).toEqual({ src: CLIENT, dst: DNS_POD });
    // Joined again, the datagram's checksum (fixed in the first fragment) holds for its new addresses.
    expect(parsePacket(reassemble6(a.data, b.data))).toMatchObject({ dst: DNS_POD, dport: 5353, l4ChecksumOk: true });
    // A later fragment of a datagram never seen passes as it came.
    const [, stray] = fragment6(datagram, 32, 0x5555);
    expect(prog.testRun({ data: stray }).data.equals(stray)).toBe(true);
  });

  it('hairpins a pod that reaches itself through its service, from 100::a9fe:2a01', () => {
    const sport = nextPort++;
    const out = run(syn(SELF, 80, sport)).out;
    expect(out).toMatchObject({ src: '100::a9fe:2a01', sport, dst: CLIENT, dport: 8080, l4ChecksumOk: true });
    const reply = run({
      src: CLIENT,
      dst: '100::a9fe:2a01',
      sport: 8080,
      dport: sport,
      proto: 'tcp',
      flags: TCP.SYN | TCP.ACK,
    }).out;
    expect(reply).toMatchObject({ src: SELF, sport: 80, dst: CLIENT, dport: sport, l4ChecksumOk: true });
  });

  it('pins a client to one backend with ClientIP affinity, and spreads without it', () => {
    const sticky = new Set(Array.from({ length: 30 }, () => run(syn(STICKY, 80)).out.dst));
    expect(sticky.size).toBe(1);
    const spread = new Set(Array.from({ length: 60 }, () => run(syn(SPREAD, 80)).out.dst));
    expect(spread.size).toBe(5);
  });

  it('shows the IPv6 flows it tracks, endpoints bracketed', async () => {
    const flows = await dp.conntrack();
    expect(
      flows.some(
        (f) => f.direction === 'original' && f.destination === `[${WEB}]:80` && f.translatedTo === `[${POD}]:8080`,
      ),
    ).toBe(true);
    expect(flows.some((f) => f.direction === 'reply' && f.source === `[${POD}]:8080`)).toBe(true);
  });
});
