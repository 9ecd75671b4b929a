// The constants bpf/lib/sctp.h updates SCTP's CRC32c with, derived again
// here: x^(8 * 2^j) mod the reflected Castagnoli polynomial. And the identity
// the update rests on, crc(M ^ D) = crc(M) ^ D's word * x^(8n), checked
// against the harness's table-driven CRC32c over random packets.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32c, sctpChecksum } from '../../harness/crc32c.js';
import { repoRoot } from '../../harness/paths.js';

const POLY = 0x82f63b78;

/** a * b mod P, reflected (bit 31 is x^0). */
function mulmod(a: number, b: number): number {
  let p = 0;
  let m = b >>> 0;
  for (let i = 0; i < 32; i++) {
    if ((a >>> (31 - i)) & 1) p = (p ^ m) >>> 0;
    m = m & 1 ? ((m >>> 1) ^ POLY) >>> 0 : m >>> 1;
  }
  return p;
}

/** The table in sctp.h, as it is written there. */
function headerTable(): number[] {
  const text = readFileSync(`${repoRoot}/bpf/lib/sctp.h`, 'utf8');
  const body = /sy_crc32c_x8pow2\[16\] = \{([^}]*)\}/.exec(text)?.[1];
  if (!body) throw new Error('sy_crc32c_x8pow2 not found in bpf/lib/sctp.h');
  return body
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => Number.parseInt(s, 16));
}

describe('CRC32c: the incremental update of bpf/lib/sctp.h', () => {
  it('knows CRC32c ("123456789" is 0xe3069283, RFC 3720 B.4 / the Castagnoli check value)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('has x^(8 * 2^j) mod P in its table, each the square of the one before', () => {
    const want: number[] = [];
    let x = 0x40000000; // x^1
    for (let i = 0; i < 3; i++) x = mulmod(x, x); // x^8
    for (let j = 0; j < 16; j++) {
      want.push(x);
      x = mulmod(x, x);
    }
    expect(headerTable().map((v) => v.toString(16))).toEqual(want.map((v) => v.toString(16)));
  });

  it.each([12, 16, 32, 100, 1021, 1400, 9000, 65535])(
    'a port change in a %i-byte packet changes the CRC by the word times x^(8n)',
    (n) => {
      const table = headerTable();
      const m = randomBytes(n);
      const changed = Buffer.from(m);
      randomBytes(4).copy(changed, 0);
      let w = (m.readUInt32LE(0) ^ changed.readUInt32LE(0)) >>> 0;
      for (let j = 0; j < 16; j++) if ((n >> j) & 1) w = mulmod(w, table[j]!);
      expect(sctpChecksum(changed)).toBe((sctpChecksum(m) ^ w) >>> 0);
    },
  );
});
