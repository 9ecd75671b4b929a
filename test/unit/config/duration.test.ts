// Go's duration syntax, as kube-proxy's flags and config file write it.
import { describe, expect, it } from 'vitest';
import { formatGoDuration, parseGoDuration } from '../../../control/config/duration.js';
import { ValueError } from '../../../control/config/errors.js';

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['30s', 30_000],
    ['1m0s', 60_000],
    ['500ms', 500],
    ['1h2m', 3_720_000],
    ['1.5h', 5_400_000],
    ['2h45m30.5s', 9_930_500],
    ['.5s', 500],
    ['1.s', 1000],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['250μs', 0.25],
    ['1000000ns', 1],
    ['-1m', -60_000],
    ['+10s', 10_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '30', '1.5', 's', '.s', '10 s', '1d', '1h-2m', '--1s', 'abc', '3000000h'])('rejects %j', (text) => {
    expect(() => parseGoDuration(text)).toThrow(ValueError);
  });

  it('says a unit is missing', () => {
    expect(() => parseGoDuration('30')).toThrow(/missing unit/);
  });
});

describe('formatGoDuration', () => {
  it.each([
    [0, '0s'],
    [30_000, '30s'],
    [60_000, '1m0s'],
    [3_600_000, '1h0m0s'],
    [86_400_000, '24h0m0s'],
    [500, '500ms'],
    [1500, '1.5s'],
    [3_720_000, '1h2m0s'],
    [0.25, '250µs'],
    [-60_000, '-1m0s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });
});
