// The load test's report, three ways: a text table with the ratios the
// targets are stated in, an SVG chart (rate and p99 latency against the
// number of services), and the README's figures section.
import { readFileSync, writeFileSync } from 'node:fs';
import type { ConnrateResult } from './connrate.js';
import type { BenchReport, ModeReport } from './types.js';

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);

function conn(m: ModeReport, services: number, target: 'clusterIP' | 'podIP'): ConnrateResult | undefined {
  return m.connections.find((c) => c.services === services && c.target === target)?.result;
}

/** Each target of the design, met or missed by how much. */
function verdicts(r: BenchReport, m: ModeReport): string[] {
  const n = r.params.services;
  const out: string[] = [];
  const check = (ok: boolean, text: string) => out.push(`${ok ? 'met   ' : 'MISSED'} ${text}`);
  check(m.fullSync.syncMs <= 1000, `full sync ≤ 1 s: ${fmt(m.fullSync.syncMs)} ms`);
  const p99 = Math.max(m.incremental.addEndpoint.p99Ms, m.incremental.removeEndpoint.p99Ms);
  check(p99 <= 10, `endpoint change p99 ≤ 10 ms: ${fmt(p99)} ms`);
  for (const s of [10, n]) {
    const c = conn(m, s, 'clusterIP');
    const x = ratio(c?.connPerSec ?? NaN, r.direct.connPerSec);
    check(x >= 0.95, `ClusterIP rate ≥ 0.95 × direct at ${fmt(s)} services: ${fmt(x, 2)} ×`);
  }
  check(m.steady.rssMB <= 250, `control-plane RSS ≤ 250 MB: ${fmt(m.steady.rssMB)} MB`);
  return out;
}

export function renderTable(r: BenchReport): string {
  const n = r.params.services;
  const modes = r.modes;
  const rows: Array<[string, ...string[]]> = [
    ['', ...modes.map((m) => m.mode + (m.emulated ? ' (emulated)' : ''))],
    ['full sync: the sync (ms)', ...modes.map((m) => fmt(m.fullSync.syncMs))],
    ['full sync: process start → programmed (ms)', ...modes.map((m) => fmt(m.fullSync.startToProgrammedMs))],
    ['full sync: process start → /readyz (ms)', ...modes.map((m) => fmt(m.fullSync.startToReadyMs))],
    ...(['addEndpoint', 'removeEndpoint', 'addService', 'removeService'] as const).map(
      (k) => [`${k}: p50 / p99 (ms)`, ...modes.map((m) => `${fmt(m.incremental[k].p50Ms)} / ${fmt(m.incremental[k].p99Ms)}`)] as [string, ...string[]],
    ),
    ['RSS (MB) / CPU at rest (%)', ...modes.map((m) => `${fmt(m.steady.rssMB)} / ${fmt(m.steady.cpuPercent, 1)}`)],
    ...[10, n].flatMap((s) => [
      [`ClusterIP at ${fmt(s)} svc: conn/s (× direct)`, ...modes.map((m) => { const c = conn(m, s, 'clusterIP'); return `${fmt(c?.connPerSec ?? NaN)} (${fmt(ratio(c?.connPerSec ?? NaN, r.direct.connPerSec), 2)})`; })] as [string, ...string[]],
      [`ClusterIP at ${fmt(s)} svc: p50 / p99 (µs)`, ...modes.map((m) => { const c = conn(m, s, 'clusterIP'); return `${fmt(c?.latencyUs.p50 ?? NaN)} / ${fmt(c?.latencyUs.p99 ?? NaN)}`; })] as [string, ...string[]],
    ]),
    [`pod IP with ${fmt(n)} svc programmed: conn/s`, ...modes.map((m) => fmt(conn(m, n, 'podIP')?.connPerSec ?? NaN))],
  ];
  if (modes.length === 2) {
    const [a, b] = modes as [ModeReport, ModeReport];
    rows.push([`${a.mode} / ${b.mode}: sync time`, fmt(ratio(a.fullSync.syncMs, b.fullSync.syncMs), 3), '']);
    rows.push([`${a.mode} / ${b.mode}: ClusterIP conn/s at ${fmt(n)}`, fmt(ratio(conn(a, n, 'clusterIP')?.connPerSec ?? NaN, conn(b, n, 'clusterIP')?.connPerSec ?? NaN), 2), '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [
    `${fmt(n)} services × ${r.params.endpoints} endpoints; ${r.machine.cpus} CPUs, kernel ${r.machine.kernel}; direct to the pod, no proxy: ${fmt(r.direct.connPerSec)} conn/s, p50 ${fmt(r.direct.latencyUs.p50)} µs, p99 ${fmt(r.direct.latencyUs.p99)} µs`,
    '',
    ...rows.map(line),
    '',
    ...modes.flatMap((m) => [`targets, ${m.mode}:`, ...verdicts(r, m).map((v) => `  ${v}`)]),
    ...modes.filter((m) => m.failed).map((m) => `${m.mode} did not finish: ${m.failed}`),
    '',
  ];
  return out.join('\n');
}

/** Connection rate and p99 latency against services, one line per mode, the direct rate as a dashed line. */
export function chartSvg(r: BenchReport): string {
  const W = 720;
  const H = 300;
  const pad = { l: 70, r: 20, t: 40, b: 50 };
  const colors: Record<string, string> = { ebpf: '#1f77b4', iptables: '#d62728', ipvs: '#2ca02c' };
  const xs = [10, r.params.services];
  const panel = (x0: number, title: string, value: (c: ConnrateResult) => number, directValue: number, unit: string) => {
    const pw = W / 2 - pad.l - pad.r;
    const ph = H - pad.t - pad.b;
    const values = r.modes.flatMap((m) => xs.map((s) => value(conn(m, s, 'clusterIP') ?? r.direct))).concat(directValue);
    const max = Math.max(...values.filter(Number.isFinite)) * 1.15 || 1;
    const X = (i: number) => x0 + pad.l + (i === 0 ? pw * 0.1 : pw * 0.9);
    const Y = (v: number) => pad.t + ph - (v / max) * ph;
    const parts = [
      `<text x="${x0 + pad.l + pw / 2}" y="22" text-anchor="middle" font-weight="bold">${title}</text>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t + ph}" x2="${x0 + pad.l + pw}" y2="${pad.t + ph}" stroke="#333"/>`,
      `<line x1="${x0 + pad.l}" y1="${pad.t}" x2="${x0 + pad.l}" y2="${pad.t + ph}" stroke="#333"/>`,
      ...[0, 0.5, 1].map((f) => `<text x="${x0 + pad.l - 6}" y="${Y(max * f) + 4}" text-anchor="end">${fmt(max * f)}</text>`),
      `<text x="${x0 + 14}" y="${pad.t + ph / 2}" transform="rotate(-90 ${x0 + 14} ${pad.t + ph / 2})" text-anchor="middle">${unit}</text>`,
      ...xs.map((s, i) => `<text x="${X(i)}" y="${pad.t + ph + 18}" text-anchor="middle">${fmt(s)} services</text>`),
      `<line x1="${x0 + pad.l}" y1="${Y(directValue)}" x2="${x0 + pad.l + pw}" y2="${Y(directValue)}" stroke="#555" stroke-dasharray="5,4"/>`,
      `<text x="${x0 + pad.l + pw}" y="${Y(directValue) - 5}" text-anchor="end" fill="#555">pod IP, no proxy</text>`,
    ];
    for (const m of r.modes) {
      const pts = xs.map((s, i) => [X(i), Y(value(conn(m, s, 'clusterIP') ?? r.direct))] as const);
      parts.push(`<polyline fill="none" stroke="${colors[m.mode]}" stroke-width="2" points="${pts.map((p) => p.join(',')).join(' ')}"/>`);
      for (const [x, y] of pts) parts.push(`<circle cx="${x}" cy="${y}" r="4" fill="${colors[m.mode]}"/>`);
    }
    return parts.join('\n');
  };
  const legend = r.modes
    .map((m, i) => `<rect x="${pad.l + i * 140}" y="${H - 18}" width="12" height="12" fill="${colors[m.mode]}"/><text x="${pad.l + i * 140 + 18}" y="${H - 8}">${m.mode} (ClusterIP)${m.emulated ? ', emulated' : ''}</text>`)
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

const START = '<!-- bench:start (written by npm run bench -- --update-readme) -->';
const END = '<!-- bench:end -->';

/** Replaces the README's figures section (between the markers) with this run's. */
export function updateReadme(r: BenchReport, path: string): void {
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path} has no bench markers (${START} … ${END})`);
  const section = [
    START,
    `Last run: ${r.startedAt.slice(0, 10)}, ${r.durationSec} s, \`${r.command}\`.`,
    '',
    '```',
    renderTable(r).trimEnd(),
    '```',
    '',
    '![connection rate and latency against services](bench/report/latest.svg)',
    '',
  ].join('\n');
  writeFileSync(path, text.slice(0, a) + section + text.slice(b));
}
