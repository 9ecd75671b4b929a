// Addresses and prefixes of both families as the dataplane's maps hold them.
// Every address is 16 bytes (abi.h struct sy_addr), IPv4 IPv4-mapped
// (::ffff:a.b.c.d), so an LPM trie keys an IPv4 prefix /n as the 128-bit
// prefix /(96 + n); the codec shows the address as its own family's text.
// Pure helpers only (vocabulary.ts's rule: imports nothing of the proxier's;
// IPv6 text is read and written by the codec's functions, one reading of it).
import { isIP, isIPv4 } from 'node:net';
import { formatIpv6, writeIpv6 } from '../../bpf/codec.js';

/** Bits an IPv4 prefix is shifted by in a 128-bit key: the ::ffff: in front. */
const V4_MAPPED_BITS = 96;

const v4Value = (addr: string) => addr.split('.').reduce((v, o) => v * 256 + Number(o), 0);

/** IPv6 text as its 16 bytes (the codec's parser: one reading of the text), or undefined. */
function v6Bytes(addr: string): Buffer | undefined {
  const b = Buffer.alloc(16);
  return isIP(addr) === 6 && writeIpv6(b, 0, addr) ? b : undefined;
}

const isV4Mapped = (b: Buffer) => b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff;

/** An address as the maps give it back: IPv4 as is, IPv6 in RFC 5952 form ("FD00:0::1" is "fd00::1"). */
export function canonicalIp(addr: string): string {
  if (isIPv4(addr)) return addr;
  const b = v6Bytes(addr);
  if (!b) return addr;
  // An IPv4-mapped IPv6 address is how the maps store IPv4: it reads back as IPv4.
  return isV4Mapped(b) ? `${b[12]}.${b[13]}.${b[14]}.${b[15]}` : formatIpv6(b);
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
  const b = v6Bytes(addr!);
  if (!b) return cidr;
  const n = Number(bits ?? 128);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, n - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${formatIpv6(b)}/${n}`;
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
