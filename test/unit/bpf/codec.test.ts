// Codecs derived from BTF descriptions. The descriptions here have the shape
// the addon returns for the structs in test/bpf/selftest.h; the privileged
// tests check that shape against the kernel's BTF.
import { describe, expect, it } from 'vitest';
import type { BtfType } from '../../../control/native/addon.js';
import { BpfErrorCode, derive } from '../../../control/bpf/index.js';

const u8: BtfType = { kind: 'int', name: 'unsigned char', typedef: '__u8', size: 1, signed: false };
const be16: BtfType = { kind: 'int', name: 'unsigned short', typedef: '__be16', size: 2, signed: false };
const u16: BtfType = { kind: 'int', name: 'unsigned short', typedef: '__u16', size: 2, signed: false };
const be32: BtfType = { kind: 'int', name: 'unsigned int', typedef: '__be32', size: 4, signed: false };
const u32: BtfType = { kind: 'int', name: 'unsigned int', typedef: '__u32', size: 4, signed: false };
const s32: BtfType = { kind: 'int', name: 'int', size: 4, signed: true };
const u64: BtfType = { kind: 'int', name: 'unsigned long long', typedef: '__u64', size: 8, signed: false };
const member = (name: string, offset: number, type: BtfType) => ({
  name,
  offset,
  bitOffset: offset * 8,
  bitSize: 0,
  type,
});

const key: BtfType = {
  kind: 'struct',
  name: 'selftest_key',
  size: 8,
  members: [member('addr', 0, be32), member('port', 4, be16), member('proto', 6, u8), member('pad', 7, u8)],
};

describe('derive', () => {
  it('reads network-order fields as big-endian and host fields as little-endian', () => {
    const c = derive<{ addr: string; port: number; proto: number }>('key', key, { addr: 'ipv4' });
    const buf = c.encode({ addr: '192.168.1.2', port: 8080, proto: 6 });
    expect(buf.toString('hex')).toBe('c0a80102' + '1f90' + '06' + '00');
    expect(c.decode(buf)).toEqual({ addr: '192.168.1.2', port: 8080, proto: 6 });

    const host = derive<number>('u32', u32);
    expect(host.encode(1).toString('hex')).toBe('01000000');
  });

  it('keeps padding out of the object and zero in the bytes', () => {
    const c = derive<Record<string, unknown>>('key', key);
    const buf = Buffer.alloc(8, 0xff);
    c.encodeInto({ addr: 0, port: 0, proto: 0 }, buf, 0);
    expect(buf.toString('hex')).toBe('0000000000000000');
    expect(Object.keys(c.decode(buf))).toEqual(['addr', 'port', 'proto']);
  });

  it('reads 64-bit ints as bigint, signed ints with their sign', () => {
    expect(derive<bigint>('u64', u64).decode(Buffer.from('ffffffffffffffff', 'hex'))).toBe(2n ** 64n - 1n);
    expect(derive<number>('s32', s32).decode(Buffer.from('feffffff', 'hex'))).toBe(-2);
    expect(derive<number>('u64', u64, 'number').decode(Buffer.from('0a00000000000000', 'hex'))).toBe(10);
  });

  it('reads nested structs, byte arrays and IPv6 addresses', () => {
    const addr6: BtfType = { kind: 'array', name: '', size: 16, length: 16, elem: u8 };
    const mac: BtfType = { kind: 'array', name: '', size: 6, length: 6, elem: u8 };
    const inner: BtfType = {
      kind: 'struct',
      name: 'inner',
      size: 4,
      members: [member('a', 0, u16), member('b', 2, u16)],
    };
    const t: BtfType = {
      kind: 'struct',
      name: 'outer',
      size: 28,
      members: [member('ip', 0, addr6), member('mac', 16, mac), member('pad', 22, u16), member('in', 24, inner)],
    };
    const c = derive<Record<string, unknown>>('outer', t, { ip: 'ipv6', mac: 'mac' });
    const v = { ip: 'fd00::1', mac: '02:00:00:00:00:0a', in: { a: 1, b: 2 } };
    expect(c.decode(c.encode(v))).toEqual(v);
    const ip6 = derive<string>('ip6', addr6, 'ipv6');
    for (const text of ['::', '::1', 'fd00::1', '2001:db8:0:1:0:0:0:1'.replace(':0:0:0:', '::'), '1:0:0:2:0:0:0:3']) {
      expect(ip6.decode(ip6.encode(text))).toBe(text === '1:0:0:2:0:0:0:3' ? '1:0:0:2::3' : text);
    }
  });

  it('reads struct sy_addr as the address of its family: IPv4-mapped as IPv4, the rest as RFC 5952 IPv6', () => {
    const words: BtfType = { kind: 'array', name: '', size: 16, length: 4, elem: be32 };
    const addr: BtfType = { kind: 'struct', name: 'sy_addr', size: 16, members: [member('w', 0, words)] };
    const t: BtfType = {
      kind: 'struct',
      name: 'k',
      size: 20,
      members: [member('addr', 0, addr), member('port', 16, be16), member('pad', 18, u16)],
    };
    const c = derive<{ addr: string; port: number }>('k', t, { addr: 'ip' });
    const v4 = c.encode({ addr: '10.96.0.10', port: 80 });
    expect(v4.toString('hex')).toBe('00000000000000000000ffff0a60000a00500000');
    expect(c.decode(v4)).toEqual({ addr: '10.96.0.10', port: 80 });
    const v6 = c.encode({ addr: 'FD00:10:96:0::A', port: 53 });
    expect(v6.subarray(0, 16).toString('hex')).toBe('fd00001000960000000000000000000a');
    expect(c.decode(v6)).toEqual({ addr: 'fd00:10:96::a', port: 53 });
    // Written as IPv6 text, an IPv4-mapped address is the IPv4 one: the families share keys, never collide.
    expect(c.encode({ addr: '::ffff:10.96.0.10', port: 80 }).equals(v4)).toBe(true);
    expect(c.decode(c.encode({ addr: '::', port: 0 })).addr).toBe('::');
    for (const bad of ['10.96.0', 'fd00::1::2', '1:2:3:4:5:6:7:8:9', 'fd00::g', '']) {
      expect(() => c.encode({ addr: bad, port: 1 })).toThrow(/is not an IP address/);
    }
    expect(() => derive('k', t, { port: 'ip' })).toThrow(/format ip needs a 16-byte struct sy_addr/);
  });

  it('takes IPv4 text exactly as net.isIPv4() does', () => {
    const c = derive<{ addr: string; port: number; proto: number }>('key', key, { addr: 'ipv4' });
    for (const addr of ['0.0.0.0', '255.255.255.255', '10.96.0.1', '192.168.1.20']) {
      expect(c.decode(c.encode({ addr, port: 1, proto: 6 })).addr).toBe(addr);
    }
    const bad = [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.04',
      '1..2.3',
      '1.2.3.',
      '.1.2.3',
      ' 1.2.3.4',
      '1.2.3.4 ',
    ];
    for (const addr of [...bad, '1.2.3.a', '::1', '1.2.3.2555']) {
      expect(() => c.encode({ addr, port: 1, proto: 6 }), addr).toThrow(/is not an IPv4 address/);
    }
  });

  it('writes integers of every width and order, wrapping values out of range as C would', () => {
    const host = derive<number>('u32', u32);
    const s = derive<number>('s32', s32);
    const port = derive<{ addr: number; port: number; proto: number }>('key', key);
    expect(host.encode(0xdeadbeef).toString('hex')).toBe('efbeadde');
    expect(s.encode(-2).toString('hex')).toBe('feffffff');
    expect(s.encode(0x7fffffff).toString('hex')).toBe('ffffff7f');
    expect(port.encode({ addr: 0x0a600001, port: 443, proto: 17 }).toString('hex')).toBe(
      '0a600001' + '01bb' + '11' + '00',
    );
    // Out of range, negative for an unsigned field, or a bigint: the BigInt path, which wraps.
    expect(port.encode({ addr: 0, port: 70000, proto: 256 + 6 }).toString('hex')).toBe(
      '00000000' + '1170' + '06' + '00',
    );
    expect(host.encode(-1).toString('hex')).toBe('ffffffff');
    expect(host.encode(5n as unknown as number).toString('hex')).toBe('05000000');
    expect(() => host.encode(1.5)).toThrow(RangeError);
    expect(derive<number>('u16', u16).decode(Buffer.from('3412', 'hex'))).toBe(0x1234);
  });

  it('fails loudly when TypeScript and the C layout disagree', () => {
    expect(() => derive('key', key, { address: 'ipv4' })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.LayoutMismatch }),
    );
    expect(() => derive('key', key, { port: 'ipv4' })).toThrow(/format ipv4 needs 4 bytes, the field has 2/);
    expect(() => derive('key', key, {}, 12)).toThrow(/is 8 bytes in BTF, the caller expects 12/);
    expect(() => derive('key', null)).toThrow(/no BTF/);
    const bitfield: BtfType = {
      kind: 'struct',
      name: 'bf',
      size: 4,
      members: [{ name: 'x', offset: 0, bitOffset: 0, bitSize: 3, type: u32 }],
    };
    expect(() => derive('bf', bitfield)).toThrow(/bitfields/);
  });

  it('refuses objects with missing or unknown fields', () => {
    const c = derive<Record<string, unknown>>('key', key, { addr: 'ipv4' });
    expect(() => c.encode({ addr: '10.0.0.1', port: 1 })).toThrow(/field "proto" is missing/);
    expect(() => c.encode({ addr: '10.0.0.1', port: 1, proto: 6, extra: 1 })).toThrow(/no field "extra"/);
  });
});
