// The node addresses the ipvs mode puts NodePort virtual servers on. IPVS
// matches a virtual server by address, so where the iptables mode says "any
// local destination" (-m addrtype --dst-type LOCAL) this mode lists the
// addresses, as kube-proxy's IPVS proxier does on every sync.
import { BlockList } from 'node:net';
import { canonicalIP, ipFamilyOf } from '../../model/address.js';
import type { NodeFacts } from '../../model/node-facts.js';
import type { IPFamily } from '../../sources/types.js';

/**
 * What kube-proxy's IPVS proxier never takes for a node address (its
 * netlink handle's isValidForSet): loopback in both families, and IPv6
 * link-local unicast, fe80::/10 (an address of one link only: a virtual
 * server on it would answer on every link).
 */
const NEVER = new BlockList();
NEVER.addSubnet('127.0.0.0', 8, 'ipv4');
NEVER.addAddress('::1', 'ipv6');
NEVER.addSubnet('fe80::', 10, 'ipv6');

/**
 * The addresses of `family` NodePorts answer on, sorted, as the kernel
 * prints them: those --nodeport-addresses selected, or, when it selects every
 * address of the family (the default), every local address
 * (NodeFacts.localAddresses: the interfaces' but loopback, link-local and
 * kube-ipvs0's service addresses). Never loopback: kube-proxy's IPVS mode
 * serves no localhost NodePorts (it leaves route_localnet alone, and IPv6
 * has none), nor IPv6 link-local ones.
 */
export function nodePortAddresses(facts: NodeFacts, family: IPFamily = 'IPv4'): string[] {
  const chosen = facts.nodePortAddresses[family] ?? facts.localAddresses;
  const type = family === 'IPv4' ? 'ipv4' : 'ipv6';
  const ofFamily = chosen.filter((ip) => ipFamilyOf(ip) === family && !NEVER.check(ip, type));
  return [...new Set(ofFamily.map(canonicalIP))].sort();
}
