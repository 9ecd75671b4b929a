// Writes control/proxiers/ebpf/abi.generated.ts from the BTF of the BPF objects
// the daemon loads (build/bpf/{tc,sock,xdp}.bpf.o): the TypeScript side of
// bpf/include/switchyard/abi.h, so no layout or constant is written twice.
// For every sy_* map: the interfaces of its key and value (fields as
// control/bpf/codec.ts decodes them: struct sy_addr addresses as text of their
// family (IPv4-mapped ones as dotted quads), 64-bit
// integers as bigint, other integers as numbers, padding left out), the field
// formats its codec needs, and its name in MAP_NAMES. For every sy_* enum: a
// const object of its constants and a table of value → name.
//
//   node dist/scripts/gen-abi.js          rewrite the file (npm run gen:abi; npm run build)
//   node dist/scripts/gen-abi.js --check  exit 1, with a diff, if the file is not what the objects say
//
// test/unit/bpf/abi-generated.test.ts regenerates it in memory and fails on
// any drift, as CI's regenerate-and-diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BpfObject, type BtfType, type ObjectBtf } from '../control/bpf/index.js';
import { isAddressType, isPaddingField } from '../control/bpf/codec.js';

/** The objects the daemon loads, in the order their maps are listed. */
export const ABI_OBJECTS = ['tc.bpf.o', 'sock.bpf.o', 'xdp.bpf.o'] as const;
/** Where the generated file lives, from the repository root. */
export const ABI_GENERATED = 'control/proxiers/ebpf/abi.generated.ts';

interface AbiMap {
  name: string;
  type: string;
  key: BtfType;
  value: BtfType;
}

interface AbiEnum {
  name: string;
  values: Array<{ name: string; value: number }>;
}

export interface Abi {
  maps: AbiMap[];
  enums: AbiEnum[];
}

/**
 * The sy_* maps and enums of the objects in `objectDir`. A map or enum in
 * more than one object must be the same in each: they share the pinned map.
 */
export function readAbi(objectDir: string): Abi {
  const maps = new Map<string, AbiMap & { from: string }>();
  const enums = new Map<string, AbiEnum & { from: string }>();
  for (const file of ABI_OBJECTS) {
    const path = join(objectDir, file);
    if (!existsSync(path)) {
      throw new Error(`${path} is missing: build the BPF objects first (npm run build, or scripts/setup.sh)`);
    }
    let btf: ObjectBtf;
    const obj = BpfObject.open(path);
    try {
      btf = obj.btf();
    } finally {
      obj.close();
    }
    for (const m of btf.maps) {
      if (!m.name.startsWith('sy_')) continue; // .rodata, .bss: the object's own
      if (!m.key || !m.value) throw new Error(`${file}: map ${m.name} has no BTF for its key or value (build with -g)`);
      const seen = maps.get(m.name);
      const here = { name: m.name, type: m.type, key: m.key, value: m.value };
      if (seen && JSON.stringify(strip(seen)) !== JSON.stringify(here)) {
        throw new Error(`map ${m.name} differs between ${seen.from} and ${file}: rebuild both from one abi.h`);
      }
      if (!seen) maps.set(m.name, { ...here, from: file });
    }
    for (const e of btf.enums) {
      if (!e.name.startsWith('sy_')) continue;
      const here = { name: e.name, values: e.values ?? [] };
      const seen = enums.get(e.name);
      if (seen && JSON.stringify(seen.values) !== JSON.stringify(here.values)) {
        throw new Error(`enum ${e.name} differs between ${seen.from} and ${file}: rebuild both from one abi.h`);
      }
      if (!seen) enums.set(e.name, { ...here, from: file });
    }
  }
  return { maps: [...maps.values()].map(strip), enums: [...enums.values()].map(({ from: _, ...e }) => e) };
}

function strip(m: AbiMap & { from?: string }): AbiMap {
  return { name: m.name, type: m.type, key: m.key, value: m.value };
}

/** sy_service_key → SyServiceKey */
const pascal = (cName: string) =>
  cName
    .split('_')
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** struct sy_addr, the 16-byte address of either family: shown as text ("10.96.0.1", "fd00::1"). */
const isAddress = isAddressType;

/**
 * The prefix every constant of an enum carries, by abi.h's convention: the
 * enum's name without its last word, upper case, plus F_ for a flags enum
 * (sy_svc_flags: SY_SVC_F_, sy_ct_dir: SY_CT_, sy_drop_reason: SY_DROP_).
 */
function enumPrefix(name: string): string {
  const words = name.toUpperCase().split('_');
  return words.slice(0, -1).join('_') + '_' + (name.endsWith('_flags') ? 'F_' : '');
}

/** The TypeScript of a decoded value of type t, as codec.ts decodes it with renderFormats()'s formats. */
function tsType(t: BtfType, named: Map<string, BtfType>): string {
  switch (t.kind) {
    case 'int':
    case 'enum':
      if (isAddress(t)) return 'string';
      return t.size > 4 ? 'bigint' : 'number';
    case 'array':
      if (t.elem?.kind === 'int' && t.elem.size === 1) return 'Buffer';
      return `${tsType(t.elem!, named)}[]`;
    case 'struct':
    case 'union':
      if (isAddress(t)) return 'string';
      if (t.name) {
        named.set(t.name, t);
        return pascal(t.name);
      }
      return `{ ${fields(t, named)
        .map(([n, ty]) => `${n}: ${ty}`)
        .join('; ')} }`;
    default:
      throw new Error(`no TypeScript for BTF kind ${t.kind} (${t.name || 'anonymous'})`);
  }
}

function fields(t: BtfType, named: Map<string, BtfType>): Array<[string, string]> {
  return (t.members ?? []).filter((m) => !isPaddingField(m.name)).map((m) => [m.name, tsType(m.type, named)]);
}

/** The codec formats of type t: 'ip' for every struct sy_addr, nested for structs; undefined if none. */
function formats(t: BtfType): string | undefined {
  if (isAddress(t)) return `'ip'`;
  if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
  const parts = (t.members ?? [])
    .filter((m) => !isPaddingField(m.name))
    .flatMap((m) => {
      const f = formats(m.type);
      return f ? [`${m.name}: ${f}`] : [];
    });
  return parts.length ? `{ ${parts.join(', ')} }` : undefined;
}

/** The generated file's text. */
export function renderAbi(abi: Abi): string {
  const out: string[] = [
    '// Generated by scripts/gen-abi.ts from the BTF of build/bpf/{tc,sock,xdp}.bpf.o,',
    '// which bpf/include/switchyard/abi.h defines. Do not edit: change abi.h, then run',
    '// `npm run gen:abi` (`npm run build` does too). test/unit/bpf/abi-generated.test.ts',
    '// fails when this file and the objects disagree.',
    "import type { FieldFormat, Formats } from '../../bpf/index.js';",
    '',
  ];

  // Interfaces of the named structs, in the order the maps use them.
  const named = new Map<string, BtfType>();
  const mapTypes = abi.maps.map((m) => ({ m, key: tsType(m.key, named), value: tsType(m.value, named) }));
  const emitted = new Set<string>();
  // Nested named structs are found while rendering their parent: loop until none is new.
  while (emitted.size < named.size) {
    for (const [name, t] of [...named]) {
      if (emitted.has(name)) continue;
      emitted.add(name);
      const members = fields(t, named);
      // Padding only (a map whose entries' presence is the answer): nothing to write.
      if (members.length === 0) {
        out.push(`/** struct ${name}: padding only */`, `export type ${pascal(name)} = Record<string, never>;`, '');
        continue;
      }
      out.push(`/** struct ${name} */`, `export interface ${pascal(name)} {`);
      for (const [n, ty] of members) out.push(`  ${n}: ${ty};`);
      out.push('}', '');
    }
  }

  out.push('/** Every map of the dataplane, as the objects declare them (pinned by name). */');
  out.push('export const MAP_NAMES = [');
  for (const m of abi.maps) out.push(`  '${m.name}',`);
  out.push('] as const;', 'export type MapName = (typeof MAP_NAMES)[number];', '');

  out.push("/** Each map's key and value as its codec decodes them (the map type in the comment). */");
  out.push('export interface MapTypes {');
  for (const { m, key, value } of mapTypes)
    out.push(`  /** ${m.type} */`, `  ${m.name}: { key: ${key}; value: ${value} };`);
  out.push('}', '');

  out.push("/** The field formats each map's codec needs for MapTypes' shapes (BpfMap.typed()). */");
  out.push(
    'export const MAP_FORMATS: Record<MapName, { key?: Formats | FieldFormat; value?: Formats | FieldFormat }> = {',
  );
  for (const m of abi.maps) {
    const parts = [
      ...(formats(m.key) ? [`key: ${formats(m.key)}`] : []),
      ...(formats(m.value) ? [`value: ${formats(m.value)}`] : []),
    ];
    out.push(`  ${m.name}: {${parts.length ? ` ${parts.join(', ')} ` : ''}},`);
  }
  out.push('};', '');

  for (const e of abi.enums) {
    const prefix = enumPrefix(e.name);
    const constants = e.values.filter((v) => !v.name.startsWith('__'));
    const limits = e.values.filter((v) => v.name.startsWith('__'));
    for (const v of constants) {
      if (!v.name.startsWith(prefix)) {
        throw new Error(`enum ${e.name}: ${v.name} does not start with ${prefix}, as abi.h names its constants`);
      }
    }
    const values = new Set<number>();
    for (const v of constants) {
      if (values.has(v.value)) throw new Error(`enum ${e.name}: two constants have the value ${v.value}`);
      values.add(v.value);
    }
    const type = pascal(e.name);
    out.push(`/** enum ${e.name}: the constants without ${prefix}. */`, `export const ${type} = {`);
    for (const v of constants) out.push(`  ${v.name.slice(prefix.length)}: ${v.value},`);
    out.push('} as const;', '');
    out.push(
      `/** enum ${e.name}: value → name, lower case without ${prefix} (metric labels, the API's names). */`,
      `export const ${type}Names: Readonly<Record<number, string>> = {`,
    );
    for (const v of constants) out.push(`  ${v.value}: '${v.name.slice(prefix.length).toLowerCase()}',`);
    out.push('};', '');
    for (const v of limits) {
      out.push(`/** ${v.name}: not a constant, the bound (e.g. a map's size). */`);
      out.push(`export const ${v.name.replace(/^_+/, '')} = ${v.value};`, '');
    }
  }
  return out.join('\n').replace(/\n+$/, '\n');
}

/** The generated file's text for the objects in `objectDir`. */
export function generateAbi(objectDir: string): string {
  return renderAbi(readAbi(objectDir));
}

/** Lines that differ, as `-`/`+` pairs around their line number: enough to see the drift. */
export function lineDiff(want: string, have: string): string {
  const a = want.split('\n');
  const b = have.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    out.push(`@@ line ${i + 1}`);
    if (a[i] !== undefined) out.push(`- ${a[i]}`);
    if (b[i] !== undefined) out.push(`+ ${b[i]}`);
  }
  return out.join('\n');
}

/** The repository root: scripts/ runs from source (vitest) and from dist/scripts (node). */
function repoRoot(): string {
  let dir = fileURLToPath(new URL('..', import.meta.url));
  if (!existsSync(join(dir, 'bpf'))) dir = join(dir, '..');
  return dir;
}

function main(argv: string[]): number {
  const root = repoRoot();
  const target = join(root, ABI_GENERATED);
  const text = generateAbi(join(root, 'build', 'bpf'));
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (argv.includes('--check')) {
    if (text === current) return 0;
    console.error(`${ABI_GENERATED} is not what the BPF objects say (npm run gen:abi rewrites it):`);
    console.error(lineDiff(text, current));
    return 1;
  }
  if (text !== current) {
    writeFileSync(target, text);
    console.log(`gen-abi: wrote ${relative(root, target)}`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
