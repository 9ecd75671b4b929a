// The one catalogue of configuration errors. Each says which flag, file field
// or rule is at fault, the value that was given and what would be accepted, so
// an operator can fix the command line or the file without reading our code.

export const ConfigErrorCode = {
  /** A command-line flag is unknown, lacks its value, or has a value of the wrong form. */
  Flag: 'ERR_CONFIG_FLAG',
  /** The --config file cannot be read, parsed, or is not a valid KubeProxyConfiguration. */
  File: 'ERR_CONFIG_FILE',
  /** Each value is well formed, but together they break a rule (e.g. --manifests with --kubeconfig). */
  Invalid: 'ERR_CONFIG_INVALID',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
    this.code = code;
  }
}

/**
 * What a value parser throws: only the expectation ("expected a duration such
 * as 30s"). The caller knows whether the value came from a flag or a file
 * field and wraps it into a ConfigError that names both.
 */
export class ValueError extends Error {
  constructor(expected: string) {
    super(expected);
    this.name = 'ValueError';
  }
}
