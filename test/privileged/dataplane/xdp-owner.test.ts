// XDP on an uplink never takes another owner's hook: the dataplane attaches
// only to a free hook or in place of its own earlier program, says whose
// program is in the way otherwise, and detaches only its own. Real
// attachments on a veth in a test namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, XdpAttachment } from '../../../control/bpf/index.js';
import { EbpfDataplane, XDP_PROGRAM } from '../../../control/proxiers/ebpf/dataplane.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot, testBpfObject } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

describe.runIf(requirePrivileges())('XDP attachment and other owners', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let other: BpfObject;
  let ns = '';
  let ifindex = 0;
  const where = () => ({ ifindex, netns: net.netnsPath(ns) });
  const attached = (mode: 'driver' | 'generic' = 'driver') => XdpAttachment.attached({ ...where(), mode });

  beforeAll(async () => {
    ns = net.namespace('node');
    const peer = net.namespace('peer');
    net.veth({ ns, name: 'uplink' }, { ns: peer, name: 'eth0' });
    ifindex = net.ifindex(ns, 'uplink');
    dp = await EbpfDataplane.open({ objectDir: `${repoRoot}/build/bpf`, pinRoot: net.pinDir('xdp-owner') });
    other = BpfObject.load(testBpfObject('selftest'), { pinRoot: net.pinDir('xdp-owner-other') });
  });
  afterAll(async () => {
    other?.close();
    dp?.close();
    await net.teardown();
  });

  it('attaches to a free hook, and replaces its own earlier program in place', () => {
    const first = dp.attachXdp({ ...where(), xdpTx: true });
    expect('attached' in first).toBe(true);
    const id = attached()!.id;
    expect(attached()).toMatchObject({ name: XDP_PROGRAM });
    // Again (a restarted daemon): the same program name, replaced, never refused.
    const again = dp.attachXdp({ ...where(), xdpTx: true });
    expect('attached' in again).toBe(true);
    expect(attached()).toMatchObject({ id, name: XDP_PROGRAM });
    expect(EbpfDataplane.detachXdp(where())).toBe(true);
    expect(attached()).toBeNull();
  });

  it.each(['driver', 'generic'] as const)(
    "refuses a hook another owner's program holds (%s mode), names it, and leaves it there",
    (mode) => {
      const prog = other.program('sy_test_xdp');
      const theirs = prog.attachXdp({ ...where(), mode });
      try {
        const r = dp.attachXdp({ ...where(), xdpTx: true });
        expect(r).toEqual({
          refused: expect.stringMatching(
            new RegExp(`another program holds its XDP hook \\(${mode} mode: id \\d+, "sy_test_xdp"\\)`),
          ),
        });
        expect(attached(mode)).toMatchObject({ name: 'sy_test_xdp' });
        // Our clean-up does not take it either.
        expect(EbpfDataplane.detachXdp(where())).toBe(false);
        expect(attached(mode)).toMatchObject({ name: 'sy_test_xdp' });
      } finally {
        theirs.detach();
        prog.close();
      }
      expect(attached(mode)).toBeNull();
    },
  );
});
