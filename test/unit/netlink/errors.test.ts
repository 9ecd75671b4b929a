// The IPVS error catalogue: each errno of each operation becomes one stable code.
import { describe, expect, it } from 'vitest';
import { fromNative, ipvsError } from '../../../control/netlink/errors.js';
import { IpvsError, IpvsErrorCode } from '../../../control/netlink/index.js';

function nativeError(op: string, errno: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(`${op}: failed`), {
    code: 'ERR_IPVS_NATIVE',
    op,
    errno,
    target: 'TCP 10.96.0.1:80',
    ...extra,
  });
}

describe('IPVS errors', () => {
  it.each([
    ['ipvs.open', 2, IpvsErrorCode.Unavailable],
    ['ipvs.addService', 2, IpvsErrorCode.NoSuchScheduler],
    ['ipvs.editVirtualServer', 2, IpvsErrorCode.NoSuchScheduler],
    ['ipvs.deleteDest', 2, IpvsErrorCode.NoSuchRealServer],
    ['ipvs.editRealServer', 2, IpvsErrorCode.NoSuchRealServer],
    ['ipvs.deleteService', 3, IpvsErrorCode.NoSuchVirtualServer],
    ['ipvs.addDest', 3, IpvsErrorCode.NoSuchVirtualServer],
    ['ipvs.addService', 17, IpvsErrorCode.Exists],
    ['ipvs.addService', 1, IpvsErrorCode.Permission],
    ['ipvs.addDest', 34, IpvsErrorCode.InvalidArgument],
    ['ipvs.addDest', 22, IpvsErrorCode.InvalidArgument],
    ['ipvs.info', 9, IpvsErrorCode.Closed],
    ['ipvs.readAll', 105, IpvsErrorCode.Netlink],
  ])('%s errno %i is %s', (op, errno, code) => {
    const e = fromNative(nativeError(op, errno)) as IpvsError;
    expect(e).toBeInstanceOf(IpvsError);
    expect(e).toMatchObject({ code, op, errno, target: 'TCP 10.96.0.1:80' });
  });

  it('says the kernel has no IPVS when the family is missing', () => {
    expect((fromNative(nativeError('ipvs.open', 2)) as IpvsError).message).toMatch(
      /hint: the kernel has no IPVS \(modprobe ip_vs\)/,
    );
  });

  it('names the scheduler module that is missing', () => {
    const e = fromNative(nativeError('ipvs.addService', 2), { scheduler: 'mh' }) as IpvsError;
    expect(e.hint).toBe('no IPVS scheduler "mh" in this kernel (modprobe ip_vs_mh)');
  });

  it("keeps the kernel's own words and refuses bad arguments as such", () => {
    expect(fromNative(nativeError('ipvs.addDest', 22, { detail: 'weight out of range' }))).toMatchObject({
      detail: 'weight out of range',
    });
    const arg = Object.assign(new TypeError('ipvs.apply: addr x is not an IPv4 address'), {
      code: 'ERR_IPVS_NATIVE_ARGUMENT',
      op: 'ipvs.apply',
      errno: 22,
    });
    expect(fromNative(arg)).toMatchObject({ code: IpvsErrorCode.InvalidArgument });
  });

  it('passes other errors through', () => {
    const e = new Error('x');
    expect(fromNative(e)).toBe(e);
    expect(ipvsError('ipvs.apply', 5, 'm').code).toBe(IpvsErrorCode.Netlink);
  });
});
