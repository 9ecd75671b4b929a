// Reading connrate client's one JSON line (bench/connrate.ts): what the C tool
// prints becomes a typed result, and anything else fails with what is wrong.
import { describe, expect, it } from 'vitest';
import { ConnrateOutputError, connrateBinary, parseConnrate } from '../../../bench/connrate.js';

const ok =
  '{"connections":142547,"errors":3,"errorKinds":{"ECONNRESET":1,"ETIMEDOUT":2},"durationSec":5.000,' +
  '"connPerSec":28509.4,"latencyUs":{"p50":194,"p90":331,"p99":567,"max":6784}}\n';
const refused =
  '{"connections":0,"errors":116356,"errorKinds":{"ECONNREFUSED":116356},"durationSec":2.000,' +
  '"connPerSec":0.0,"latencyUs":null}\n';

/** `ok` with one field replaced (undefined removes it). */
function withField(key: string, value: unknown): string {
  const o = JSON.parse(ok) as Record<string, unknown>;
  if (value === undefined) delete o[key];
  else o[key] = value;
  return JSON.stringify(o);
}

function problem(stdout: string): string {
  try {
    parseConnrate(stdout);
  } catch (e) {
    expect(e).toBeInstanceOf(ConnrateOutputError);
    expect((e as ConnrateOutputError).code).toBe('ERR_CONNRATE_OUTPUT');
    expect((e as ConnrateOutputError).output).toBe(stdout);
    return (e as Error).message;
  }
  throw new Error('parseConnrate accepted it');
}

describe('parseConnrate', () => {
  it('reads a run', () => {
    expect(parseConnrate(ok)).toEqual({
      connections: 142547,
      errors: 3,
      errorKinds: { ECONNRESET: 1, ETIMEDOUT: 2 },
      durationSec: 5,
      connPerSec: 28509.4,
      latencyUs: { p50: 194, p90: 331, p99: 567, max: 6784 },
    });
  });

  it('reads a run where nothing connected: latency is NaN, not 0', () => {
    const r = parseConnrate(refused);
    expect(r).toMatchObject({ connections: 0, errors: 116356, errorKinds: { ECONNREFUSED: 116356 }, connPerSec: 0 });
    expect(Object.values(r.latencyUs).every(Number.isNaN)).toBe(true);
  });

  it('ignores surrounding blank lines', () => {
    expect(parseConnrate(`\n${ok}\n\n`).connections).toBe(142547);
  });

  it.each([
    ['empty output', '', /expected one JSON line, got 0/],
    ['two lines', ok + ok, /expected one JSON line, got 2/],
    ['not JSON', 'connrate: bind: Address in use', /not JSON/],
    ['an array', '[1,2]', /not a JSON object/],
    ['a missing field', withField('connPerSec', undefined), /connPerSec is missing/],
    ['a negative count', withField('connections', -1), /connections is not a whole number/],
    ['a fractional count', withField('errors', 2.5), /errors is not a whole number/],
    ['errorKinds as a list', withField('errorKinds', []), /errorKinds is not an object/],
    [
      'a zero kind',
      withField('errorKinds', { ECONNRESET: 3, EPIPE: 0 }),
      /errorKinds\.EPIPE is not a whole number > 0/,
    ],
    ['kinds not adding up', withField('errorKinds', { ECONNRESET: 1 }), /errorKinds add up to 1, errors is 3/],
    ['a zero duration', withField('durationSec', 0), /durationSec is not a number > 0/],
    ['a rate as a string', withField('connPerSec', '28509'), /connPerSec is not a number >= 0/],
    ['latency null with connections', withField('latencyUs', null), /latencyUs is null with 142547 connections/],
    ['latency missing p99', withField('latencyUs', { p50: 1, p90: 2, max: 4 }), /latencyUs\.p99 is not a whole number/],
    ['latency out of order', withField('latencyUs', { p50: 5, p90: 2, p99: 3, max: 4 }), /not ordered/],
  ])('rejects %s', (_, stdout, message) => {
    expect(problem(stdout)).toMatch(message);
  });

  it('rejects latency given for zero connections', () => {
    const stdout = refused.replace('"latencyUs":null', '"latencyUs":{"p50":1,"p90":1,"p99":1,"max":1}');
    expect(problem(stdout)).toMatch(/latencyUs is given with 0 connections/);
  });
});

describe('connrateBinary', () => {
  it('is build/bench/connrate under the repository root', () => {
    expect(connrateBinary).toMatch(/\/build\/bench\/connrate$/);
    expect(connrateBinary).not.toMatch(/\/dist\//);
  });
});
