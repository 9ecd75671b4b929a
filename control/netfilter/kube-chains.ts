// The fixed part of kube-proxy's iptables layout: the shared chains, the
// jumps into them from the built-in chains, the masquerade machinery, and
// the removal of all of it (kube-proxy's CleanupLeftovers).
import type { Logger } from 'pino';
import type { IPFamily } from '../sources/types.js';
import { Iptables, IptablesError, chainsOf, type Table } from './iptables.js';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  isServiceChain,
} from './names.js';

/** The shared chains this mode owns, by table, in kube-proxy's order. */
export const SHARED_CHAINS = {
  filter: [KUBE_NODEPORTS, KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_PROXY_FIREWALL],
  nat: [KUBE_NODEPORTS, KUBE_SERVICES, KUBE_MARK_MASQ, KUBE_POSTROUTING],
} as const;

export interface Jump {
  table: Table;
  chain: string;
  target: string;
  comment: string;
  extra: string;
}

const NEW = '-m conntrack --ctstate NEW';

/** kube-proxy's iptablesJumpChains: each inserted at the top of its built-in chain. */
export const JUMPS: Jump[] = [
  {
    table: 'filter',
    chain: 'INPUT',
    target: KUBE_EXTERNAL_SERVICES,
    comment: 'kubernetes externally-visible service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'FORWARD',
    target: KUBE_EXTERNAL_SERVICES,
    comment: 'kubernetes externally-visible service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'INPUT',
    target: KUBE_NODEPORTS,
    comment: 'kubernetes health check service ports',
    extra: '',
  },
  { table: 'filter', chain: 'FORWARD', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', chain: 'OUTPUT', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', chain: 'FORWARD', target: KUBE_FORWARD, comment: 'kubernetes forwarding rules', extra: '' },
  {
    table: 'filter',
    chain: 'INPUT',
    target: KUBE_PROXY_FIREWALL,
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'OUTPUT',
    target: KUBE_PROXY_FIREWALL,
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  {
    table: 'filter',
    chain: 'FORWARD',
    target: KUBE_PROXY_FIREWALL,
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  { table: 'nat', chain: 'OUTPUT', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'PREROUTING', target: KUBE_SERVICES, comment: 'kubernetes service portals', extra: '' },
  { table: 'nat', chain: 'POSTROUTING', target: KUBE_POSTROUTING, comment: 'kubernetes postrouting rules', extra: '' },
];

export function jumpRule(j: Jump, op: '-A' | '-I' | '-D'): string {
  return `${op} ${j.chain}${j.extra ? ` ${j.extra}` : ''} -m comment --comment "${j.comment}" -j ${j.target}`;
}

/** Is this iptables-save line the jump `j`? (Matched on chain, comment and target; extra matches may be printed differently.) */
function isJump(line: string, j: Jump): boolean {
  return (
    line.startsWith(`-A ${j.chain} `) && line.includes(`--comment "${j.comment}"`) && line.endsWith(`-j ${j.target}`)
  );
}

/** The "-I" lines for the jumps missing from a table, given its iptables-save output. */
export function missingJumps(table: Table, saved: string, jumps: readonly Jump[] = JUMPS): string[] {
  const lines = saved.split('\n');
  return jumps.filter((j) => j.table === table && !lines.some((l) => isJump(l, j))).map((j) => jumpRule(j, '-I'));
}

/** KUBE-POSTROUTING and KUBE-MARK-MASQ: mark what needs SNAT, masquerade it on the way out. */
export function masqueradeRules(mark: string): string[] {
  return [
    `-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    // Clear the mark: a packet re-traversing the stack (e.g. IPsec) must not be masqueraded twice.
    `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`,
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`,
  ];
}

/** KUBE-FORWARD: drop INVALID (kube-proxy's default without --conntrack-tcp-be-liberal), accept marked and established traffic. */
export function forwardRules(mark: string): string[] {
  return [
    `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID -j DROP`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  ];
}

/**
 * The last rules of KUBE-SERVICES: traffic to a NodePort address enters
 * KUBE-NODEPORTS. `addresses` (--nodeport-addresses resolved on this node):
 * one rule per address; undefined: every local address, by address type.
 * Loopback is a NodePort address in IPv4 only, with --iptables-localhost-nodeports
 * (kube-proxy: IPv6 has no route_localnet, so ::1 never is).
 */
export function nodePortsTail(
  localhostNodePorts: boolean,
  addresses?: readonly string[],
  family: IPFamily = 'IPv4',
): string[] {
  const comment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  const ipv6 = family === 'IPv6';
  if (addresses) {
    return addresses
      .filter((ip) => !(ipv6 && ip === '::1'))
      .map((ip) => `-A ${KUBE_SERVICES} ${comment} -d ${ip} -j ${KUBE_NODEPORTS}`);
  }
  let dst = '-m addrtype --dst-type LOCAL';
  if (ipv6) dst += ' ! -d ::1/128';
  else if (!localhostNodePorts) dst += ' ! -d 127.0.0.0/8';
  return [`-A ${KUBE_SERVICES} ${comment} ${dst} -j ${KUBE_NODEPORTS}`];
}

/** Which chains a clean-up removes, in which tables. */
export interface ChainScope {
  /** What the log says was removed ("iptables mode rules"). */
  what: string;
  tables: readonly Table[];
  owns(table: Table, chain: string): boolean;
  /** KUBE-MARK-MASQ too, if nothing else jumps to it any more. */
  markMasq: boolean;
  /**
   * This mode's jumps into chains it shares by name with another mode
   * (KUBE-PROXY-FIREWALL): removed while the chain stays for the other.
   */
  jumps?: readonly Jump[];
}

/** Everything the iptables mode (this one or kube-proxy's) writes. */
export const IPTABLES_MODE: ChainScope = {
  what: 'iptables mode rules',
  tables: ['filter', 'nat'],
  owns: (table, c) =>
    c !== KUBE_MARK_MASQ &&
    ((SHARED_CHAINS[table as 'filter' | 'nat'] as readonly string[]).includes(c) || isServiceChain(c)),
  markMasq: true,
};

const IPTABLES_ONLY_FILTER: readonly string[] = [KUBE_NODEPORTS, KUBE_SERVICES, KUBE_EXTERNAL_SERVICES];

/**
 * What only the iptables mode writes: the ipvs mode shares KUBE-SERVICES,
 * KUBE-POSTROUTING, KUBE-MARK-MASQ (nat), KUBE-FORWARD and
 * KUBE-PROXY-FIREWALL (filter) with it, and rewrites them itself; the
 * iptables mode's jumps into KUBE-PROXY-FIREWALL (from OUTPUT too, with
 * their own comment) are not the ipvs mode's and go.
 */
export const IPTABLES_MODE_ONLY: ChainScope = {
  what: 'iptables mode rules',
  tables: ['filter', 'nat'],
  owns: (table, c) =>
    isServiceChain(c) || (table === 'filter' ? IPTABLES_ONLY_FILTER.includes(c) : c === KUBE_NODEPORTS),
  markMasq: false,
  jumps: JUMPS.filter((j) => j.target === KUBE_PROXY_FIREWALL),
};

/**
 * Removes every rule and chain of `scope` (by default, all the iptables mode
 * or kube-proxy's left) in the current network namespace: the jumps into
 * them from every other chain first (the built-in chains', and a shared
 * chain's the other mode has not rewritten yet), then the chains. Each table
 * is one atomic restore. Returns what it removed; a node without iptables
 * has nothing to remove.
 */
export async function cleanupIptables(
  logger: Logger,
  ipt = new Iptables(),
  scope: ChainScope = IPTABLES_MODE,
): Promise<{ chains: number; jumps: number }> {
  let chains = 0;
  let jumps = 0;
  for (const table of scope.tables) {
    let saved: string;
    try {
      saved = await ipt.save(table);
    } catch (err) {
      if (err instanceof IptablesError && err.code === 'ERR_IPTABLES_MISSING') return { chains, jumps };
      throw err;
    }
    const ours = [...chainsOf(saved)].filter((c) => scope.owns(table, c));
    const ownSet = new Set(ours);
    const ownJumps = (scope.jumps ?? []).filter((j) => j.table === table);
    // Every rule of another chain that jumps to one of ours (kube-proxy's own
    // included), and this mode's jumps into chains it shares; ours are flushed.
    const jumpLines = saved.split('\n').filter((l) => {
      if (!l.startsWith('-A ') || ownSet.has(l.slice(3, l.indexOf(' ', 3)))) return false;
      if (ownJumps.some((j) => isJump(l, j))) return true;
      return ownSet.has(l.slice(l.lastIndexOf(' -j ') + 4).split(' ')[0] ?? '');
    });
    if (!ours.length && !jumpLines.length) continue;
    const input = [
      `*${table}`,
      ...ours.map((c) => `:${c} - [0:0]`),
      ...jumpLines.map((l) => `-D${l.slice(2)}`),
      ...ours.map((c) => `-X ${c}`),
      'COMMIT',
      '',
    ].join('\n');
    await ipt.restore(input);
    chains += ours.length;
    jumps += jumpLines.length;
  }
  if (scope.markMasq) {
    // KUBE-MARK-MASQ may still be used by others (older kubelets, CNI plugins): removed on its own, if it can be.
    try {
      if (chainsOf(await ipt.save('nat')).has(KUBE_MARK_MASQ)) {
        await ipt.restore(`*nat\n:${KUBE_MARK_MASQ} - [0:0]\n-X ${KUBE_MARK_MASQ}\nCOMMIT\n`);
        chains++;
      }
    } catch (err) {
      logger.info({ err: (err as Error).message }, `${KUBE_MARK_MASQ} kept: another chain still jumps to it`);
    }
  }
  if (chains || jumps) logger.info({ chains, jumps }, `${scope.what} removed`);
  return { chains, jumps };
}
