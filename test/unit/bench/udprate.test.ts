// Reading udprate's output (bench/udprate.ts): the sender's one JSON line and
// the sink's report become typed results, anything else fails with what is
// wrong, and a run's rate is what the sink counted of the sender's window.
import { describe, expect, it } from 'vitest';
import { UdprateOutputError, parseUdpSend, parseUdpSink, udpResult, udprateBinary } from '../../../bench/udprate.js';

const sent =
  '{"run":3,"sent":340672,"errors":2,"errorKinds":{"ECONNREFUSED":2},"durationSec":2.000,' +
  '"sentPerSec":170336.0,"flows":8,"size":64}\n';
const sink = '{"runs":[{"run":2,"warmup":10,"window":20},{"run":3,"warmup":99008,"window":340000}],"foreign":1}';

function problem(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UdprateOutputError);
    expect((e as UdprateOutputError).code).toBe('ERR_UDPRATE_OUTPUT');
    return (e as Error).message;
  }
  throw new Error('accepted it');
}

describe('parseUdpSend', () => {
  it('reads a run', () => {
    expect(parseUdpSend(sent)).toEqual({
      run: 3,
      sent: 340672,
      errors: 2,
      errorKinds: { ECONNREFUSED: 2 },
      durationSec: 2,
      sentPerSec: 170336,
      flows: 8,
      size: 64,
    });
  });

  it.each([
    ['empty output', '', /expected one JSON line, got 0/],
    ['not JSON', 'udprate: connect: Network is unreachable', /not JSON/],
    ['a missing field', sent.replace('"flows":8,', ''), /flows is missing/],
    ['errors that do not add up', sent.replace('"errors":2', '"errors":3'), /errorKinds add up to 2, errors is 3/],
    ['a negative count', sent.replace('"sent":340672', '"sent":-1'), /sent is not a whole number/],
    ['a zero duration', sent.replace('"durationSec":2.000', '"durationSec":0'), /durationSec is not a number > 0/],
  ])('rejects %s', (_what, stdout, message) => {
    expect(problem(() => parseUdpSend(stdout))).toMatch(message);
  });
});

describe('parseUdpSink', () => {
  it('reads a report', () => {
    expect(parseUdpSink(sink)).toEqual({
      runs: [
        { run: 2, warmup: 10, window: 20 },
        { run: 3, warmup: 99008, window: 340000 },
      ],
      foreign: 1,
    });
  });

  it('rejects a run without its counts', () => {
    expect(problem(() => parseUdpSink('{"runs":[{"run":1}],"foreign":0}'))).toMatch(/runs\[0\] is not/);
    expect(problem(() => parseUdpSink('{"listening":"10.244.2.11:9090","threads":1}'))).toMatch(/runs is not/);
  });
});

describe('udpResult', () => {
  it("takes the sink's window count of the sender's run, per second of the sender's window", () => {
    const r = udpResult(parseUdpSend(sent), parseUdpSink(sink));
    expect(r).toMatchObject({ sent: 340672, sentPerSec: 170336, received: 340000, receivedPerSec: 170000 });
    expect(r.errorKinds).toEqual({ ECONNREFUSED: 2 });
  });

  it('counts a run the sink never saw as nothing received', () => {
    const r = udpResult(parseUdpSend(sent), { runs: [{ run: 2, warmup: 1, window: 5 }], foreign: 0 });
    expect(r.received).toBe(0);
    expect(r.receivedPerSec).toBe(0);
  });

  it('lives next to connrate', () => {
    expect(udprateBinary).toMatch(/build\/bench\/udprate$/);
  });
});
