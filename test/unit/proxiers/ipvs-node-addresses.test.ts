// The addresses the ipvs mode puts NodePort virtual servers on: what
// --nodeport-addresses selected (resolved by the model into NodeFacts), or
// every local address, as kube-proxy's IPVS proxier lists them; never loopback,
// never IPv6 link-local (its netlink handle's isValidForSet).
import { describe, expect, it } from 'vitest';
import type { NodeFacts } from '../../../control/model/node-facts.js';
import { nodePortAddresses } from '../../../control/proxiers/ipvs/node-addresses.js';

const facts = (nodePortAddresses: NodeFacts['nodePortAddresses']): NodeFacts => ({
  nodeName: 'n1',
  addresses: ['172.31.0.11'],
  podCIDRs: [],
  nodePortAddresses,
  localAddresses: ['172.31.0.11', '10.0.5.1', '172.31.0.11', 'fd00::11'],
});

describe('nodePortAddresses', () => {
  it('without --nodeport-addresses (no IPv4 entry): every local IPv4 address, sorted, once each', () => {
    expect(nodePortAddresses(facts({}))).toEqual(['10.0.5.1', '172.31.0.11']);
    // Another family's selection leaves IPv4 on every address.
    expect(nodePortAddresses(facts({ IPv6: ['fd00::11'] }))).toEqual(['10.0.5.1', '172.31.0.11']);
  });

  it('with --nodeport-addresses: exactly what it selected, loopback dropped; none selects none', () => {
    expect(nodePortAddresses(facts({ IPv4: ['172.31.0.11', '127.0.0.1'] }))).toEqual(['172.31.0.11']);
    expect(nodePortAddresses(facts({ IPv4: [] }))).toEqual([]);
  });
});

describe('nodePortAddresses: IPv6', () => {
  const dual = (nodePortAddresses: NodeFacts['nodePortAddresses']): NodeFacts => ({
    ...facts(nodePortAddresses),
    localAddresses: ['172.31.0.11', 'fd00:172:31::11', 'FD00:5:0::11', 'fe80::1', 'febf::2', 'fec0::3'],
  });

  it('every local IPv6 address but link-local (fe80::/10), as the kernel prints it', () => {
    expect(nodePortAddresses(dual({}), 'IPv6')).toEqual(['fd00:172:31::11', 'fd00:5::11', 'fec0::3']);
    expect(nodePortAddresses(dual({}), 'IPv4')).toEqual(['172.31.0.11']);
  });

  it('with --nodeport-addresses: its IPv6 selection, ::1 and link-local dropped', () => {
    expect(nodePortAddresses(dual({ IPv6: ['fd00:172:31::11', '::1', 'fe80::1'] }), 'IPv6')).toEqual([
      'fd00:172:31::11',
    ]);
    expect(nodePortAddresses(dual({ IPv6: [] }), 'IPv6')).toEqual([]);
  });
});
