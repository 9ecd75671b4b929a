// The userspace mode's registry entry: kube-proxy's original proxier. Its
// rules live in chains of their own (KUBE-PORTALS-*, KUBE-NODEPORT-*), shared
// with no other mode; every other mode's start-up removes them.
import { Iptables } from '../../netfilter/iptables.js';
import { cleanupIptables } from '../../netfilter/kube-chains.js';
import { FAMILIES } from '../dual-stack.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { parsePortRange } from './ports.js';
import { USERSPACE_MODE, UserspaceProxier } from './proxier.js';

export const userspaceMode: ModeDefinition = defineMode<UserspaceProxier>({
  // One proxier per family: its own sockets, and its rules in iptables or ip6tables.
  families: FAMILIES,
  create({ options, logger, metrics }, family) {
    return new UserspaceProxier({
      family,
      portRange: parsePortRange(options.userspace.portRange),
      udpTimeoutMs: options.userspace.udpTimeoutMs,
      logger: logger.child({ proxier: 'userspace', family }),
      events: metrics.proxyConnections(),
    });
  },
  // kube-proxy's userspace proxier synced on the iptables periods.
  periods: (options) => options.iptables,
  async cleanup({ logger }) {
    for (const family of FAMILIES) await cleanupIptables(logger, new Iptables(family), USERSPACE_MODE);
  },
});
