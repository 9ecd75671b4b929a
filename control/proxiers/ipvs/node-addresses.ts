// The node addresses the ipvs mode puts NodePort virtual servers on. IPVS
// matches a virtual server by address, so where the iptables mode says "any
// local destination" (-m addrtype --dst-type LOCAL) this mode lists the
// addresses, as kube-proxy's IPVS proxier does on every sync.
import { isIPv4 } from 'node:net';
import type { NodeFacts } from '../../model/node-facts.js';

/**
 * The IPv4 addresses NodePorts answer on, sorted: those --nodeport-addresses
 * selected, or, when it selects every address of the family (the default),
 * every local address (NodeFacts.localAddresses: the interfaces' but
 * loopback, link-local and kube-ipvs0's service addresses). Never loopback:
 * kube-proxy's IPVS mode serves no localhost NodePorts (it leaves
 * route_localnet alone).
 */
export function nodePortAddresses(facts: NodeFacts): string[] {
  const chosen = facts.nodePortAddresses.IPv4 ?? facts.localAddresses;
  return [...new Set(chosen)].filter((ip) => isIPv4(ip) && !ip.startsWith('127.')).sort();
}
