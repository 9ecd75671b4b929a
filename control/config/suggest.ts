// "Did you mean": the closest known name to a misspelt flag or field.

/** Levenshtein distance; names are short, so the plain O(n·m) table is fine. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `word`, if it is near enough to be a plausible
 * typo (a third of the word's length) or `word` is its start (a truncated
 * flag such as --iptables-sync).
 */
export function closest(word: string, names: Iterable<string>): string | undefined {
  const candidates = [...names];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.ceil(word.length / 3))) return best;
  for (const c of candidates) if (word.length >= 3 && c.startsWith(word)) return c;
  return undefined;
}
