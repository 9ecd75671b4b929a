// Strict decoding of a parsed YAML/JSON document against a schema of Go-like
// field types, as Kubernetes decodes component config: an unknown field or a
// value of the wrong type is an error naming the field path, never a silent
// drop. The TypeScript type of the result is inferred from the schema.
import { parseGoDuration } from './duration.js';
import { ValueError } from './errors.js';
import { closest } from './suggest.js';

export type Schema =
  | { readonly kind: 'string' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'int32' }
  | { readonly kind: 'uint32' }
  | { readonly kind: 'float' }
  /** metav1.Duration: a Go duration string; decoded to milliseconds. */
  | { readonly kind: 'duration' }
  /** component-base's TimeOrMetaDuration: a Go duration string or integer nanoseconds; decoded to milliseconds. */
  | { readonly kind: 'timeOrDuration' }
  /** resource.Quantity: a string such as "64Ki", or a number; decoded to its text. */
  | { readonly kind: 'quantity' }
  | { readonly kind: 'list'; readonly of: Schema }
  | { readonly kind: 'map'; readonly of: Schema }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Schema>> };

export type Decoded<S> = S extends { kind: 'string' | 'quantity' }
  ? string
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'int32' | 'uint32' | 'float' | 'duration' | 'timeOrDuration' }
      ? number
      : S extends { kind: 'list'; of: infer O }
        ? Decoded<O>[]
        : S extends { kind: 'map'; of: infer O }
          ? Record<string, Decoded<O>>
          : S extends { kind: 'object'; fields: infer F }
            ? { [K in keyof F]?: Decoded<F[K]> }
            : never;

export const t = {
  string: { kind: 'string' },
  bool: { kind: 'bool' },
  int32: { kind: 'int32' },
  uint32: { kind: 'uint32' },
  float: { kind: 'float' },
  duration: { kind: 'duration' },
  timeOrDuration: { kind: 'timeOrDuration' },
  quantity: { kind: 'quantity' },
  list: <S extends Schema>(of: S) => ({ kind: 'list', of }) as const,
  map: <S extends Schema>(of: S) => ({ kind: 'map', of }) as const,
  object: <F extends Record<string, Schema>>(fields: F) => ({ kind: 'object', fields }) as const,
} as const;

/** A field that is unknown or holds the wrong type; `path` is the dotted field path ("ipvs.scheduler", "vmodule[0].verbosity"). */
export class DecodeError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

const wrongType = (path: string, expected: string, value: unknown) =>
  new DecodeError(path, `field "${path}": expected ${expected}, got ${describe(value)}`);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function integer(path: string, value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(path, what, value);
  if (value < min || value > max) throw new DecodeError(path, `field "${path}": ${value} is out of range for ${what}`);
  return value;
}

function duration(path: string, text: string): number {
  try {
    return parseGoDuration(text);
  } catch (e) {
    if (e instanceof ValueError)
      throw new DecodeError(path, `field "${path}": invalid duration ${JSON.stringify(text)}: ${e.message}`);
    throw e;
  }
}

/**
 * Checks `value` against `schema` and returns it in decoded form. null and
 * absent fields come back undefined, as Go leaves such fields at their zero
 * value. Field names are case-sensitive, as in Kubernetes' decoder.
 */
export function decode<S extends Schema>(value: unknown, schema: S, path = ''): Decoded<S> | undefined {
  return decodeAny(value, schema, path) as Decoded<S> | undefined;
}

function decodeAny(value: unknown, schema: Schema, path: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (schema.kind) {
    case 'string':
      if (typeof value !== 'string') throw wrongType(path, 'a string', value);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw wrongType(path, 'true or false', value);
      return value;
    case 'int32':
      return integer(path, value, -(2 ** 31), 2 ** 31 - 1, 'an integer (int32)');
    case 'uint32':
      return integer(path, value, 0, 2 ** 32 - 1, 'a non-negative integer');
    case 'float':
      if (typeof value !== 'number') throw wrongType(path, 'a number', value);
      return value;
    case 'duration':
      if (typeof value !== 'string') throw wrongType(path, 'a duration string such as "30s"', value);
      return duration(path, value);
    case 'timeOrDuration':
      if (typeof value === 'number' && Number.isInteger(value)) return value / 1e6;
      if (typeof value !== 'string')
        throw wrongType(path, 'a duration string such as "5s", or integer nanoseconds', value);
      return duration(path, value);
    case 'quantity':
      if (typeof value === 'number') return String(value);
      if (
        typeof value !== 'string' ||
        !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munk])?$/.test(value.trim())
      ) {
        throw wrongType(path, 'a quantity such as "64Ki" or 65536', value);
      }
      return value.trim();
    case 'list':
      if (!Array.isArray(value)) throw wrongType(path, 'a list', value);
      return value.map((item, i) => decodeAny(item, schema.of, `${path}[${i}]`));
    case 'map': {
      if (!isRecord(value)) throw wrongType(path, 'an object', value);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = decodeAny(v, schema.of, join(path, k));
      return out;
    }
    case 'object': {
      if (!isRecord(value)) throw wrongType(path || '(top level)', 'an object', value);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const field = Object.hasOwn(schema.fields, k) ? schema.fields[k] : undefined;
        if (!field) {
          const near = closest(k, Object.keys(schema.fields));
          const hint = near ? ` (did you mean "${join(path, near)}"?)` : '';
          throw new DecodeError(join(path, k), `unknown field "${join(path, k)}"${hint}`);
        }
        const decoded = decodeAny(v, field, join(path, k));
        if (decoded !== undefined) out[k] = decoded;
      }
      return out;
    }
  }
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Every leaf field path of an object schema ("iptables.syncPeriod", …); lists and maps count as leaves. */
export function leafPaths(schema: Schema, path = ''): string[] {
  if (schema.kind !== 'object') return [path];
  return Object.entries(schema.fields).flatMap(([k, s]) => leafPaths(s, join(path, k)));
}

/** The value at a dotted path of a decoded (or raw) document, if there is one. */
export function valueAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const key of path.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}
