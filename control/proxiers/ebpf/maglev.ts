// Maglev consistent hashing (Eisenbud et al., NSDI 2016), as Cilium and
// Katran use it for traffic from outside the cluster: a lookup table of M
// entries (M prime) in which every backend holds about M/N places, filled so
// that removing one backend moves little more than that backend's own share.
// Every node computes the same table from the same backends, and the
// programs hash a flow without its destination address (bpf/lib/lb.h), so a
// client's flow reaches the same backend whichever node, and whichever of
// the service's addresses, an upstream router sends it to.
import { createHash } from 'node:crypto';
import type { Backend } from './vocabulary.js';

/** Cilium's default, and the table sizes it allows (each prime; > 100 × backends keeps disruption near 1%). */
export const MAGLEV_DEFAULT_TABLE_SIZE = 16381;
export const MAGLEV_TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521] as const;

/** Two 32-bit hashes of a backend's name, fixed across nodes and versions (the table must be the same everywhere). */
function hashes(name: string): [number, number] {
  const d = createHash('sha256').update(`switchyard-maglev|${name}`).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/**
 * The table for `backends` (by "ip:port", sorted, so every node agrees
 * whatever order it was given them in): entry i holds the index, in that
 * sorted order, of the backend flows hashing to i go to. Each backend's
 * permutation is offset + j·skip (mod M); the backends take turns claiming
 * their next unclaimed entry until all M are taken.
 */
export function maglevTable(
  backends: readonly Backend[],
  size: number = MAGLEV_DEFAULT_TABLE_SIZE,
): {
  order: Backend[];
  table: Uint16Array;
} {
  const names = [...new Set(backends.map((b) => `${b.address}:${b.port}`))].sort();
  const order = names.map((n) => {
    const i = n.lastIndexOf(':');
    return { address: n.slice(0, i), port: Number(n.slice(i + 1)) };
  });
  const table = new Uint16Array(size);
  if (order.length === 0) return { order, table: new Uint16Array(0) };
  const offset = new Uint32Array(order.length);
  const skip = new Uint32Array(order.length);
  const next = new Uint32Array(order.length);
  names.forEach((n, i) => {
    const [h1, h2] = hashes(n);
    offset[i] = h1 % size;
    skip[i] = (h2 % (size - 1)) + 1;
  });
  const taken = new Uint8Array(size);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < order.length; i++) {
      let c = (offset[i]! + next[i]! * skip[i]!) % size;
      while (taken[c]) {
        next[i]!++;
        c = (offset[i]! + next[i]! * skip[i]!) % size;
      }
      taken[c] = 1;
      table[c] = i;
      next[i]!++;
      if (++filled === size) return { order, table };
    }
  }
}

/** M must be prime for every skip to walk the whole table. */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}
