// The userspace mode's registry entry: kube-proxy's original proxier. Its
// rules live in chains of their own (KUBE-PORTALS-*, KUBE-NODEPORT-*), shared
// with no other mode; every other mode's start-up removes them.
import { Iptables } from '../../netfilter/iptables.js';
import { cleanupIptables } from '../../netfilter/kube-chains.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { parsePortRange } from './ports.js';
import { USERSPACE_MODE, UserspaceProxier } from './proxier.js';

export const userspaceMode: ModeDefinition = defineMode<UserspaceProxier>({
  // IPv6 comes with issue 21's second family; the meta proxier reports it until then.
  families: ['IPv4'],
  create({ options, logger, metrics }) {
    return new UserspaceProxier({
      portRange: parsePortRange(options.userspace.portRange),
      udpTimeoutMs: options.userspace.udpTimeoutMs,
      logger: logger.child({ proxier: 'userspace' }),
      events: metrics.proxyConnections(),
    });
  },
  // kube-proxy's userspace proxier synced on the iptables periods.
  periods: (options) => options.iptables,
  async cleanup({ logger }) {
    await cleanupIptables(logger, new Iptables(), USERSPACE_MODE);
  },
});
