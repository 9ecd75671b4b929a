// The command line of the `switchyard` daemon, parsed as kube-proxy's (spf13/
// pflag) would be: `--flag=value` and `--flag value`; booleans as `--flag` or
// `--flag=false` (never `--flag false`); `-v 4`, `-v=4`, `-v4`; "_" and "-"
// alike in names; repeated list flags append; no positional arguments.
//
// loadOptions (load.ts) calls parseFlags, answers --help and --version, and
// resolves the rest against the defaults and the config file. Subcommands
// (`switchyard get …`) are not parsed here.
import { ConfigError, ConfigErrorCode, ValueError } from './errors.js';
import { FLAGS, type FlagDef, type FlagSection } from './flag-table.js';
import { closest } from './suggest.js';

export { FLAGS, type FlagDef } from './flag-table.js';

export interface GivenFlag {
  def: FlagDef;
  /** The parsed value (repeats already merged). */
  value: unknown;
  /** The text as written (the last occurrence), for messages. */
  raw: string;
}

export interface ParsedFlags {
  /** The flags on the command line by long name, in order of first appearance. */
  given: Map<string, GivenFlag>;
  /** One "accepted but ignored" note per kube-proxy flag we do not implement; the daemon logs them as warnings. */
  notes: string[];
  help: boolean;
  /** --version: 'raw' prints only the version string. */
  version: false | 'true' | 'raw';
}

const byLong = new Map(FLAGS.map((f) => [f.name, f]));
const byShort = new Map(FLAGS.filter((f) => f.short).map((f) => [f.short!, f]));

const flagError = (message: string) => new ConfigError(ConfigErrorCode.Flag, message);

function unknownFlag(written: string, name: string): ConfigError {
  const near = closest(name, byLong.keys());
  const hint = near ? ` (did you mean --${near}?)` : '';
  return flagError(`unknown flag: ${written}${hint}; run switchyard --help for the list of flags`);
}

function parseValue(def: FlagDef, raw: string): unknown {
  try {
    return def.parse(raw);
  } catch (e) {
    if (e instanceof ValueError) throw flagError(`invalid value "${raw}" for --${def.name}: ${e.message}`);
    throw e;
  }
}

/** Parses the daemon's argv (without node and the script). Throws ConfigError ERR_CONFIG_FLAG. */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const given = new Map<string, GivenFlag>();
  const out: ParsedFlags = { given, notes: [], help: false, version: false };

  const take = (def: FlagDef, raw: string) => {
    const value = parseValue(def, raw);
    const earlier = given.get(def.name);
    given.set(def.name, { def, raw, value: earlier && def.merge ? def.merge(earlier.value, value) : value });
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let def: FlagDef | undefined;
    let raw: string | undefined;
    if (arg === '--') {
      if (i + 1 < argv.length) throw positional(argv.slice(i + 1), '');
      break;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('_', '-');
      def = byLong.get(name);
      if (!def) throw unknownFlag(eq < 0 ? arg : arg.slice(0, eq), name);
      if (eq >= 0) raw = arg.slice(eq + 1);
    } else if (arg.startsWith('-') && arg.length > 1) {
      def = byShort.get(arg[1]!);
      const rest = arg.slice(2);
      if (!def || (def.bool && rest !== '' && !rest.startsWith('='))) {
        // Go's flag package allows -name; pflag does not. Point at the long form.
        const asLong = byLong.get(arg.slice(1).split('=')[0]!.replaceAll('_', '-'));
        const hint = asLong ? ` (did you mean --${asLong.name}?)` : '';
        throw flagError(
          `unknown shorthand flag: '${arg[1]}' in ${arg}${hint}; run switchyard --help for the list of flags`,
        );
      }
      if (rest.startsWith('=')) raw = rest.slice(1);
      else if (rest !== '') raw = rest;
    } else {
      const prev = i > 0 ? argv[i - 1]! : '';
      const boolBefore =
        prev.startsWith('-') && !prev.includes('=') && (byLong.get(prev.slice(2).replaceAll('_', '-'))?.bool ?? false);
      throw positional(argv.slice(i), boolBefore ? ` (a boolean takes its value as ${prev}=${arg})` : '');
    }

    if (raw === undefined) {
      if (def.bool) raw = 'true';
      else if (i + 1 < argv.length) raw = argv[++i]!;
      else throw flagError(`flag needs an argument: ${arg} (${def.type ?? 'value'})`);
    }
    take(def, raw);

    // As with pflag, --help stops parsing: whatever follows is not checked.
    if (def.name === 'help' && given.get('help')!.value === true) {
      out.help = true;
      return out;
    }
  }

  const version = given.get('version')?.value;
  if (version === 'true' || version === 'raw') out.version = version;
  for (const { def, raw } of given.values()) {
    if (def.ignored)
      out.notes.push(`${shown(def, raw)} is accepted for kube-proxy compatibility but ignored: ${def.ignored}`);
  }
  return out;
}

/** How a given flag is shown in notes: `--profiling`, `--oom-score-adj=-999`. */
export function shown(def: FlagDef, raw: string): string {
  return def.bool && raw === 'true' ? `--${def.name}` : `--${def.name}=${raw}`;
}

function positional(args: readonly string[], hint: string): ConfigError {
  return flagError(
    `switchyard takes no arguments, got ${args.map((a) => JSON.stringify(a)).join(' ')}${hint}; flags start with --`,
  );
}

const SECTION_TITLES: Record<FlagSection, string> = {
  general: 'General flags',
  'kube-proxy': "kube-proxy's flags",
  switchyard: "Switchyard's flags",
  ignored: 'Accepted for kube-proxy compatibility, without effect',
};

/** --help, generated from the flag table: every flag, its type, what it does and its default. */
export function helpText(width = 100): string {
  const left = (f: FlagDef) => `${f.short ? `  -${f.short}, ` : '      '}--${f.name}${f.type ? ` ${f.type}` : ''}`;
  const lines = [
    'switchyard replaces kube-proxy on a Kubernetes node: it watches Services and EndpointSlices',
    'and programs an eBPF dataplane (or iptables, IPVS, kernelspace or userspace).',
    '',
    'Usage:',
    '  switchyard [flags]',
  ];
  for (const section of Object.keys(SECTION_TITLES) as FlagSection[]) {
    lines.push('', `${SECTION_TITLES[section]}:`);
    const flags = FLAGS.filter((x) => x.section === section);
    const col = Math.max(...flags.map((f) => left(f).length)) + 3;
    for (const f of flags) {
      const def = typeof f.default === 'function' ? f.default() : f.default;
      // "(default …)" stays on one line.
      const words = [
        ...(f.usage ?? `Ignored: ${f.ignored}.`).split(' '),
        ...(def !== undefined ? [`(default ${def})`] : []),
      ];
      lines.push(...wrap(left(f).padEnd(col), words, width, col));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Word-wraps `words` to `width` columns after `head`, continuing lines at column `indent`. */
function wrap(head: string, words: readonly string[], width: number, indent: number): string[] {
  const out: string[] = [];
  let line = head;
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  out.push(line);
  return out;
}
