// Field selectors for map entries, in kubectl's --field-selector spirit:
// "key.addr=10.96.0.10,value.flags=affinity,key.port!=53". A field is a path
// into the decoded entry; values compare as text; an array field (flags)
// matches when any element does. Unknown fields are refused with the list of
// known ones, so a typo never silently matches nothing.
import { ApiError, ApiErrorCode } from './errors.js';

export interface FieldTerm {
  path: string[];
  op: '=' | '!=';
  value: string;
}

export type Selector = (entry: unknown) => boolean;

export function parseSelector(expr: string, knownFields: readonly string[]): Selector {
  const terms: FieldTerm[] = [];
  for (const raw of expr.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([A-Za-z0-9_.]+)\s*(!=|==|=)\s*(.*)$/.exec(part);
    if (!m) {
      throw new ApiError(ApiErrorCode.BadRequest, `filter "${part}" is not field=value or field!=value`);
    }
    const field = m[1]!;
    if (!knownFields.includes(field)) {
      throw new ApiError(ApiErrorCode.BadRequest, `filter field "${field}" is not one of: ${knownFields.join(', ')}`);
    }
    terms.push({ path: field.split('.'), op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() });
  }
  return (entry) => terms.every((t) => matches(pick(entry, t.path), t.value) === (t.op === '='));
}

function pick(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function matches(v: unknown, want: string): boolean {
  if (Array.isArray(v)) return v.some((x) => matches(x, want));
  if (v === undefined || v === null) return want === '';
  return String(v) === want;
}

/** The leaf field paths of a decoded entry ("key.addr", "value.flags"), for the filter's vocabulary. */
export function fieldPaths(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return prefix ? [prefix] : [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => fieldPaths(x, prefix ? `${prefix}.${k}` : k));
}
