// The one catalogue of the sources' errors (the API server's watch, manifest
// files). Codes never change meaning once released.

export const SourceErrorCode = {
  /** An object the proxy cannot use at all; ObjectError's `problems` lists each with its field path. */
  Object: 'ERR_SOURCE_OBJECT',
} as const;
export type SourceErrorCode = (typeof SourceErrorCode)[keyof typeof SourceErrorCode];
