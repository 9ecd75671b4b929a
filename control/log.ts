// Structured logs with pino: JSON lines by default (what log pipelines want),
// or klog-like text lines for a human at a terminal (--logging-format=text).
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogOptions {
  level: string;
  format: 'json' | 'text';
  /** Where lines go (default stderr, as klog). */
  destination?: NodeJS.WritableStream;
}

const LEVEL_LETTER: Record<number, string> = { 10: 'T', 20: 'D', 30: 'I', 40: 'W', 50: 'E', 60: 'F' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** `I1121 14:03:07.123] synced servicePorts=12 ms=3.1`: the JSON line, rewritten. */
function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const t = new Date(Number(rec.time));
        const pad = (n: number, w = 2) => String(n).padStart(w, '0');
        const stamp = `${pad(t.getMonth() + 1)}${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
        const fields = Object.entries(rec)
          .filter(([k]) => !OMIT.has(k))
          .map(
            ([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`,
          );
        out.write(
          `${LEVEL_LETTER[Number(rec.level)] ?? '?'}${stamp}] ${String(rec.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`,
        );
      }
      done();
    },
  });
}

export function createLogger(opts: LogOptions): Logger {
  const out = opts.destination ?? process.stderr;
  const stream = opts.format === 'text' ? textStream(out) : out;
  return pino(
    { level: opts.level, base: { pid: process.pid }, serializers: { err: pino.stdSerializers.err } },
    stream as never,
  );
}
