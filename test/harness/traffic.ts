// Typed wrappers around agent.mjs: servers in pods, probes from any namespace.
// Everything runs as child processes without blocking the event loop.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { splitHostPort } from '../../control/model/address.js';
import type { Background } from './run.js';
import type { TestNet } from './netns.js';
import { nodeBinary, repoRoot } from './paths.js';
import { scaled } from './slow.js';

export const agentPath = join(repoRoot, 'test', 'harness', 'agent.mjs');

// Every target below is "IP:PORT" for IPv4 or "[IP]:PORT" for IPv6
// (hostPort in cluster.ts), and every peer is printed the same way.

/** The address of a peer or target, without its port (and brackets): "10.0.0.1", "fd00::1". */
export function addressOf(peer: string): string;
export function addressOf(peer: string | undefined): string | undefined;
export function addressOf(peer: string | undefined): string | undefined {
  return peer === undefined ? undefined : splitHostPort(peer).ip;
}

/** One attempt: `name` is the answering server's name, `peer` the address it saw us as ("ip:port", "[ip]:port"). */
export interface ProbeResult {
  ok: boolean;
  name?: string;
  peer?: string;
  error?: string;
  ms: number;
}

export interface ProbeOptions {
  count?: number;
  timeoutMs?: number;
  concurrency?: number;
  /** UDP only: send every datagram from this source port, so all are one flow (use with concurrency 1). */
  sourcePort?: number;
  /** Bind this local address (one the namespace holds, of the target's family) rather than the one the route picks. */
  source?: string;
}

/** Starts TCP and UDP servers named after the pod inside it, on every IPv4 and IPv6 address; resolves once they listen. */
export async function startServers(
  net: TestNet,
  pod: { ns: string; name: string },
  ports: { tcp?: number[]; udp?: number[] },
): Promise<Background> {
  const args = [agentPath, 'serve', '--name', pod.name];
  if (ports.tcp?.length) args.push('--tcp', ports.tcp.join(','));
  if (ports.udp?.length) args.push('--udp', ports.udp.join(','));
  const server = net.spawn(pod.ns, nodeBinary, args);
  await server.waitFor(/^ready$/m);
  return server;
}

function probe(mode: 'tcp' | 'udp', ns: string, target: string, opts: ProbeOptions): Promise<ProbeResult[]> {
  const { count = 1, timeoutMs = 2000, concurrency = 1 } = opts;
  const args = ['netns', 'exec', ns, nodeBinary, agentPath, mode, '--target', target, '--count', String(count)];
  args.push('--timeout', String(timeoutMs), '--concurrency', String(concurrency));
  if (opts.sourcePort !== undefined) args.push('--sport', String(opts.sourcePort));
  if (opts.source !== undefined) args.push('--source', opts.source);
  // The agent times out every attempt itself; this only guards against a hung
  // process (and covers its start, slow in the VM).
  const overall = Math.ceil(count / concurrency) * timeoutMs + scaled(10_000);
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: overall, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${mode} probe ${target} from ${ns}: ${stderr.trim() || err.message}`));
      resolve(
        stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ProbeResult),
      );
    });
  });
}

/** `count` fresh TCP connections to `target` ("IP:PORT", "[IP]:PORT"), each reading the greeting. */
export const tcpProbe = (_net: TestNet, ns: string, target: string, opts: ProbeOptions = {}) =>
  probe('tcp', ns, target, opts);

/** `count` UDP datagrams to `target`, each from a new socket and so a new source port. */
export const udpProbe = (_net: TestNet, ns: string, target: string, opts: ProbeOptions = {}) =>
  probe('udp', ns, target, opts);

/** One HTTP GET: the status and body, or the error. */
export interface HttpResult {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

/** One HTTP GET of `path` at `target` ("IP:PORT", "[IP]:PORT") from a namespace, whatever the status. */
export function httpGet(
  _net: TestNet,
  ns: string,
  target: string,
  opts: { path?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const { path = '/', timeoutMs = 2000 } = opts;
  const args = ['netns', 'exec', ns, nodeBinary, agentPath, 'http', '--target', target, '--path', path];
  args.push('--timeout', String(timeoutMs));
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs + scaled(10_000), killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`http ${target}${path} from ${ns}: ${stderr.trim() || err.message}`));
      resolve(JSON.parse(stdout) as HttpResult);
    });
  });
}

/** One long-lived TCP connection, for tests of established flows. */
export interface Held {
  /** The server that greeted the connection, and the address it saw us as. */
  name: string;
  peer: string;
  /** Sends a line; resolves with the reply ("NAME line"), rejects on error or close. */
  send(line: string): Promise<string>;
  close(): Promise<void>;
}

export async function holdConnection(
  _net: TestNet,
  ns: string,
  target: string,
  opts: { timeoutMs?: number; close?: 'fin' | 'reset' } = {},
): Promise<Held> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  // Own process rather than net.spawn: this one needs a stdin. It also exits on
  // its own when its stdin closes, so it cannot outlive the test process.
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      nodeBinary,
      agentPath,
      'hold',
      '--target',
      target,
      '--timeout',
      String(timeoutMs),
      '--close',
      opts.close ?? 'fin',
    ],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.on('error', () => {}); // EPIPE after the agent died: reported through `pending`
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pending: Array<(r: { ok: boolean; name?: string; peer?: string; reply?: string; error?: string }) => void> = [];
  let gone = false;
  createInterface({ input: child.stdout }).on('line', (line) => pending.shift()?.(JSON.parse(line)));
  void exited.then(() => {
    gone = true;
    for (const p of pending.splice(0)) p({ ok: false, error: `agent exited: ${stderr.trim()}` });
  });
  const next = () =>
    new Promise<Parameters<(typeof pending)[number]>[0]>((resolve) =>
      gone ? resolve({ ok: false, error: 'agent exited' }) : pending.push(resolve),
    );

  const greeting = await next();
  if (!greeting.ok) {
    child.kill('SIGKILL');
    throw new Error(`hold ${target} from ${ns}: ${greeting.error}`);
  }
  return {
    name: greeting.name!,
    peer: greeting.peer!,
    async send(line) {
      const reply = next();
      child.stdin.write(line + '\n');
      const r = await reply;
      if (!r.ok) throw new Error(`hold ${target}: ${r.error}`);
      return r.reply!;
    },
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), scaled(2000));
      await exited;
      clearTimeout(timer);
    },
  };
}
