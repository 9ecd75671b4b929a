// The XDP program, packet by packet, through BPF_PROG_TEST_RUN: the same
// translation as tc (lib/xlate.h over lib/ctx.h's XDP side), against the maps
// the tc program uses, programmed through the dataplane API. Loaded, not
// attached (the e2e suite runs it attached to the nodes' uplinks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type BpfProgram } from '../../../control/bpf/index.js';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { DropCounters } from '../../../control/proxiers/ebpf/drops.js';
import { TestNet } from '../../harness/netns.js';
import { buildPacket, parseIcmp, parsePacket, TCP, type PacketSpec } from '../../harness/packet.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { runXdp } from '../../harness/test-run.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;
const objectDir = `${repoRoot}/build/bpf`;

const CLIENT = '10.244.1.11';
const WEB = '10.96.0.10';
const EMPTY = '10.96.0.11';
const DNS = '10.96.0.12';
const ELSEWHERE = '10.96.0.13';
const BACKEND = '10.244.2.11';

describe.runIf(requirePrivileges())('XDP service translation (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let obj: BpfObject;
  let prog: BpfProgram;
  let drops: DropCounters;
  let nextPort = 41000;

  const run = (spec: PacketSpec) => {
    const r = runXdp(prog, buildPacket(spec));
    return { verdict: r.retval, out: parsePacket(r.data) };
  };
  const syn = (dst: string, dport: number, sport = nextPort++): PacketSpec => ({
    src: CLIENT,
    dst,
    sport,
    dport,
    proto: 'tcp',
    flags: TCP.SYN,
    seq: 9000,
  });

  beforeAll(async () => {
    const pinRoot = net.pinDir('xdp');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    dp.upsertService({ address: WEB, port: 80, protocol: 'TCP', backends: [{ address: BACKEND, port: 8080 }] });
    dp.upsertService({ address: EMPTY, port: 80, protocol: 'TCP', backends: [] });
    dp.upsertService({ address: EMPTY, port: 53, protocol: 'UDP', backends: [] });
    dp.upsertService({ address: DNS, port: 53, protocol: 'UDP', backends: [{ address: '10.244.2.12', port: 5353 }] });
    dp.upsertService({ address: ELSEWHERE, port: 80, protocol: 'TCP', backends: [], dropWhenEmpty: true });
    // xdp.bpf.o reuses the maps the dataplane pinned (LIBBPF_PIN_BY_NAME): it
    // must pass the verifier and share every map with tc.
    obj = BpfObject.load(`${objectDir}/xdp.bpf.o`, { pinRoot });
    prog = obj.program('sy_xdp_ingress');
    drops = new DropCounters({ pinRoot });
  });
  afterAll(async () => {
    drops?.close();
    prog?.close();
    obj?.close();
    dp?.close();
    await net.teardown();
  });

  it.each([
    { name: 'TCP to a pod address', spec: { src: CLIENT, dst: BACKEND, sport: 1234, dport: 8080, proto: 'tcp' } },
    {
      name: 'TCP to a service port it does not serve',
      spec: { src: CLIENT, dst: WEB, sport: 1, dport: 81, proto: 'tcp' },
    },
    { name: 'UDP to a TCP-only service port', spec: { src: CLIENT, dst: WEB, sport: 1234, dport: 80, proto: 'udp' } },
  ] as Array<{ name: string; spec: PacketSpec }>)('passes $name untouched', ({ spec }) => {
    const input = buildPacket(spec);
    const r = runXdp(prog, input);
    expect(r.retval).toBe(XDP_PASS);
    expect(r.data.equals(input)).toBe(true);
  });

  it('passes non-IPv4 frames untouched', () => {
    const arp = Buffer.concat([Buffer.from('ffffffffffff020000000002' + '0806', 'hex'), Buffer.alloc(28, 1)]);
    const r = runXdp(prog, arp);
    expect(r.retval).toBe(XDP_PASS);
    expect(r.data.equals(arp)).toBe(true);
  });

  it('DNATs a new TCP flow to the backend with valid checksums, and the reply back to the service', () => {
    const sport = nextPort++;
    const first = run(syn(WEB, 80, sport));
    expect(first.verdict).toBe(XDP_PASS);
    expect(first.out).toMatchObject({
      src: CLIENT,
      sport,
      dst: BACKEND,
      dport: 8080,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    const reply = run({ src: BACKEND, dst: CLIENT, sport: 8080, dport: sport, proto: 'tcp', flags: TCP.SYN | TCP.ACK });
    expect(reply.verdict).toBe(XDP_PASS);
    expect(reply.out).toMatchObject({ src: WEB, sport: 80, dst: CLIENT, dport: sport, l4ChecksumOk: true });
  });

  it('DNATs UDP, fixing its checksum in software, and keeps a zero checksum zero', () => {
    const q = run({ src: CLIENT, dst: DNS, sport: nextPort++, dport: 53, proto: 'udp', payload: Buffer.from('q') });
    expect(q.verdict).toBe(XDP_PASS);
    expect(q.out).toMatchObject({ dst: '10.244.2.12', dport: 5353, ipChecksumOk: true, l4ChecksumOk: true });
    const none = run({ src: CLIENT, dst: DNS, sport: nextPort++, dport: 53, proto: 'udp', noUdpChecksum: true });
    expect(none.out).toMatchObject({ dst: '10.244.2.12', l4Checksum: 0, ipChecksumOk: true });
  });

  it('answers a SYN to a service without endpoints with a RST, sent back with XDP_TX', () => {
    const sport = nextPort++;
    const { verdict, out } = run(syn(EMPTY, 80, sport));
    expect(verdict).toBe(XDP_TX);
    expect(out).toMatchObject({
      src: EMPTY,
      sport: 80,
      dst: CLIENT,
      dport: sport,
      flags: TCP.RST | TCP.ACK,
      ack: 9001,
      length: 54,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
  });

  it('answers UDP to a service without endpoints with ICMP port unreachable, sent back with XDP_TX', () => {
    const input = buildPacket({
      src: CLIENT,
      dst: EMPTY,
      sport: 5001,
      dport: 53,
      proto: 'udp',
      payload: Buffer.alloc(100, 1),
    });
    const r = runXdp(prog, input);
    expect(r.retval).toBe(XDP_TX);
    const icmp = parseIcmp(r.data);
    expect(icmp).toMatchObject({ src: EMPTY, dst: CLIENT, type: 3, code: 3, ipChecksumOk: true, icmpChecksumOk: true });
    expect(icmp.quoted.equals(input.subarray(14, 14 + 28))).toBe(true);
    expect(icmp.length).toBe(14 + 20 + 8 + 28);
  });

  it('drops what it cannot translate and counts each drop by its reason in sy_drops', async () => {
    const before = await drops.read();
    // Not a SYN (a stray ACK, a FIN): nothing to refuse without a flow.
    expect(run({ ...syn(EMPTY, 80), flags: TCP.ACK }).verdict).toBe(XDP_DROP);
    expect(run({ ...syn(EMPTY, 80), flags: TCP.FIN | TCP.ACK }).verdict).toBe(XDP_DROP);
    expect(run(syn(ELSEWHERE, 80)).verdict).toBe(XDP_DROP);
    const after = await drops.read();
    expect(after.no_backend! - before.no_backend!).toBe(2n);
    expect(after.no_backend_policy! - before.no_backend_policy!).toBe(1n);
    expect(after.malformed).toBe(before.malformed);
  });
});
