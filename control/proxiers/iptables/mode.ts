// The iptables mode's registry entry: kube-proxy's iptables layout, one
// proxier per family as kube-proxy runs them (iptables for IPv4, ip6tables
// for IPv6, the same chain names in each). It shares kube-proxy's
// KUBE-SERVICES and masquerade chains with the ipvs mode.
import { IPTABLES_MODE, IPTABLES_MODE_ONLY, cleanupIptables } from '../../netfilter/kube-chains.js';
import { Iptables } from '../../netfilter/iptables.js';
import { FAMILIES } from '../dual-stack.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { IptablesProxier } from './proxier.js';

export const iptablesMode: ModeDefinition = defineMode<IptablesProxier>({
  families: FAMILIES,
  create({ options, logger, metrics }, family) {
    return new IptablesProxier({
      family,
      masqueradeAll: options.masqueradeAll,
      masqueradeBit: options.iptables.masqueradeBit,
      clusterCIDRs: options.clusterCIDRs,
      localhostNodePorts: options.iptables.localhostNodePorts,
      logger: logger.child({ proxier: 'iptables', family }),
      onRestore: (r) => metrics.observeRestore({ ...r, family }),
    });
  },
  periods: (options) => options.iptables,
  async cleanup({ logger }, { keepShared }) {
    for (const family of FAMILIES)
      await cleanupIptables(logger, new Iptables(family), keepShared ? IPTABLES_MODE_ONLY : IPTABLES_MODE);
  },
});
