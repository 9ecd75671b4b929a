// compareMapSpecs: a pinned map's spec against the object's, as the pin check
// before load sees them (test/privileged/dataplane/pin-compat.test.ts runs it
// against real pins).
import { describe, expect, it } from 'vitest';
import type { BtfType } from '../../../control/native/addon.js';
import { BpfErrorCode } from '../../../control/bpf/errors.js';
import { compareMapSpecs, formatDifferences, onlySizeDiffers, type MapSpec } from '../../../control/bpf/map-spec.js';
import { incompatible } from '../../../control/bpf/pins.js';

const int = (size: number, typedef?: string, signed = false): BtfType => ({
  kind: 'int',
  name: `int${size}`,
  size,
  signed,
  ...(typedef ? { typedef } : {}),
});
const struct = (name: string, members: Array<[string, number, BtfType]>): BtfType => ({
  kind: 'struct',
  name,
  size: Math.max(0, ...members.map(([, off, t]) => off + t.size)),
  members: members.map(([n, offset, type]) => ({ name: n, offset, bitOffset: offset * 8, bitSize: 0, type })),
});

const backend = struct('sy_backend', [
  ['addr', 0, int(4, '__be32')],
  ['port', 4, int(2, '__be16')],
  ['pad', 6, int(2, '__u16')],
]);
const spec = (over: Partial<MapSpec> = {}): MapSpec => ({
  name: 'sy_backends_v2',
  type: 'hash',
  keySize: 4,
  valueSize: 8,
  maxEntries: 1048576,
  flags: 1,
  key: int(4, '__u32'),
  value: backend,
  ...over,
});

describe('compareMapSpecs', () => {
  it('finds nothing between a spec and itself', () => {
    expect(compareMapSpecs(spec(), spec())).toEqual([]);
  });

  it('ignores type names: the same layout under another struct name is the same map', () => {
    expect(compareMapSpecs(spec({ value: { ...backend, name: 'sy_backend_v1' } }), spec())).toEqual([]);
  });

  it('a size alone is a size change, which can be migrated', () => {
    const diffs = compareMapSpecs(spec({ maxEntries: 65536 }), spec());
    expect(diffs).toEqual([{ field: 'max_entries', pinned: '65536', object: '1048576' }]);
    expect(onlySizeDiffers(diffs)).toBe(true);
    expect(onlySizeDiffers([])).toBe(false);
  });

  it('names type, key and value sizes and flags', () => {
    const diffs = compareMapSpecs(spec({ type: 'lru_hash', keySize: 8, key: int(8, '__u64'), flags: 0 }), spec());
    expect(diffs).toEqual([
      { field: 'type', pinned: 'lru_hash', object: 'hash' },
      { field: 'key_size', pinned: '8', object: '4' },
      { field: 'flags', pinned: '0x0', object: '0x1' },
      { field: 'key size', pinned: '8', object: '4' },
    ]);
    expect(onlySizeDiffers(diffs)).toBe(false);
  });

  it('a layout of the same size with members moved, resized, renamed or re-ordered', () => {
    const other = struct('sy_backend', [
      ['addr', 0, int(4, '__be32')],
      ['port', 4, int(4, '__u32')],
    ]);
    expect(compareMapSpecs(spec({ value: other }), spec())).toEqual([
      { field: 'value.port size', pinned: '4', object: '2' },
      { field: 'value.port byte order', pinned: 'host', object: 'big-endian' },
      { field: 'value.pad', pinned: 'absent', object: 'int __u16 (2 bytes) at offset 6' },
    ]);
    const swapped = struct('sy_backend', [
      ['port', 0, int(2, '__be16')],
      ['pad', 2, int(2, '__u16')],
      ['addr', 4, int(4, '__be32')],
    ]);
    expect(compareMapSpecs(spec({ value: swapped }), spec()).map((d) => d.field)).toEqual([
      'value.addr offset',
      'value.port offset',
      'value.pad offset',
    ]);
    const renamed = struct('sy_backend', [
      ['ip', 0, int(4, '__be32')],
      ['port', 4, int(2, '__be16')],
      ['pad', 6, int(2, '__u16')],
    ]);
    expect(
      compareMapSpecs(spec({ value: renamed }), spec()).map((d) => `${d.field}: ${d.pinned} / ${d.object}`),
    ).toEqual([
      'value.addr: absent / int __be32 (4 bytes) at offset 0',
      'value.ip: int __be32 (4 bytes) at offset 0 / absent',
    ]);
  });

  it('looks into nested structs and arrays, and at signedness', () => {
    const nested = (len: number, signed: boolean) =>
      struct('outer', [
        ['inner', 0, struct('inner', [['x', 0, int(4, '__s32', signed)]])],
        ['bytes', 4, { kind: 'array', name: '', size: len, length: len, elem: int(1, '__u8') }],
      ]);
    expect(compareMapSpecs(spec({ value: nested(4, false) }), spec({ value: nested(4, false) }))).toEqual([]);
    expect(
      compareMapSpecs(spec({ value: nested(6, true) }), spec({ value: nested(4, false) })).map((d) => d.field),
    ).toEqual(['value size', 'value.inner.x signed', 'value.bytes size', 'value.bytes length']);
  });

  it('a pinned map without BTF cannot be checked, so it differs', () => {
    expect(compareMapSpecs(spec({ key: null, value: null }), spec())).toEqual([
      { field: 'key BTF', pinned: 'none', object: 'int __u32 (4 bytes)' },
      { field: 'value BTF', pinned: 'none', object: 'struct sy_backend (8 bytes)' },
    ]);
  });

  it('formats each difference as field: pinned vs object', () => {
    expect(formatDifferences(compareMapSpecs(spec({ maxEntries: 2, flags: 0 }), spec()))).toBe(
      'max_entries: pinned 2 vs object 1048576; flags: pinned 0x0 vs object 0x1',
    );
  });
});

describe('ERR_BPF_MAP_INCOMPATIBLE', () => {
  it('names the map, the pin, each difference, and a hint that fits the difference', () => {
    const layout = incompatible(
      'sy_backends_v2',
      '/sys/fs/bpf/sy/sy_backends_v2',
      compareMapSpecs(spec({ valueSize: 12 }), spec()),
    );
    expect(layout).toMatchObject({
      code: BpfErrorCode.MapIncompatible,
      op: 'object.load',
      target: '/sys/fs/bpf/sy/sy_backends_v2',
    });
    expect(layout.message).toContain('the map pinned at /sys/fs/bpf/sy/sy_backends_v2 does not match');
    expect(layout.message).toContain('value_size: pinned 12 vs object 8');
    expect(layout.hint).toContain('switchyard --cleanup');
    const size = incompatible('sy_backends_v2', '/p', compareMapSpecs(spec({ maxEntries: 2 }), spec()));
    expect(size.hint).toContain('loadMigrating');
  });
});
