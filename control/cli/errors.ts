// The one catalogue of the CLI's own errors (switchyard get). What the server
// answers keeps its ERR_API_* code (control/api/errors.ts).

export const CliErrorCode = {
  /** Unknown resource, flag or output format on the command line. */
  Usage: 'ERR_CLI_USAGE',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];
