// One switchyard process under measurement: started in the node's network
// namespace, its JSON log read incrementally (a 10,000-service run logs a
// lot; the test harness's re-parse-everything reader would be quadratic),
// and its memory and CPU read from /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { daemonMain } from '../test/harness/daemon.js';
import type { TestNet } from '../test/harness/netns.js';
import { nodeBinary } from '../test/harness/paths.js';
import type { Background } from '../test/harness/run.js';

export interface LogLine {
  time: number;
  msg: string;
  [k: string]: unknown;
}

export class MeasuredDaemon {
  readonly proc: Background;
  readonly startedAt: number;
  readonly #lines: LogLine[] = [];
  #offset = 0;

  /** `path`: the daemon's PATH, when not ours (bench/tool-times.ts); env(1) execs node, so the pid is still the daemon's. */
  constructor(net: TestNet, ns: string, args: string[], opts: { path?: string } = {}) {
    this.startedAt = Date.now();
    const argv = [daemonMain, '--logging-format=json', ...args];
    this.proc = opts.path
      ? net.spawnNet(ns, 'env', [`PATH=${opts.path}`, nodeBinary, ...argv])
      : net.spawnNet(ns, nodeBinary, argv);
  }

  get pid(): number {
    return this.proc.child.pid!;
  }

  lines(): LogLine[] {
    const text = this.proc.stderr;
    const end = text.lastIndexOf('\n') + 1;
    if (end > this.#offset) {
      for (const l of text.slice(this.#offset, end).split('\n'))
        if (l.startsWith('{')) this.#lines.push(JSON.parse(l) as LogLine);
      this.#offset = end;
    }
    return this.#lines;
  }

  syncs(): LogLine[] {
    return this.lines().filter((l) => l.msg === 'synced');
  }

  /** The first log line at index ≥ `from` that matches. */
  async waitFor(
    pred: (l: LogLine) => boolean,
    opts: { from?: number; timeoutMs?: number } = {},
  ): Promise<{ line: LogLine; index: number }> {
    const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
    for (;;) {
      const lines = this.lines();
      for (let i = opts.from ?? 0; i < lines.length; i++) if (pred(lines[i]!)) return { line: lines[i]!, index: i };
      if (this.proc.child.exitCode !== null)
        throw new Error(`switchyard exited (${this.proc.child.exitCode}):\n${this.proc.stderr.slice(-4000)}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for switchyard; last lines:\n${this.proc.stderr.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resident set size in MB. */
  rssMB(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  }

  /** Open file descriptors (sockets, maps, files). */
  fds(): number {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return NaN;
    }
  }

  /** CPU time (user + system) in seconds so far. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime), in clock ticks (USER_HZ = 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async stop(): Promise<void> {
    if (this.proc.child.exitCode !== null) return;
    this.proc.child.kill('SIGTERM');
    await this.proc.exited;
  }
}
