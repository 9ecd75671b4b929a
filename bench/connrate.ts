// The load test's view of connrate (bench/connrate.c, built by bench/Makefile
// into build/bench/connrate): where the binary is, and its client's one JSON
// line read into a checked, typed result. Running it (in which namespace, for
// how long) is the caller's business: `ip netns exec NS <connrateBinary>
// client --target IP:PORT --duration S ...`.
import { basename, dirname, join } from 'node:path';

// This file runs from bench/ (vitest, tsx) and from dist/bench/ (tsc output).
const here = import.meta.dirname;
const repoRoot = basename(dirname(here)) === 'dist' ? dirname(dirname(here)) : dirname(here);

/** build/bench/connrate under the repository root; `make -C bench` builds it. */
export const connrateBinary = join(repoRoot, 'build', 'bench', 'connrate');

/**
 * Latency of completed connections, connect() start to the reply's EOF, in
 * microseconds. All NaN when no connection completed (connrate prints null):
 * there is no latency to report, and NaN fails every comparison with a target.
 */
export interface ConnrateLatency {
  /** Percentiles from a log-linear histogram: the top of the bucket, at most 0.8% above the true value. */
  p50: number;
  p90: number;
  p99: number;
  /** Exact. */
  max: number;
}

/** What `connrate client` printed: everything counts only after --warmup. */
export interface ConnrateResult {
  /** Connections that connected, sent, and read a non-empty reply to EOF in time. */
  connections: number;
  /** Connections that failed; the sum of errorKinds. */
  errors: number;
  /**
   * Failures by kind: an errno name (ECONNREFUSED, ECONNRESET, ENETUNREACH...),
   * ETIMEDOUT for a connection not done within --timeout-ms, EMPTY_REPLY for
   * EOF before any reply byte. Kinds that did not occur are absent.
   */
  errorKinds: Record<string, number>;
  /** The measured window: --duration. */
  durationSec: number;
  /** connections / durationSec. */
  connPerSec: number;
  latencyUs: ConnrateLatency;
}

export class ConnrateOutputError extends Error {
  readonly code = 'ERR_CONNRATE_OUTPUT';
  /** What connrate printed, for the report. */
  readonly output: string;

  constructor(problem: string, output: string) {
    super(`connrate client output: ${problem} (got ${JSON.stringify(output.slice(0, 300))})`);
    this.name = 'ConnrateOutputError';
    this.output = output;
  }
}

const RESULT_KEYS = ['connections', 'errors', 'errorKinds', 'durationSec', 'connPerSec', 'latencyUs'];
const LATENCY_KEYS = ['p50', 'p90', 'p99', 'max'] as const;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `connrate client` stdout; throws ConnrateOutputError naming the first thing wrong. */
export function parseConnrate(stdout: string): ConnrateResult {
  function fail(problem: string): never {
    throw new ConnrateOutputError(problem, stdout);
  }
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) fail(`expected one JSON line, got ${lines.length}`);
  let raw: unknown;
  try {
    raw = JSON.parse(lines[0]!);
  } catch (e) {
    fail(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) fail('not a JSON object');
  for (const key of RESULT_KEYS) if (!(key in raw)) fail(`${key} is missing`);

  const { connections, errors, errorKinds, durationSec, connPerSec, latencyUs } = raw;
  if (!isCount(connections)) fail('connections is not a whole number >= 0');
  if (!isCount(errors)) fail('errors is not a whole number >= 0');
  if (!isObject(errorKinds)) fail('errorKinds is not an object');
  let kindSum = 0;
  for (const [kind, n] of Object.entries(errorKinds)) {
    if (!isCount(n) || n === 0) fail(`errorKinds.${kind} is not a whole number > 0`);
    kindSum += n;
  }
  if (kindSum !== errors) fail(`errorKinds add up to ${kindSum}, errors is ${errors}`);
  if (typeof durationSec !== 'number' || !(durationSec > 0)) fail('durationSec is not a number > 0');
  if (typeof connPerSec !== 'number' || !(connPerSec >= 0)) fail('connPerSec is not a number >= 0');

  let latency: ConnrateLatency = { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  if (latencyUs === null) {
    if (connections !== 0) fail(`latencyUs is null with ${connections} connections`);
  } else {
    if (!isObject(latencyUs)) fail('latencyUs is neither null nor an object');
    if (connections === 0) fail('latencyUs is given with 0 connections');
    const [p50, p90, p99, max] = LATENCY_KEYS.map((key) => {
      const v = latencyUs[key];
      return isCount(v) ? v : fail(`latencyUs.${key} is not a whole number >= 0`);
    }) as [number, number, number, number];
    latency = { p50, p90, p99, max };
    if (!(latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.max)) {
      fail('latencyUs is not ordered p50 <= p90 <= p99 <= max');
    }
  }
  return {
    connections,
    errors,
    errorKinds: { ...errorKinds } as Record<string, number>,
    durationSec,
    connPerSec,
    latencyUs: latency,
  };
}
