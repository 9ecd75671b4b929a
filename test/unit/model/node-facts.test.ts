// The node facts the proxiers get with every sync: the node's addresses (from
// its Node object, else its interfaces), pod CIDRs and NodePort addresses
// (kube-proxy's --nodeport-addresses, "primary" included).
import { describe, expect, it } from 'vitest';
import { parseNodePortAddresses } from '../../../control/config/values.js';
import {
  nodeFacts,
  nodeFactsOfFamily,
  nodePortAddressSpec,
  primaryAddresses,
  resolveNodePortAddresses,
} from '../../../control/model/node-facts.js';
import { nodePortsTail } from '../../../control/netfilter/kube-chains.js';

const LOCAL = ['192.168.1.5', '10.0.0.5', 'fd00::5'];

describe('node facts', () => {
  it('takes the Node object’s addresses, and the interfaces’ when the Node lists none (standalone)', () => {
    const spec = nodePortAddressSpec([]);
    expect(
      nodeFacts({
        nodeName: 'n1',
        node: { addresses: ['192.168.1.5'], podCIDRs: ['10.244.1.0/24'] },
        localAddresses: LOCAL,
        nodePortAddresses: spec,
      }),
    ).toEqual({
      nodeName: 'n1',
      addresses: ['192.168.1.5'],
      podCIDRs: ['10.244.1.0/24'],
      nodePortAddresses: {},
      localAddresses: LOCAL,
    });
    expect(
      nodeFacts({
        nodeName: 'n1',
        node: { addresses: [], podCIDRs: [] },
        localAddresses: LOCAL,
        nodePortAddresses: spec,
      }).addresses,
    ).toEqual(LOCAL);
    expect(nodeFacts({ nodeName: 'n1', localAddresses: LOCAL, nodePortAddresses: spec }).addresses).toEqual(LOCAL);
  });

  it('resolves --nodeport-addresses per family as kube-proxy: all, primary (one per family), or the node’s addresses within CIDRs', () => {
    const resolve = (flag: string[]) => resolveNodePortAddresses(nodePortAddressSpec(flag), ['192.168.1.5'], LOCAL);
    expect(primaryAddresses(['10.0.0.5', '192.168.1.5', 'fd00::5', 'fd00::6'])).toEqual(['10.0.0.5', 'fd00::5']);
    // A family left out answers on all its local addresses.
    expect(resolve([])).toEqual({});
    expect(resolve(['primary'])).toEqual({ IPv4: ['192.168.1.5'] });
    expect(resolve(['10.0.0.0/8', 'fd00::/64'])).toEqual({ IPv4: ['10.0.0.5'], IPv6: ['fd00::5'] });
    // CIDRs that match nothing of their family: none of it; the family they do not name: all of it (NewNodePortAddresses).
    expect(resolve(['172.16.0.0/12'])).toEqual({ IPv4: [] });
    expect(resolve(['fd00::/64'])).toEqual({ IPv6: ['fd00::5'] });
    expect(resolve(['0.0.0.0/0'])).toEqual({});
    expect(resolve(['0.0.0.0/0', 'fd00::/64'])).toEqual({ IPv6: ['fd00::5'] });
  });

  it('gives a family proxier its family’s facts only', () => {
    const facts = nodeFacts({
      nodeName: 'n1',
      node: { addresses: ['192.168.1.5', 'fd00::5'], podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] },
      localAddresses: LOCAL,
      nodePortAddresses: nodePortAddressSpec(['fd00::/64']),
    });
    expect(nodeFactsOfFamily(facts, 'IPv4')).toEqual({
      nodeName: 'n1',
      addresses: ['192.168.1.5'],
      podCIDRs: ['10.244.1.0/24'],
      nodePortAddresses: {},
      localAddresses: ['192.168.1.5', '10.0.0.5'],
    });
    expect(nodeFactsOfFamily(facts, 'IPv6')).toEqual({
      nodeName: 'n1',
      addresses: ['fd00::5'],
      podCIDRs: ['fd00:244:1::/64'],
      nodePortAddresses: { IPv6: ['fd00::5'] },
      localAddresses: ['fd00::5'],
    });
  });

  it('parses the flag: CIDRs, or "primary" alone', () => {
    expect(parseNodePortAddresses('10.0.0.0/8,fd00::/64')).toEqual(['10.0.0.0/8', 'fd00::/64']);
    expect(parseNodePortAddresses('primary')).toEqual(['primary']);
    expect(() => parseNodePortAddresses('primary,10.0.0.0/8')).toThrow(/"primary" cannot be combined/);
    expect(() => parseNodePortAddresses('10.0.0.300/8')).toThrow();
  });

  it('the iptables mode jumps to KUBE-NODEPORTS for every local address, or for the chosen ones only', () => {
    expect(nodePortsTail(true)).toEqual([expect.stringMatching(/-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/)]);
    expect(nodePortsTail(false)).toEqual([
      expect.stringMatching(/--dst-type LOCAL ! -d 127\.0\.0\.0\/8 -j KUBE-NODEPORTS$/),
    ]);
    expect(nodePortsTail(true, ['10.0.0.5'])).toEqual([
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 10.0.0.5 -j KUBE-NODEPORTS',
    ]);
  });
});
