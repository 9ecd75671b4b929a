// Runs the real `switchyard` daemon (dist/control/main.js) inside a node's
// namespace, with its own pin directory, and reads its JSON logs.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNet } from './netns.js';
import { nodeBinary, repoRoot } from './paths.js';
import type { Background } from './run.js';
import { scaled } from './slow.js';

export const daemonMain = join(repoRoot, 'dist', 'control', 'main.js');

export interface LogRecord {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class DaemonProcess {
  readonly proc: Background;
  readonly args: string[];

  constructor(proc: Background, args: string[]) {
    this.proc = proc;
    this.args = args;
  }

  /** Parsed log lines (stderr, JSON). */
  logs(): LogRecord[] {
    return this.proc.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogRecord);
  }

  /** Waits for the n-th log record matching `pred` (counting from 1); the default timeout scales with `slow`. */
  async waitForLog(
    pred: (r: LogRecord) => boolean,
    opts: { timeoutMs?: number; count?: number } = {},
  ): Promise<LogRecord> {
    const { timeoutMs = scaled(15_000), count = 1 } = opts;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = this.logs().filter(pred);
      if (hits.length >= count) return hits[count - 1]!;
      if (this.proc.child.exitCode !== null)
        throw new Error(`switchyard exited (${this.proc.child.exitCode}):\n${this.proc.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line; logs:\n${this.proc.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Number of completed syncs so far. */
  syncs(): LogRecord[] {
    return this.logs().filter((r) => r.msg === 'synced');
  }

  /** SIGTERM, as the kubelet stops a pod; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.child.exitCode !== null) return this.proc.child.exitCode;
    this.proc.child.kill(signal);
    return this.proc.exited;
  }
}

export interface StartDaemonOptions {
  ns: string;
  nodeName: string;
  pinDir: string;
  args?: string[];
  cgroup?: string;
  /** What to run instead of this checkout's build (node dist/control/main.js), e.g. an installed bin/switchyard. */
  command?: string[];
}

/** Starts switchyard in `ns`; the health and metrics servers stay off unless args turn them on. */
export function startDaemon(net: TestNet, opts: StartDaemonOptions): DaemonProcess {
  const [cmd, ...lead] = opts.command ?? [nodeBinary, daemonMain];
  const entry = lead.at(-1) ?? cmd!;
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`);
  const args = [
    ...lead,
    `--hostname-override=${opts.nodeName}`,
    `--bpffs-root=${opts.pinDir}`,
    '--healthz-bind-address=',
    '--metrics-bind-address=',
    '--logging-format=json',
    '--v=2',
    ...(opts.args ?? []),
  ];
  // Network namespace only: the daemon needs the host's bpffs for its pins.
  const proc = net.spawnNet(opts.ns, cmd!, args, opts.cgroup ? { cgroup: opts.cgroup } : {});
  return new DaemonProcess(proc, args);
}

/** A kubeconfig for an API server reached at `server` (plain HTTP, no auth). */
export function writeKubeconfig(dir: string, server: string): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: {} }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
  return path;
}
