// A real pino logger whose JSON lines land in an array, so tests assert on
// what an operator would read rather than on mock calls.
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLogs {
  logger: Logger;
  lines: LogLine[];
  /** Lines at `level` (pino's names: debug, info, warn, error). */
  at(level: 'debug' | 'info' | 'warn' | 'error'): LogLine[];
}

export function captureLogs(): CapturedLogs {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines, at: (level) => lines.filter((l) => l.level === logger.levels.values[level]) };
}
