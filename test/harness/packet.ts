// Building and reading Ethernet/IPv4/TCP|UDP frames for BPF_PROG_TEST_RUN,
// with checksums computed here independently of the kernel's helpers.
export interface PacketSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp';
  /** TCP flags byte: SYN 0x02, ACK 0x10, RST 0x04, FIN 0x01. */
  flags?: number;
  seq?: number;
  payload?: Buffer;
  /** UDP only: send with checksum 0 ("none"). */
  noUdpChecksum?: boolean;
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const ip4s = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

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
  const proto = p.proto === 'tcp' ? 6 : 17;
  let l4: Buffer;
  if (p.proto === 'tcp') {
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
  const src = ip4(p.src);
  const dst = ip4(p.dst);
  const csumAt = p.proto === 'tcp' ? 16 : 6;
  if (!(p.proto === 'udp' && p.noUdpChecksum)) l4.writeUInt16BE(l4Checksum(src, dst, proto, l4) || 0xffff, csumAt);

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
  proto: 'tcp' | 'udp' | 'other';
  flags: number;
  seq: number;
  ack: number;
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
  l4Checksum: number;
  length: number;
}

export function parsePacket(frame: Buffer): ParsedPacket {
  const ip = frame.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  const total = ip.readUInt16BE(2);
  const l4 = ip.subarray(ihl, total);
  const protoNum = ip[9]!;
  const proto = protoNum === 6 ? 'tcp' : protoNum === 17 ? 'udp' : 'other';
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

/** An ICMP error in an Ethernet/IPv4 frame, read independently of the kernel. */
export function parseIcmp(frame: Buffer): ParsedIcmp {
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
