// The addresses the ipvs mode puts NodePort virtual servers on: what
// --nodeport-addresses selected (resolved by the model into NodeFacts), or
// every local address, as kube-proxy's IPVS proxier lists them; never loopback.
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
