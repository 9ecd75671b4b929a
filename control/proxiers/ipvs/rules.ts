// The few iptables rules kube-proxy's IPVS mode keeps (pkg/proxy/ipvs,
// writeIptablesRules): IPVS does the load balancing, iptables only marks
// what must be masqueraded, masquerades hairpin traffic, accepts service
// traffic in the filter table and refuses what reaches a service address on
// a port no service has. All of it matches ipsets, so the rules do not grow
// with the number of services; they are written whole on full syncs.
import { forwardRules, masqueradeRules, missingJumps, type Jump } from '../../netfilter/kube-chains.js';
import { KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_POSTROUTING, KUBE_SERVICES } from '../../netfilter/names.js';
import { KUBE_IPVS_DROP, KUBE_IPVS_FILTER, KUBE_LOAD_BALANCER, SETS } from './names.js';

export interface IpvsRuleContext {
  /** 1 << --iptables-masquerade-bit, as hex. */
  masqueradeMark: string;
  masqueradeAll: boolean;
  /** --cluster-cidr (IPv4): traffic from elsewhere to a ClusterIP is masqueraded. */
  clusterCIDR?: string;
}

/** The chains this mode writes, by table, in the order they are declared. */
export const IPVS_CHAINS = {
  raw: [KUBE_IPVS_DROP],
  filter: [KUBE_FORWARD, KUBE_IPVS_FILTER],
  nat: [KUBE_SERVICES, KUBE_POSTROUTING, KUBE_MARK_MASQ, KUBE_LOAD_BALANCER],
} as const;

export type IpvsTable = keyof typeof IPVS_CHAINS;

/** The jumps from the built-in chains into ours. */
export const IPVS_JUMPS: Array<Jump & { table: IpvsTable }> = [
  {
    table: 'raw',
    chain: 'PREROUTING',
    target: KUBE_IPVS_DROP,
    comment: 'service traffic with no local endpoint',
    extra: '',
  },
  {
    table: 'raw',
    chain: 'OUTPUT',
    target: KUBE_IPVS_DROP,
    comment: 'service traffic with no local endpoint',
    extra: '',
  },
  { table: 'filter', chain: 'FORWARD', target: KUBE_FORWARD, comment: 'kubernetes forwarding rules', extra: '' },
  { table: 'filter', chain: 'INPUT', target: KUBE_IPVS_FILTER, comment: 'kubernetes ipvs access filter', extra: '' },
  { table: 'nat', chain: 'PREROUTING', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'OUTPUT', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'POSTROUTING', target: KUBE_POSTROUTING, comment: 'kubernetes postrouting rules', extra: '' },
];

const set = (s: { name: string }, dirs: string) => `-m set --match-set ${s.name} ${dirs}`;

/** The rules of each table (without the chain declarations). */
export function ipvsRules(ctx: IpvsRuleContext): Record<IpvsTable, string[]> {
  const mark = ctx.masqueradeMark;
  const nat: string[] = [];
  // Traffic to a ClusterIP from outside the cluster (or all of it, with
  // --masquerade-all) is masqueraded, so replies come back through this node.
  if (ctx.masqueradeAll) {
    nat.push(
      `-A ${KUBE_SERVICES} -m comment --comment "${SETS.clusterIP.comment}" ${set(SETS.clusterIP, 'dst,dst')} -j ${KUBE_MARK_MASQ}`,
    );
  } else if (ctx.clusterCIDR) {
    nat.push(
      `-A ${KUBE_SERVICES} -m comment --comment "${SETS.clusterIP.comment}" ${set(SETS.clusterIP, 'dst,dst')} ! -s ${ctx.clusterCIDR} -j ${KUBE_MARK_MASQ}`,
    );
  }
  nat.push(
    `-A ${KUBE_SERVICES} -m comment --comment "${SETS.externalIP.comment}" ${set(SETS.externalIP, 'dst,dst')} -j ${KUBE_MARK_MASQ}`,
    `-A ${KUBE_SERVICES} -m comment --comment "${SETS.externalIP.comment}" ${set(SETS.externalIP, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} -m comment --comment "${SETS.externalIPLocal.comment}" ${set(SETS.externalIPLocal, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} -m comment --comment "${SETS.loadBalancer.comment}" ${set(SETS.loadBalancer, 'dst,dst')} -j ${KUBE_LOAD_BALANCER}`,
    `-A ${KUBE_SERVICES} ${set(SETS.clusterIP, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} ${set(SETS.loadBalancer, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_LOAD_BALANCER} ${set(SETS.loadBalancerLocal, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_LOAD_BALANCER} -j ${KUBE_MARK_MASQ}`,
    // Hairpin: an endpoint reaching itself through its service must see another source.
    `-A ${KUBE_POSTROUTING} -m comment --comment "${SETS.loopBack.comment}" ${set(SETS.loopBack, 'dst,dst,src')} -j MASQUERADE`,
    ...masqueradeRules(mark),
  );
  const filter = [
    ...forwardRules(mark),
    `-A ${KUBE_IPVS_FILTER} ${set(SETS.loadBalancer, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(SETS.clusterIP, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(SETS.externalIP, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(SETS.externalIPLocal, 'dst,dst')} -j RETURN`,
    // A service address on a port no service has: refused, not answered by whatever listens on the node.
    `-A ${KUBE_IPVS_FILTER} -m conntrack --ctstate NEW ${set(SETS.ipvsIPs, 'dst')} -j REJECT`,
  ];
  const raw = [
    `-A ${KUBE_IPVS_DROP} -m comment --comment "${SETS.noLocalEndpoints.comment}" ${set(SETS.noLocalEndpoints, 'dst,dst')} -j DROP`,
  ];
  return { raw, filter, nat };
}

/** One iptables-restore input per table: the chains flushed and rewritten, missing jumps inserted. */
export function ipvsRestoreInput(table: IpvsTable, rules: string[], saved: string): string {
  return [
    `*${table}`,
    ...IPVS_CHAINS[table].map((c) => `:${c} - [0:0]`),
    ...rules,
    ...missingJumps(table, saved, IPVS_JUMPS),
    'COMMIT',
    '',
  ].join('\n');
}
