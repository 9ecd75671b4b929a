// The iptables mode's registry entry: kube-proxy's iptables layout. It shares
// kube-proxy's KUBE-SERVICES and masquerade chains with the ipvs mode.
import { IPTABLES_MODE, IPTABLES_MODE_ONLY, cleanupIptables } from '../../netfilter/kube-chains.js';
import { Iptables } from '../../netfilter/iptables.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { IptablesProxier } from './proxier.js';

export const iptablesMode: ModeDefinition = defineMode<IptablesProxier>({
  // IPv6 comes as a second family proxier (issue 21); the meta proxier reports it until then.
  families: ['IPv4'],
  create({ options, logger, metrics }) {
    return new IptablesProxier({
      masqueradeAll: options.masqueradeAll,
      masqueradeBit: options.iptables.masqueradeBit,
      clusterCIDRs: options.clusterCIDRs,
      localhostNodePorts: options.iptables.localhostNodePorts,
      logger: logger.child({ proxier: 'iptables' }),
      onRestore: (r) => metrics.observeRestore(r),
    });
  },
  periods: (options) => options.iptables,
  async cleanup({ logger }, { keepShared }) {
    await cleanupIptables(logger, new Iptables(), keepShared ? IPTABLES_MODE_ONLY : IPTABLES_MODE);
  },
});
