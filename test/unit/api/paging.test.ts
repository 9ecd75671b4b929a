import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../control/api/errors.js';
import { parseSelector, fieldPaths } from '../../../control/api/filter.js';
import { decodeContinue, encodeContinue, pageOf, sortByKey } from '../../../control/api/paging.js';

const items = sortByKey(
  Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`),
  (s) => s,
);

describe('pageOf', () => {
  it('walks a list in pages until no continue token is left', () => {
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const p = pageOf('test', items, (s) => s, { limit: 10, continue: cont });
      seen.push(...p.items);
      cont = p.continue;
      pages++;
      if (cont) expect(p.remaining).toBeGreaterThan(0);
      else expect(p.remaining).toBe(0);
    } while (cont);
    expect(pages).toBe(3);
    expect(seen).toEqual(items);
  });

  it('continues after the last key even when the list changed in between', () => {
    const p1 = pageOf('test', items, (s) => s, { limit: 5 });
    expect(p1.items.at(-1)).toBe('k04');
    // k03 and k05 removed, k045 added behind the cursor's key order.
    const changed = sortByKey([...items.filter((s) => s !== 'k03' && s !== 'k05'), 'k045'], (s) => s);
    const p2 = pageOf('test', changed, (s) => s, { limit: 3, continue: p1.continue });
    expect(p2.items).toEqual(['k045', 'k06', 'k07']);
  });

  it('a page that reaches the end has no token', () => {
    const p = pageOf('test', items, (s) => s, { limit: 25 });
    expect(p.continue).toBeUndefined();
    expect(p.items).toHaveLength(25);
  });

  it('refuses tokens it did not issue, and tokens of another list', () => {
    expect(() => pageOf('test', items, (s) => s, { continue: 'garbage!' })).toThrowError(ApiError);
    expect(() => decodeContinue('map/sy_slots', encodeContinue('map/sy_services_v3', 'ab'))).toThrow(
      /belongs to map\/sy_services_v3/,
    );
    try {
      decodeContinue('x', Buffer.from('[1,2]').toString('base64url'));
    } catch (e) {
      expect((e as ApiError).code).toBe('ERR_API_BAD_CONTINUE');
      expect((e as ApiError).statusCode).toBe(400);
    }
  });
});

describe('parseSelector', () => {
  const entry = { key: { addr: '10.96.0.10', port: 80, proto: 'TCP' }, value: { id: 3, flags: ['affinity'] } };
  const fields = fieldPaths(entry);

  it('knows the leaf fields of an entry', () => {
    expect(fields).toEqual(['key.addr', 'key.port', 'key.proto', 'value.id', 'value.flags']);
  });

  it('matches = and != on text, and any element of a list', () => {
    expect(parseSelector('key.addr=10.96.0.10,key.port=80', fields)(entry)).toBe(true);
    expect(parseSelector('key.port!=80', fields)(entry)).toBe(false);
    expect(parseSelector('value.flags=affinity', fields)(entry)).toBe(true);
    expect(parseSelector('value.flags=drop-no-backend', fields)(entry)).toBe(false);
    expect(parseSelector('', fields)(entry)).toBe(true);
  });

  it('refuses unknown fields with the known ones, and malformed terms', () => {
    expect(() => parseSelector('key.adr=1', fields)).toThrow(/"key.adr" is not one of: key.addr, key.port/);
    expect(() => parseSelector('key.addr', fields)).toThrow(/not field=value/);
  });
});
