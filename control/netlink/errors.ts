// The catalogue of IPVS errors. The addon reports the operation, errno, the
// service or real server, and the kernel's words; here each failure gets a
// stable code and, where one helps, a hint. Codes never change meaning.
import { constants } from 'node:os';

import {
  isAddonError,
  NativeErrorCode,
  NativeFailure,
  type AddonError,
  type NativeFailureDetails,
} from '../native/errors.js';

export const IpvsErrorCode = {
  /** No IPVS in this kernel (the "IPVS" generic netlink family is not registered). */
  Unavailable: 'ERR_IPVS_UNAVAILABLE',
  /** Not allowed: IPVS needs CAP_NET_ADMIN in the network namespace's user namespace. */
  Permission: 'ERR_IPVS_PERMISSION',
  /** Adding a virtual or real server that is already there. */
  Exists: 'ERR_IPVS_EXISTS',
  /** Editing, deleting or adding real servers to a virtual server that is not there. */
  NoSuchVirtualServer: 'ERR_IPVS_NO_SUCH_VIRTUAL_SERVER',
  /** Editing or deleting a real server that is not there. */
  NoSuchRealServer: 'ERR_IPVS_NO_SUCH_REAL_SERVER',
  /** A scheduler (or persistence engine) the kernel has no module for. */
  NoSuchScheduler: 'ERR_IPVS_NO_SUCH_SCHEDULER',
  /** A value the kernel or the addon refused (weight, thresholds, family, address). */
  InvalidArgument: 'ERR_IPVS_INVALID_ARGUMENT',
  /** The socket was closed. */
  Closed: 'ERR_IPVS_CLOSED',
  /** Any other failure of the netlink exchange. */
  Netlink: 'ERR_IPVS_NETLINK',
} as const;
export type IpvsErrorCode = (typeof IpvsErrorCode)[keyof typeof IpvsErrorCode];

export interface IpvsErrorDetails extends NativeFailureDetails {
  /** The kernel's extended-ack text, when it gave one. */
  detail?: string;
}

export class IpvsError extends NativeFailure<IpvsErrorCode> {
  readonly detail: string | undefined;

  constructor(code: IpvsErrorCode, message: string, details: IpvsErrorDetails) {
    super(code, message, details);
    this.name = 'IpvsError';
    this.detail = details.detail;
  }
}

export const NO_IPVS_HINT = 'the kernel has no IPVS (modprobe ip_vs)';

const E = constants.errno;

interface NativeError extends AddonError {
  detail?: string;
}

/** What the caller knows that the addon does not: the scheduler asked for. */
export interface ErrorContext {
  scheduler?: string;
}

/** The catalogue entry for an errno of an IPVS operation. */
export function ipvsError(
  op: string,
  errno: number,
  message: string,
  extra: Omit<IpvsErrorDetails, 'op' | 'errno'> & ErrorContext = {},
): IpvsError {
  const { scheduler, ...rest } = extra;
  const details: IpvsErrorDetails = { op, errno, ...rest };
  const onService = /Service$/.test(op) || /VirtualServer$/.test(op);
  switch (errno) {
    case E.ENOENT:
      if (op === 'ipvs.open')
        return new IpvsError(IpvsErrorCode.Unavailable, message, { ...details, hint: NO_IPVS_HINT });
      if (onService && /^ipvs\.(add|edit)/.test(op))
        return new IpvsError(IpvsErrorCode.NoSuchScheduler, message, {
          ...details,
          hint: scheduler
            ? `no IPVS scheduler "${scheduler}" in this kernel (modprobe ip_vs_${scheduler})`
            : 'an IPVS scheduler this kernel has no module for',
        });
      return new IpvsError(IpvsErrorCode.NoSuchRealServer, message, details);
    case E.ESRCH:
      return new IpvsError(IpvsErrorCode.NoSuchVirtualServer, message, details);
    case E.EEXIST:
      return new IpvsError(IpvsErrorCode.Exists, message, details);
    case E.EPERM:
    case E.EACCES:
      return new IpvsError(IpvsErrorCode.Permission, message, {
        ...details,
        hint: 'IPVS needs root, or CAP_NET_ADMIN',
      });
    case E.EINVAL:
    case E.ERANGE:
      return new IpvsError(IpvsErrorCode.InvalidArgument, message, details);
    case E.EBADF:
      return new IpvsError(IpvsErrorCode.Closed, message, details);
    default:
      return new IpvsError(IpvsErrorCode.Netlink, message, details);
  }
}

/** Maps an addon error to its catalogue entry. Other errors pass through. */
export function fromNative(e: unknown, context: ErrorContext = {}): unknown {
  if (!isAddonError<NativeError>(e, NativeErrorCode.Ipvs)) return e;
  const op = e.op ?? 'ipvs';
  if (e.code === NativeErrorCode.IpvsArgument)
    return new IpvsError(IpvsErrorCode.InvalidArgument, e.message, { op, errno: e.errno, target: e.target, cause: e });
  return ipvsError(op, e.errno ?? 0, e.message, {
    ...context,
    cause: e,
    ...(e.target ? { target: e.target } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
  });
}

/** Runs an addon call and rethrows its failure as an IpvsError. */
export function native<T>(fn: () => T, context?: ErrorContext): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e, context);
  }
}
