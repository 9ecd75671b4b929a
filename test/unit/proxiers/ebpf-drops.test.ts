import { describe, expect, it } from 'vitest';
import { SyDropReason, SyDropReasonNames } from '../../../control/proxiers/ebpf/abi.generated.js';
import { sumDrops } from '../../../control/proxiers/ebpf/drops.js';

describe('sumDrops', () => {
  it('sums every CPU per reason and names every reason abi.h has, zeros included', () => {
    const drops = sumDrops([
      [0, [9n, 9n]], // index 0 is no reason: never counted
      [SyDropReason.NO_BACKEND, [1n, 2n, 0n]],
      [SyDropReason.NAT_FAILED, [2n ** 63n, 2n ** 63n]],
      [99, [5n]], // a reason newer than this build
    ]);
    expect(Object.keys(drops)).toEqual(Object.values(SyDropReasonNames));
    expect(drops).toMatchObject({ no_backend: 3n, nat_failed: 2n ** 64n, malformed: 0n, no_backend_policy: 0n });
  });

  it('is all zeros for an empty read', () => {
    expect(Object.values(sumDrops([])).every((n) => n === 0n)).toBe(true);
  });
});
