// What the BPF and IPVS error catalogues share: an addon failure named by the
// operation, the errno and the object it was about, with a stable code and,
// where one helps, a hint an operator can act on.

/**
 * The codes the addon (native/*.cc) puts on what it throws. They never reach
 * an operator: control/bpf/errors.ts and control/ipvs/errors.ts map each to
 * their own catalogue's code. Spelled here once for TypeScript; native/ has
 * the same strings (test/unit/errors/catalogue.test.ts checks both agree).
 */
export const NativeErrorCode = {
  /** A BPF syscall or libbpf call failed; `errno`, `op` and `target` say which. */
  Bpf: 'ERR_BPF_NATIVE',
  /** A BPF call got an argument of the wrong type or size. */
  BpfArgument: 'ERR_BPF_NATIVE_ARGUMENT',
  /** An IPVS netlink exchange failed; `errno`, `op`, `target` and `detail` say which. */
  Ipvs: 'ERR_IPVS_NATIVE',
  /** An IPVS call got an argument of the wrong type, or a field it cannot encode. */
  IpvsArgument: 'ERR_IPVS_NATIVE_ARGUMENT',
} as const;
export type NativeErrorCode = (typeof NativeErrorCode)[keyof typeof NativeErrorCode];

export interface NativeFailureDetails {
  op: string;
  errno?: number;
  target?: string;
  hint?: string;
  cause?: unknown;
}

export class NativeFailure<Code extends string> extends Error {
  readonly code: Code;
  readonly op: string;
  readonly errno: number | undefined;
  readonly target: string | undefined;
  readonly hint: string | undefined;

  constructor(code: Code, message: string, details: NativeFailureDetails) {
    super(details.hint ? `${message} (hint: ${details.hint})` : message, { cause: details.cause });
    this.code = code;
    this.op = details.op;
    this.errno = details.errno;
    this.target = details.target;
    this.hint = details.hint;
  }
}

/** The fields the addon puts on the errors it throws. */
export interface AddonError {
  message: string;
  code?: string;
  errno?: number;
  op?: string;
  target?: string;
}

/** Whether `e` came from the addon with a code that starts with `prefix`. */
export function isAddonError<E extends AddonError>(e: unknown, prefix: string): e is Error & E {
  return e instanceof Error && typeof (e as AddonError).code === 'string' && (e as AddonError).code!.startsWith(prefix);
}
