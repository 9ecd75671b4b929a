// The pure parts of the kube-ipvs0 driver: what `ip -force -batch` says it
// refused, and the addresses and link kind in ip's JSON.
import { describe, expect, it } from 'vitest';
import { addressesOf, batchFailures, linkKindOf } from '../../../control/proxiers/ipvs/dummy.js';

describe('batchFailures', () => {
  it('pairs each "Command failed -:N" with what ip printed before it', () => {
    // iproute2 6.1 on Linux 6.x: deleting addresses that are not there, a missing device.
    const stderr = [
      'Error: ipv4: Address not found.',
      'Command failed -:3',
      'Error: ipv6: address not found.',
      'Command failed -:5',
      'Cannot find device "nope0"',
      'Command failed -:6',
      '',
    ].join('\n');
    expect(batchFailures(stderr)).toEqual(
      new Map([
        [3, 'Error: ipv4: Address not found.'],
        [5, 'Error: ipv6: address not found.'],
        [6, 'Cannot find device "nope0"'],
      ]),
    );
  });

  it('keeps a reason of several lines, and names a failure ip gave no reason for', () => {
    expect(
      batchFailures('RTNETLINK answers: File exists\nmore\nCommand failed /tmp/batch:12\nCommand failed -:13\n'),
    ).toEqual(
      new Map([
        [12, 'RTNETLINK answers: File exists; more'],
        [13, 'refused'],
      ]),
    );
  });

  it('finds nothing in a clean run', () => {
    expect(batchFailures('')).toEqual(new Map());
  });
});

describe('addressesOf', () => {
  it('lists the addresses without prefix length, leaving out link-scope ones', () => {
    const json = JSON.stringify([
      {
        ifname: 'kube-ipvs0',
        addr_info: [
          { family: 'inet', local: '10.96.0.10', prefixlen: 32, scope: 'global' },
          { family: 'inet6', local: 'fd00::a', prefixlen: 128, scope: 'global' },
          { family: 'inet6', local: 'fe80::b43b:21ff:fed8:7185', prefixlen: 64, scope: 'link' },
        ],
      },
    ]);
    expect(addressesOf(json)).toEqual(new Set(['10.96.0.10', 'fd00::a']));
  });

  it('is empty for a link without addresses', () => {
    expect(addressesOf('[{"ifname":"kube-ipvs0","addr_info":[]}]')).toEqual(new Set());
    expect(addressesOf('[{}]')).toEqual(new Set());
  });
});

describe('linkKindOf', () => {
  it('reads the kind, "" for a device without one', () => {
    expect(linkKindOf('[{"ifname":"kube-ipvs0","linkinfo":{"info_kind":"dummy"}}]')).toBe('dummy');
    expect(linkKindOf('[{"ifname":"eth0"}]')).toBe('');
  });
});
