// Building and reading Ethernet/IPv4/TCP|UDP|SCTP and Ethernet/IPv6/TCP|UDP|SCTP
// frames for BPF_PROG_TEST_RUN, with checksums computed here independently
// of the kernel's helpers (SCTP's CRC32c: crc32c.ts). A spec whose addresses
// contain ':' is IPv6.
import { sctpChecksum } from './crc32c.js';

/** An IPv6 extension header before the transport header (8 bytes each here). */
export type Ipv6Ext =
  | { type: 'hop' | 'dest' }
  | { type: 'routing'; segmentsLeft: number }
  | { type: 'fragment'; id: number; offset: number; more: boolean }
  /** A header the programs do not skip (ESP 50, AH 51, mobility 135): its number. */
  | { type: 'other'; next: number };

const EXT_NUMBER = { hop: 0, routing: 43, fragment: 44, dest: 60 } as const;

export interface PacketSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp' | 'sctp';
  /** TCP flags byte: SYN 0x02, ACK 0x10, RST 0x04, FIN 0x01. */
  flags?: number;
  /** SCTP: the one chunk's type (default INIT, 1); `payload` is its value. */
  chunk?: number;
  /** SCTP: the verification tag (default 0, as an INIT has). */
  vtag?: number;
  /** SCTP: the checksum field: the right CRC32c (default), 0 (not computed yet, or RFC 9653's zero checksum), or the right one with this XORed in. */
  sctpChecksum?: 'valid' | 'zero' | { wrongBy: number };
  seq?: number;
  payload?: Buffer;
  /** UDP only: send with checksum 0 ("none"). */
  noUdpChecksum?: boolean;
  /** IPv6 only: extension headers, in order, between the fixed header and the transport one. */
  ext?: Ipv6Ext[];
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;
/** SCTP chunk types (RFC 9260 3.2). */
export const SCTP = {
  DATA: 0,
  INIT: 1,
  INIT_ACK: 2,
  SACK: 3,
  ABORT: 6,
  COOKIE_ECHO: 10,
  SHUTDOWN_COMPLETE: 14,
} as const;

/** An SCTP packet: common header, one chunk of `payload`, checksum as asked. */
function sctpBytes(p: PacketSpec, payload: Buffer): Buffer {
  const l4 = Buffer.alloc(12 + 4 + payload.length);
  l4.writeUInt16BE(p.sport, 0);
  l4.writeUInt16BE(p.dport, 2);
  l4.writeUInt32BE(p.vtag ?? 0, 4);
  l4[12] = p.chunk ?? SCTP.INIT;
  l4.writeUInt16BE(4 + payload.length, 14);
  payload.copy(l4, 16);
  const want = p.sctpChecksum ?? 'valid';
  const crc = want === 'zero' ? 0 : (sctpChecksum(l4) ^ (want === 'valid' ? 0 : want.wrongBy)) >>> 0;
  l4.writeUInt32LE(crc, 8);
  return l4;
}

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const ip4s = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** IPv6 text ("fd00::1", "::ffff:10.0.0.1") as 16 bytes; written here, not borrowed from the code under test. */
export function ip6(s: string): Buffer {
  let text = s;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, -quad[0].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${s}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** 16 bytes as RFC 5952 text (lower case, the longest run of zero groups as "::"). */
export function ip6s(b: Buffer, at: number): string {
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(at + i * 2));
  let best = -1;
  let len = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len) [best, len] = [i, j - i];
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + len))}`;
}

const isV6 = (addr: string) => addr.includes(':');
const ETH_V6 = Buffer.from('020000000001020000000002' + '86dd', 'hex');

/** The one's complement sum over an IPv6 pseudo-header (RFC 8200 8.1) and `body`, as a checksum field. */
function l6Checksum(src: Buffer, dst: Buffer, next: number, body: Buffer): number {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const pseudo = Buffer.concat([src, dst, len, Buffer.from([0, 0, 0, next])]);
  return fold(sum16(body, sum16(pseudo)));
}

/** Extension headers as bytes, each 8 long, chained to `last` (the transport protocol). */
function extBytes(ext: readonly Ipv6Ext[], last: number): { first: number; bytes: Buffer } {
  const parts: Buffer[] = [];
  const number = (e: Ipv6Ext) => (e.type === 'other' ? e.next : EXT_NUMBER[e.type]);
  ext.forEach((e, i) => {
    const b = Buffer.alloc(8);
    b[0] = i + 1 < ext.length ? number(ext[i + 1]!) : last;
    if (e.type === 'hop' || e.type === 'dest') {
      b[2] = 1; // PadN, 4 bytes of padding: the header's 8 bytes
      b[3] = 4;
    } else if (e.type === 'routing') {
      b[2] = 253; // an experimental routing type (RFC 4727)
      b[3] = e.segmentsLeft;
    } else if (e.type === 'fragment') {
      b.writeUInt16BE((e.offset & 0xfff8) | (e.more ? 1 : 0), 2);
      b.writeUInt32BE(e.id, 4);
    }
    parts.push(b);
  });
  return { first: ext.length ? number(ext[0]!) : last, bytes: Buffer.concat(parts) };
}

/** An IPv6 header of `payloadLength` bytes after it, `next` its next header. */
function ipv6Header(src: Buffer, dst: Buffer, next: number, payloadLength: number, hopLimit = 64): Buffer {
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(payloadLength, 4);
  ip[6] = next;
  ip[7] = hopLimit;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return ip;
}

function sum16(buf: Buffer, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length % 2) s += buf[buf.length - 1]! << 8;
  return s;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
function l4Checksum(src: Buffer, dst: Buffer, proto: number, l4: Buffer): number {
  const pseudo = Buffer.concat([src, dst, Buffer.from([0, proto]), Buffer.from([l4.length >> 8, l4.length & 255])]);
  return fold(sum16(l4, sum16(pseudo)));
}

export function buildPacket(p: PacketSpec): Buffer {
  const payload = p.payload ?? Buffer.alloc(0);
  const proto = p.proto === 'tcp' ? 6 : p.proto === 'sctp' ? 132 : 17;
  let l4: Buffer;
  if (p.proto === 'sctp') {
    l4 = sctpBytes(p, payload);
  } else if (p.proto === 'tcp') {
    l4 = Buffer.alloc(20 + payload.length);
    l4.writeUInt16BE(p.sport, 0);
    l4.writeUInt16BE(p.dport, 2);
    l4.writeUInt32BE(p.seq ?? 1000, 4);
    l4[12] = 5 << 4;
    l4[13] = p.flags ?? TCP.SYN;
    l4.writeUInt16BE(64240, 14);
    payload.copy(l4, 20);
  } else {
    l4 = Buffer.alloc(8 + payload.length);
    l4.writeUInt16BE(p.sport, 0);
    l4.writeUInt16BE(p.dport, 2);
    l4.writeUInt16BE(l4.length, 4);
    payload.copy(l4, 8);
  }
  const csumAt = p.proto === 'tcp' ? 16 : 6;
  if (isV6(p.src)) {
    const src = ip6(p.src);
    const dst = ip6(p.dst);
    if (!(p.proto === 'udp' && p.noUdpChecksum) && p.proto !== 'sctp')
      l4.writeUInt16BE(l6Checksum(src, dst, proto, l4) || 0xffff, csumAt);
    const { first, bytes } = extBytes(p.ext ?? [], proto);
    return Buffer.concat([ETH_V6, ipv6Header(src, dst, first, bytes.length + l4.length), bytes, l4]);
  }
  const src = ip4(p.src);
  const dst = ip4(p.dst);
  if (!(p.proto === 'udp' && p.noUdpChecksum) && p.proto !== 'sctp')
    l4.writeUInt16BE(l4Checksum(src, dst, proto, l4) || 0xffff, csumAt);

  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = proto;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(fold(sum16(ip)), 10);

  const eth = Buffer.from('02000000000102000000000208' + '00', 'hex');
  return Buffer.concat([eth, ip, l4]);
}

export interface ParsedPacket {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp' | 'sctp' | 'other';
  /** TCP: the flags byte; SCTP: the first chunk's type. */
  flags: number;
  seq: number;
  ack: number;
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
  l4Checksum: number;
  length: number;
}

/** Walks an IPv6 header's extension headers: the transport protocol and where it starts (from the IPv6 header). */
function ipv6Transport(ip: Buffer): { next: number; at: number } {
  let next = ip[6]!;
  let at = 40;
  while (next === 0 || next === 43 || next === 60 || next === 44) {
    const hdr = ip.subarray(at);
    at += next === 44 ? 8 : (hdr[1]! + 1) * 8;
    next = hdr[0]!;
  }
  return { next, at };
}

function parsePacket6(frame: Buffer): ParsedPacket {
  const ip = frame.subarray(14, 14 + 40 + frame.readUInt16BE(14 + 4));
  const { next, at } = ipv6Transport(ip);
  const l4 = ip.subarray(at);
  const proto = next === 6 ? 'tcp' : next === 17 ? 'udp' : next === 132 ? 'sctp' : 'other';
  if (proto === 'sctp') return parseSctp(ip6s(ip, 8), ip6s(ip, 24), l4, true, frame.length);
  const csumAt = proto === 'tcp' ? 16 : 6;
  const stored = l4.readUInt16BE(csumAt);
  const zeroed = Buffer.from(l4);
  zeroed.writeUInt16BE(0, csumAt);
  const want = l6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), next, zeroed) || (proto === 'udp' ? 0xffff : 0);
  return {
    src: ip6s(ip, 8),
    dst: ip6s(ip, 24),
    sport: l4.readUInt16BE(0),
    dport: l4.readUInt16BE(2),
    proto,
    flags: proto === 'tcp' ? l4[13]! : 0,
    seq: proto === 'tcp' ? l4.readUInt32BE(4) : 0,
    ack: proto === 'tcp' ? l4.readUInt32BE(8) : 0,
    ipChecksumOk: true, // IPv6 has no header checksum
    // Over IPv6 a zero UDP checksum is invalid (RFC 8200 8.1): never "none".
    l4ChecksumOk: stored === want,
    l4Checksum: stored,
    length: frame.length,
  };
}

/** An SCTP packet's fields; its checksum checked by this file's own CRC32c. */
function parseSctp(src: string, dst: string, l4: Buffer, ipChecksumOk: boolean, length: number): ParsedPacket {
  const stored = l4.readUInt32LE(8);
  return {
    src,
    dst,
    sport: l4.readUInt16BE(0),
    dport: l4.readUInt16BE(2),
    proto: 'sctp',
    flags: l4[12]!,
    seq: l4.readUInt32BE(4), // the verification tag
    ack: 0,
    ipChecksumOk,
    l4ChecksumOk: stored === sctpChecksum(l4),
    l4Checksum: stored,
    length,
  };
}

export function parsePacket(frame: Buffer): ParsedPacket {
  if (frame.readUInt16BE(12) === 0x86dd) return parsePacket6(frame);
  const ip = frame.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  const total = ip.readUInt16BE(2);
  const l4 = ip.subarray(ihl, total);
  const protoNum = ip[9]!;
  const proto = protoNum === 6 ? 'tcp' : protoNum === 17 ? 'udp' : protoNum === 132 ? 'sctp' : 'other';
  const ipChecksumOk = fold(sum16(ip.subarray(0, ihl))) === 0;
  if (proto === 'sctp') return parseSctp(ip4s(ip, 12), ip4s(ip, 16), l4, ipChecksumOk, frame.length);
  const csumAt = proto === 'tcp' ? 16 : 6;
  const stored = l4.readUInt16BE(csumAt);
  const zeroed = Buffer.from(l4);
  zeroed.writeUInt16BE(0, csumAt);
  const want = l4Checksum(ip.subarray(12, 16), ip.subarray(16, 20), protoNum, zeroed) || (proto === 'udp' ? 0xffff : 0);
  return {
    src: ip4s(ip, 12),
    dst: ip4s(ip, 16),
    sport: l4.readUInt16BE(0),
    dport: l4.readUInt16BE(2),
    proto,
    flags: proto === 'tcp' ? l4[13]! : 0,
    seq: proto === 'tcp' ? l4.readUInt32BE(4) : 0,
    ack: proto === 'tcp' ? l4.readUInt32BE(8) : 0,
    ipChecksumOk: fold(sum16(ip.subarray(0, ihl))) === 0,
    l4ChecksumOk: proto === 'udp' && stored === 0 ? true : stored === want,
    l4Checksum: stored,
    length: frame.length,
  };
}

export interface ParsedIcmp {
  src: string;
  dst: string;
  protocol: number;
  type: number;
  code: number;
  ipChecksumOk: boolean;
  /** Over the whole ICMP message, computed here. */
  icmpChecksumOk: boolean;
  /** The quoted datagram: its IP header and first bytes. */
  quoted: Buffer;
  length: number;
}

/** An ICMP error in an Ethernet/IPv4 frame, or an ICMPv6 one in an Ethernet/IPv6 frame, read independently of the kernel. */
export function parseIcmp(frame: Buffer): ParsedIcmp {
  if (frame.readUInt16BE(12) === 0x86dd) {
    const ip = frame.subarray(14, 14 + 40 + frame.readUInt16BE(18));
    const { next, at } = ipv6Transport(ip);
    const icmp = ip.subarray(at);
    return {
      src: ip6s(ip, 8),
      dst: ip6s(ip, 24),
      protocol: next,
      type: icmp[0]!,
      code: icmp[1]!,
      ipChecksumOk: true,
      icmpChecksumOk: l6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), 58, icmp) === 0,
      quoted: Buffer.from(icmp.subarray(8)),
      length: frame.length,
    };
  }
  const ip = frame.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  const icmp = ip.subarray(ihl, ip.readUInt16BE(2));
  return {
    src: ip4s(ip, 12),
    dst: ip4s(ip, 16),
    protocol: ip[9]!,
    type: icmp[0]!,
    code: icmp[1]!,
    ipChecksumOk: fold(sum16(ip.subarray(0, ihl))) === 0,
    icmpChecksumOk: fold(sum16(icmp)) === 0,
    quoted: Buffer.from(icmp.subarray(8)),
    length: frame.length,
  };
}

/**
 * An ICMP error (type 3 destination unreachable, 11 time exceeded) from
 * `src` to `dst` quoting `about` (a frame buildPacket made) as routers do:
 * its IP header and first 8 bytes. `rest` is the 4 bytes after the checksum
 * (for fragmentation needed, the next hop's MTU in the low 16 bits).
 */
export function buildIcmpError(p: {
  src: string;
  dst: string;
  type: number;
  code: number;
  rest?: number;
  about: Buffer;
}): Buffer {
  const quoted = p.about.subarray(14, 14 + 20 + 8);
  const icmp = Buffer.alloc(8 + quoted.length);
  icmp[0] = p.type;
  icmp[1] = p.code;
  icmp.writeUInt32BE(p.rest ?? 0, 4);
  quoted.copy(icmp, 8);
  icmp.writeUInt16BE(fold(sum16(icmp)), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = 64;
  ip[9] = 1;
  ip4(p.src).copy(ip, 12);
  ip4(p.dst).copy(ip, 16);
  ip.writeUInt16BE(fold(sum16(ip)), 10);
  const eth = Buffer.from('02000000000102000000000208' + '00', 'hex');
  return Buffer.concat([eth, ip, icmp]);
}

/** The datagram an ICMP error quotes: its addresses and ports, and whether its IP header checksum holds. */
export function parseQuoted(quoted: Buffer): {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ipChecksumOk: boolean;
} {
  const ihl = (quoted[0]! & 0x0f) * 4;
  return {
    src: ip4s(quoted, 12),
    dst: ip4s(quoted, 16),
    sport: quoted.readUInt16BE(ihl),
    dport: quoted.readUInt16BE(ihl + 2),
    ipChecksumOk: fold(sum16(quoted.subarray(0, ihl))) === 0,
  };
}

/**
 * A fragment of a datagram: `offset` in bytes (a multiple of 8), `more` when
 * fragments follow, `payload` its bytes (the first one's start with the
 * transport header).
 */
export function buildFragment(p: {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp';
  id: number;
  offset: number;
  more: boolean;
  payload: Buffer;
}): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + p.payload.length, 2);
  ip.writeUInt16BE(p.id, 4);
  ip.writeUInt16BE((p.more ? 0x2000 : 0) | (p.offset / 8), 6);
  ip[8] = 64;
  ip[9] = p.proto === 'tcp' ? 6 : 17;
  ip4(p.src).copy(ip, 12);
  ip4(p.dst).copy(ip, 16);
  ip.writeUInt16BE(fold(sum16(ip)), 10);
  const eth = Buffer.from('02000000000102000000000208' + '00', 'hex');
  return Buffer.concat([eth, ip, p.payload]);
}

/** A frame's IP header: addresses, id, fragment offset (bytes) and more-fragments, and whether its checksum holds. */
export function parseIpHeader(frame: Buffer): {
  src: string;
  dst: string;
  id: number;
  offset: number;
  more: boolean;
  ipChecksumOk: boolean;
} {
  const ip = frame.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  const frag = ip.readUInt16BE(6);
  return {
    src: ip4s(ip, 12),
    dst: ip4s(ip, 16),
    id: ip.readUInt16BE(4),
    offset: (frag & 0x1fff) * 8,
    more: (frag & 0x2000) !== 0,
    ipChecksumOk: fold(sum16(ip.subarray(0, ihl))) === 0,
  };
}

/**
 * An IPv6 datagram (a frame buildPacket made, without extension headers)
 * cut in two fragments at byte `at` of its transport header and payload (a
 * multiple of 8): the first with the transport header, the second the rest,
 * each with a fragment header of identification `id` (RFC 8200 4.5). The
 * transport checksum, computed over the whole datagram, stays in the first.
 */
export function fragment6(frame: Buffer, at: number, id: number): [Buffer, Buffer] {
  const ip = frame.subarray(14, 54);
  const l4 = frame.subarray(54);
  const next = ip[6]!;
  const part = (offset: number, bytes: Buffer, more: boolean) => {
    const frag = Buffer.alloc(8);
    frag[0] = next;
    frag.writeUInt16BE((offset & 0xfff8) | (more ? 1 : 0), 2);
    frag.writeUInt32BE(id, 4);
    return Buffer.concat([
      ETH_V6,
      ipv6Header(ip.subarray(8, 24), ip.subarray(24, 40), 44, 8 + bytes.length),
      frag,
      bytes,
    ]);
  };
  return [part(0, l4.subarray(0, at), true), part(at, l4.subarray(at), false)];
}

/** Two IPv6 fragments (fragment6's, as translated) joined back into one datagram, for parsePacket. */
export function reassemble6(first: Buffer, second: Buffer): Buffer {
  const ip = first.subarray(14, 54);
  const head = first.subarray(62);
  const tail = second.subarray(62);
  const next = first[54]!;
  return Buffer.concat([
    ETH_V6,
    ipv6Header(ip.subarray(8, 24), ip.subarray(24, 40), next, head.length + tail.length),
    head,
    tail,
  ]);
}

/** An IPv6 frame's addresses (fragments included: no transport header needed). */
export function parseIp6Header(frame: Buffer): { src: string; dst: string } {
  return { src: ip6s(frame, 14 + 8), dst: ip6s(frame, 14 + 24) };
}

/**
 * An ICMPv6 error (type 1 destination unreachable, 2 packet too big, 3 time
 * exceeded) from `src` to `dst` quoting `about` (an IPv6 frame buildPacket
 * made): its IPv6 header and first `quote` bytes after it (RFC 4443 says as
 * much as fits; routers quote more, this keeps the frame small). `rest` is
 * the 4 bytes after the checksum (packet too big: the MTU). The checksum
 * covers the IPv6 pseudo-header, computed here.
 */
export function buildIcmp6Error(p: {
  src: string;
  dst: string;
  type: number;
  code: number;
  rest?: number;
  about: Buffer;
  quote?: number;
}): Buffer {
  const quoted = p.about.subarray(14, Math.min(p.about.length, 14 + 40 + (p.quote ?? 8)));
  const icmp = Buffer.alloc(8 + quoted.length);
  icmp[0] = p.type;
  icmp[1] = p.code;
  icmp.writeUInt32BE(p.rest ?? 0, 4);
  quoted.copy(icmp, 8);
  const src = ip6(p.src);
  const dst = ip6(p.dst);
  icmp.writeUInt16BE(l6Checksum(src, dst, 58, icmp), 2);
  return Buffer.concat([ETH_V6, ipv6Header(src, dst, 58, icmp.length), icmp]);
}

/** The IPv6 datagram an ICMPv6 error quotes: its addresses and ports. */
export function parseQuoted6(quoted: Buffer): { src: string; dst: string; sport: number; dport: number } {
  return {
    src: ip6s(quoted, 8),
    dst: ip6s(quoted, 24),
    sport: quoted.readUInt16BE(40),
    dport: quoted.readUInt16BE(42),
  };
}
