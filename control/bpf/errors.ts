// The one catalogue of BPF errors. The addon reports the operation, errno and
// target; here each failure gets a stable code, a message an operator can act
// on, and a hint where one helps. Codes never change meaning once released.
import { constants } from 'node:os';

import {
  isAddonError,
  NativeErrorCode,
  NativeFailure,
  type AddonError,
  type NativeFailureDetails,
} from '../native/errors.js';

export const BpfErrorCode = {
  /** Not allowed: not root, or missing CAP_BPF/CAP_NET_ADMIN. */
  Permission: 'ERR_BPF_PERMISSION',
  /** The verifier refused a program; `verifierLog` holds its reasons. */
  Verifier: 'ERR_BPF_VERIFIER',
  /** A pin path, object file, map, program or interface that is not there. */
  NotFound: 'ERR_BPF_NOT_FOUND',
  /** Wrong key or value size, bad flags, or an argument the kernel refused. */
  InvalidArgument: 'ERR_BPF_INVALID_ARGUMENT',
  /** The map has no room for another entry (max_entries reached). */
  MapFull: 'ERR_BPF_MAP_FULL',
  /** BPF_NOEXIST update of a key that exists, or an attachment already there. */
  Exists: 'ERR_BPF_EXISTS',
  /** The kernel lacks the feature (batch command, attach type, XDP mode). */
  Unsupported: 'ERR_BPF_UNSUPPORTED',
  /** The map, program or object was closed. */
  Closed: 'ERR_BPF_CLOSED',
  /** A C struct and the TypeScript view of it disagree (from BTF). */
  LayoutMismatch: 'ERR_BPF_LAYOUT_MISMATCH',
  /**
   * A map pinned by an earlier run differs from the object's definition in
   * more than its size (type, key/value size or BTF layout, flags): reusing
   * it would misread it. The message lists each difference and the pin.
   */
  MapIncompatible: 'ERR_BPF_MAP_INCOMPATIBLE',
  /** Any other failure of a BPF syscall. */
  Syscall: 'ERR_BPF_SYSCALL',
} as const;
export type BpfErrorCode = (typeof BpfErrorCode)[keyof typeof BpfErrorCode];

export interface BpfErrorDetails extends NativeFailureDetails {
  verifierLog?: string;
}

export class BpfError extends NativeFailure<BpfErrorCode> {
  readonly verifierLog: string | undefined;

  constructor(code: BpfErrorCode, message: string, details: BpfErrorDetails) {
    super(code, message, details);
    this.name = 'BpfError';
    this.verifierLog = details.verifierLog;
  }
}

const E = constants.errno;
const ENOTSUPP = 524; // the kernel's internal "not supported", seen by user space

const PRIVILEGE_HINT =
  'BPF needs root, or CAP_BPF with CAP_NET_ADMIN (CAP_SYS_ADMIN on older kernels); ' +
  'this kernel refuses unprivileged BPF when kernel.unprivileged_bpf_disabled is set';

interface NativeError extends AddonError {
  verifierLog?: string;
}

/** Maps an addon error to its catalogue entry. Other errors pass through. */
export function fromNative(e: unknown): unknown {
  if (!isAddonError<NativeError>(e, NativeErrorCode.Bpf)) return e;
  const op = e.op ?? 'bpf';
  const errno = e.errno;
  const details: BpfErrorDetails = { op, errno, target: e.target, cause: e };
  if (e.code === NativeErrorCode.BpfArgument) return new BpfError(BpfErrorCode.InvalidArgument, e.message, details);

  if (
    op === 'object.load' &&
    e.verifierLog &&
    /BEGIN PROG LOAD LOG|processed|invalid|R\d/.test(e.verifierLog + e.message)
  ) {
    const tail = e.verifierLog.trim().split('\n').slice(-3).join(' | ');
    return new BpfError(BpfErrorCode.Verifier, `${e.message}; the verifier said: ${tail}`, {
      ...details,
      verifierLog: e.verifierLog,
    });
  }
  switch (errno) {
    case E.EPERM:
    case E.EACCES:
      return new BpfError(BpfErrorCode.Permission, e.message, { ...details, hint: PRIVILEGE_HINT });
    case E.ENOENT:
      return new BpfError(BpfErrorCode.NotFound, e.message, {
        ...details,
        hint: op.endsWith('openPinned')
          ? 'nothing is pinned there: is bpffs mounted and has the owner started?'
          : undefined,
      });
    case E.ENODEV:
      return new BpfError(BpfErrorCode.NotFound, e.message, {
        ...details,
        hint: 'no such network interface in that namespace',
      });
    case E.E2BIG:
      return new BpfError(BpfErrorCode.MapFull, e.message, {
        ...details,
        hint: op.startsWith('map.') ? 'the map is full; raise its size setting' : undefined,
      });
    case E.EEXIST:
    case E.EBUSY:
      return new BpfError(BpfErrorCode.Exists, e.message, details);
    case E.EOPNOTSUPP:
    case E.ENOSYS:
    case ENOTSUPP:
      return new BpfError(BpfErrorCode.Unsupported, e.message, details);
    case E.EBADF:
      return new BpfError(BpfErrorCode.Closed, e.message, details);
    case E.EINVAL:
      return new BpfError(BpfErrorCode.InvalidArgument, e.message, details);
    default:
      return new BpfError(BpfErrorCode.Syscall, e.message, details);
  }
}

/** Runs an addon call and rethrows its failure as a BpfError. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** The same for an addon call that returns a promise. */
export async function nativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw fromNative(e);
  }
}
