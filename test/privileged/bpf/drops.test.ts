// sy_drops from packet to metric: packets the tc program drops, run through
// BPF_PROG_TEST_RUN, are counted at their reason (per CPU), and the ebpf
// proxier's view sums them into drops() and the Prometheus counter
// switchyard_dataplane_drops_total. The proxier is not started: its view
// reads sy_drops through the pin, which is all drops() needs (starting it
// would attach to this namespace's interfaces).
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyMetrics } from '../../../control/api/metrics.js';
import { BpfMap, BpfObject, type BpfProgram } from '../../../control/bpf/index.js';
import { SY_DROP_MAX, SyDropReason, SyDropReasonNames } from '../../../control/proxiers/ebpf/abi.generated.js';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { EbpfProxier } from '../../../control/proxiers/ebpf/proxier.js';
import type { ProxierView } from '../../../control/proxiers/types.js';
import { TestNet } from '../../harness/netns.js';
import { buildPacket, TCP } from '../../harness/packet.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

const TC_ACT_SHOT = 2;
const objectDir = `${repoRoot}/build/bpf`;
const CLIENT = '10.244.1.11';
const EMPTY = '10.96.0.11';
const ELSEWHERE = '10.96.0.13';

describe.runIf(requirePrivileges())('drop counters (sy_drops, BPF_PROG_TEST_RUN)', () => {
  const net = new TestNet();
  let pinRoot: string;
  let dp: EbpfDataplane;
  let obj: BpfObject;
  let prog: BpfProgram;
  let proxier: EbpfProxier;
  let view: ProxierView;

  beforeAll(async () => {
    pinRoot = net.pinDir('drops');
    dp = await EbpfDataplane.open({ objectDir, pinRoot });
    dp.upsertService({ address: EMPTY, port: 53, protocol: 'UDP', backends: [] });
    dp.upsertService({ address: EMPTY, port: 80, protocol: 'TCP', backends: [] });
    // Endpoints exist, none for this node: SY_SVC_F_DROP_NO_BACKEND.
    dp.upsertService({ address: ELSEWHERE, port: 80, protocol: 'TCP', backends: [], dropWhenEmpty: true });
    obj = BpfObject.load(`${objectDir}/tc.bpf.o`, { pinRoot });
    prog = obj.program('sy_tc_ingress');
    proxier = new EbpfProxier({ objectDir, pinRoot, devices: [], logger: pino({ level: 'silent' }) });
    view = proxier.view();
  });
  afterAll(async () => {
    await proxier?.stop();
    prog?.close();
    obj?.close();
    dp?.close();
    await net.teardown();
  });

  it('is a per-CPU array with one slot per reason abi.h names, all zero at first', async () => {
    const map = BpfMap.openPinned(`${pinRoot}/sy_drops`);
    try {
      expect(map.info).toMatchObject({ type: 'percpu_array', perCpu: true, maxEntries: SY_DROP_MAX });
    } finally {
      map.close();
    }
    const drops = await view.drops!();
    expect(Object.keys(drops).sort()).toEqual(Object.values(SyDropReasonNames).sort());
    expect(Object.values(drops).every((n) => n === 0n)).toBe(true);
  });

  it('counts each dropped packet at its reason, and drops() and the metric show it', async () => {
    const shot = (spec: Parameters<typeof buildPacket>[0]) => prog.testRun({ data: buildPacket(spec) }).retval;
    // UDP without endpoints is refused with ICMP (sent back, not a drop): no count.
    expect(shot({ src: CLIENT, dst: EMPTY, sport: 5000, dport: 53, proto: 'udp' })).not.toBe(TC_ACT_SHOT);
    // Not a plain SYN (a stray ACK or FIN), so nothing to refuse with a RST: dropped as no backend.
    for (let i = 0; i < 3; i++) {
      expect(
        shot({ src: CLIENT, dst: EMPTY, sport: 5000 + i, dport: 80, proto: 'tcp', flags: TCP.FIN | TCP.ACK }),
      ).toBe(TC_ACT_SHOT);
    }
    for (let i = 0; i < 2; i++) {
      expect(shot({ src: CLIENT, dst: ELSEWHERE, sport: 6000 + i, dport: 80, proto: 'tcp', flags: TCP.SYN })).toBe(
        TC_ACT_SHOT,
      );
    }
    // Not a plain SYN, so nothing to refuse with a RST: dropped as no backend too.
    expect(shot({ src: CLIENT, dst: EMPTY, sport: 7000, dport: 80, proto: 'tcp', flags: TCP.ACK })).toBe(TC_ACT_SHOT);

    const drops = await view.drops!();
    expect(drops).toMatchObject({ no_backend: 4n, no_backend_policy: 2n, malformed: 0n, nat_failed: 0n });

    // The raw map agrees: the counts are at the enum's index.
    const map = BpfMap.openPinned(`${pinRoot}/sy_drops`);
    try {
      const perCpu = map.typed<number, bigint>().getPerCpu(SyDropReason.NO_BACKEND_POLICY)!;
      expect(perCpu.reduce((a, b) => a + b, 0n)).toBe(2n);
    } finally {
      map.close();
    }

    const registry = new Registry();
    new ProxyMetrics({ registry, drops: () => view.drops!() });
    const text = await registry.metrics();
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="no_backend"\} 4$/m);
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="no_backend_policy"\} 2$/m);
    expect(text).toMatch(/^switchyard_dataplane_drops_total\{reason="ct_create_failed"\} 0$/m);
  });
});
