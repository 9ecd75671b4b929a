// The few iptables rules kube-proxy's IPVS mode keeps (pkg/proxy/ipvs,
// writeIptablesRules): IPVS does the load balancing, iptables only marks
// what must be masqueraded (off-cluster ClusterIP traffic, external traffic,
// NodePorts of policy Cluster), masquerades hairpin traffic, drops what the
// load-balancer source ranges do not admit, accepts service traffic in the
// filter table and refuses what reaches a service address on a port no
// service has. All of it matches ipsets, so the rules do not grow with the
// number of services; the one exception is KUBE-IPVS-OUT-FILTER, a rule per
// firewalled load-balancer IP the node itself may not reach (the ipvs match
// takes no set), so the proxier rewrites a table whenever its rules change.
// Each family's proxier writes the same rules into its own tables (iptables,
// ip6tables), matching its own family's sets (KUBE-CLUSTER-IP, KUBE-6-CLUSTER-IP).
import type { IPFamily } from '../../sources/types.js';
import { forwardRules, masqueradeRules, missingJumps, type Jump } from '../../netfilter/kube-chains.js';
import {
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from '../../netfilter/names.js';
import type { NoNodeAccess } from './layout.js';
import {
  KUBE_IPVS_DROP,
  KUBE_IPVS_FILTER,
  KUBE_IPVS_OUT_FILTER,
  KUBE_LOAD_BALANCER,
  KUBE_NODE_PORT,
  KUBE_SOURCE_RANGES_FIREWALL,
  setsOf,
  type IpvsSets,
} from './names.js';

export interface IpvsRuleContext {
  /** The proxier's family (IPv4 when left out): which sets the rules match. */
  family?: IPFamily;
  /** 1 << --iptables-masquerade-bit, as hex. */
  masqueradeMark: string;
  masqueradeAll: boolean;
  /** --cluster-cidr of the proxier's family: traffic from elsewhere to a ClusterIP is masqueraded. */
  clusterCIDR?: string;
}

/** Loopback sources, which are never service traffic (kube-proxy: ::1/128 in IPv6). */
const LOOPBACK: Record<IPFamily, string> = { IPv4: '127.0.0.0/8', IPv6: '::1/128' };

/** The chains this mode writes, by table, in the order they are declared. */
export const IPVS_CHAINS = {
  raw: [KUBE_IPVS_DROP],
  filter: [KUBE_FORWARD, KUBE_PROXY_FIREWALL, KUBE_SOURCE_RANGES_FIREWALL, KUBE_IPVS_FILTER, KUBE_IPVS_OUT_FILTER],
  nat: [KUBE_SERVICES, KUBE_POSTROUTING, KUBE_MARK_MASQ, KUBE_LOAD_BALANCER, KUBE_NODE_PORT],
} as const;

export type IpvsTable = keyof typeof IPVS_CHAINS;

/**
 * The jumps into KUBE-PROXY-FIREWALL, kube-proxy's IPVS mode's (the iptables
 * mode jumps into its own chain of that name from elsewhere, with another
 * comment): each mode's clean-up removes only its own.
 */
export const IPVS_FIREWALL_JUMPS: Array<Jump & { table: 'filter' }> = [
  { table: 'filter', chain: 'INPUT', target: KUBE_PROXY_FIREWALL, comment: 'kube-proxy firewall rules', extra: '' },
  { table: 'filter', chain: 'FORWARD', target: KUBE_PROXY_FIREWALL, comment: 'kube-proxy firewall rules', extra: '' },
];

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
  ...IPVS_FIREWALL_JUMPS,
  { table: 'filter', chain: 'INPUT', target: KUBE_IPVS_FILTER, comment: 'kubernetes ipvs access filter', extra: '' },
  {
    table: 'filter',
    chain: 'OUTPUT',
    target: KUBE_IPVS_OUT_FILTER,
    comment: 'kubernetes ipvs access filter',
    extra: '',
  },
  { table: 'nat', chain: 'PREROUTING', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'OUTPUT', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'POSTROUTING', target: KUBE_POSTROUTING, comment: 'kubernetes postrouting rules', extra: '' },
];

const set = (s: { name: string }, dirs: string) => `-m set --match-set ${s.name} ${dirs}`;

/** NodePorts: the Local set first (RETURN: no masquerading, the client's address stays), then the rest. */
const nodePortSets = (sets: IpvsSets) =>
  [
    { protocol: 'tcp', local: sets.nodePortLocalTCP, all: sets.nodePortTCP },
    { protocol: 'udp', local: sets.nodePortLocalUDP, all: sets.nodePortUDP },
  ] as const;

/**
 * The rules of each table (without the chain declarations). `noNodeAccess`:
 * the firewalled load-balancer IPs and ports the node's own connections may
 * not reach, in the order given.
 */
export function ipvsRules(
  ctx: IpvsRuleContext,
  noNodeAccess: readonly NoNodeAccess[] = [],
): Record<IpvsTable, string[]> {
  const mark = ctx.masqueradeMark;
  const family = ctx.family ?? 'IPv4';
  const sets = setsOf(family);
  // Connections from localhost are no service traffic: none is marked (kube-proxy's first rule).
  const nat: string[] = [`-A ${KUBE_SERVICES} -s ${LOOPBACK[family]} -j RETURN`];
  // Traffic to a ClusterIP from outside the cluster (or all of it, with
  // --masquerade-all) is masqueraded, so replies come back through this node.
  if (ctx.masqueradeAll) {
    nat.push(
      `-A ${KUBE_SERVICES} -m comment --comment "${sets.clusterIP.comment}" ${set(sets.clusterIP, 'dst,dst')} -j ${KUBE_MARK_MASQ}`,
    );
  } else if (ctx.clusterCIDR) {
    nat.push(
      `-A ${KUBE_SERVICES} -m comment --comment "${sets.clusterIP.comment}" ${set(sets.clusterIP, 'dst,dst')} ! -s ${ctx.clusterCIDR} -j ${KUBE_MARK_MASQ}`,
    );
  }
  nat.push(
    `-A ${KUBE_SERVICES} -m comment --comment "${sets.externalIP.comment}" ${set(sets.externalIP, 'dst,dst')} -j ${KUBE_MARK_MASQ}`,
    `-A ${KUBE_SERVICES} -m comment --comment "${sets.externalIP.comment}" ${set(sets.externalIP, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} -m comment --comment "${sets.externalIPLocal.comment}" ${set(sets.externalIPLocal, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} -m comment --comment "${sets.loadBalancer.comment}" ${set(sets.loadBalancer, 'dst,dst')} -j ${KUBE_LOAD_BALANCER}`,
    // Any local destination may be a NodePort (a node address: IPVS holds a virtual server on each).
    `-A ${KUBE_SERVICES} -m addrtype --dst-type LOCAL -j ${KUBE_NODE_PORT}`,
    `-A ${KUBE_SERVICES} ${set(sets.clusterIP, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_SERVICES} ${set(sets.loadBalancer, 'dst,dst')} -j ACCEPT`,
    `-A ${KUBE_LOAD_BALANCER} ${set(sets.loadBalancerLocal, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_LOAD_BALANCER} -j ${KUBE_MARK_MASQ}`,
    ...nodePortSets(sets).flatMap(({ protocol, local, all }) => [
      `-A ${KUBE_NODE_PORT} -p ${protocol} -m comment --comment "${local.comment}" ${set(local, 'dst')} -j RETURN`,
      `-A ${KUBE_NODE_PORT} -p ${protocol} -m comment --comment "${all.comment}" ${set(all, 'dst')} -j ${KUBE_MARK_MASQ}`,
    ]),
    // Hairpin: an endpoint reaching itself through its service must see another source.
    `-A ${KUBE_POSTROUTING} -m comment --comment "${sets.loopBack.comment}" ${set(sets.loopBack, 'dst,dst,src')} -j MASQUERADE`,
    ...masqueradeRules(mark),
  );
  const filter = [
    ...forwardRules(mark),
    // loadBalancerSourceRanges: a firewalled LB IP and port admits its ranges'
    // sources (and itself, when a range holds the node), and drops the rest
    // before IPVS, at LOCAL_IN, ever sees the packet.
    `-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${sets.loadBalancerFW.comment}" ${set(sets.loadBalancerFW, 'dst,dst')} -j ${KUBE_SOURCE_RANGES_FIREWALL}`,
    `-A ${KUBE_SOURCE_RANGES_FIREWALL} -m comment --comment "${sets.loadBalancerSourceCIDR.comment}" ${set(sets.loadBalancerSourceCIDR, 'dst,dst,src')} -j RETURN`,
    `-A ${KUBE_SOURCE_RANGES_FIREWALL} -m comment --comment "${sets.loadBalancerSourceIP.comment}" ${set(sets.loadBalancerSourceIP, 'dst,dst,src')} -j RETURN`,
    `-A ${KUBE_SOURCE_RANGES_FIREWALL} -j DROP`,
    `-A ${KUBE_IPVS_FILTER} ${set(sets.loadBalancer, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(sets.clusterIP, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(sets.externalIP, 'dst,dst')} -j RETURN`,
    `-A ${KUBE_IPVS_FILTER} ${set(sets.externalIPLocal, 'dst,dst')} -j RETURN`,
    // A service address on a port no service has: refused, not answered by whatever listens on the node.
    `-A ${KUBE_IPVS_FILTER} -m conntrack --ctstate NEW ${set(sets.ipvsIPs, 'dst')} -j REJECT`,
    // The node's own connection to a VIP it holds leaves from the VIP and is
    // scheduled at LOCAL_OUT, never meeting the INPUT firewall: after IPVS has
    // sent it on, the ipvs match still knows which virtual server it was for.
    ...noNodeAccess.map(
      (e) =>
        `-A ${KUBE_IPVS_OUT_FILTER} -s ${e.address} -m ipvs --vaddr ${e.address} --vproto ${e.protocol.toLowerCase()} --vport ${e.port} -j DROP`,
    ),
  ];
  const raw = [
    `-A ${KUBE_IPVS_DROP} -m comment --comment "${sets.noLocalEndpoints.comment}" ${set(sets.noLocalEndpoints, 'dst,dst')} -j DROP`,
    // Pods (--cluster-cidr) and the node's own connections go on to every
    // endpoint, kube-proxy's short-circuit; without --cluster-cidr no pod can
    // be told from an outside client, and only the node's own go on.
    `-A ${KUBE_IPVS_DROP} -m comment --comment "${sets.noLocalExternal.comment}" ${set(sets.noLocalExternal, 'dst,dst')}${ctx.clusterCIDR ? ` ! -s ${ctx.clusterCIDR}` : ''} -m addrtype ! --src-type LOCAL -j DROP`,
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
