// The error catalogue: each errno the addon reports becomes one stable code.
import { describe, expect, it } from 'vitest';
import { BpfError, BpfErrorCode } from '../../../control/bpf/index.js';
import { fromNative } from '../../../control/bpf/errors.js';

function nativeError(op: string, errno: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(`${op}: failed`), { code: 'ERR_BPF_NATIVE', op, errno, target: 'm', ...extra });
}

describe('fromNative', () => {
  it.each([
    ['map.update', 1, BpfErrorCode.Permission],
    ['object.load', 13, BpfErrorCode.Permission],
    ['map.openPinned', 2, BpfErrorCode.NotFound],
    ['program.attachTc', 19, BpfErrorCode.NotFound],
    ['map.update', 7, BpfErrorCode.MapFull],
    ['map.update', 17, BpfErrorCode.Exists],
    ['program.attachXdp', 16, BpfErrorCode.Exists],
    ['map.lookupAll', 95, BpfErrorCode.Unsupported],
    ['map.lookupAll', 524, BpfErrorCode.Unsupported],
    ['map.lookup', 9, BpfErrorCode.Closed],
    ['map.update', 22, BpfErrorCode.InvalidArgument],
    ['map.update', 5, BpfErrorCode.Syscall],
  ])('%s errno %i is %s', (op, errno, code) => {
    const e = fromNative(nativeError(op, errno)) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code, op, errno, target: 'm' });
  });

  it('hints at privileges, pins and map sizes', () => {
    expect((fromNative(nativeError('object.load', 1)) as BpfError).hint).toMatch(/CAP_BPF/);
    expect((fromNative(nativeError('map.openPinned', 2)) as BpfError).hint).toMatch(/nothing is pinned/);
    expect((fromNative(nativeError('map.update', 7)) as BpfError).message).toMatch(/raise its size/);
  });

  it('keeps the verifier log of a refused program', () => {
    const log = '0: R1=ctx() R10=fp0\n; return *(u32 *)skb->data\n1: invalid access to packet, off=0 size=4';
    const e = fromNative(nativeError('object.load', 13, { verifierLog: log })) as BpfError;
    expect(e.code).toBe(BpfErrorCode.Verifier);
    expect(e.verifierLog).toBe(log);
    expect(e.message).toMatch(/invalid access to packet/);
  });

  it('turns argument errors into InvalidArgument and passes other errors through', () => {
    const arg = Object.assign(new TypeError('map.update: key must be a Buffer'), {
      code: 'ERR_BPF_NATIVE_ARGUMENT',
      op: 'map.update',
      errno: 22,
    });
    expect((fromNative(arg) as BpfError).code).toBe(BpfErrorCode.InvalidArgument);
    const other = new RangeError('x');
    expect(fromNative(other)).toBe(other);
  });
});
