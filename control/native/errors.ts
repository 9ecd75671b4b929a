// What the BPF and IPVS error catalogues share: an addon failure named by the
// operation, the errno and the object it was about, with a stable code and,
// where one helps, a hint an operator can act on.

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
