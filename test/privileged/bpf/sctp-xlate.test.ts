// SCTP through the tc and XDP programs, packet by packet (BPF_PROG_TEST_RUN),
// in both families: DNAT to the backend and the reply back, later packets of
// the association, REJECT of an INIT without endpoints. Every checksum is
// checked by the harness's own CRC32c (test/harness/crc32c.ts), not the
// kernel's, over packets of several lengths with random chunk data: the
// programs update it incrementally (bpf/lib/sctp.h) without reading the
// payload, so only a recomputation here tells that the update is right.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type BpfProgram } from '../../../control/bpf/index.js';
import { DropCounters } from '../../../control/proxiers/ebpf/drops.js';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { sctpChecksum } from '../../harness/crc32c.js';
import { TestNet } from '../../harness/netns.js';
import { buildPacket, parseIcmp, parsePacket, SCTP, type PacketSpec } from '../../harness/packet.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { runXdp } from '../../harness/test-run.js';

const objectDir = `${repoRoot}/build/bpf`;

const FAMILIES = [
  {
    family: 'IPv4',
    client: '10.244.1.11',
    svc: '10.96.0.40',
    empty: '10.96.0.41',
    backend: '10.244.2.40',
    icmp: { protocol: 1, type: 3, code: 3, ipHeader: 20 },
  },
  {
    family: 'IPv6',
    client: 'fd00:10:244:1::b',
    svc: 'fd00:10:96::40',
    empty: 'fd00:10:96::41',
    backend: 'fd00:10:244:2::40',
    icmp: { protocol: 58, type: 1, code: 4, ipHeader: 40 },
  },
] as const;

const HOOKS = [
  { hook: 'tc', object: 'tc.bpf.o', program: 'sy_tc_ingress', pass: 0, drop: 2, tx: 7 },
  { hook: 'xdp', object: 'xdp.bpf.o', program: 'sy_xdp_ingress', pass: 2, drop: 1, tx: 3 },
] as const;

/** SCTP packet lengths (common header onward) the tables run: small, odd, near an MTU. */
const LENGTHS = [32, 100, 1021, 1400];

describe.runIf(requirePrivileges())('SCTP translation (BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let drops: DropCounters;
  const programs = new Map<string, { obj: BpfObject; prog: BpfProgram }>();
  let nextPort = 45000;

  beforeAll(async () => {
    const pinRoot = net.pinDir('sctp');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    for (const f of FAMILIES) {
      dp.upsertService({
        address: f.svc,
        port: 3868,
        protocol: 'SCTP',
        backends: [{ address: f.backend, port: 13868 }],
      });
      // A TCP service on the same address and port: SCTP must never find it.
      dp.upsertService({ address: f.svc, port: 80, protocol: 'TCP', backends: [{ address: f.backend, port: 8080 }] });
      dp.upsertService({ address: f.empty, port: 3868, protocol: 'SCTP', backends: [] });
    }
    for (const h of HOOKS) {
      const obj = BpfObject.load(`${objectDir}/${h.object}`, { pinRoot });
      programs.set(h.hook, { obj, prog: obj.program(h.program) });
    }
    drops = new DropCounters({ pinRoot });
  });
  afterAll(async () => {
    drops?.close();
    for (const { prog, obj } of programs.values()) {
      prog.close();
      obj.close();
    }
    dp?.close();
    await net.teardown();
  });

  describe.each(HOOKS)('$hook', ({ hook, pass, drop, tx }) => {
    const run = (spec: PacketSpec) => {
      const { prog } = programs.get(hook)!;
      const frame = buildPacket(spec);
      const r = hook === 'xdp' ? runXdp(prog, frame) : prog.testRun({ data: frame });
      return { verdict: r.retval, out: parsePacket(r.data), data: r.data };
    };

    describe.each(FAMILIES)('$family', (f) => {
      const chunk = (spec: Partial<PacketSpec> & { sport: number; length: number }): PacketSpec => ({
        src: f.client,
        dst: f.svc,
        dport: 3868,
        proto: 'sctp',
        chunk: SCTP.INIT,
        payload: randomBytes(spec.length - 16),
        ...spec,
      });

      it.each(LENGTHS)(
        'DNATs an INIT of %i bytes to the backend, the CRC32c right; later packets and the replies too',
        (length) => {
          const sport = nextPort++;
          const init = run(chunk({ sport, length }));
          expect(init.verdict).toBe(pass);
          expect(init.out).toMatchObject({
            proto: 'sctp',
            src: f.client,
            sport,
            dst: f.backend,
            dport: 13868,
            flags: SCTP.INIT,
            ipChecksumOk: true,
            l4ChecksumOk: true,
          });

          // The backend's INIT ACK (and a later DATA) back from the service address and port.
          for (const [c, len] of [
            [SCTP.INIT_ACK, length],
            [SCTP.DATA, 1400 - (length % 7)],
          ] as const) {
            const reply = run({
              src: f.backend,
              dst: f.client,
              sport: 13868,
              dport: sport,
              proto: 'sctp',
              chunk: c,
              vtag: 0x1234abcd,
              payload: randomBytes(len - 16),
            });
            expect(reply.verdict).toBe(pass);
            expect(reply.out).toMatchObject({
              src: f.svc,
              sport: 3868,
              dst: f.client,
              dport: sport,
              flags: c,
              seq: 0x1234abcd,
              ipChecksumOk: true,
              l4ChecksumOk: true,
            });
          }

          // The client's COOKIE ECHO and DATA stay on the flow.
          for (const [c, len] of [
            [SCTP.COOKIE_ECHO, 64],
            [SCTP.DATA, 37 + (length % 13)],
          ] as const) {
            const next = run(chunk({ sport, length: len, chunk: c, vtag: 0x77 }));
            expect(next.out).toMatchObject({ dst: f.backend, dport: 13868, flags: c, l4ChecksumOk: true });
          }
        },
      );

      it('keeps a wrong checksum exactly as wrong (the receiver drops it; the update does not repair it)', () => {
        const sport = nextPort++;
        const wrongBy = 0x00010000;
        const r = run(chunk({ sport, length: 200, sctpChecksum: { wrongBy } }));
        expect(r.out).toMatchObject({ dst: f.backend, dport: 13868, l4ChecksumOk: false });
        const l4 = r.data.subarray(r.data.length - 200);
        expect((r.out.l4Checksum ^ sctpChecksum(l4)) >>> 0).toBe(wrongBy);
      });

      it('leaves a zero checksum zero (not computed yet: CHECKSUM_PARTIAL; or RFC 9653)', () => {
        const sport = nextPort++;
        const r = run(chunk({ sport, length: 120, sctpChecksum: 'zero' }));
        expect(r.out).toMatchObject({ dst: f.backend, dport: 13868, l4Checksum: 0 });
      });

      it('does not give SCTP the TCP service of the same address and port, nor TCP the SCTP one', () => {
        const input = buildPacket(chunk({ sport: nextPort++, length: 48, dport: 80 }));
        const { prog } = programs.get(hook)!;
        const r = hook === 'xdp' ? runXdp(prog, input) : prog.testRun({ data: input });
        expect(r.retval).toBe(pass);
        expect(Buffer.from(r.data).equals(input)).toBe(true);
        const tcp = run({ src: f.client, dst: f.svc, sport: nextPort++, dport: 3868, proto: 'tcp' });
        expect(tcp.out.dst).toBe(f.svc);
      });

      it('refuses an INIT to a service without endpoints with ICMP port unreachable quoting its initiate tag', () => {
        const sport = nextPort++;
        const body = randomBytes(200);
        const r = run({ ...chunk({ sport, length: 216, payload: body }), dst: f.empty });
        expect(r.verdict).toBe(tx);
        const icmp = parseIcmp(r.data);
        expect(icmp).toMatchObject({
          src: f.empty,
          dst: f.client,
          protocol: f.icmp.protocol,
          type: f.icmp.type,
          code: f.icmp.code,
          ipChecksumOk: true,
          icmpChecksumOk: true,
        });
        // The quoted datagram: its IP header and 20 bytes of SCTP, up to the INIT's initiate tag.
        expect(icmp.quoted.length).toBe(f.icmp.ipHeader + 20);
        const quotedSctp = icmp.quoted.subarray(f.icmp.ipHeader);
        expect(quotedSctp.readUInt16BE(0)).toBe(sport);
        expect(quotedSctp.readUInt16BE(2)).toBe(3868);
        expect(quotedSctp[12]).toBe(SCTP.INIT);
        expect(quotedSctp.subarray(16, 20).equals(body.subarray(0, 4))).toBe(true);
      });

      it('drops any other chunk to a service without endpoints (no association to refuse)', async () => {
        const before = await drops.read();
        const r = run({ ...chunk({ sport: nextPort++, length: 64, chunk: SCTP.DATA, vtag: 9 }), dst: f.empty });
        expect(r.verdict).toBe(drop);
        expect((await drops.read()).no_backend! - before.no_backend!).toBe(1n);
      });
    });
  });
});
