// A load-balancer source range as the ipvs mode writes it into
// KUBE-LOAD-BALANCER-SOURCE-CIDR (KUBE-6-LOAD-BALANCER-SOURCE-CID): the
// network the kernel stores (host bits cleared) in the text `ipset save`
// prints for it, so what the proxier writes and what it reads back compare
// equal. A hash:ip,port,net member prints its net without the prefix when
// the prefix is the whole address (/32, /128), and an IPv6 network
// compressed and lower-cased (inet_ntop, RFC 5952), as Go's net.IPNet.String()
// prints kube-proxy's.
import { BlockList } from 'node:net';
import { canonicalIP } from '../../model/address.js';
import type { IPFamily } from '../../sources/types.js';

export interface Cidr {
  family: IPFamily;
  /** As ipset prints it: "10.1.2.0/24", "10.1.2.3", "2001:db8::/32", "fd00::5". */
  text: string;
  /** The network address, host bits cleared. */
  network: string;
  bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET = /^[0-9a-f]{1,4}$/i;

/**
 * `text` ("10.1.2.3/24", "2001:DB8::1/64") as the kernel stores it, or
 * undefined when it is not a CIDR of `family`. Only the CIDR syntax the API
 * server accepts: an address, a slash and a prefix length; no zone, no
 * IPv4-mapped form.
 */
export function parseCidr(text: string, family: IPFamily): Cidr | undefined {
  const [ip, bitsText, ...rest] = text.trim().split('/');
  if (rest.length || bitsText === undefined || !/^\d{1,3}$/.test(bitsText) || ip === undefined) return undefined;
  const width = family === 'IPv4' ? 32 : 128;
  const bits = Number(bitsText);
  if (bits > width) return undefined;
  const value = family === 'IPv4' ? ipv4Value(ip) : ipv6Value(ip);
  if (value === undefined) return undefined;
  const hostBits = BigInt(width - bits);
  const masked = (value >> hostBits) << hostBits;
  const network = family === 'IPv4' ? ipv4Text(masked) : canonicalIP(ipv6Hextets(masked));
  return { family, text: bits === width ? network : `${network}/${bits}`, network, bits };
}

/** Whether the range holds `ip` (an address of its family; another family's never). */
export function cidrHolds(cidr: Cidr, ip: string): boolean {
  const list = new BlockList();
  const type = cidr.family === 'IPv4' ? 'ipv4' : 'ipv6';
  list.addSubnet(cidr.network, cidr.bits, type);
  try {
    return list.check(ip, type);
  } catch {
    return false; // not an address of the family
  }
}

function ipv4Value(ip: string): bigint | undefined {
  const m = IPV4.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((n, o) => (n << 8n) | BigInt(o), 0n);
}

const ipv4Text = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 255n)).join('.');

/** The 128-bit value of an IPv6 address in hextets ("2001:db8::1", "::"), or undefined. */
function ipv6Value(ip: string): bigint | undefined {
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => HEXTET.test(g))) return undefined;
  return all.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** Eight hextets, uncompressed ("2001:db8:0:0:0:0:0:0"); canonicalIP compresses them. */
const ipv6Hextets = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
