// Every error code lives in one catalogue per layer (a `…ErrorCode` const
// object exported by a control/**/errors.ts), is unique across all of them, and
// is spelled ERR_UPPER_CASE. A code written anywhere else in control/ (or by the
// addon) that no catalogue lists fails here, so a new ad-hoc code cannot slip in.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NativeErrorCode } from '../../../control/native/errors.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const CODE = /^ERR_[A-Z0-9_]+$/;

function walk(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? walk(p, keep) : keep(d.name) ? [p] : [];
  });
}

interface Catalogue {
  file: string;
  name: string;
  codes: string[];
}

async function catalogues(): Promise<Catalogue[]> {
  const out: Catalogue[] = [];
  for (const file of walk(join(root, 'control'), (n) => n === 'errors.ts').sort()) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (!name.endsWith('ErrorCode') || typeof value !== 'object' || value === null) continue;
      out.push({ file: relative(root, file), name, codes: Object.values(value) as string[] });
    }
  }
  return out;
}

/** The ERR_ string literals of a source file (quoted: comments that mention a code do not count). */
function literals(text: string): string[] {
  return [...text.matchAll(/['"`](ERR_[A-Za-z0-9_]*)['"`]/g)].map((m) => m[1]!);
}

describe('error catalogues', () => {
  it('finds one catalogue per layer', async () => {
    const names = (await catalogues()).map((c) => c.name).sort();
    expect(names).toEqual(
      [
        'ApiErrorCode',
        'BpfErrorCode',
        'CliErrorCode',
        'ConfigErrorCode',
        'DummyInterfaceErrorCode',
        'IpsetErrorCode',
        'IptablesErrorCode',
        'IpvsErrorCode',
        'NativeErrorCode',
        'ProxierErrorCode',
        'SourceErrorCode',
      ].sort(),
    );
  });

  it('spells every code ERR_UPPER_CASE and uses each once across all catalogues', async () => {
    const seen = new Map<string, string>();
    const dup: string[] = [];
    for (const c of await catalogues()) {
      for (const code of c.codes) {
        expect(code, `${c.file} ${c.name}`).toMatch(CODE);
        const other = seen.get(code);
        if (other) dup.push(`${code}: ${other} and ${c.file} ${c.name}`);
        seen.set(code, `${c.file} ${c.name}`);
      }
    }
    expect(dup).toEqual([]);
  });

  it('knows every ERR_ literal in control/', async () => {
    const codes = new Set((await catalogues()).flatMap((c) => c.codes));
    // A family prefix ("ERR_BPF_", for startsWith) is fine when it prefixes a code.
    const known = (s: string) => codes.has(s) || (s.endsWith('_') && [...codes].some((c) => c.startsWith(s)));
    const unknown = walk(join(root, 'control'), (n) => n.endsWith('.ts')).flatMap((file) =>
      literals(readFileSync(file, 'utf8'))
        .filter((s) => !known(s))
        .map((s) => `${relative(root, file)}: ${s}`),
    );
    expect(unknown, 'add these to their layer catalogue (control/**/errors.ts)').toEqual([]);
  });

  it('knows every code the addon throws (native/)', () => {
    const native = new Set<string>(Object.values(NativeErrorCode));
    const unknown = walk(join(root, 'native'), (n) => /\.(cc|h)$/.test(n)).flatMap((file) =>
      literals(readFileSync(file, 'utf8'))
        .filter((s) => !native.has(s))
        .map((s) => `${relative(root, file)}: ${s}`),
    );
    expect(unknown, 'add these to NativeErrorCode (control/native/errors.ts)').toEqual([]);
    // And each NativeErrorCode is one the addon really uses.
    const used = new Set(
      walk(join(root, 'native'), (n) => /\.(cc|h)$/.test(n)).flatMap((f) => literals(readFileSync(f, 'utf8'))),
    );
    expect([...native].filter((c) => !used.has(c))).toEqual([]);
  });
});
