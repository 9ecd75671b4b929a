// The ipvs mode's start-up check: load ip_vs if IPVS is missing, then fail
// clearly (naming the family and what modprobe said) or go on.
import { describe, expect, it, vi } from 'vitest';
import { requireIpvs } from '../../../control/netlink/availability.js';
import { IpvsError, IpvsErrorCode } from '../../../control/netlink/index.js';

const missing = () =>
  new IpvsError(IpvsErrorCode.Unavailable, 'ipvs.open IPVS: No such file or directory', { op: 'ipvs.open', errno: 2 });
const present = { info: () => ({ version: '1.2.1', connectionTableSize: 4096 }), close: vi.fn() };

describe('requireIpvs', () => {
  it('fails with what is missing and what modprobe said', () => {
    const loadModule = vi.fn(() => 'modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.18');
    const open = () => {
      throw missing();
    };
    let err: IpvsError | undefined;
    try {
      requireIpvs({ purpose: '--proxy-mode=ipvs', open, loadModule });
    } catch (e) {
      err = e as IpvsError;
    }
    expect(loadModule).toHaveBeenCalledWith('ip_vs');
    expect(err).toBeInstanceOf(IpvsError);
    expect(err!.code).toBe(IpvsErrorCode.Unavailable);
    expect(err!.message).toMatch(
      /^--proxy-mode=ipvs needs IPVS, but this kernel has no IPVS: the generic netlink family "IPVS" is not registered, and `modprobe ip_vs` failed: modprobe: FATAL: Module ip_vs not found/,
    );
  });

  it('goes on when modprobe loaded the module', () => {
    let calls = 0;
    const open = () => {
      if (calls++ === 0) throw missing();
      return present;
    };
    expect(requireIpvs({ open, loadModule: () => undefined })).toEqual({ version: '1.2.1', connectionTableSize: 4096 });
    expect(present.close).toHaveBeenCalled();
  });

  it('does not try modprobe when IPVS is there', () => {
    const loadModule = vi.fn();
    requireIpvs({ open: () => present, loadModule });
    expect(loadModule).not.toHaveBeenCalled();
  });

  it('passes other failures through (no privileges is not "no IPVS")', () => {
    const open = () => {
      throw new IpvsError(IpvsErrorCode.Permission, 'ipvs.open: Operation not permitted', {
        op: 'ipvs.open',
        errno: 1,
      });
    };
    expect(() => requireIpvs({ open, loadModule: vi.fn() })).toThrow(
      expect.objectContaining({ code: IpvsErrorCode.Permission }),
    );
  });
});
