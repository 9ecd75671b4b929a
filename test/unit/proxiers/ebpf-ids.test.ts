import { describe, expect, it } from 'vitest';
import { IdAllocator } from '../../../control/proxiers/ebpf/ids.js';

describe('IdAllocator', () => {
  it('hands out 1, 2, 3 … and reuses a released id before a new one', () => {
    const ids = new IdAllocator();
    expect([ids.allocate(), ids.allocate(), ids.allocate()]).toEqual([1, 2, 3]);
    ids.release(2);
    expect(ids.size).toBe(2);
    expect(ids.allocate()).toBe(2);
    expect(ids.allocate()).toBe(4);
    expect(ids.size).toBe(4);
  });

  it('never hands out an id claimed from the pinned maps, whatever order they were claimed in', () => {
    const ids = new IdAllocator();
    for (const id of [5000, 7, 4999, 1, 2]) ids.claim(id);
    expect(ids.size).toBe(5);
    const given = new Set<number>();
    for (let i = 0; i < 5000; i++) given.add(ids.allocate());
    expect(given.size).toBe(5000);
    for (const id of [5000, 7, 4999, 1, 2]) expect(given.has(id)).toBe(false);
    expect(Math.max(...given)).toBe(5005); // the 4,995 gaps below 5000 first, then 5001…5005
    expect(ids.size).toBe(5005);
  });

  it('ignores releasing an id that is not taken, so it is not handed out twice', () => {
    const ids = new IdAllocator();
    const a = ids.allocate();
    ids.release(a);
    ids.release(a);
    ids.release(123_456);
    expect(ids.size).toBe(0);
    const b = ids.allocate();
    const c = ids.allocate();
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('a claimed id released later is reused once, not twice', () => {
    const ids = new IdAllocator();
    ids.claim(3); // 1 and 2 become free
    ids.claim(1); // taken while still on the free list
    ids.release(1);
    const got = [ids.allocate(), ids.allocate(), ids.allocate()];
    expect(new Set(got).size).toBe(3);
    expect(got.sort()).toEqual([1, 2, 4]);
  });
});
