// Is a map pinned by an earlier run the map this object defines? As
// cilium/ebpf's MapSpec.Compatible: compare type, sizes, max_entries, flags
// and the BTF layout of key and value, and say each difference. Pure: the
// specs come from BpfObject.mapSpec() and a pinned map's info() and btf().
import type { BtfType, NativeMapSpec } from '../native/addon.js';

export type MapSpec = NativeMapSpec;

export interface MapDifference {
  /** "type", "key_size", "value_size", "max_entries", "flags", or a BTF path such as "value.port". */
  field: string;
  pinned: string;
  object: string;
}

/** Every difference between a pinned map and the object's definition of it; [] when it can be reused as is. */
export function compareMapSpecs(pinned: MapSpec, object: MapSpec): MapDifference[] {
  const out: MapDifference[] = [];
  const scalar = (field: string, a: string | number, b: string | number) => {
    if (a !== b) out.push({ field, pinned: String(a), object: String(b) });
  };
  scalar('type', pinned.type, object.type);
  scalar('key_size', pinned.keySize, object.keySize);
  scalar('value_size', pinned.valueSize, object.valueSize);
  scalar('max_entries', pinned.maxEntries, object.maxEntries);
  if (pinned.flags !== object.flags) out.push({ field: 'flags', pinned: hex(pinned.flags), object: hex(object.flags) });
  compareBtf('key', pinned.key, object.key, out);
  compareBtf('value', pinned.value, object.value, out);
  return out;
}

/** Only the size differs: the pinned map's entries can be copied into a map of the new size. */
export function onlySizeDiffers(diffs: readonly MapDifference[]): boolean {
  return diffs.length > 0 && diffs.every((d) => d.field === 'max_entries');
}

/** "field: pinned X vs object Y; ..." */
export function formatDifferences(diffs: readonly MapDifference[]): string {
  return diffs.map((d) => `${d.field}: pinned ${d.pinned} vs object ${d.object}`).join('; ');
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** What a BTF type is, in a word or two, for a message. */
function brief(t: BtfType): string {
  const name = t.typedef ?? (t.name || undefined);
  return `${t.kind}${name ? ` ${name}` : ''} (${t.size} bytes)`;
}

/**
 * Layout, not names of types: a struct renamed with the same members is the
 * same layout. Typedefs count where they mark byte order (__be16 vs __u16),
 * and member names count, since codecs read fields by name.
 */
function compareBtf(path: string, a: BtfType | null, b: BtfType | null, out: MapDifference[]): void {
  if (!a || !b) {
    if (a !== b) out.push({ field: `${path} BTF`, pinned: a ? brief(a) : 'none', object: b ? brief(b) : 'none' });
    return;
  }
  if (a.kind !== b.kind) {
    out.push({ field: `${path} kind`, pinned: brief(a), object: brief(b) });
    return;
  }
  if (a.size !== b.size) out.push({ field: `${path} size`, pinned: String(a.size), object: String(b.size) });
  if (a.kind === 'int' || a.kind === 'enum') {
    if (!!a.signed !== !!b.signed)
      out.push({ field: `${path} signed`, pinned: String(!!a.signed), object: String(!!b.signed) });
    if (byteOrder(a) !== byteOrder(b))
      out.push({ field: `${path} byte order`, pinned: byteOrder(a), object: byteOrder(b) });
    return;
  }
  if (a.kind === 'array') {
    if (a.length !== b.length)
      out.push({ field: `${path} length`, pinned: String(a.length), object: String(b.length) });
    if (a.elem && b.elem) compareBtf(`${path}[]`, a.elem, b.elem, out);
    return;
  }
  if (a.kind === 'struct' || a.kind === 'union') {
    const am = a.members ?? [];
    const bm = b.members ?? [];
    for (const m of bm) {
      const p = am.find((x) => x.name === m.name);
      const at = `${path}.${m.name || '(anonymous)'}`;
      if (!p) {
        out.push({ field: at, pinned: 'absent', object: `${brief(m.type)} at offset ${m.offset}` });
        continue;
      }
      if (p.bitOffset !== m.bitOffset)
        out.push({ field: `${at} offset`, pinned: String(p.offset), object: String(m.offset) });
      if (p.bitSize !== m.bitSize)
        out.push({ field: `${at} bit size`, pinned: String(p.bitSize), object: String(m.bitSize) });
      compareBtf(at, p.type, m.type, out);
    }
    for (const p of am) {
      if (!bm.some((x) => x.name === p.name)) {
        out.push({
          field: `${path}.${p.name || '(anonymous)'}`,
          pinned: `${brief(p.type)} at offset ${p.offset}`,
          object: 'absent',
        });
      }
    }
  }
}

function byteOrder(t: BtfType): string {
  return t.typedef && /^__be\d+$/.test(t.typedef) ? 'big-endian' : 'host';
}
