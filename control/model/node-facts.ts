// What the proxiers need to know of the node they run on: its addresses, its
// pod CIDRs, and the addresses NodePorts answer on. Pure: the sync loop
// builds these from the store's Node object (or, standalone and with a Node
// that lists no address, from the node's own interfaces) and the
// --nodeport-addresses option, and hands them to the proxier with every sync.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface NodeFacts {
  nodeName: string;
  /** The node's IPs: the Node's status.addresses (InternalIP, then ExternalIP), else its interfaces'. */
  addresses: string[];
  /** spec.podCIDRs of the Node. */
  podCIDRs: string[];
  /**
   * The addresses NodePorts answer on, per --nodeport-addresses; undefined
   * means every local address (kube-proxy's default), which a dataplane
   * matches by address type rather than by listing them.
   */
  nodePortAddresses: string[] | undefined;
}

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
 * The addresses NodePorts answer on. CIDRs select among the node's local
 * addresses (an address a CIDR names but the node does not have is not
 * served); a CIDR that holds every address of its family (0.0.0.0/0, ::/0)
 * means all of them, as in kube-proxy.
 */
export function resolveNodePortAddresses(
  spec: NodePortAddressSpec,
  nodeAddresses: readonly string[],
  localAddresses: readonly string[],
): string[] | undefined {
  switch (spec.kind) {
    case 'all':
      return undefined;
    case 'primary':
      return primaryAddresses(nodeAddresses);
    case 'cidrs': {
      if (spec.cidrs.some((c) => c === '0.0.0.0/0' || c === '::/0')) return undefined;
      const ranges = new BlockList();
      for (const cidr of spec.cidrs) {
        const [base, bits] = cidr.split('/');
        ranges.addSubnet(base!, Number(bits), isIPv4(base!) ? 'ipv4' : 'ipv6');
      }
      const local = [...new Set([...localAddresses, ...nodeAddresses])];
      return local.filter((ip) => ranges.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6'));
    }
  }
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
  };
}

export function sameNodeFacts(a: NodeFacts | undefined, b: NodeFacts): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
