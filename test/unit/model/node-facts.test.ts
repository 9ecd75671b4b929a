// The node facts the proxiers get with every sync: the node's addresses (from
// its Node object, else its interfaces), pod CIDRs and NodePort addresses
// (kube-proxy's --nodeport-addresses, "primary" included).
import { describe, expect, it } from 'vitest';
import { parseNodePortAddresses } from '../../../control/config/values.js';
import {
  nodeFacts,
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
      nodePortAddresses: undefined,
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

  it('resolves --nodeport-addresses as kube-proxy: all, primary (one per family), or the node’s addresses within CIDRs', () => {
    expect(primaryAddresses(['10.0.0.5', '192.168.1.5', 'fd00::5', 'fd00::6'])).toEqual(['10.0.0.5', 'fd00::5']);
    expect(resolveNodePortAddresses(nodePortAddressSpec(['primary']), ['192.168.1.5'], LOCAL)).toEqual(['192.168.1.5']);
    expect(resolveNodePortAddresses(nodePortAddressSpec(['10.0.0.0/8', 'fd00::/64']), ['192.168.1.5'], LOCAL)).toEqual([
      '10.0.0.5',
      'fd00::5',
    ]);
    expect(resolveNodePortAddresses(nodePortAddressSpec(['172.16.0.0/12']), ['192.168.1.5'], LOCAL)).toEqual([]);
    expect(resolveNodePortAddresses(nodePortAddressSpec(['0.0.0.0/0']), ['192.168.1.5'], LOCAL)).toBeUndefined();
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
