// Load-balancer source ranges as the ipvs mode writes them into the
// SOURCE-CIDR sets: the network the kernel stores, in the text `ipset save`
// prints (a whole-address prefix bare, IPv6 compressed and lower-case).
import { describe, expect, it } from 'vitest';
import { cidrHolds, parseCidr } from '../../../control/proxiers/ipvs/cidr.js';

describe('parseCidr', () => {
  it('reads an IPv4 CIDR as the kernel stores it, and refuses anything else', () => {
    expect(parseCidr('10.1.2.3/24', 'IPv4')).toEqual({
      family: 'IPv4',
      text: '10.1.2.0/24',
      network: '10.1.2.0',
      bits: 24,
    });
    expect(parseCidr(' 192.0.2.7/32 ', 'IPv4')?.text).toBe('192.0.2.7');
    expect(parseCidr('0.0.0.0/0', 'IPv4')?.bits).toBe(0);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.256/8', 'fd00::/8', '10.0.0.0/8/1', '', 'ten/8'])
      expect(parseCidr(bad, 'IPv4'), bad).toBeUndefined();
  });

  it('reads an IPv6 CIDR: host bits cleared, compressed and lower-cased as inet_ntop prints it, /128 bare', () => {
    expect(parseCidr('2001:DB8:FFFF::1/48', 'IPv6')).toEqual({
      family: 'IPv6',
      text: '2001:db8:ffff::/48',
      network: '2001:db8:ffff::',
      bits: 48,
    });
    expect(parseCidr('fd00:172:31:0:0:0:0:100/128', 'IPv6')?.text).toBe('fd00:172:31::100');
    expect(parseCidr('fd00:172:31::100/120', 'IPv6')?.text).toBe('fd00:172:31::100/120');
    expect(parseCidr('fd00:172:31::1ff/120', 'IPv6')?.text).toBe('fd00:172:31::100/120');
    // One zero hextet is not compressed (RFC 5952), the longest run is.
    expect(parseCidr('2001:db8:0:1:0:0:0:1/128', 'IPv6')?.text).toBe('2001:db8:0:1::1');
    expect(parseCidr('2001:db8::1/0', 'IPv6')).toMatchObject({ text: '::/0', bits: 0 });
    expect(parseCidr('::/0', 'IPv6')?.text).toBe('::/0');
    for (const bad of [
      'fd00::',
      'fd00::/129',
      'fd00:::1/64',
      'fd00::1::2/64',
      '1:2:3:4:5:6:7:8:9/64',
      '1:2:3:4:5:6:7/64',
      'fd00::g/64',
      '10.0.0.0/8',
      'fe80::1%eth0/64',
    ])
      expect(parseCidr(bad, 'IPv6'), bad).toBeUndefined();
  });
});

describe('cidrHolds', () => {
  it("holds the range's addresses only, and never another family's", () => {
    const v6 = parseCidr('fd00:172:31::/64', 'IPv6')!;
    expect(cidrHolds(v6, 'fd00:172:31::11')).toBe(true);
    expect(cidrHolds(v6, 'FD00:172:31:0::11')).toBe(true);
    expect(cidrHolds(v6, 'fd00:172:32::11')).toBe(false);
    expect(cidrHolds(v6, '172.31.0.11')).toBe(false);
    const v4 = parseCidr('172.31.0.0/24', 'IPv4')!;
    expect(cidrHolds(v4, '172.31.0.11')).toBe(true);
    expect(cidrHolds(v4, 'fd00:172:31::11')).toBe(false);
  });
});
