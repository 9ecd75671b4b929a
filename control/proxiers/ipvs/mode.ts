// The ipvs mode's registry entry: kube-proxy's IPVS layout, on a kernel that
// has IPVS (checked before anything is created), one proxier per family as
// kube-proxy's dual-stack IPVS proxier runs them (iptables and KUBE-* sets for
// IPv4, ip6tables and KUBE-6-* sets for IPv6, one IPVS table and one
// kube-ipvs0 for both). /v1/ipvs shows what the kernel holds, both families.
import { IPTABLES_MODE, cleanupIptables } from '../../netfilter/kube-chains.js';
import { Iptables } from '../../netfilter/iptables.js';
import { requireIpvs } from '../../netlink/index.js';
import { FAMILIES } from '../dual-stack.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { cleanupIpvsMode } from './cleanup.js';
import { IpvsProxier } from './proxier.js';
import { ipvsRoutes } from './routes.js';

export const ipvsMode: ModeDefinition = defineMode<IpvsProxier>({
  families: FAMILIES,
  requires({ logger }) {
    // A kernel without IPVS fails here, with ERR_IPVS_UNAVAILABLE and what
    // modprobe said, and nothing half-programmed.
    const info = requireIpvs({ purpose: '--proxy-mode=ipvs' });
    logger.info({ ipvsVersion: info.version, connectionTableSize: info.connectionTableSize }, 'the kernel has IPVS');
  },
  create({ options, logger }, family) {
    const seconds = (ms: number) => Math.round(ms / 1000);
    return new IpvsProxier({
      family,
      scheduler: options.ipvs.scheduler,
      excludeCIDRs: options.ipvs.excludeCIDRs,
      strictARP: options.ipvs.strictARP,
      timeouts: {
        tcp: seconds(options.ipvs.tcpTimeoutMs),
        tcpFin: seconds(options.ipvs.tcpFinTimeoutMs),
        udp: seconds(options.ipvs.udpTimeoutMs),
      },
      masqueradeAll: options.masqueradeAll,
      masqueradeBit: options.iptables.masqueradeBit,
      clusterCIDRs: options.clusterCIDRs,
      logger: logger.child({ proxier: 'ipvs', family }),
    });
  },
  periods: (options) => options.ipvs,
  async cleanup({ options, logger }, { keepShared }) {
    // The shared chains go with the iptables mode's layout (KUBE-SERVICES
    // first, so the chains it jumps to can be deleted), then this mode's own;
    // in both families' tables.
    if (!keepShared) for (const family of FAMILIES) await cleanupIptables(logger, new Iptables(family), IPTABLES_MODE);
    await cleanupIpvsMode(logger, { excludeCIDRs: options.ipvs.excludeCIDRs, markMasq: !keepShared });
  },
  routes: (app, ctx, proxier, families) => ipvsRoutes(app, ctx, proxier, families),
});
