// Programs on a real kernel: BPF_PROG_TEST_RUN, and tc, XDP and cgroup
// attachments inside test namespaces and cgroups, seen working with real traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfErrorCode, BpfObject, type TypedMap } from '../../../control/bpf/index.js';
import { TestNet } from '../../harness/netns.js';
import { testBpfObject } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const TC_PACKETS = 0;
const XDP_PACKETS = 1;
const CGROUP_PACKETS = 2;

function ethFrame(): Buffer {
  const f = Buffer.alloc(60);
  Buffer.from([0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01]).copy(f, 0); // dest
  Buffer.from([0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x02]).copy(f, 6); // source
  f.writeUInt16BE(0x0800, 12);
  return f;
}

describe.runIf(requirePrivileges())('BPF programs', () => {
  const net = new TestNet();
  let obj: BpfObject;
  let counters: TypedMap<number, bigint>;
  let a: string;
  let b: string;

  beforeAll(() => {
    obj = BpfObject.load(testBpfObject('selftest'), { pinRoot: net.pinDir('progs') });
    counters = obj.map('sy_test_counters').typed<number, bigint>();
    // Two namespaces joined by a veth pair: a (10.0.0.1) — b (10.0.0.2).
    a = net.namespace('a');
    b = net.namespace('b');
    net.veth({ ns: a, name: 'veth-a' }, { ns: b, name: 'veth-b' });
    net.ip(a, 'addr', 'add', '10.0.0.1/24', 'dev', 'veth-a');
    net.ip(b, 'addr', 'add', '10.0.0.2/24', 'dev', 'veth-b');
  });
  afterAll(async () => {
    obj?.close();
    await net.teardown();
  });

  const ping = (count: number) => net.exec(a, 'ping', ['-c', String(count), '-i', '0.01', '-W', '1', '-q', '10.0.0.2']);

  it('runs a program through BPF_PROG_TEST_RUN', () => {
    const prog = obj.program('sy_test_swap_macs');
    const r = prog.testRun({ data: ethFrame() });
    expect(r.retval).toBe(0); // TC_ACT_OK
    expect(r.data.subarray(0, 12).toString('hex')).toBe('bbbbbbbbbb02' + 'aaaaaaaaaa01');
    // With repeat the kernel runs the program N times on the same buffer:
    // an even number of swaps gives the frame back, and the duration is a mean.
    const again = prog.testRun({ data: ethFrame(), repeat: 10 });
    expect(again.data.subarray(0, 12).toString('hex')).toBe('aaaaaaaaaa01' + 'bbbbbbbbbb02');
    expect(again.durationNs).toBeGreaterThan(0);
    prog.close();
  });

  it('sets const volatile knobs before load', () => {
    const knobbed = BpfObject.load(testBpfObject('selftest'), {
      pinRoot: net.pinDir('knob'),
      globals: { selftest_verdict: Buffer.from(Uint32Array.of(2).buffer) }, // TC_ACT_SHOT
    });
    expect(knobbed.program('sy_test_swap_macs').testRun({ data: ethFrame() }).retval).toBe(2);
    knobbed.close();
    expect(() => BpfObject.open(testBpfObject('selftest'), { globals: { no_such_knob: Buffer.alloc(4) } })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound }),
    );
  });

  it('attaches at tc ingress inside a namespace and counts real packets', () => {
    const prog = obj.program('sy_test_tc');
    const before = counters.get(TC_PACKETS)!;
    const link = prog.attachTc({ ifindex: net.ifindex(b, 'veth-b'), direction: 'ingress', netns: net.netnsPath(b) });
    expect(link.hookCreated).toBe(true);
    expect(net.exec(b, 'tc', ['filter', 'show', 'dev', 'veth-b', 'ingress'])).toMatch(/sy_test_tc/);
    ping(5);
    const during = counters.get(TC_PACKETS)!;
    expect(during - before).toBeGreaterThanOrEqual(5n);
    link.detach();
    link.detach(); // twice is fine
    expect(net.exec(b, 'tc', ['qdisc', 'show', 'dev', 'veth-b'])).not.toMatch(/clsact/);
    // Counted from the detach: the kernel's own packets (IPv6 DAD, MLD, router
    // solicitations, ARP) may reach veth-b between the read above and it.
    const detached = counters.get(TC_PACKETS)!;
    ping(3);
    expect(counters.get(TC_PACKETS)).toBe(detached);
  });

  it('attaches at tc egress too', () => {
    const prog = obj.program('sy_test_tc');
    const before = counters.get(TC_PACKETS)!;
    const link = prog.attachTc({ ifindex: net.ifindex(b, 'veth-b'), direction: 'egress', netns: net.netnsPath(b) });
    ping(4); // the echo replies leave b through veth-b
    expect(counters.get(TC_PACKETS)! - before).toBeGreaterThanOrEqual(4n);
    link.detach();
  });

  it.each(['driver', 'generic'] as const)('attaches XDP in %s mode and counts real packets', (mode) => {
    const prog = obj.program('sy_test_xdp');
    const before = counters.get(XDP_PACKETS)!;
    const link = prog.attachXdp({ ifindex: net.ifindex(b, 'veth-b'), mode, netns: net.netnsPath(b) });
    const shown = net.ip(b, '-d', 'link', 'show', 'veth-b');
    expect(shown).toMatch(/prog\/xdp id \d+ name sy_test_xdp/);
    expect(shown).toMatch(mode === 'driver' ? / xdp qdisc/ : / xdpgeneric qdisc/);
    ping(5);
    const during = counters.get(XDP_PACKETS)!;
    expect(during - before).toBeGreaterThanOrEqual(5n);
    link.detach();
    expect(net.ip(b, '-d', 'link', 'show', 'veth-b')).not.toMatch(/prog\/xdp/);
    const detached = counters.get(XDP_PACKETS)!; // as above, from the detach
    ping(2);
    expect(counters.get(XDP_PACKETS)).toBe(detached);
  });

  it('attaches to a cgroup the test created, and refuses the root cgroup', async () => {
    const prog = obj.program('sy_test_cgroup');
    const cg = net.cgroup('cg');
    const link = prog.attachCgroup({ cgroup: cg });
    const before = counters.get(CGROUP_PACKETS)!;
    // A process that joins the cgroup, then sends three pings on loopback
    // inside a test namespace.
    const p = net.spawnInCgroup(cg, a, 'ping', ['-c', '3', '-i', '0.01', '-q', '127.0.0.1']);
    expect(await p.exited).toBe(0);
    expect(counters.get(CGROUP_PACKETS)! - before).toBeGreaterThanOrEqual(3n);
    link.detach();

    const root = cg.slice(0, cg.lastIndexOf('/'));
    expect(() => prog.attachCgroup({ cgroup: root })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.InvalidArgument, message: expect.stringContaining('root cgroup') }),
    );
  });

  it('reports a missing interface', () => {
    const prog = obj.program('sy_test_tc');
    expect(() => prog.attachTc({ ifindex: 9999, direction: 'ingress', netns: net.netnsPath(b) })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound }),
    );
  });
});
