// Go's time.Duration text form, which kube-proxy's flags and its config file
// use ("30s", "1m0s", "500ms", "1h2m", "1.5h"). Durations are kept in
// milliseconds (fractions allowed) because ProxyOptions counts in ms.
import { ValueError } from './errors.js';

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 MICRO SIGN
  μs: 1e3, // U+03BC GREEK SMALL LETTER MU; Go accepts both
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// One "<number><unit>" term; Go allows "1.", ".5" but not ".".
const TERM = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
// time.Duration is an int64 of nanoseconds: about 292 years. (2^63 - 1 is not
// a double: the literal 9_223_372_036_854_775_807 was this same 2^63.)
const MAX_NS = 2 ** 63 - 1;

export const DURATION_EXAMPLES = 'a duration such as 30s, 1m0s, 500ms or 1h2m';

/** Parses a Go duration into milliseconds, as time.ParseDuration would. */
export function parseGoDuration(text: string): number {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  // Go's one unitless duration; every other number needs a unit.
  if (s === '0') return 0;
  if (s === '') throw new ValueError(`expected ${DURATION_EXAMPLES}`);
  let ns = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const start = TERM.lastIndex;
    const m = TERM.exec(s);
    if (!m) {
      const missingUnit = /^[\d.]+$/.test(s.slice(start));
      throw new ValueError(
        `${missingUnit ? 'missing unit; ' : ''}expected ${DURATION_EXAMPLES} (units ns, us, ms, s, m, h)`,
      );
    }
    ns += Number(m[1]) * NS_PER_UNIT[m[2]!]!;
  }
  if (ns > MAX_NS) throw new ValueError('duration out of range (more than about 292 years)');
  return (sign * ns) / 1e6;
}

/** Formats milliseconds as Go's Duration.String() does: 30s, 1m0s, 1h0m0s, 500ms, 0s. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  const num = (n: number) => String(Number(n.toFixed(9)));
  if (abs < 1) return `${sign}${num(abs * 1000)}µs`;
  if (abs < 1000) return `${sign}${num(abs)}ms`;
  const totalSeconds = abs / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds - h * 3600) / 60);
  const s = totalSeconds - h * 3600 - m * 60;
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${num(s)}s`;
}
