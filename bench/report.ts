// The load test's report, three ways: a text table with the ratios the
// targets are stated in, SVG charts (ClusterIP rate and p99 latency against
// the number of services; north-south NodePort rates and UDP datagrams per
// second), and the README's figures section.
//
// A mode measured elsewhere (the ipvs column, in the test VM under qemu
// emulation: `emulated`) brings its own direct-to-pod baseline (`direct`),
// and its "× direct" ratios are against that, never this machine's; it may
// also have run at another size (`services`), which its column header says.
//
// A dual-stack run (params.families with IPv6) adds the IPv6 rows: the
// ClusterIP rate over IPv6 against IPv6 direct (the pod's own IPv6 address),
// and against the same mode's IPv4 rate. An IPv6 figure the daemon said it
// did not program, or that no connection completed, is "—", and a line under
// the table says why.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IPFamily } from '../control/sources/types.js';
import type { ConnrateResult } from './connrate.js';
import type {
  BenchReport,
  Connections,
  ModeReport,
  NorthSouthBackend,
  NorthSouthDirect,
  NorthSouthVariant,
} from './types.js';

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);

function entry(
  m: ModeReport,
  services: number,
  target: 'clusterIP' | 'podIP',
  family: IPFamily = 'IPv4',
): Connections | undefined {
  return m.connections.find((c) => c.services === services && c.target === target && (c.family ?? 'IPv4') === family);
}

function conn(
  m: ModeReport,
  services: number,
  target: 'clusterIP' | 'podIP',
  family: IPFamily = 'IPv4',
): ConnrateResult | undefined {
  return entry(m, services, target, family)?.result;
}

/** Whether the run was dual-stack and measured IPv6: the IPv6 rows are shown. */
const hasIPv6 = (r: BenchReport) => r.params.families?.includes('IPv6') ?? false;
/**
 * The mode's IPv6 ClusterIP figure at `services`, or undefined when there is
 * none to show: not measured, not programmed by the daemon's own word, or no
 * connection completed.
 */
function ipv6ClusterIP(m: ModeReport, services: number): ConnrateResult | undefined {
  const c = entry(m, services, 'clusterIP', 'IPv6');
  return c && !c.notServed && c.result.connections > 0 ? c.result : undefined;
}

/** The mode's full size: the run's, unless the mode ran at its own. */
const sizeOf = (r: BenchReport, m: ModeReport) => m.services ?? r.params.services;
/** The direct-to-pod baseline the mode's ratios are against: its own (measured where it ran) or the run's. */
const directOf = (r: BenchReport, m: ModeReport) => m.direct ?? r.direct;
/** The ClusterIP rate at `services` (10, or the mode's full size) as a fraction of the mode's baseline. */
const timesDirect = (r: BenchReport, m: ModeReport, services: number) =>
  ratio(conn(m, services, 'clusterIP')?.connPerSec ?? NaN, directOf(r, m).connPerSec);
/** The IPv6 baseline: the mode's own when it brought its own `direct` (measured where it ran), else the run's. */
const directIPv6Of = (r: BenchReport, m: ModeReport) => (m.direct ? m.directIPv6 : r.directIPv6);
/** The IPv6 ClusterIP rate at `services` as a fraction of the mode's IPv6 baseline. */
const timesDirectIPv6 = (r: BenchReport, m: ModeReport, services: number) =>
  ratio(ipv6ClusterIP(m, services)?.connPerSec ?? NaN, directIPv6Of(r, m)?.connPerSec ?? NaN);
/** The IPv6 ClusterIP rate at `services` as a fraction of the same mode's IPv4 one. */
const ipv6OverIPv4 = (m: ModeReport, services: number) =>
  ratio(ipv6ClusterIP(m, services)?.connPerSec ?? NaN, conn(m, services, 'clusterIP')?.connPerSec ?? NaN);
const describeConn = (c: ConnrateResult) =>
  `${fmt(c.connPerSec)} conn/s, p50 ${fmt(c.latencyUs.p50)} µs, p99 ${fmt(c.latencyUs.p99)} µs`;

/** A column's header: the mode, "emulated" when it ran under qemu, and its size when it is not the run's. */
export function columnHeader(r: BenchReport, m: ModeReport): string {
  const notes = [
    ...(m.emulated ? ['emulated'] : []),
    ...(sizeOf(r, m) !== r.params.services ? [`${fmt(sizeOf(r, m))} svc`] : []),
  ];
  return notes.length ? `${m.mode} (${notes.join(', ')})` : m.mode;
}

/** JSON writes NaN (an unmeasured figure) as null: read back, it is NaN again, so it still renders "—" and misses its target. */
export function readReport(path: string): BenchReport {
  return JSON.parse(readFileSync(path, 'utf8'), (_k, v: unknown) => (v === null ? NaN : v)) as BenchReport;
}

/** Each target of the design, met or missed by how much. */
function verdicts(r: BenchReport, m: ModeReport): string[] {
  const out: string[] = [];
  const check = (ok: boolean, text: string) => out.push(`${ok ? 'met   ' : 'MISSED'} ${text}`);
  check(m.fullSync.syncMs <= 1000, `full sync ≤ 1 s: ${fmt(m.fullSync.syncMs)} ms`);
  const p99 = Math.max(m.incremental.addEndpoint.p99Ms, m.incremental.removeEndpoint.p99Ms);
  check(p99 <= 10, `endpoint change p99 ≤ 10 ms: ${fmt(p99)} ms`);
  for (const s of [10, sizeOf(r, m)]) {
    const x = timesDirect(r, m, s);
    check(
      x >= 0.95,
      `ClusterIP rate ≥ 0.95 × ${m.direct ? 'its own ' : ''}direct at ${fmt(s)} services: ${fmt(x, 2)} ×`,
    );
  }
  check(m.steady.rssMB <= 250, `control-plane RSS ≤ 250 MB: ${fmt(m.steady.rssMB)} MB`);
  // The ClusterIP target holds in each family of a dual-stack cluster: an unserved IPv6 ClusterIP misses it.
  if (hasIPv6(r)) {
    for (const s of [10, sizeOf(r, m)]) {
      const x = timesDirectIPv6(r, m, s);
      const notServed = entry(m, s, 'clusterIP', 'IPv6')?.notServed;
      check(
        x >= 0.95,
        `IPv6 ClusterIP rate ≥ 0.95 × ${m.direct ? 'its own ' : ''}IPv6 direct at ${fmt(s)} services: ${notServed ? 'not served' : `${fmt(x, 2)} ×`}`,
      );
    }
  }
  return out;
}

/**
 * Why a mode's IPv6 ClusterIP rows are "—": the daemon's reason, or what
 * connrate saw when no connection completed; one line per reason, with the
 * sizes it applies to.
 */
function ipv6Gaps(r: BenchReport, m: ModeReport): string[] {
  const why = new Map<string, number[]>();
  for (const s of [10, sizeOf(r, m)]) {
    const c = entry(m, s, 'clusterIP', 'IPv6');
    if (!c || ipv6ClusterIP(m, s)) continue;
    const k = Object.entries(c.result.errorKinds)
      .map(([name, n]) => `${name}×${fmt(n)}`)
      .join(', ');
    const reason = c.notServed
      ? `not programmed: the daemon says "${c.notServed}"`
      : `no connection completed${k ? ` (${k})` : ''}`;
    why.set(reason, [...(why.get(reason) ?? []), s]);
  }
  return [...why].map(
    ([reason, sizes]) => `${m.mode}: IPv6 ClusterIP at ${sizes.map((s) => fmt(s)).join(' and ')} svc is —, ${reason}`,
  );
}

/** Where a mode measured elsewhere ran, its size when not the run's, and its baseline. */
function elsewhere(r: BenchReport, m: ModeReport): string {
  const where = m.machine
    ? `${m.machine.cpus} vCPUs, kernel ${m.machine.kernel}, ${m.machine.memoryGiB} GiB`
    : 'no figures';
  const d = m.direct;
  const size =
    sizeOf(r, m) !== r.params.services
      ? `; at ${fmt(sizeOf(r, m))} services (its ${fmt(r.params.services)}-service rows are at ${fmt(sizeOf(r, m))})`
      : '';
  const d6 = m.directIPv6;
  const baseline = `${size}${d ? `; its direct to the pod, no proxy: ${describeConn(d)}` : ''}${d && d6 ? `; over IPv6: ${describeConn(d6)}` : ''}`;
  return m.emulated
    ? `${m.mode}: measured in the test VM under qemu emulation (TCG, 10-20× slower: times and rates compare only with its own baseline), ${where}${baseline}`
    : `${m.mode}: measured in a run of its own${m.machine ? `, ${where}` : ''}${baseline}`;
}

export function renderTable(r: BenchReport): string {
  const n = r.params.services;
  const modes = r.modes;
  // The N-service rows are at each mode's own full size (its header says when that is not N).
  const rows: Array<[string, ...string[]]> = [
    ['', ...modes.map((m) => columnHeader(r, m))],
    ['full sync: the sync (ms)', ...modes.map((m) => fmt(m.fullSync.syncMs))],
    ['full sync: process start → programmed (ms)', ...modes.map((m) => fmt(m.fullSync.startToProgrammedMs))],
    ['full sync: process start → /readyz (ms)', ...modes.map((m) => fmt(m.fullSync.startToReadyMs))],
    ...(['addEndpoint', 'removeEndpoint', 'addService', 'removeService'] as const).map(
      (k) =>
        [
          `${k}: p50 / p99 (ms)`,
          ...modes.map((m) => `${fmt(m.incremental[k].p50Ms)} / ${fmt(m.incremental[k].p99Ms)}`),
        ] as [string, ...string[]],
    ),
    ['RSS (MB) / CPU at rest (%)', ...modes.map((m) => `${fmt(m.steady.rssMB)} / ${fmt(m.steady.cpuPercent, 1)}`)],
    ...(modes.some((m) => m.steady.fds !== undefined)
      ? [['open file descriptors at rest', ...modes.map((m) => fmt(m.steady.fds ?? NaN))] as [string, ...string[]]]
      : []),
    ...[10, n].flatMap((s) => {
      const at = (m: ModeReport) => (s === 10 ? 10 : sizeOf(r, m));
      return [
        [
          `ClusterIP at ${fmt(s)} svc: conn/s (× direct)`,
          ...modes.map((m) => {
            const c = conn(m, at(m), 'clusterIP');
            return `${fmt(c?.connPerSec ?? NaN)} (${fmt(timesDirect(r, m, at(m)), 2)})`;
          }),
        ] as [string, ...string[]],
        [
          `ClusterIP at ${fmt(s)} svc: p50 / p99 (µs)`,
          ...modes.map((m) => {
            const c = conn(m, at(m), 'clusterIP');
            return `${fmt(c?.latencyUs.p50 ?? NaN)} / ${fmt(c?.latencyUs.p99 ?? NaN)}`;
          }),
        ] as [string, ...string[]],
      ];
    }),
    [
      `pod IP with ${fmt(n)} svc programmed: conn/s`,
      ...modes.map((m) => fmt(conn(m, sizeOf(r, m), 'podIP')?.connPerSec ?? NaN)),
    ],
    ...(hasIPv6(r) ? ipv6Rows(r) : []),
  ];
  // Ratios between modes only where they compare: the first two measured on this machine at the same size.
  const native = modes.filter((m) => !m.emulated && sizeOf(r, m) === n);
  if (native.length >= 2) {
    const [a, b] = native as [ModeReport, ModeReport];
    const blank = modes.slice(1).map(() => '');
    rows.push([`${a.mode} / ${b.mode}: sync time`, fmt(ratio(a.fullSync.syncMs, b.fullSync.syncMs), 3), ...blank]);
    rows.push([
      `${a.mode} / ${b.mode}: ClusterIP conn/s at ${fmt(n)}`,
      fmt(ratio(conn(a, n, 'clusterIP')?.connPerSec ?? NaN, conn(b, n, 'clusterIP')?.connPerSec ?? NaN), 2),
      ...blank,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const others = modes.filter((m) => m.emulated || m.machine || m.direct);
  const out = [
    `${fmt(n)} services × ${r.params.endpoints} endpoints${hasIPv6(r) ? ', dual-stack' : ''}; ${r.machine.cpus} CPUs, kernel ${r.machine.kernel}; direct to the pod, no proxy: ${describeConn(r.direct)}`,
    ...(hasIPv6(r)
      ? [
          `IPv6 direct (to the pod's IPv6 address, no proxy): ${r.directIPv6 ? describeConn(r.directIPv6) : 'not measured'}`,
        ]
      : []),
    ...others.map((m) => elsewhere(r, m)),
    '',
    ...rows.map(line),
    '',
    ...modes.flatMap((m) => [
      `targets, ${m.mode}${m.emulated ? ' (emulated: times under qemu, rates against its own direct)' : ''}:`,
      ...verdicts(r, m).map((v) => `  ${v}`),
    ]),
    ...modes.filter((m) => m.failed).map((m) => `${m.mode} did not finish: ${m.failed}`),
    ...(hasIPv6(r) ? modes.flatMap((m) => ipv6Gaps(r, m)) : []),
    '',
    ...northSouthLines(r),
  ];
  return out.join('\n');
}

/**
 * The IPv6 rows: the ClusterIP rate over IPv6 at 10 and at N (each mode's
 * own full size) against IPv6 direct, the pod's IPv6 address with N
 * programmed, and IPv6 against the same mode's IPv4 rate.
 */
function ipv6Rows(r: BenchReport): Array<[string, ...string[]]> {
  const n = r.params.services;
  const modes = r.modes;
  const at = (m: ModeReport, s: number) => (s === 10 ? 10 : sizeOf(r, m));
  return [
    ...[10, n].flatMap((s) => [
      [
        `IPv6 ClusterIP at ${fmt(s)} svc: conn/s (× IPv6 direct)`,
        ...modes.map((m) => {
          const c = ipv6ClusterIP(m, at(m, s));
          return c ? `${fmt(c.connPerSec)} (${fmt(timesDirectIPv6(r, m, at(m, s)), 2)})` : '—';
        }),
      ] as [string, ...string[]],
      [
        `IPv6 ClusterIP at ${fmt(s)} svc: p50 / p99 (µs)`,
        ...modes.map((m) => {
          const c = ipv6ClusterIP(m, at(m, s));
          return c ? `${fmt(c.latencyUs.p50)} / ${fmt(c.latencyUs.p99)}` : '—';
        }),
      ] as [string, ...string[]],
    ]),
    [
      `pod IPv6 with ${fmt(n)} svc programmed: conn/s`,
      ...modes.map((m) => fmt(conn(m, sizeOf(r, m), 'podIP', 'IPv6')?.connPerSec ?? NaN)),
    ],
    [
      `IPv6 / IPv4 ClusterIP conn/s at 10 / ${fmt(n)}`,
      ...modes.map((m) => `${fmt(ipv6OverIPv4(m, 10), 2)} / ${fmt(ipv6OverIPv4(m, sizeOf(r, m)), 2)}`),
    ],
  ];
}

// ---------------------------------------------------------------------------
// North-south: NodePorts from the outside client, against routed-direct.

interface NsColumn {
  m: ModeReport;
  v: NorthSouthVariant;
}

/** Every north-south variant of the report, mode by mode. */
function nsColumns(r: BenchReport): NsColumn[] {
  return r.modes.flatMap((m) => (m.northSouth ?? []).map((v) => ({ m, v })));
}

/** The routed-direct baseline a variant's ratios are against: its mode's own (measured where it ran) or the run's. */
const nsDirectOf = (r: BenchReport, m: ModeReport): NorthSouthDirect | undefined =>
  m.northSouthDirect ?? r.northSouthDirect;
const nsTcp = (c: NsColumn, services: number, backend: NorthSouthBackend) =>
  c.v.tcp.find((t) => t.services === services && t.backend === backend)?.result;
const nsUdp = (c: NsColumn, services: number) => c.v.udp.find((u) => u.services === services)?.result;
/** The variant's size at "N": its mode's. */
const nsAt = (r: BenchReport, c: NsColumn, s: number) => (s === 10 ? 10 : sizeOf(r, c.m));
const nsTcpTimes = (r: BenchReport, c: NsColumn, s: number, b: NorthSouthBackend) =>
  ratio(nsTcp(c, nsAt(r, c, s), b)?.connPerSec ?? NaN, nsDirectOf(r, c.m)?.tcp[b].connPerSec ?? NaN);
const nsUdpTimes = (r: BenchReport, c: NsColumn, s: number) =>
  ratio(nsUdp(c, nsAt(r, c, s))?.receivedPerSec ?? NaN, nsDirectOf(r, c.m)?.udp.receivedPerSec ?? NaN);
const BACKENDS: Array<[NorthSouthBackend, string]> = [
  ['otherNode', 'other node'],
  ['sameNode', 'same node'],
];

function nsHeader(r: BenchReport, c: NsColumn): string {
  const notes = [
    ...(c.m.emulated ? ['emulated'] : []),
    ...(sizeOf(r, c.m) !== r.params.services ? [`${fmt(sizeOf(r, c.m))} svc`] : []),
  ];
  return notes.length ? `${c.v.name} (${notes.join(', ')})` : c.v.name;
}

function describeDirect(d: NorthSouthDirect): string {
  const t = (c: ConnrateResult) =>
    `${fmt(c.connPerSec)} conn/s (p50 ${fmt(c.latencyUs.p50)} µs, p99 ${fmt(c.latencyUs.p99)} µs)`;
  return `other node ${t(d.tcp.otherNode)}, same node ${t(d.tcp.sameNode)}; UDP ${fmt(d.udp.receivedPerSec)} datagrams/s received of ${fmt(d.udp.sentPerSec)} sent`;
}

/** Each north-south target, per variant: the NodePort rate against routed-direct, and XDP against iptables in datagrams per second. */
function nsVerdicts(r: BenchReport, cols: NsColumn[]): string[] {
  const out: string[] = [];
  const check = (ok: boolean, text: string) => out.push(`  ${ok ? 'met   ' : 'MISSED'} ${text}`);
  for (const c of cols) {
    out.push(`targets, north-south, ${nsHeader(r, c)}:`);
    for (const s of [10, r.params.services]) {
      const xs = BACKENDS.map(([b]) => nsTcpTimes(r, c, s, b));
      check(
        xs.every((x) => x >= 0.95),
        `NodePort rate ≥ 0.95 × ${c.m.northSouthDirect ? 'its own ' : ''}routed-direct at ${fmt(nsAt(r, c, s))} services: ${BACKENDS.map(([, label], i) => `${label} ${fmt(xs[i]!, 2)} ×`).join(', ')}`,
      );
    }
  }
  // XDP against iptables: only measured side by side, in this run's own place.
  const xdp = cols.find((c) => c.v.hook === 'xdp' && !c.m.emulated);
  const ipt = cols.find((c) => c.m.mode === 'iptables' && !c.m.emulated);
  if (xdp && ipt) {
    out.push('targets, north-south:');
    for (const s of [10, r.params.services]) {
      const x = ratio(nsUdp(xdp, s)?.receivedPerSec ?? NaN, nsUdp(ipt, s)?.receivedPerSec ?? NaN);
      check(x > 1, `${xdp.v.name} ahead of iptables in UDP datagrams/s at ${fmt(s)} services: ${fmt(x, 2)} ×`);
    }
  }
  return out;
}

/** The north-south part of the table: what was measured how, one column per variant, the targets, and what went wrong. */
export function northSouthLines(r: BenchReport): string[] {
  const cols = nsColumns(r);
  if (!cols.length) return [];
  const n = r.params.services;
  const head = [
    "north-south: an outside client (on the nodes' L2) to NodePorts at n1's address, externalTrafficPolicy Cluster (source-NATed to n1);",
    '  its backend a pod on the other node (the SNAT path: n1 → n2 and back) or on n1; UDP datagrams to a counter on the other node.',
    `  routed-direct (the same client to the pods' own addresses through n1, no proxy): ${r.northSouthDirect ? describeDirect(r.northSouthDirect) : 'not measured'}`,
    ...cols
      .filter((c) => c.m.northSouthDirect)
      .map(
        (c) =>
          `  ${c.v.name}: its own routed-direct${c.m.emulated ? ' in the test VM' : ''}: ${describeDirect(c.m.northSouthDirect!)}`,
      ),
    ...cols
      .filter((c) => c.v.hook === 'xdp')
      .map(
        (c) =>
          `  ${c.v.name}: XDP on n1's veth uplink (${c.v.args.join(' ')}): it translates, and tc behind it sends what it routes (a veth may not XDP_TX it), so this is not a physical NIC's figure`,
      ),
  ];
  const rows: Array<[string, ...string[]]> = [['', ...cols.map((c) => nsHeader(r, c))]];
  for (const [b, label] of BACKENDS) {
    for (const s of [10, n]) {
      rows.push([
        `NodePort → ${label}, ${fmt(s)} svc: conn/s (× routed-direct)`,
        ...cols.map((c) => `${fmt(nsTcp(c, nsAt(r, c, s), b)?.connPerSec ?? NaN)} (${fmt(nsTcpTimes(r, c, s, b), 2)})`),
      ]);
      rows.push([
        `NodePort → ${label}, ${fmt(s)} svc: p50 / p99 (µs)`,
        ...cols.map((c) => {
          const t = nsTcp(c, nsAt(r, c, s), b);
          return `${fmt(t?.latencyUs.p50 ?? NaN)} / ${fmt(t?.latencyUs.p99 ?? NaN)}`;
        }),
      ]);
    }
  }
  for (const s of [10, n]) {
    rows.push([
      `UDP NodePort, ${fmt(s)} svc: received/s (× routed-direct)`,
      ...cols.map((c) => `${fmt(nsUdp(c, nsAt(r, c, s))?.receivedPerSec ?? NaN)} (${fmt(nsUdpTimes(r, c, s), 2)})`),
    ]);
    rows.push([
      `UDP NodePort, ${fmt(s)} svc: sent/s (received)`,
      ...cols.map((c) => {
        const u = nsUdp(c, nsAt(r, c, s));
        return `${fmt(u?.sentPerSec ?? NaN)} (${fmt(u ? (100 * u.received) / u.sent : NaN)}%)`;
      }),
    ]);
  }
  rows.push([
    `NodePort failed connections, 10 / ${fmt(n)} svc`,
    ...cols.map((c) =>
      [10, n]
        .map((s) => {
          const rs = BACKENDS.map(([b]) => nsTcp(c, nsAt(r, c, s), b));
          return rs.every((x) => x) ? fmt(rs.reduce((a, x) => a + x!.errors, 0)) : '—';
        })
        .join(' / '),
    ),
  ]);
  const xdp = cols.find((c) => c.v.hook === 'xdp' && !c.m.emulated);
  const ipt = cols.find((c) => c.m.mode === 'iptables' && !c.m.emulated);
  if (xdp && ipt) {
    const x = (s: number) => fmt(ratio(nsUdp(xdp, s)?.receivedPerSec ?? NaN, nsUdp(ipt, s)?.receivedPerSec ?? NaN), 2);
    rows.push([
      `${xdp.v.name} / iptables: UDP received/s at 10 / ${fmt(n)}`,
      `${x(10)} / ${x(n)}`,
      ...cols.slice(1).map(() => ''),
    ]);
  }
  // What failed, by kind: a mode that does not carry north-south traffic shows here.
  const errors = cols.flatMap((c) => [
    ...c.v.tcp
      .filter((t) => t.result.errors > 0)
      .map(
        (t) =>
          `${c.v.name}, NodePort → ${BACKENDS.find(([b]) => b === t.backend)![1]} at ${fmt(t.services)} svc: ${fmt(t.result.errors)} failed (${kinds(t.result.errorKinds)})`,
      ),
    ...c.v.udp
      .filter((u) => u.result.errors > 0 || u.result.received === 0)
      .map(
        (u) =>
          `${c.v.name}, UDP NodePort at ${fmt(u.services)} svc: ${fmt(u.result.received)} of ${fmt(u.result.sent)} received${u.result.errors ? `, ${fmt(u.result.errors)} failed sends (${kinds(u.result.errorKinds)})` : ''}`,
      ),
  ]);
  return [
    ...head,
    '',
    ...table(rows),
    '',
    ...nsVerdicts(r, cols),
    ...errors,
    ...cols.filter((c) => c.v.failed).map((c) => `${c.v.name} north-south did not finish: ${c.v.failed}`),
    '',
  ];
}

const kinds = (k: Record<string, number>) =>
  Object.entries(k)
    .map(([name, n]) => `${name}×${fmt(n)}`)
    .join(', ');

/** Rows as aligned text: the first column left, the others right. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) =>
    row
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Connection rate and p99 latency against services, one line per mode, the
 * direct rate as a dashed line. A mode with its own baseline (emulated) is
 * drawn dashed and scaled by this machine's direct over its own, so its line
 * sits where the same fraction of direct would here; a point at another
 * size than the axis's is labelled with its size.
 */
export function chartSvg(r: BenchReport): string {
  const W = 720;
  const H = 300;
  const pad = { l: 70, r: 20, t: 40, b: 50 };
  const colors: Record<string, string> = { ebpf: '#1f77b4', iptables: '#d62728', ipvs: '#2ca02c' };
  const xs = [10, r.params.services];
  const panel = (
    x0: number,
    title: string,
    value: (c: ConnrateResult) => number,
    directValue: number,
    unit: string,
  ) => {
    const pw = W / 2 - pad.l - pad.r;
    const ph = H - pad.t - pad.b;
    // The mode's value at x index i, scaled to this machine's baseline when it has its own.
    const at = (m: ModeReport, i: number) => {
      const s = i === 0 ? 10 : sizeOf(r, m);
      const scale = m.direct ? ratio(directValue, value(m.direct)) : 1;
      return value(conn(m, s, 'clusterIP') ?? directOf(r, m)) * scale;
    };
    const values = r.modes.flatMap((m) => xs.map((_, i) => at(m, i))).concat(directValue);
    const max = Math.max(...values.filter(Number.isFinite)) * 1.15 || 1;
    const X = (i: number) => x0 + pad.l + (i === 0 ? pw * 0.1 : pw * 0.9);
    const Y = (v: number) => pad.t + ph - (v / max) * ph;
    const parts = [
      `<text x="${x0 + pad.l + pw / 2}" y="22" text-anchor="middle" font-weight="bold">${title}</text>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t + ph}" x2="${x0 + pad.l + pw}" y2="${pad.t + ph}" stroke="#333"/>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t}" x2="${x0 + pad.l}" y2="${pad.t + ph}" stroke="#333"/>`,
      ...[0, 0.5, 1].map(
        (f) => `<text x="${x0 + pad.l - 6}" y="${Y(max * f) + 4}" text-anchor="end">${fmt(max * f)}</text>`,
      ),
      `<text x="${x0 + 14}" y="${pad.t + ph / 2}" transform="rotate(-90 ${x0 + 14} ${pad.t + ph / 2})" text-anchor="middle">${unit}</text>`,
      ...xs.map((s, i) => `<text x="${X(i)}" y="${pad.t + ph + 18}" text-anchor="middle">${fmt(s)} services</text>`),
      `<line x1="${x0 + pad.l}" y1="${Y(directValue)}" x2="${x0 + pad.l + pw}" y2="${Y(directValue)}" stroke="#555" stroke-dasharray="5,4"/>`,
      `<text x="${x0 + pad.l + pw}" y="${Y(directValue) - 5}" text-anchor="end" fill="#555">pod IP, no proxy</text>`,
    ];
    for (const m of r.modes) {
      const pts = xs.map((_, i) => [X(i), Y(at(m, i))] as const).filter(([, y]) => Number.isFinite(y));
      const dash = m.direct ? ' stroke-dasharray="8,4"' : '';
      parts.push(
        `<polyline fill="none" stroke="${colors[m.mode]}" stroke-width="2"${dash} points="${pts.map((p) => p.join(',')).join(' ')}"/>`,
      );
      for (const [x, y] of pts) parts.push(`<circle cx="${x}" cy="${y}" r="4" fill="${colors[m.mode]}"/>`);
      const last = pts.at(-1);
      if (last && pts.length === 2 && sizeOf(r, m) !== r.params.services)
        parts.push(
          `<text x="${last[0] - 8}" y="${last[1] - 8}" text-anchor="end" fill="${colors[m.mode]}">at ${fmt(sizeOf(r, m))}</text>`,
        );
    }
    return parts.join('\n');
  };
  let lx = pad.l;
  const legend = r.modes
    .map((m) => {
      const label = `${m.mode} (ClusterIP)${m.emulated ? ', emulated, scaled to direct here' : m.direct ? ', scaled to direct here' : ''}`;
      const item = `<rect x="${lx}" y="${H - 18}" width="12" height="12" fill="${colors[m.mode]}"/><text x="${lx + 18}" y="${H - 8}">${label}</text>`;
      lx += Math.max(140, 30 + label.length * 6.5);
      return item;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    panel(0, 'new connections per second', (c) => c.connPerSec, r.direct.connPerSec, 'conn/s'),
    panel(W / 2, 'connection latency, p99', (c) => c.latencyUs.p99, r.direct.latencyUs.p99, 'µs'),
    legend,
    '</svg>',
    '',
  ].join('\n');
}

export function writeChart(r: BenchReport, path: string): void {
  writeFileSync(path, chartSvg(r));
}

const NS_COLORS: Record<string, string> = {
  'ebpf (XDP)': '#1f77b4',
  'ebpf (tc)': '#9467bd',
  iptables: '#d62728',
  ipvs: '#2ca02c',
};

/**
 * North-south against services: NodePort connections per second with the
 * backend on the other node and on the same node, and UDP datagrams per
 * second received, one line per variant, routed-direct dashed. A variant
 * with its own baseline (emulated) is drawn dashed and scaled by this
 * machine's routed-direct over its own, as in chartSvg. Undefined without
 * north-south figures.
 */
export function northSouthChartSvg(r: BenchReport): string | undefined {
  const cols = nsColumns(r);
  const here = r.northSouthDirect;
  if (!cols.length || !here) return undefined;
  const W = 1080;
  const H = 300;
  const pw0 = W / 3;
  const pad = { l: 70, r: 20, t: 40, b: 50 };
  const xs = [10, r.params.services];
  const panel = (
    x0: number,
    title: string,
    value: (c: NsColumn, s: number) => number,
    direct: (d: NorthSouthDirect) => number,
    unit: string,
  ) => {
    const pw = pw0 - pad.l - pad.r;
    const ph = H - pad.t - pad.b;
    const at = (c: NsColumn, i: number) => {
      const own = c.m.northSouthDirect;
      const scale = own ? ratio(direct(here), direct(own)) : 1;
      return value(c, nsAt(r, c, xs[i]!)) * scale;
    };
    const values = cols.flatMap((c) => xs.map((_, i) => at(c, i))).concat(direct(here));
    const max = Math.max(...values.filter(Number.isFinite)) * 1.15 || 1;
    const X = (i: number) => x0 + pad.l + (i === 0 ? pw * 0.1 : pw * 0.9);
    const Y = (v: number) => pad.t + ph - (v / max) * ph;
    const parts = [
      `<text x="${x0 + pad.l + pw / 2}" y="22" text-anchor="middle" font-weight="bold">${title}</text>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t + ph}" x2="${x0 + pad.l + pw}" y2="${pad.t + ph}" stroke="#333"/>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t}" x2="${x0 + pad.l}" y2="${pad.t + ph}" stroke="#333"/>`,
      ...[0, 0.5, 1].map(
        (f) => `<text x="${x0 + pad.l - 6}" y="${Y(max * f) + 4}" text-anchor="end">${fmt(max * f)}</text>`,
      ),
      `<text x="${x0 + 14}" y="${pad.t + ph / 2}" transform="rotate(-90 ${x0 + 14} ${pad.t + ph / 2})" text-anchor="middle">${unit}</text>`,
      ...xs.map((s, i) => `<text x="${X(i)}" y="${pad.t + ph + 18}" text-anchor="middle">${fmt(s)} services</text>`),
      `<line x1="${x0 + pad.l}" y1="${Y(direct(here))}" x2="${x0 + pad.l + pw}" y2="${Y(direct(here))}" stroke="#555" stroke-dasharray="5,4"/>`,
      `<text x="${x0 + pad.l + pw}" y="${Y(direct(here)) - 5}" text-anchor="end" fill="#555">routed-direct, no proxy</text>`,
    ];
    for (const c of cols) {
      const color = NS_COLORS[c.v.name] ?? '#7f7f7f';
      const pts = xs.map((_, i) => [X(i), Y(at(c, i))] as const).filter(([, y]) => Number.isFinite(y));
      const dash = c.m.northSouthDirect ? ' stroke-dasharray="8,4"' : '';
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map((p) => p.join(',')).join(' ')}"/>`,
      );
      for (const [x, y] of pts) parts.push(`<circle cx="${x}" cy="${y}" r="4" fill="${color}"/>`);
      const last = pts.at(-1);
      if (last && pts.length === 2 && sizeOf(r, c.m) !== r.params.services)
        parts.push(
          `<text x="${last[0] - 8}" y="${last[1] - 8}" text-anchor="end" fill="${color}">at ${fmt(sizeOf(r, c.m))}</text>`,
        );
    }
    return parts.join('\n');
  };
  let lx = pad.l;
  const legend = cols
    .map((c) => {
      const color = NS_COLORS[c.v.name] ?? '#7f7f7f';
      const label = `${c.v.name}${c.m.emulated ? ', emulated, scaled to routed-direct here' : c.m.northSouthDirect ? ', scaled to routed-direct here' : ''}`;
      const item = `<rect x="${lx}" y="${H - 18}" width="12" height="12" fill="${color}"/><text x="${lx + 18}" y="${H - 8}">${label}</text>`;
      lx += Math.max(120, 30 + label.length * 6.5);
      return item;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    panel(
      0,
      'NodePort → pod on the other node (SNAT)',
      (c, s) => nsTcp(c, s, 'otherNode')?.connPerSec ?? NaN,
      (d) => d.tcp.otherNode.connPerSec,
      'new conn/s',
    ),
    panel(
      pw0,
      'NodePort → pod on the same node',
      (c, s) => nsTcp(c, s, 'sameNode')?.connPerSec ?? NaN,
      (d) => d.tcp.sameNode.connPerSec,
      'new conn/s',
    ),
    panel(
      2 * pw0,
      'UDP NodePort → other node',
      (c, s) => nsUdp(c, s)?.receivedPerSec ?? NaN,
      (d) => d.udp.receivedPerSec,
      'datagrams/s received',
    ),
    legend,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the north-south chart to `path`, or removes a stale one when the report has no north-south figures. */
export function writeNorthSouthChart(r: BenchReport, path: string): boolean {
  const svg = northSouthChartSvg(r);
  if (svg) writeFileSync(path, svg);
  else rmSync(path, { force: true });
  return svg !== undefined;
}

const START = '<!-- bench:start (written by npm run bench -- --update-readme) -->';
const END = '<!-- bench:end -->';

/** The README's figures section: the run, where each column comes from, the table, the chart. */
export function readmeSection(r: BenchReport): string {
  const day = (iso: string) => iso.slice(0, 10);
  const lines = [`Last run: ${day(r.startedAt)}, ${r.durationSec} s, \`${r.command}\`.`];
  if (r.merged) {
    lines.push(
      `The ${r.merged.modes.join(' and ')} column${r.merged.modes.length > 1 ? 's are' : ' is'} from the run of ${day(r.merged.startedAt)} (${r.merged.durationSec} s, \`${r.merged.command}\`), merged from \`${r.merged.from}\`.`,
    );
  }
  for (const m of r.modes.filter((x) => x.emulated)) {
    const size =
      sizeOf(r, m) !== r.params.services ? ` at ${fmt(sizeOf(r, m))} services × ${r.params.endpoints} endpoints` : '';
    lines.push(
      `The ${m.mode} column is measured${size} in the project's test VM (\`test/vm/run.sh --kernel 6.12\`), since this machine's kernel has no IPVS: qemu emulates every instruction (TCG, 10-20× slower), so its times do not compare with the other columns', and its "× direct" is against a direct-to-pod baseline measured in the same VM run${m.northSouthDirect ? ' (its north-south "× routed-direct" against a routed-direct one)' : ''}.`,
    );
  }
  if (hasIPv6(r)) {
    lines.push(
      "The cluster is dual-stack: every service is RequireDualStack (an IPv4 and an IPv6 ClusterIP, a slice of each family), so each mode programs both families at every size, and the sync, change, memory and CPU figures are a dual-stack cluster's. The IPv6 rows are new connections from the same pod to the target's IPv6 ClusterIP, against the backend pod's own IPv6 address (IPv6 direct); a mode that does not program IPv6 shows \"—\", and the line under the table says why (the daemon's own word).",
    );
  }
  const phases = r.modes.filter((m) => m.phaseSec && Object.keys(m.phaseSec).length);
  if (phases.length) {
    lines.push('', 'Wall time per phase (s):');
    for (const m of phases)
      lines.push(
        `- ${columnHeader(r, m)}: ${Object.entries(m.phaseSec!)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ')}`,
      );
  }
  return [
    ...lines,
    '',
    '```',
    renderTable(r).trimEnd(),
    '```',
    '',
    '![connection rate and latency against services](bench/report/latest.svg)',
    ...(northSouthChartSvg(r)
      ? [
          '',
          '![north-south: NodePort connection rates and UDP datagrams per second against services](bench/report/latest-north-south.svg)',
        ]
      : []),
    '',
  ].join('\n');
}

/** Replaces the README's figures section (between the markers) with this run's. */
export function updateReadme(r: BenchReport, path: string): void {
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path} has no bench markers (${START} … ${END})`);
  writeFileSync(path, `${text.slice(0, a)}${START}\n${readmeSection(r)}${text.slice(b)}`);
}
