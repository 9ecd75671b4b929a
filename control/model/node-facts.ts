// What the proxiers need to know of the node they run on: its addresses, its
// pod CIDRs, and the addresses NodePorts answer on. Pure: the sync loop
// builds these from the store's Node object (or, standalone and with a Node
// that lists no address, from the node's own interfaces) and the
// --nodeport-addresses option, and hands them to the proxier with every sync.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { IPFamily } from '../sources/types.js';
import { ipFamilyOf } from './address.js';

export interface NodeFacts {
  nodeName: string;
  /** The node's IPs: the Node's status.addresses (InternalIP, then ExternalIP), else its interfaces'. */
  addresses: string[];
  /** spec.podCIDRs of the Node. */
  podCIDRs: string[];
  /**
   * The addresses NodePorts answer on, per family, per --nodeport-addresses.
   * A family left out answers on every local address of that family
   * (kube-proxy's default, and its reading of a flag that names no CIDR of
   * the family), which a dataplane matches by address type rather than by
   * listing them; a family present answers on exactly these (maybe none).
   */
  nodePortAddresses: NodePortAddresses;
  /**
   * The addresses of the node's own interfaces (loopback and link-local
   * left out): what "every local address" is for a dataplane that lists
   * NodePort addresses rather than matching an address type.
   */
  localAddresses: string[];
}

export type NodePortAddresses = Partial<Record<IPFamily, string[]>>;

/** kube-proxy's --nodeport-addresses value: "primary" on its own, or CIDRs. */
export type NodePortAddressSpec = { kind: 'all' } | { kind: 'primary' } | { kind: 'cidrs'; cidrs: string[] };

export function nodePortAddressSpec(values: readonly string[]): NodePortAddressSpec {
  if (values.length === 0) return { kind: 'all' };
  if (values.length === 1 && values[0] === 'primary') return { kind: 'primary' };
  return { kind: 'cidrs', cidrs: [...values] };
}

/** The node's primary IPs: the first of each family among its addresses (kube-proxy's "primary"). */
export function primaryAddresses(addresses: readonly string[]): string[] {
  const v4 = addresses.find((a) => isIPv4(a));
  const v6 = addresses.find((a) => isIPv6(a));
  return [...(v4 ? [v4] : []), ...(v6 ? [v6] : [])];
}

/**
 * The addresses NodePorts answer on, per family, as kube-proxy's
 * NewNodePortAddresses reads the flag for each of its per-family proxiers:
 * CIDRs of the family select among the node's local addresses (an address a
 * CIDR names but the node does not have is not served); a family the flag
 * names no CIDR of, or a CIDR holding every address of the family
 * (0.0.0.0/0, ::/0), means all of that family, which is left out of the
 * result. "primary" is the node's first address of each family.
 */
export function resolveNodePortAddresses(
  spec: NodePortAddressSpec,
  nodeAddresses: readonly string[],
  localAddresses: readonly string[],
): NodePortAddresses {
  const out: NodePortAddresses = {};
  switch (spec.kind) {
    case 'all':
      return out;
    case 'primary':
      for (const ip of primaryAddresses(nodeAddresses)) (out[ipFamilyOf(ip)] ??= []).push(ip);
      return out;
    case 'cidrs': {
      const local = [...new Set([...localAddresses, ...nodeAddresses])];
      for (const family of ['IPv4', 'IPv6'] as const) {
        const cidrs = spec.cidrs.filter((c) => ipFamilyOf(c.split('/')[0]!) === family);
        if (cidrs.length === 0 || cidrs.some((c) => c === '0.0.0.0/0' || c === '::/0')) continue;
        const ranges = new BlockList();
        const type = family === 'IPv4' ? 'ipv4' : 'ipv6';
        for (const cidr of cidrs) {
          const [base, bits] = cidr.split('/');
          ranges.addSubnet(base!, Number(bits), type);
        }
        out[family] = local.filter((ip) => ipFamilyOf(ip) === family && ranges.check(ip, type));
      }
      return out;
    }
  }
}

/** The node's facts as a proxier serving one family sees them: that family's addresses, CIDRs and NodePort addresses. */
export function nodeFactsOfFamily(facts: NodeFacts, family: IPFamily): NodeFacts {
  const ofFamily = (ips: readonly string[]) => ips.filter((ip) => ipFamilyOf(ip.split('/')[0]!) === family);
  const np = facts.nodePortAddresses[family];
  return {
    nodeName: facts.nodeName,
    addresses: ofFamily(facts.addresses),
    podCIDRs: ofFamily(facts.podCIDRs),
    nodePortAddresses: np ? { [family]: [...np] } : {},
    localAddresses: ofFamily(facts.localAddresses),
  };
}

export interface NodeFactsInput {
  nodeName: string;
  /** The Node object's status addresses and pod CIDRs, when a Node is known. */
  node?: { addresses: readonly string[]; podCIDRs: readonly string[] } | undefined;
  /** The node's own interface addresses (loopback and link-local left out). */
  localAddresses: readonly string[];
  nodePortAddresses: NodePortAddressSpec;
}

export function nodeFacts(input: NodeFactsInput): NodeFacts {
  const fromNode = input.node?.addresses ?? [];
  const addresses = fromNode.length > 0 ? [...fromNode] : [...input.localAddresses];
  return {
    nodeName: input.nodeName,
    addresses,
    podCIDRs: [...(input.node?.podCIDRs ?? [])],
    nodePortAddresses: resolveNodePortAddresses(input.nodePortAddresses, addresses, input.localAddresses),
    localAddresses: [...input.localAddresses],
  };
}

export function sameNodeFacts(a: NodeFacts | undefined, b: NodeFacts): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
