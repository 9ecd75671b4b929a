// A diagnostic (--tool-times): where a sync's time goes among the tools the
// daemon runs (ipset, ip, iptables-save/-restore, conntrack) and the rest
// (the model, netlink, JavaScript). Each tool is reached through a shim on
// the daemon's PATH that logs its start, end and command line, so every
// call costs an extra bash start: the sync times of such a run are inflated
// (a lot under emulation) and are not the bench's figures.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../test/harness/run.js';

const TOOLS = [
  'ip',
  'ipset',
  'iptables',
  'iptables-save',
  'iptables-restore',
  'ip6tables',
  'ip6tables-save',
  'ip6tables-restore',
  'conntrack',
  'modprobe',
];

/** Writes the shims into `dir`; returns the PATH the daemon gets. */
export function toolShims(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(dir, 'tools.log');
  for (const tool of TOOLS) {
    const real = run('bash', ['-c', `command -v ${tool}`], { allowFail: true }).trim();
    if (!real) continue;
    writeFileSync(
      join(bin, tool),
      [
        '#!/bin/bash',
        's=$EPOCHREALTIME',
        `${real} "$@"`,
        'rc=$?',
        `l="$s $EPOCHREALTIME $PPID ${tool} $*"`,
        `printf '%s\\n' "\${l:0:160}" >> ${log}`,
        'exit $rc',
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, tool), 0o755);
  }
  return `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
}

export interface ToolCall {
  startMs: number;
  endMs: number;
  /** The tool and its first argument: "ipset restore", "ip -force". */
  what: string;
}

export function readToolCalls(dir: string): ToolCall[] {
  const log = join(dir, 'tools.log');
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [s, e, , tool, first] = l.split(' ');
      return { startMs: Number(s) * 1000, endMs: Number(e) * 1000, what: [tool, first].filter(Boolean).join(' ') };
    });
}

/** The calls within [fromMs, toMs], summed by what: "ipset restore: 8 calls, 3,210 ms", and the rest of the span. */
export function summarise(calls: ToolCall[], fromMs: number, toMs: number): string {
  const by = new Map<string, { n: number; ms: number }>();
  let busy = 0;
  for (const c of calls) {
    if (c.startMs < fromMs - 5 || c.endMs > toMs + 5) continue;
    const b = by.get(c.what) ?? { n: 0, ms: 0 };
    b.n++;
    b.ms += c.endMs - c.startMs;
    by.set(c.what, b);
    busy += c.endMs - c.startMs;
  }
  const parts = [...by].sort((a, b) => b[1].ms - a[1].ms).map(([w, b]) => `${w} ×${b.n} ${Math.round(b.ms)} ms`);
  return `${Math.round(toMs - fromMs)} ms: ${parts.join(', ')}; outside tools ${Math.round(toMs - fromMs - busy)} ms`;
}
