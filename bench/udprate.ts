// The load test's view of udprate (bench/udprate.c, built by bench/Makefile
// into build/bench/udprate): where the binary is, what `udprate send` and the
// sink's report print, read into checked, typed results, and the two put
// together: datagrams per second through a path is what the sink counted of a
// run's window over the sender's window.
import { join } from 'node:path';
import { connrateBinary } from './connrate.js';

/** build/bench/udprate, next to connrate. */
export const udprateBinary = join(connrateBinary, '..', 'udprate');

/** What `udprate send` printed: everything counts only after --warmup. */
export interface UdpSendResult {
  run: number;
  /** Datagrams the kernel accepted in the window. */
  sent: number;
  /** Failed sendmmsg calls in the window, by errno name (a diagnostic: sendmmsg drops an error after a batch's first datagram). */
  errors: number;
  errorKinds: Record<string, number>;
  durationSec: number;
  sentPerSec: number;
  flows: number;
  /** Payload bytes per datagram. */
  size: number;
}

/** One run as the sink counted it, by the phase the sender stamped on each datagram. */
export interface UdpSinkRun {
  run: number;
  warmup: number;
  window: number;
}

export interface UdpSinkReport {
  runs: UdpSinkRun[];
  /** Datagrams without udprate's header. */
  foreign: number;
}

/** A run through a path: the sender's side and the sink's count of its window. */
export interface UdprateResult {
  /** Datagrams sent in the window, and per second. */
  sent: number;
  sentPerSec: number;
  /** Of those, received by the sink, and per second: the path's rate. */
  received: number;
  receivedPerSec: number;
  errors: number;
  errorKinds: Record<string, number>;
  durationSec: number;
  flows: number;
  size: number;
}

export class UdprateOutputError extends Error {
  readonly code = 'ERR_UDPRATE_OUTPUT';
  readonly output: string;

  constructor(what: string, problem: string, output: string) {
    super(`${what} output: ${problem} (got ${JSON.stringify(output.slice(0, 300))})`);
    this.name = 'UdprateOutputError';
    this.output = output;
  }
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function oneObject(what: string, stdout: string, fail: (p: string) => never): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) fail(`expected one JSON line, got ${lines.length}`);
  let raw: unknown;
  try {
    raw = JSON.parse(lines[0]!);
  } catch (e) {
    fail(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) fail(`not a JSON object (${what})`);
  return raw;
}

/** Reads `udprate send` stdout; throws UdprateOutputError naming the first thing wrong. */
export function parseUdpSend(stdout: string): UdpSendResult {
  const fail = (problem: string): never => {
    throw new UdprateOutputError('udprate send', problem, stdout);
  };
  const raw = oneObject('udprate send', stdout, fail);
  for (const key of ['run', 'sent', 'errors', 'errorKinds', 'durationSec', 'sentPerSec', 'flows', 'size'])
    if (!(key in raw)) fail(`${key} is missing`);
  const { run, sent, errors, errorKinds, durationSec, sentPerSec, flows, size } = raw;
  for (const [k, v] of Object.entries({ run, sent, errors, flows, size }))
    if (!isCount(v)) fail(`${k} is not a whole number >= 0`);
  if (!isObject(errorKinds)) fail('errorKinds is not an object');
  let kindSum = 0;
  for (const [kind, n] of Object.entries(errorKinds as Record<string, unknown>)) {
    if (!isCount(n) || n === 0) fail(`errorKinds.${kind} is not a whole number > 0`);
    kindSum += n as number;
  }
  if (kindSum !== errors) fail(`errorKinds add up to ${kindSum}, errors is ${String(errors)}`);
  if (typeof durationSec !== 'number' || !(durationSec > 0)) fail('durationSec is not a number > 0');
  if (typeof sentPerSec !== 'number' || !(sentPerSec >= 0)) fail('sentPerSec is not a number >= 0');
  return {
    run: run as number,
    sent: sent as number,
    errors: errors as number,
    errorKinds: { ...(errorKinds as Record<string, number>) },
    durationSec: durationSec as number,
    sentPerSec: sentPerSec as number,
    flows: flows as number,
    size: size as number,
  };
}

/** Reads one report line of `udprate sink` (after SIGUSR1 or at exit). */
export function parseUdpSink(line: string): UdpSinkReport {
  const fail = (problem: string): never => {
    throw new UdprateOutputError('udprate sink', problem, line);
  };
  const raw = oneObject('udprate sink', line, fail);
  if (!Array.isArray(raw.runs)) fail('runs is not an array');
  if (!isCount(raw.foreign)) fail('foreign is not a whole number >= 0');
  const runs = (raw.runs as unknown[]).map((r, i) => {
    if (!isObject(r) || !isCount(r.run) || !isCount(r.warmup) || !isCount(r.window))
      fail(`runs[${i}] is not {run, warmup, window} of whole numbers`);
    const o = r as Record<string, number>;
    return { run: o.run!, warmup: o.warmup!, window: o.window! };
  });
  return { runs, foreign: raw.foreign as number };
}

/** The sender's result and the sink's count of its run, as one. A run the sink never saw received nothing. */
export function udpResult(send: UdpSendResult, sink: UdpSinkReport): UdprateResult {
  const received = sink.runs.find((r) => r.run === send.run)?.window ?? 0;
  return {
    sent: send.sent,
    sentPerSec: send.sentPerSec,
    received,
    receivedPerSec: Math.round((received / send.durationSec) * 10) / 10,
    errors: send.errors,
    errorKinds: send.errorKinds,
    durationSec: send.durationSec,
    flows: send.flows,
    size: send.size,
  };
}
