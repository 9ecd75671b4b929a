// Codecs for map keys and values, derived from the BTF the compiler wrote for
// the C struct. TypeScript never restates a layout: it names the fields it
// wants shown in a friendlier form (an address as text, say), and derive()
// checks every such field exists with a size that fits. A field added,
// removed, resized or moved in C changes the codec or fails here, loudly.
import type { BtfMember, BtfType } from '../native/addon.js';
import { BpfError, BpfErrorCode } from './errors.js';

/** How a field is shown in TypeScript. Without one, ints are numbers (bigint above 32 bits). */
export type FieldFormat =
  | 'ipv4' // 4-byte int, network order → "10.96.0.1"
  | 'ipv6' // 16 bytes → "fd00::1"
  | 'ip' // struct sy_addr (16 bytes, either family) → "10.96.0.1" (stored IPv4-mapped) or "fd00::1"
  | 'mac' // 6 bytes → "aa:bb:cc:dd:ee:ff"
  | 'number' // any int up to 6 bytes of value → number (u64 counters that fit)
  | 'bigint' // any int → bigint
  | 'bool' // any int → boolean
  | 'bytes'; // raw Buffer copy

export interface Formats {
  [field: string]: FieldFormat | Formats;
}

export interface Codec<T> {
  readonly size: number;
  readonly type: BtfType;
  encode(value: T): Buffer;
  encodeInto(value: T, buf: Buffer, offset: number): void;
  decode(buf: Buffer, offset?: number): T;
}

type Field = {
  name: string;
  offset: number;
  size: number;
  read(buf: Buffer, at: number): unknown;
  write(buf: Buffer, at: number, v: unknown): void;
};

/** Fields a codec leaves out: unnamed ones, pad, pad2, reserved (written as zeros). */
export const isPaddingField = (name: string) => name === '' || /^_*pad\d*$|^_*reserved\d*$/.test(name);

function mismatch(where: string, message: string): BpfError {
  return new BpfError(BpfErrorCode.LayoutMismatch, `${where}: ${message}`, { op: 'codec.derive', target: where });
}

function bigEndian(t: BtfType): boolean {
  return !!t.typedef && /^__be\d+$/.test(t.typedef);
}

function intField(where: string, t: BtfType, format: FieldFormat | undefined): Pick<Field, 'read' | 'write'> {
  const size = t.size;
  const be = bigEndian(t);
  const signed = !!t.signed;
  const readBig = (buf: Buffer, at: number): bigint => {
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(buf[at + (be ? i : size - 1 - i)]!);
    if (signed && v >= 1n << BigInt(size * 8 - 1)) v -= 1n << BigInt(size * 8);
    return v;
  };
  const writeBig = (buf: Buffer, at: number, v: bigint) => {
    let x = BigInt.asUintN(size * 8, v);
    for (let i = 0; i < size; i++) {
      buf[at + (be ? size - 1 - i : i)] = Number(x & 0xffn);
      x >>= 8n;
    }
  };
  // Fields of up to 6 bytes fit a double: read and write them with Buffer's
  // own integer accessors. A full sync encodes some 200,000 keys and values,
  // and byte-by-byte BigInt arithmetic was a quarter of its time. Values out
  // of the field's range (and bigints) take the BigInt path, which wraps.
  const small = size <= 6;
  const readNumber = !small
    ? (buf: Buffer, at: number) => Number(readBig(buf, at))
    : signed
      ? be
        ? (buf: Buffer, at: number) => buf.readIntBE(at, size)
        : (buf: Buffer, at: number) => buf.readIntLE(at, size)
      : be
        ? (buf: Buffer, at: number) => buf.readUIntBE(at, size)
        : (buf: Buffer, at: number) => buf.readUIntLE(at, size);
  const min = signed ? -(2 ** (size * 8 - 1)) : 0;
  const limit = signed ? 2 ** (size * 8 - 1) : 2 ** (size * 8);
  const writeNumber = (buf: Buffer, at: number, v: number | bigint) => {
    if (small && typeof v === 'number' && Number.isInteger(v) && v >= min && v < limit) {
      if (signed) be ? buf.writeIntBE(v, at, size) : buf.writeIntLE(v, at, size);
      else be ? buf.writeUIntBE(v, at, size) : buf.writeUIntLE(v, at, size);
    } else {
      writeBig(buf, at, BigInt(v));
    }
  };
  switch (format) {
    case 'ipv4':
      if (size !== 4) throw mismatch(where, `format ipv4 needs 4 bytes, the field has ${size}`);
      return {
        read: (buf, at) => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`,
        write: (buf, at, v) => {
          if (typeof v !== 'string' || !writeIpv4(buf, at, v))
            throw new TypeError(`${where}: "${String(v)}" is not an IPv4 address`);
        },
      };
    case 'bigint':
      return { read: readBig, write: (buf, at, v) => writeBig(buf, at, BigInt(v as bigint | number)) };
    case 'bool':
      return { read: (buf, at) => readBig(buf, at) !== 0n, write: (buf, at, v) => writeBig(buf, at, v ? 1n : 0n) };
    case undefined:
    case 'number':
      if (format === undefined && size > 4) {
        return { read: readBig, write: (buf, at, v) => writeBig(buf, at, BigInt(v as bigint | number)) };
      }
      return {
        read: readNumber,
        write: (buf, at, v) => {
          if (typeof v !== 'number' && typeof v !== 'bigint')
            throw new TypeError(`${where}: ${String(v)} is not a number`);
          writeNumber(buf, at, v);
        },
      };
    default:
      throw mismatch(where, `format ${format} does not fit a ${size}-byte integer`);
  }
}

function bytesField(where: string, size: number, format: FieldFormat | undefined): Pick<Field, 'read' | 'write'> {
  const copy = {
    read: (buf: Buffer, at: number) => Buffer.from(buf.subarray(at, at + size)),
    write: (buf: Buffer, at: number, v: unknown) => {
      if (!Buffer.isBuffer(v) || v.length !== size) throw new TypeError(`${where}: expected a ${size}-byte Buffer`);
      v.copy(buf, at);
    },
  };
  if (format === undefined || format === 'bytes') return copy;
  if (format === 'ipv6') {
    if (size !== 16) throw mismatch(where, `format ipv6 needs 16 bytes, the field has ${size}`);
    return {
      read: (buf, at) => formatIpv6(buf.subarray(at, at + 16)),
      write: (buf, at, v) => parseIpv6(String(v), where).copy(buf, at),
    };
  }
  if (format === 'mac') {
    if (size !== 6) throw mismatch(where, `format mac needs 6 bytes, the field has ${size}`);
    return {
      read: (buf, at) => [...buf.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
      write: (buf, at, v) => {
        const parts = String(v).split(':');
        if (parts.length !== 6) throw new TypeError(`${where}: "${String(v)}" is not a MAC address`);
        parts.forEach((p, i) => (buf[at + i] = parseInt(p, 16)));
      },
    };
  }
  throw mismatch(where, `format ${format} does not fit a ${size}-byte array`);
}

function fieldsOf(where: string, t: BtfType, formats: Formats, base: number): Field[] {
  const members = t.members ?? [];
  for (const name of Object.keys(formats)) {
    if (!members.some((m) => m.name === name))
      throw mismatch(where, `no field "${name}" in struct ${t.name || '(anonymous)'}`);
  }
  return members
    .filter((m) => !isPaddingField(m.name))
    .map((m) => memberField(`${where}.${m.name}`, m, formats[m.name], base));
}

function memberField(where: string, m: BtfMember, format: FieldFormat | Formats | undefined, base: number): Field {
  if (m.bitSize !== 0) throw mismatch(where, 'bitfields are not supported in map structs; use whole integers');
  const t = m.type;
  const offset = base + m.offset;
  if (format === 'ip') return { name: m.name, offset, size: t.size, ...ipField(where, t) };
  if (t.kind === 'struct' || t.kind === 'union') {
    const inner = fieldsOf(where, t, typeof format === 'object' ? format : {}, 0);
    const sub = makeStruct(t, inner);
    return {
      name: m.name,
      offset,
      size: t.size,
      read: (b, at) => sub.read(b, at),
      write: (b, at, v) => sub.write(b, at, v),
    };
  }
  if (typeof format === 'object') throw mismatch(where, `expected a struct, the field is ${t.kind}`);
  const rw =
    t.kind === 'int' || t.kind === 'enum'
      ? intField(where, t, format)
      : t.kind === 'array' && t.elem?.kind === 'int' && t.elem.size === 1
        ? bytesField(where, t.size, format)
        : t.kind === 'array'
          ? arrayField(where, t, format)
          : (() => {
              throw mismatch(where, `unsupported field kind ${t.kind}`);
            })();
  return { name: m.name, offset, size: t.size, ...rw };
}

function arrayField(where: string, t: BtfType, format: FieldFormat | undefined): Pick<Field, 'read' | 'write'> {
  const elem = t.elem!;
  const n = t.length ?? 0;
  const rw = elem.kind === 'int' ? intField(where, elem, format) : undefined;
  if (!rw) throw mismatch(where, `arrays of ${elem.kind} are not supported`);
  return {
    read: (buf, at) => Array.from({ length: n }, (_, i) => rw.read(buf, at + i * elem.size)),
    write: (buf, at, v) => {
      if (!Array.isArray(v) || v.length !== n) throw new TypeError(`${where}: expected an array of ${n}`);
      v.forEach((x, i) => rw.write(buf, at + i * elem.size, x));
    },
  };
}

/** The dataplane's address type (abi.h struct sy_addr): 16 bytes, either family. */
export const ADDRESS_STRUCT = 'sy_addr';

/** Is this BTF type the dataplane's address (struct sy_addr)? */
export const isAddressType = (t: BtfType) => t.kind === 'struct' && t.name === ADDRESS_STRUCT && t.size === 16;

const V4_MAPPED = Buffer.from('00000000000000000000ffff', 'hex');

/**
 * A struct sy_addr as text: an IPv4-mapped address (::ffff:a.b.c.d, how
 * IPv4 is stored) as the plain IPv4 address, anything else as IPv6 (RFC
 * 5952). Written from either: IPv4 text is stored IPv4-mapped.
 */
function ipField(where: string, t: BtfType): Pick<Field, 'read' | 'write'> {
  if (!isAddressType(t))
    throw mismatch(
      where,
      `format ip needs a 16-byte struct ${ADDRESS_STRUCT}, the field is ${t.kind} ${t.name || ''} of ${t.size} bytes`,
    );
  return {
    read: (buf, at) => {
      if (buf.compare(V4_MAPPED, 0, 12, at, at + 12) === 0)
        return `${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
      return formatIpv6(buf.subarray(at, at + 16));
    },
    write: (buf, at, v) => {
      if (typeof v !== 'string') throw new TypeError(`${where}: "${String(v)}" is not an IP address`);
      if (v.includes(':')) {
        if (!writeIpv6(buf, at, v)) throw new TypeError(`${where}: "${v}" is not an IP address`);
        return;
      }
      buf.fill(0, at, at + 10);
      buf[at + 10] = 0xff;
      buf[at + 11] = 0xff;
      if (!writeIpv4(buf, at + 12, v)) throw new TypeError(`${where}: "${v}" is not an IP address`);
    },
  };
}

/**
 * Parses IPv6 text (RFC 4291 2.2: "::" once, an embedded dotted quad last)
 * into 16 bytes at `at`; false, with `buf` partly written, for anything else.
 */
export function writeIpv6(buf: Buffer, at: number, s: string): boolean {
  const double = s.indexOf('::');
  if (double !== s.lastIndexOf('::')) return false;
  const parse = (part: string, room: number): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const q = Buffer.alloc(4);
        if (!writeIpv4(q, 0, g)) return null;
        out.push(q.readUInt16BE(0), q.readUInt16BE(2));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out.length <= room ? out : null;
  };
  let words: number[];
  if (double < 0) {
    const all = parse(s, 8);
    if (all?.length !== 8) return false;
    words = all;
  } else {
    const head = parse(s.slice(0, double), 7);
    const tail = parse(s.slice(double + 2), 7);
    if (!head || !tail || head.length + tail.length > 7) return false;
    words = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(words[i]!, at + i * 2);
  return true;
}

/**
 * Parses dotted-quad text into 4 bytes at `at`, accepting exactly what
 * net.isIPv4() accepts (no leading zeros); false, with `buf` partly
 * written, for anything else. One pass: a sync encodes 100,000 of these.
 */
function writeIpv4(buf: Buffer, at: number, s: string): boolean {
  let octet = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // the end closes the last part like a '.'
    if (c === 46) {
      if (digits === 0 || part > 3) return false;
      buf[at + part++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return false; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return part === 4;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
export function formatIpv6(b: Buffer): string {
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

function parseIpv6(s: string, where: string): Buffer {
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new TypeError(`${where}: "${s}" is not an IPv6 address`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function makeStruct(t: BtfType, fields: Field[]) {
  return {
    read(buf: Buffer, at: number): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.read(buf, at + f.offset);
      return out;
    },
    write(buf: Buffer, at: number, v: unknown) {
      if (typeof v !== 'object' || v === null) throw new TypeError(`${t.name}: expected an object`);
      const obj = v as Record<string, unknown>;
      let present = 0;
      for (const f of fields) {
        if (!(f.name in obj)) throw new TypeError(`${t.name}: field "${f.name}" is missing`);
        f.write(buf, at + f.offset, obj[f.name]);
        present++;
      }
      // Every field was there: any more keys are ones the struct lacks.
      let keys = 0;
      for (const k in obj) if (Object.hasOwn(obj, k)) keys++;
      const unknown = keys === present ? undefined : Object.keys(obj).find((k) => !fields.some((f) => f.name === k));
      if (unknown !== undefined) throw new TypeError(`${t.name}: struct has no field "${unknown}"`);
    },
  };
}

/**
 * Derives a codec from a BTF type. `formats` names fields to show specially;
 * for a scalar type it may be a single format. `expectSize`, when given, is
 * checked too: a guard for code that packs buffers by hand.
 */
export function derive<T>(
  where: string,
  type: BtfType | null,
  formats?: Formats | FieldFormat,
  expectSize?: number,
): Codec<T> {
  if (!type) throw mismatch(where, 'the map has no BTF for this type; build the object with -g');
  if (expectSize !== undefined && type.size !== expectSize) {
    throw mismatch(where, `${type.name || type.kind} is ${type.size} bytes in BTF, the caller expects ${expectSize}`);
  }
  let rw: Pick<Field, 'read' | 'write'>;
  const scalar: FieldFormat | undefined = typeof formats === 'string' ? formats : undefined;
  if (scalar === 'ip') {
    rw = ipField(where, type);
  } else if (type.kind === 'struct' || type.kind === 'union') {
    if (typeof formats === 'string') throw mismatch(where, `a struct takes field formats, not "${formats}"`);
    rw = makeStruct(type, fieldsOf(where, type, formats ?? {}, 0));
  } else if (type.kind === 'int' || type.kind === 'enum') {
    rw = intField(where, type, scalar);
  } else if (type.kind === 'array') {
    rw =
      type.elem?.kind === 'int' && type.elem.size === 1
        ? bytesField(where, type.size, scalar)
        : arrayField(where, type, scalar);
  } else {
    throw mismatch(where, `cannot derive a codec for ${type.kind}`);
  }
  const size = type.size;
  return {
    size,
    type,
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      rw.write(buf, 0, value);
      return buf;
    },
    encodeInto(value: T, buf: Buffer, offset: number) {
      buf.fill(0, offset, offset + size);
      rw.write(buf, offset, value);
    },
    decode(buf: Buffer, offset = 0): T {
      return rw.read(buf, offset) as T;
    },
  };
}
