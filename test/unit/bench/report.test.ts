// The load test's table: figures a mode never reached show as "—", count as
// missed targets, and the mode's line says where it stopped; a mode measured
// in the VM compares with its own baseline.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartSvg, northSouthChartSvg, readReport, readmeSection, renderTable } from '../../../bench/report.js';
import type { BenchReport, ModeReport, NorthSouthVariant } from '../../../bench/types.js';
import { failedMode, failureLine } from '../../../bench/vm-run.js';

const result = (connPerSec: number) => ({
  connections: connPerSec * 5,
  errors: 0,
  errorKinds: {},
  durationSec: 5,
  connPerSec,
  latencyUs: { p50: 100, p90: 150, p99: 200, max: 300 },
});
const pct = (p50Ms: number, p99Ms: number) => ({ n: 40, p50Ms, p99Ms, maxMs: p99Ms });

const finished: ModeReport = {
  mode: 'ebpf',
  args: [],
  fullSync: { servicePorts: 10_000, startToProgrammedMs: 2500, syncMs: 800, startToReadyMs: 2550 },
  incremental: { addEndpoint: pct(2, 6), removeEndpoint: pct(2, 7), addService: pct(3, 8), removeService: pct(3, 9) },
  steady: { rssMB: 300, cpuPercent: 0.5, windowSec: 5 },
  connections: [
    { services: 10, target: 'clusterIP', result: result(9800) },
    { services: 10_000, target: 'clusterIP', result: result(9700) },
    { services: 10_000, target: 'podIP', result: result(10_000) },
  ],
};
const nan = { n: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
const stopped: ModeReport = {
  mode: 'iptables',
  args: [],
  fullSync: { servicePorts: NaN, startToProgrammedMs: NaN, syncMs: NaN, startToReadyMs: NaN },
  incremental: { addEndpoint: nan, removeEndpoint: nan, addService: nan, removeService: nan },
  steady: { rssMB: NaN, cpuPercent: NaN, windowSec: 0 },
  connections: [{ services: 10, target: 'clusterIP', result: result(7000) }],
  failed: 'full sync: timed out waiting for switchyard',
};
const report: BenchReport = {
  version: 1,
  startedAt: '2026-11-21T00:00:00.000Z',
  durationSec: 100,
  command: 'npm run bench',
  machine: { cpus: 2, kernel: '6.1.0', memoryGiB: 24 },
  params: {
    services: 10_000,
    endpoints: 10,
    changesPerKind: 40,
    connDurationSec: 5,
    concurrency: 8,
    mix: { udp: 0.1, nodePort: 0 },
  },
  direct: result(10_000),
  modes: [finished, stopped],
};

describe('renderTable', () => {
  const text = renderTable(report);
  const row = (label: string) => text.split('\n').find((l) => l.startsWith(label))!;

  it('shows a mode that stopped with dashes from where it stopped, and says why', () => {
    expect(
      row('full sync: the sync (ms)')
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(['800', '—']);
    expect(
      row('ClusterIP at 10 svc: conn/s')
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(['9,800 (0.98)', '7,000 (0.70)']);
    expect(text).toContain('iptables did not finish: full sync: timed out waiting for switchyard');
    expect(text).not.toContain('ebpf did not finish');
  });

  it('counts unmeasured figures as missed targets, and says by how much for measured ones', () => {
    const targets = (mode: string) => text.split(`targets, ${mode}:\n`)[1]!.split('\n').slice(0, 5);
    expect(targets('ebpf')).toEqual([
      '  met    full sync ≤ 1 s: 800 ms',
      '  met    endpoint change p99 ≤ 10 ms: 7 ms',
      '  met    ClusterIP rate ≥ 0.95 × direct at 10 services: 0.98 ×',
      '  met    ClusterIP rate ≥ 0.95 × direct at 10,000 services: 0.97 ×',
      '  MISSED control-plane RSS ≤ 250 MB: 300 MB',
    ]);
    expect(targets('iptables').every((l) => l.startsWith('  MISSED'))).toBe(true);
  });
});

// The ipvs column, measured in the test VM under qemu: its ratios are against
// the direct-to-pod baseline of that same VM run, it says it is emulated, and
// when it ran at a smaller size its header and its N-service rows say so.
const vmDirect = result(1000);
const emulated: ModeReport = {
  ...finished,
  mode: 'ipvs',
  emulated: true,
  direct: vmDirect,
  machine: { cpus: 2, kernel: '6.12.117+deb12-amd64', memoryGiB: 8 },
  fullSync: { servicePorts: 10_000, startToProgrammedMs: 90_000, syncMs: 40_000, startToReadyMs: 91_000 },
  connections: [
    { services: 10, target: 'clusterIP', result: result(900) },
    { services: 10_000, target: 'clusterIP', result: result(800) },
    { services: 10_000, target: 'podIP', result: result(950) },
  ],
  phaseSec: { '10 services': 60, 'full sync': 120.4, 'VM run (boot to power-off)': 500 },
};
const withVm: BenchReport = { ...report, modes: [finished, { ...finished, mode: 'iptables' }, emulated] };

describe('renderTable with an emulated mode', () => {
  const text = renderTable(withVm);
  // The header row is the one whose first cell is empty.
  const row = (label: string) => text.split('\n').find((l) => (label ? l.startsWith(label) : l.startsWith(' ')))!;
  const cells = (label: string) =>
    row(label)
      .split(/\s{2,}/)
      .slice(1);

  it('heads its column "(emulated)" and says where it ran and its own baseline', () => {
    expect(cells('')).toEqual(['ebpf', 'iptables', 'ipvs (emulated)']);
    expect(text).toContain('ipvs: measured in the test VM under qemu emulation');
    expect(text).toContain(
      '2 vCPUs, kernel 6.12.117+deb12-amd64, 8 GiB; its direct to the pod, no proxy: 1,000 conn/s',
    );
  });

  it('takes its × direct against its own baseline, the others against this machine', () => {
    expect(cells('ClusterIP at 10 svc: conn/s')).toEqual(['9,800 (0.98)', '9,800 (0.98)', '900 (0.90)']);
    expect(cells('ClusterIP at 10,000 svc: conn/s')).toEqual(['9,700 (0.97)', '9,700 (0.97)', '800 (0.80)']);
    expect(text).toContain('  MISSED ClusterIP rate ≥ 0.95 × its own direct at 10,000 services: 0.80 ×');
    expect(text).toContain('targets, ipvs (emulated: times under qemu, rates against its own direct):');
  });

  it('keeps the ratios between modes to the two measured here', () => {
    expect(cells('ebpf / iptables: sync time')).toEqual(['1.000']);
    expect(text).not.toContain('/ ipvs');
  });

  it('says the size of a column that ran at another, and shows its figures in the N-service rows', () => {
    const small: ModeReport = {
      ...emulated,
      services: 2000,
      connections: [
        { services: 10, target: 'clusterIP', result: result(900) },
        { services: 2000, target: 'clusterIP', result: result(700) },
        { services: 2000, target: 'podIP', result: result(990) },
      ],
    };
    const t = renderTable({ ...report, modes: [finished, small] });
    const c = (label: string) =>
      t
        .split('\n')
        .find((l) => (label ? l.startsWith(label) : l.startsWith(' ')))!
        .split(/\s{2,}/)
        .slice(1);
    expect(c('')).toEqual(['ebpf', 'ipvs (emulated, 2,000 svc)']);
    expect(c('ClusterIP at 10,000 svc: conn/s')).toEqual(['9,700 (0.97)', '700 (0.70)']);
    expect(c('pod IP with 10,000 svc programmed')).toEqual(['10,000', '990']);
    expect(t).toContain('  MISSED ClusterIP rate ≥ 0.95 × its own direct at 2,000 services: 0.70 ×');
    expect(t).toContain('; at 2,000 services (its 10,000-service rows are at 2,000); its direct to the pod');
    expect(readmeSection({ ...report, modes: [finished, small] })).toContain(
      "The ipvs column is measured at 2,000 services × 10 endpoints in the project's test VM",
    );
  });

  it('shows a VM run that failed as "did not finish" with the reason', () => {
    const failed = failedMode('ipvs', 'VM run: the VM timed out (--vm-timeout)', 3600);
    const t = renderTable({ ...report, modes: [finished, failed] });
    expect(t).toContain('ipvs did not finish: VM run: the VM timed out (--vm-timeout)');
    expect(
      t
        .split('\n')
        .find((l) => l.startsWith('full sync: the sync'))!
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(['800', '—']);
  });
});

describe('readmeSection', () => {
  it('says which columns were merged from an earlier run, that ipvs is emulated, and the phase times', () => {
    const text = readmeSection({
      ...withVm,
      merged: {
        from: 'bench/report/latest.json',
        startedAt: '2026-11-20T10:00:00.000Z',
        durationSec: 327,
        command: 'npm run bench -- --changes 20',
        modes: ['ebpf', 'iptables'],
      },
    });
    expect(text).toContain(
      'The ebpf and iptables columns are from the run of 2026-11-20 (327 s, `npm run bench -- --changes 20`), merged from `bench/report/latest.json`.',
    );
    expect(text).toContain("The ipvs column is measured in the project's test VM");
    expect(text).toContain('- ipvs (emulated): 10 services 60, full sync 120, VM run (boot to power-off) 500');
    expect(text).toContain('```\n10,000 services × 10 endpoints;');
  });
});

describe('readReport', () => {
  it('reads the figures a mode never reached (null in JSON) back as NaN: "—" and missed, never met', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-bench-report-'));
    try {
      writeFileSync(join(dir, 'r.json'), JSON.stringify({ ...report, modes: [stopped] }));
      const back = readReport(join(dir, 'r.json'));
      expect(back.modes[0]!.fullSync.syncMs).toBeNaN();
      expect(renderTable(back)).toContain('  MISSED full sync ≤ 1 s: — ms');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('chartSvg', () => {
  it("draws an emulated mode dashed, scaled from its own baseline to this machine's", () => {
    const svg = chartSvg(withVm);
    expect(svg).toContain('ipvs (ClusterIP), emulated, scaled to direct here');
    const dashed = svg.split('\n').filter((l) => l.startsWith('<polyline') && l.includes('#2ca02c'));
    expect(dashed).toHaveLength(2);
    expect(dashed.every((l) => l.includes('stroke-dasharray'))).toBe(true);
    // 900 of 1,000 in the VM sits where 9,000 of 10,000 would here: the same height as a native 9,000.
    const native = chartSvg({
      ...report,
      modes: [
        {
          ...finished,
          connections: [{ services: 10, target: 'clusterIP', result: result(9000) }, ...finished.connections.slice(1)],
        },
      ],
    });
    const y = (s: string, color: string) =>
      s
        .split('\n')
        .find((l) => l.startsWith('<polyline') && l.includes(color))!
        .match(/points="[\d.]+,([\d.]+)/)![1];
    expect(Number(y(svg, '#2ca02c'))).toBeCloseTo(Number(y(native, '#1f77b4')), 5);
  });
});

describe('failureLine', () => {
  it("names a guest kernel panic before run.sh's own message or the last line", () => {
    const tail = [
      '[bench] direct: connections to the pod, no proxy (5 s) (+23 s)',
      '\x1b[1;31m[switchyard] vm:\x1b[0m the VM ended without reporting an exit status (exited)',
      '---- guest console (tail) ----',
      '[   34.869704] RIP: 0010:secure_tcp_seq_and_ts_off+0x38/0xf0',
      '[   34.869877] Kernel panic - not syncing: Fatal exception in interrupt',
      '[   34.870722] Kernel Offset: disabled',
    ];
    expect(failureLine(tail)).toBe('guest kernel: Kernel panic - not syncing: Fatal exception in interrupt');
    expect(failureLine(tail.slice(0, 3))).toBe('the VM ended without reporting an exit status (exited)');
    expect(failureLine(['[bench] ipvs: 10 services', 'bench: Error: boom'])).toBe('bench: Error: boom');
  });
});

// North-south: one column per variant (the ebpf mode's XDP and tc, iptables,
// ipvs from the VM), each against routed-direct (its own, for the VM's), the
// targets per variant, XDP against iptables in datagrams per second, and
// failures shown rather than hidden.
const udp = (receivedPerSec: number, sentPerSec = receivedPerSec) => ({
  sent: sentPerSec * 5,
  sentPerSec,
  received: receivedPerSec * 5,
  receivedPerSec,
  errors: 0,
  errorKinds: {},
  durationSec: 5,
  flows: 8,
  size: 64,
});
const nsDirect = { tcp: { otherNode: result(10_000), sameNode: result(12_000) }, udp: udp(100_000) };
const variant = (
  name: string,
  at10: [number, number, number],
  atN: [number, number, number],
  extra: Partial<NorthSouthVariant> = {},
  n = 10_000,
): NorthSouthVariant => ({
  name,
  args: [],
  tcp: [
    { services: 10, backend: 'otherNode', result: result(at10[0]) },
    { services: 10, backend: 'sameNode', result: result(at10[1]) },
    { services: n, backend: 'otherNode', result: result(atN[0]) },
    { services: n, backend: 'sameNode', result: result(atN[1]) },
  ],
  udp: [
    { services: 10, result: udp(at10[2]) },
    { services: n, result: udp(atN[2], atN[2] * 2) },
  ],
  ...extra,
});
const nsReport: BenchReport = {
  ...report,
  northSouthDirect: nsDirect,
  modes: [
    {
      ...finished,
      northSouth: [
        variant('ebpf (XDP)', [9800, 12_000, 90_000], [9600, 11_900, 88_000], {
          args: ['--bpf-lb-acceleration=native'],
          hook: 'xdp',
        }),
        variant('ebpf (tc)', [9700, 11_800, 85_000], [9500, 11_700, 84_000], {
          args: ['--bpf-lb-acceleration=disabled'],
          hook: 'tc',
        }),
      ],
    },
    { ...finished, mode: 'iptables', northSouth: [variant('iptables', [9000, 11_000, 60_000], [4000, 5000, 55_000])] },
    {
      ...emulated,
      northSouthDirect: { tcp: { otherNode: result(1000), sameNode: result(1000) }, udp: udp(10_000) },
      northSouth: [variant('ipvs', [960, 990, 9000], [950, 980, 8000])],
    },
  ],
};

describe('the north-south table', () => {
  const text = renderTable(nsReport);
  const ns = text.slice(text.indexOf('north-south:'));
  const cells = (label: string) =>
    ns
      .split('\n')
      .find((l) => (label ? l.startsWith(label) : l.startsWith('  ') && l.includes('ebpf (XDP)  ')))!
      .split(/\s{2,}/)
      .filter(Boolean)
      .slice(label ? 1 : 0);

  it('has a column per variant, the VM one marked emulated, and says what routed-direct is', () => {
    expect(cells('')).toEqual(['ebpf (XDP)', 'ebpf (tc)', 'iptables', 'ipvs (emulated)']);
    expect(ns).toContain('routed-direct (the same client to the pods');
    expect(ns).toContain('other node 10,000 conn/s (p50 100 µs, p99 200 µs), same node 12,000 conn/s');
    expect(ns).toContain('ipvs: its own routed-direct in the test VM: other node 1,000 conn/s');
    expect(ns).toContain('(a veth may not XDP_TX it), so this is not a physical NIC');
  });

  it("takes each variant's rates against routed-direct, the VM's against its own", () => {
    expect(cells('NodePort → other node, 10 svc: conn/s')).toEqual([
      '9,800 (0.98)',
      '9,700 (0.97)',
      '9,000 (0.90)',
      '960 (0.96)',
    ]);
    expect(cells('NodePort → same node, 10,000 svc: conn/s')).toEqual([
      '11,900 (0.99)',
      '11,700 (0.98)',
      '5,000 (0.42)',
      '980 (0.98)',
    ]);
    expect(cells('UDP NodePort, 10,000 svc: received/s')).toEqual([
      '88,000 (0.88)',
      '84,000 (0.84)',
      '55,000 (0.55)',
      '8,000 (0.80)',
    ]);
    expect(cells('UDP NodePort, 10,000 svc: sent/s (received)')[0]).toBe('176,000 (50%)');
    expect(cells('ebpf (XDP) / iptables: UDP received/s at 10 / 10,000')).toEqual(['1.50 / 1.60']);
  });

  it('judges each variant at 10 and at N, both backends together, and XDP against iptables', () => {
    expect(ns).toContain(
      'targets, north-south, ebpf (XDP):\n' +
        '  met    NodePort rate ≥ 0.95 × routed-direct at 10 services: other node 0.98 ×, same node 1.00 ×\n' +
        '  met    NodePort rate ≥ 0.95 × routed-direct at 10,000 services: other node 0.96 ×, same node 0.99 ×',
    );
    expect(ns).toContain(
      '  MISSED NodePort rate ≥ 0.95 × routed-direct at 10 services: other node 0.90 ×, same node 0.92 ×',
    );
    expect(ns).toContain('  met    NodePort rate ≥ 0.95 × its own routed-direct at 10,000 services: other node 0.95 ×');
    expect(ns).toContain('  met    ebpf (XDP) ahead of iptables in UDP datagrams/s at 10,000 services: 1.60 ×');
  });

  it('lists failed connections and a variant that did not finish', () => {
    const broken = variant('ebpf (XDP)', [0, 12_000, 0], [NaN, NaN, NaN], {
      hook: 'xdp',
      failed: '10,000 services: the daemon exited',
    });
    broken.tcp[0]!.result = { ...result(0), errors: 40, errorKinds: { ETIMEDOUT: 40 } };
    broken.udp[0]!.result = udp(0, 50_000);
    broken.tcp.splice(2);
    broken.udp.splice(1);
    const t = renderTable({ ...nsReport, modes: [{ ...finished, northSouth: [broken] }] });
    expect(t).toContain('ebpf (XDP), NodePort → other node at 10 svc: 40 failed (ETIMEDOUT×40)');
    expect(t).toContain('ebpf (XDP), UDP NodePort at 10 svc: 0 of 250,000 received');
    expect(t).toContain('ebpf (XDP) north-south did not finish: 10,000 services: the daemon exited');
    expect(t).toMatch(/NodePort failed connections, 10 \/ 10,000 svc\s+40 \/ —/);
    expect(t).toContain('  MISSED NodePort rate ≥ 0.95 × routed-direct at 10,000 services: other node — ×');
  });

  it('is left out of a report without north-south', () => {
    expect(renderTable(report)).not.toContain('north-south');
    expect(northSouthChartSvg(report)).toBeUndefined();
    expect(readmeSection(report)).not.toContain('latest-north-south.svg');
  });
});

describe('northSouthChartSvg', () => {
  it('draws three panels with a line per variant, the VM one dashed and scaled to routed-direct here', () => {
    const svg = northSouthChartSvg(nsReport)!;
    expect(svg).toMatch(/^<svg /);
    expect(svg.split('\n').filter((l) => l.startsWith('<polyline'))).toHaveLength(12);
    const ipvs = svg.split('\n').filter((l) => l.startsWith('<polyline') && l.includes('#2ca02c'));
    expect(ipvs.every((l) => l.includes('stroke-dasharray'))).toBe(true);
    expect(svg).toContain('ipvs, emulated, scaled to routed-direct here');
    expect(readmeSection(nsReport)).toContain('(bench/report/latest-north-south.svg)');
  });
});

// Dual-stack: the IPv6 rows, each mode's IPv6 ClusterIP rate against IPv6
// direct and against its own IPv4 rate; a mode the daemon said does not
// program IPv6, or whose IPv6 connections all failed, shows "—" and why,
// never a figure; the VM's mode against its own IPv6 baseline.
const v6 = (services: number, target: 'clusterIP' | 'podIP', connPerSec: number, notServed?: string) => ({
  services,
  target,
  family: 'IPv6' as const,
  ...(notServed ? { notServed } : {}),
  result: result(connPerSec),
});
const EBPF_SAYS = 'IPv6 ClusterIP fd00:10:96::a is not programmed by the ebpf mode yet (it serves IPv4 only)';
const dual: BenchReport = {
  ...report,
  params: { ...report.params, families: ['IPv4', 'IPv6'] },
  directIPv6: result(8000),
  modes: [
    {
      ...finished,
      connections: [
        ...finished.connections,
        v6(10, 'clusterIP', 0, EBPF_SAYS),
        v6(10_000, 'clusterIP', 0, EBPF_SAYS),
        v6(10_000, 'podIP', 7900),
      ],
    },
    {
      ...finished,
      mode: 'iptables',
      connections: [
        { services: 10, target: 'clusterIP', result: result(9000) },
        { services: 10_000, target: 'clusterIP', result: result(4000) },
        { services: 10_000, target: 'podIP', result: result(6000) },
        v6(10, 'clusterIP', 7200),
        v6(10_000, 'clusterIP', 3000),
        v6(10_000, 'podIP', 5000),
      ],
    },
    {
      ...emulated,
      directIPv6: result(800),
      connections: [
        ...emulated.connections,
        v6(10, 'clusterIP', 760),
        { ...v6(10_000, 'clusterIP', 0), result: { ...result(0), errors: 40, errorKinds: { ETIMEDOUT: 40 } } },
        v6(10_000, 'podIP', 790),
      ],
    },
  ],
};

describe('renderTable, dual-stack', () => {
  const text = renderTable(dual);
  const cells = (label: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(label))!
      .split(/\s{2,}/)
      .slice(1);

  it('says the cluster is dual-stack and gives IPv6 direct, the VM mode its own', () => {
    expect(text).toContain('10,000 services × 10 endpoints, dual-stack; 2 CPUs');
    expect(text).toContain("IPv6 direct (to the pod's IPv6 address, no proxy): 8,000 conn/s, p50 100 µs, p99 200 µs");
    expect(text).toContain(
      'its direct to the pod, no proxy: 1,000 conn/s, p50 100 µs, p99 200 µs; over IPv6: 800 conn/s',
    );
  });

  it('takes the IPv6 rates against IPv6 direct and against the IPv4 ones, "—" where there is no figure', () => {
    expect(cells('IPv6 ClusterIP at 10 svc: conn/s (× IPv6 direct)')).toEqual(['—', '7,200 (0.90)', '760 (0.95)']);
    expect(cells('IPv6 ClusterIP at 10,000 svc: conn/s (× IPv6 direct)')).toEqual(['—', '3,000 (0.38)', '—']);
    expect(cells('IPv6 ClusterIP at 10 svc: p50 / p99 (µs)')).toEqual(['—', '100 / 200', '100 / 200']);
    expect(cells('pod IPv6 with 10,000 svc programmed: conn/s')).toEqual(['7,900', '5,000', '790']);
    expect(cells('IPv6 / IPv4 ClusterIP conn/s at 10 / 10,000')).toEqual(['— / —', '0.80 / 0.75', '0.84 / —']);
    // The IPv4 rows are as they were.
    expect(cells('ClusterIP at 10 svc: conn/s (× direct)')).toEqual(['9,800 (0.98)', '9,000 (0.90)', '900 (0.90)']);
  });

  it('says why each "—" is one: the daemon\'s word, or what connrate saw', () => {
    expect(text).toContain(
      `ebpf: IPv6 ClusterIP at 10 and 10,000 svc is —, not programmed: the daemon says "${EBPF_SAYS}"`,
    );
    expect(text).toContain('ipvs: IPv6 ClusterIP at 10,000 svc is —, no connection completed (ETIMEDOUT×40)');
    expect(text).not.toContain('iptables: IPv6 ClusterIP');
  });

  it('judges the IPv6 ClusterIP rate as the IPv4 one, an unserved one missed', () => {
    expect(text).toContain('  MISSED IPv6 ClusterIP rate ≥ 0.95 × IPv6 direct at 10 services: not served');
    expect(text).toContain('  MISSED IPv6 ClusterIP rate ≥ 0.95 × IPv6 direct at 10 services: 0.90 ×');
    expect(text).toContain('  met    IPv6 ClusterIP rate ≥ 0.95 × its own IPv6 direct at 10 services: 0.95 ×');
    expect(text).toContain('  MISSED IPv6 ClusterIP rate ≥ 0.95 × its own IPv6 direct at 10,000 services: — ×');
  });

  it('never shows a figure the daemon said it did not program, whatever connrate got', () => {
    const odd: BenchReport = {
      ...dual,
      modes: [{ ...finished, connections: [...finished.connections, v6(10, 'clusterIP', 5000, EBPF_SAYS)] }],
    };
    expect(
      renderTable(odd)
        .split('\n')
        .find((l) => l.startsWith('IPv6 ClusterIP at 10 svc: conn/s'))!
        .split(/\s{2,}/)
        .slice(1),
    ).toEqual(['—']);
  });

  it('has no IPv6 rows in a single-stack report, and the README section says the cluster is dual-stack', () => {
    expect(renderTable(report)).not.toContain('IPv6');
    expect(readmeSection(report)).not.toContain('dual-stack');
    expect(readmeSection(dual)).toContain('The cluster is dual-stack: every service is RequireDualStack');
    expect(readmeSection(dual)).toContain('IPv6 ClusterIP at 10,000 svc: conn/s (× IPv6 direct)');
  });
});
