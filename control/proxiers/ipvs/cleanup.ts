// Removing what the ipvs mode (this one or kube-proxy's) left on a node: on
// --cleanup, and by another mode once it has programmed its first sync. The
// order matters: the rules that match the ipsets go before the sets (the
// kernel refuses to destroy a set in use), the virtual servers before the
// addresses that made their traffic local.
import { BlockList, isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import { Ipvs, IpvsError, IpvsErrorCode } from '../../netlink/index.js';
import { Iptables } from '../../netfilter/iptables.js';
import { cleanupIptables, type ChainScope } from '../../netfilter/kube-chains.js';
import { DummyInterface } from './dummy.js';
import { Ipset } from './ipset.js';
import {
  KUBE_IPVS0,
  KUBE_IPVS_DROP,
  KUBE_IPVS_FILTER,
  KUBE_IPVS_OUT_FILTER,
  KUBE_LOAD_BALANCER,
  KUBE_NODE_PORT,
  KUBE_PROXY_ONLY_SETS,
  KUBE_SOURCE_RANGES_FIREWALL,
  SETS,
} from './names.js';
import { IPVS_FIREWALL_JUMPS } from './rules.js';

const OWN: Record<'raw' | 'filter' | 'nat', readonly string[]> = {
  raw: [KUBE_IPVS_DROP],
  // filter KUBE-NODE-PORT is kube-proxy's (health-check node ports), removed on sight.
  filter: [KUBE_IPVS_FILTER, KUBE_IPVS_OUT_FILTER, KUBE_SOURCE_RANGES_FIREWALL, KUBE_NODE_PORT],
  nat: [KUBE_LOAD_BALANCER, KUBE_NODE_PORT],
};

/**
 * The chains only the ipvs mode writes. KUBE-SERVICES, KUBE-POSTROUTING,
 * KUBE-MARK-MASQ, KUBE-FORWARD and KUBE-PROXY-FIREWALL it shares with the
 * iptables mode, which rewrites them; --cleanup removes those with the
 * iptables mode's. Its own jumps into KUBE-PROXY-FIREWALL go either way.
 */
export const IPVS_MODE_ONLY: ChainScope = {
  what: 'ipvs mode rules',
  tables: ['raw', 'filter', 'nat'],
  owns: (table, c) => (OWN[table as keyof typeof OWN] ?? []).includes(c),
  markMasq: false,
  jumps: IPVS_FIREWALL_JUMPS,
};

export interface IpvsCleanupOptions {
  /** --ipvs-exclude-cidrs: virtual servers on these addresses stay. */
  excludeCIDRs?: string[];
  /**
   * The shared chains are gone too (no mode that shares them runs): then
   * KUBE-MARK-MASQ goes last, once this mode's own chains no longer jump to it.
   */
  markMasq?: boolean;
  iptables?: Iptables;
  ipset?: Ipset;
  dummy?: DummyInterface;
}

export async function cleanupIpvsMode(logger: Logger, opts: IpvsCleanupOptions = {}): Promise<void> {
  await cleanupIptables(logger, opts.iptables ?? new Iptables(), { ...IPVS_MODE_ONLY, markMasq: !!opts.markMasq });

  const exclude = new BlockList();
  for (const cidr of opts.excludeCIDRs ?? []) {
    const [net, bits] = cidr.split('/');
    exclude.addSubnet(net!, Number(bits), isIPv4(net!) ? 'ipv4' : 'ipv6');
  }
  let ipvs: Ipvs | undefined;
  try {
    ipvs = Ipvs.open();
  } catch (err) {
    // No IPVS in this kernel (or not loaded): nothing of ours can be in it. Never modprobe to find out.
    if (!(err instanceof IpvsError && err.code === IpvsErrorCode.Unavailable)) throw err;
  }
  if (ipvs) {
    try {
      const doomed = ipvs
        .virtualServers()
        .filter((vs) => 'address' in vs && !exclude.check(vs.address, isIPv4(vs.address) ? 'ipv4' : 'ipv6'));
      const report = await ipvs.apply(doomed.map((vs) => ({ op: 'deleteVirtualServer' as const, virtualServer: vs })));
      for (const f of report.failures) logger.warn({ err: f.error.message }, 'cannot delete an IPVS virtual server');
      if (report.applied) logger.info({ virtualServers: report.applied }, 'IPVS virtual servers removed');
    } finally {
      ipvs.close();
    }
  }
  if (await (opts.dummy ?? new DummyInterface({ name: KUBE_IPVS0 })).remove())
    logger.info({ interface: KUBE_IPVS0 }, 'service address interface removed');

  const ipset = opts.ipset ?? new Ipset();
  let existing: string[];
  try {
    existing = await ipset.names();
  } catch (err) {
    // No ipset binary: nothing of ours to destroy that we could destroy.
    logger.debug({ err: (err as Error).message }, 'ipsets not listed');
    return;
  }
  const ours = [...Object.values(SETS).map((s) => s.name), ...KUBE_PROXY_ONLY_SETS.IPv4].filter((n) =>
    existing.includes(n),
  );
  if (ours.length) {
    await ipset.destroy(ours);
    logger.info({ sets: ours }, 'ipvs mode ipsets removed');
  }
}
