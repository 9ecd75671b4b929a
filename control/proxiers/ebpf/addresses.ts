// Addresses and prefixes of both families as the dataplane's maps hold them.
// Every address is 16 bytes (abi.h struct sy_addr), IPv4 IPv4-mapped
// (::ffff:a.b.c.d), so an LPM trie keys an IPv4 prefix /n as the 128-bit
// prefix /(96 + n); the codec shows the address as its own family's text.
// Types and pure helpers only (vocabulary.ts's rule: imports nothing of the
// proxier's).
import { isIP, isIPv4 } from 'node:net';

/** Bits an IPv4 prefix is shifted by in a 128-bit key: the ::ffff: in front. */
const V4_MAPPED_BITS = 96;

const v4Value = (addr: string) => addr.split('.').reduce((v, o) => v * 256 + Number(o), 0);

/** IPv6 text as 8 16-bit groups (node's own parser, through URL, is not needed: the codec's rules). */
function v6Groups(addr: string): number[] | undefined {
  if (isIP(addr) !== 6) return undefined;
  let s = addr;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const v = v4Value(quad[1]!);
    s = `${s.slice(0, -quad[1]!.length)}${Math.floor(v / 65536).toString(16)}:${(v % 65536).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16));
}

/** RFC 5952 text of 8 groups, as the codec writes it. */
function v6Text(g: number[]): string {
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

/** An address as the maps give it back: IPv4 as is, IPv6 in RFC 5952 form ("FD00:0::1" is "fd00::1"). */
export function canonicalIp(addr: string): string {
  if (isIPv4(addr)) return addr;
  const g = v6Groups(addr);
  if (!g) return addr;
  // An IPv4-mapped IPv6 address is how the maps store IPv4: it reads back as IPv4.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  return v6Text(g);
}

/** A CIDR as its network and prefix ("10.1.2.3/8" is 10.0.0.0/8, "fd00::1/64" fd00::/64), as kube-proxy parses source ranges. */
export function networkOf(cidr: string): string {
  const [addr, bits] = cidr.split('/');
  if (isIPv4(addr!)) {
    const n = Number(bits ?? 32);
    const value = v4Value(addr!);
    const net = n === 0 ? 0 : value - (value % 2 ** (32 - n));
    return `${[24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.')}/${n}`;
  }
  const g = v6Groups(addr!);
  if (!g) return cidr;
  const n = Number(bits ?? 128);
  const masked = g.map((x, i) => {
    const keep = Math.max(0, Math.min(16, n - i * 16));
    return keep === 0 ? 0 : x & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${v6Text(masked)}/${n}`;
}

/** Is `ip` in `cidr` (both of one family)? */
export const inCidr = (ip: string, cidr: string) =>
  isIP(ip) === isIP(cidr.split('/')[0]!) && networkOf(`${ip}/${cidr.split('/')[1]}`) === networkOf(cidr);

/** "network/bits" of either family with the host bits zero, as the LPM tries key it. */
export function isCidr(cidr: string): boolean {
  const [addr, bits, more] = cidr.split('/');
  if (more !== undefined || addr === undefined || !isIP(addr) || !/^\d{1,3}$/.test(bits ?? '')) return false;
  const n = Number(bits);
  if (n > (isIPv4(addr) ? 32 : 128)) return false;
  return networkOf(cidr) === `${canonicalIp(addr)}/${n}`;
}

/** A prefix length as the 128-bit keys hold it (IPv4: 96 more), and back. */
export const keyPrefixLen = (cidr: string) => {
  const [addr, bits] = cidr.split('/');
  return Number(bits) + (isIPv4(addr!) ? V4_MAPPED_BITS : 0);
};
/** "addr/bits" from a key's address (as decoded: IPv4 or IPv6 text) and 128-bit prefix length. */
export const cidrOfKey = (addr: string, prefixLen: number) =>
  `${addr}/${isIPv4(addr) ? prefixLen - V4_MAPPED_BITS : prefixLen}`;

/** An endpoint as text: "ip:port", IPv6 bracketed ("[fd00::1]:80"). */
export const hostPort = (address: string, port: number) =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
