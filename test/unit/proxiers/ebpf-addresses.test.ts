// Addresses and prefixes of both families as the ebpf dataplane keys them
// (control/proxiers/ebpf/addresses.ts).
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  cidrOfKey,
  hostPort,
  inCidr,
  isCidr,
  keyPrefixLen,
  networkOf,
} from '../../../control/proxiers/ebpf/addresses.js';

describe('ebpf addresses', () => {
  it('writes IPv6 as the maps give it back, and IPv4-mapped text as IPv4', () => {
    expect(canonicalIp('FD00:10:96:0:0::A')).toBe('fd00:10:96::a');
    expect(canonicalIp('::ffff:10.96.0.10')).toBe('10.96.0.10');
    expect(canonicalIp('10.96.0.10')).toBe('10.96.0.10');
  });

  it('masks host bits of either family, as kube-proxy parses a CIDR', () => {
    expect(networkOf('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(networkOf('fd00:10:244:1::b/56')).toBe('fd00:10:244::/56');
    expect(networkOf('2001:db8:1:2::7/48')).toBe('2001:db8:1::/48');
    expect(networkOf('fd00::1/128')).toBe('fd00::1/128');
    expect(networkOf('::/0')).toBe('::/0');
    expect(isCidr('fd00:10:244::/56')).toBe(true);
    expect(isCidr('fd00:10:244:1::/56')).toBe(false); // host bits set
    expect(isCidr('fd00::/129')).toBe(false);
    expect(inCidr('fd00:10:244:1::b', 'fd00:10:244::/56')).toBe(true);
    expect(inCidr('10.244.1.11', 'fd00:10:244::/56')).toBe(false);
  });

  it('keys an IPv4 prefix /n as the 128-bit /(96 + n), and reads it back', () => {
    expect(keyPrefixLen('10.244.0.0/16')).toBe(112);
    expect(keyPrefixLen('fd00:10:244::/56')).toBe(56);
    expect(cidrOfKey('10.244.0.0', 112)).toBe('10.244.0.0/16');
    expect(cidrOfKey('fd00:10:244::', 56)).toBe('fd00:10:244::/56');
  });

  it('brackets an IPv6 endpoint', () => {
    expect(hostPort('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(hostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});
