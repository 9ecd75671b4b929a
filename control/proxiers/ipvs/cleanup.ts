// Removing what the ipvs mode (this one or kube-proxy's) left on a node: on
// --cleanup, and by another mode once it has programmed its first sync. The
// order matters: the rules that match the ipsets go before the sets (the
// kernel refuses to destroy a set in use), the virtual servers before the
// addresses that made their traffic local. Both families by default (the
// IPv4 objects, and the IPv6 ones: ip6tables rules, KUBE-6-* sets, AF_INET6
// virtual servers, IPv6 addresses on kube-ipvs0); one family's proxier
// removes only its own, and kube-ipvs0 once no address of the other is left.
import { BlockList } from 'node:net';
import type { Logger } from 'pino';
import { ipFamilyOf } from '../../model/address.js';
import { Ipvs, IpvsError, IpvsErrorCode, isFwmarkKey } from '../../netlink/index.js';
import { Iptables } from '../../netfilter/iptables.js';
import { cleanupIptables, type ChainScope } from '../../netfilter/kube-chains.js';
import type { IPFamily } from '../../sources/types.js';
import { FAMILIES } from '../dual-stack.js';
import { DummyInterface } from './dummy.js';
import { Ipset } from './ipset.js';
import {
  KUBE_IPVS0,
  KUBE_IPVS_DROP,
  KUBE_IPVS_FILTER,
  KUBE_IPVS_OUT_FILTER,
  KUBE_LOAD_BALANCER,
  KUBE_NODE_PORT,
  KUBE_SOURCE_RANGES_FIREWALL,
  setNamesOf,
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
  /** The families whose objects go; both by default. */
  families?: readonly IPFamily[];
  /** --ipvs-exclude-cidrs: virtual servers on these addresses stay. */
  excludeCIDRs?: string[];
  /**
   * The shared chains are gone too (no mode that shares them runs): then
   * KUBE-MARK-MASQ goes last, once this mode's own chains no longer jump to it.
   */
  markMasq?: boolean;
  /** Each family's iptables (ip6tables for IPv6); new Iptables(family) for one not given. */
  iptables?: Partial<Record<IPFamily, Iptables>>;
  ipset?: Ipset;
  dummy?: DummyInterface;
}

export async function cleanupIpvsMode(logger: Logger, opts: IpvsCleanupOptions = {}): Promise<void> {
  const families = opts.families ?? FAMILIES;
  for (const family of families) {
    await cleanupIptables(logger, opts.iptables?.[family] ?? new Iptables(family), {
      ...IPVS_MODE_ONLY,
      markMasq: !!opts.markMasq,
    });
  }

  const exclude = new BlockList();
  for (const cidr of opts.excludeCIDRs ?? []) {
    const [net, bits] = cidr.split('/');
    exclude.addSubnet(net!, Number(bits), ipFamilyOf(net!) === 'IPv4' ? 'ipv4' : 'ipv6');
  }
  const ours = (address: string) => families.includes(ipFamilyOf(address));
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
        .filter(
          (vs) =>
            !isFwmarkKey(vs) &&
            ours(vs.address) &&
            !exclude.check(vs.address, ipFamilyOf(vs.address) === 'IPv4' ? 'ipv4' : 'ipv6'),
        );
      const report = await ipvs.apply(doomed.map((vs) => ({ op: 'deleteVirtualServer' as const, virtualServer: vs })));
      for (const f of report.failures) logger.warn({ err: f.error.message }, 'cannot delete an IPVS virtual server');
      if (report.applied) logger.info({ virtualServers: report.applied, families }, 'IPVS virtual servers removed');
    } finally {
      ipvs.close();
    }
  }
  await removeAddresses(logger, opts.dummy ?? new DummyInterface({ name: KUBE_IPVS0 }), ours);

  const ipset = opts.ipset ?? new Ipset();
  let existing: string[];
  try {
    existing = await ipset.names();
  } catch (err) {
    // No ipset binary: nothing of ours to destroy that we could destroy.
    logger.debug({ err: (err as Error).message }, 'ipsets not listed');
    return;
  }
  const sets = families.flatMap(setNamesOf).filter((n) => existing.includes(n));
  if (sets.length) {
    await ipset.destroy(sets);
    logger.info({ sets }, 'ipvs mode ipsets removed');
  }
}

/**
 * kube-ipvs0 goes (its addresses with it) unless it still holds an address
 * of a family not being cleaned up: then only the cleaned families' are unbound.
 */
async function removeAddresses(logger: Logger, dummy: DummyInterface, ours: (a: string) => boolean): Promise<void> {
  const bound = [...(await dummy.addresses())];
  if (bound.every(ours)) {
    if (await dummy.remove()) logger.info({ interface: KUBE_IPVS0 }, 'service address interface removed');
    return;
  }
  const unbind = bound.filter(ours);
  if (!unbind.length) return;
  const { failed } = await dummy.bind([], unbind);
  for (const f of failed) logger.warn(f, `cannot unbind a service address from ${KUBE_IPVS0}`);
  logger.info({ interface: KUBE_IPVS0, addresses: unbind.length - failed.length }, 'service addresses unbound');
}
