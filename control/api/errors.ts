// The one catalogue of ops API errors. Every JSON error body carries one of
// these codes, so scripts and the CLI can tell "no such map" from "bad query"
// without parsing messages. Codes never change meaning once released.

export const ApiErrorCode = {
  /** A query parameter is malformed or out of range (HTTP 400). */
  BadRequest: 'ERR_API_BAD_REQUEST',
  /** A `continue` token that this list did not issue, or for another list (HTTP 400). */
  BadContinue: 'ERR_API_BAD_CONTINUE',
  /** No route, service, or map of that name (HTTP 404). */
  NotFound: 'ERR_API_NOT_FOUND',
  /** The proxier has not started, or the mode has no such state (HTTP 503). */
  Unavailable: 'ERR_API_UNAVAILABLE',
  /** Reading the kernel's state failed; the BPF error's code is in `cause` (HTTP 500). */
  Internal: 'ERR_API_INTERNAL',
  /** A server cannot listen on its bind address (start-up). */
  Listen: 'ERR_API_LISTEN',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

const STATUS: Record<ApiErrorCode, number> = {
  ERR_API_BAD_REQUEST: 400,
  ERR_API_BAD_CONTINUE: 400,
  ERR_API_NOT_FOUND: 404,
  ERR_API_UNAVAILABLE: 503,
  ERR_API_INTERNAL: 500,
  ERR_API_LISTEN: 500,
};

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly statusCode: number;
  /** The code of the underlying error (e.g. ERR_BPF_PERMISSION), when there is one. */
  readonly causeCode: string | undefined;

  constructor(code: ApiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.statusCode = STATUS[code];
    const c = options.cause as { code?: unknown } | undefined;
    this.causeCode = typeof c?.code === 'string' ? c.code : undefined;
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
  statusCode: number;
  cause?: string;
}

export function errorBody(err: ApiError): ErrorBody {
  return {
    code: err.code,
    message: err.message,
    statusCode: err.statusCode,
    ...(err.causeCode ? { cause: err.causeCode } : {}),
  };
}
