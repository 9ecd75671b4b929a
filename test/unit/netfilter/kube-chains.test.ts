// Removing one mode's chains while the other mode runs: the iptables and ipvs
// modes share KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD
// and KUBE-PROXY-FIREWALL by name, and each removes only what is its own,
// jumps into a shared chain included.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Iptables, Table } from '../../../control/netfilter/iptables.js';
import { IPTABLES_MODE, IPTABLES_MODE_ONLY, cleanupIptables } from '../../../control/netfilter/kube-chains.js';
import { IPVS_MODE_ONLY } from '../../../control/proxiers/ipvs/cleanup.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

/** An Iptables that serves `saved` per table and records each restore. */
function fakeIptables(saved: Partial<Record<Table, string>>) {
  const restores: string[] = [];
  const ipt = {
    save: async (table: Table) => saved[table] ?? `*${table}\nCOMMIT\n`,
    restore: async (input: string) => void restores.push(input),
  } as unknown as Iptables;
  return { ipt, restores };
}

const FILTER_AFTER_IPVS = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':KUBE-PROXY-FIREWALL - [0:0]',
  ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
  ':KUBE-IPVS-OUT-FILTER - [0:0]',
  ':KUBE-EXTERNAL-SERVICES - [0:0]',
  // The iptables mode's jumps, left from before the switch.
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  // The ipvs mode's.
  '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
  '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
  '-A KUBE-PROXY-FIREWALL -m comment --comment "x" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL',
  '-A KUBE-SOURCE-RANGES-FIREWALL -j DROP',
  'COMMIT',
  '',
].join('\n');

const filterRestore = (restores: string[]) => restores.find((r) => r.startsWith('*filter'))!.split('\n');

describe('cleanupIptables and the chains the two modes share', () => {
  it("the iptables mode's leftovers, with ipvs running: its own chains and jumps, KUBE-PROXY-FIREWALL kept", async () => {
    const { ipt, restores } = fakeIptables({ filter: FILTER_AFTER_IPVS });
    await cleanupIptables(silent, ipt, IPTABLES_MODE_ONLY);
    expect(filterRestore(restores)).toEqual([
      '*filter',
      ':KUBE-EXTERNAL-SERVICES - [0:0]',
      '-D INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-D OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-D INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-X KUBE-EXTERNAL-SERVICES',
      'COMMIT',
      '',
    ]);
  });

  it("the ipvs mode's, with iptables running: its chains, its jumps into KUBE-PROXY-FIREWALL, and the shared chain's rules into its own", async () => {
    const { ipt, restores } = fakeIptables({ filter: FILTER_AFTER_IPVS });
    await cleanupIptables(silent, ipt, IPVS_MODE_ONLY);
    expect(filterRestore(restores)).toEqual([
      '*filter',
      ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
      ':KUBE-IPVS-OUT-FILTER - [0:0]',
      '-D INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-D OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
      // Left only if the iptables mode has not rewritten the chain yet: the set could not go otherwise.
      '-D KUBE-PROXY-FIREWALL -m comment --comment "x" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL',
      '-X KUBE-SOURCE-RANGES-FIREWALL',
      '-X KUBE-IPVS-OUT-FILTER',
      'COMMIT',
      '',
    ]);
  });

  it('--cleanup (the iptables layout whole) removes KUBE-PROXY-FIREWALL and every jump to it, whichever mode wrote it', async () => {
    const { ipt, restores } = fakeIptables({ filter: FILTER_AFTER_IPVS });
    await cleanupIptables(silent, ipt, IPTABLES_MODE);
    const lines = filterRestore(restores);
    expect(lines).toContain('-X KUBE-PROXY-FIREWALL');
    expect(lines.filter((l) => l.startsWith('-D ') && l.endsWith('-j KUBE-PROXY-FIREWALL'))).toHaveLength(3);
  });

  it('--cleanup of the ipvs mode, after the shared layout: KUBE-MARK-MASQ goes once its own chains no longer jump to it', async () => {
    const nat = [
      '*nat',
      ':KUBE-LOAD-BALANCER - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ',
      '-A KUBE-NODE-PORT -p tcp -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
      'COMMIT',
      '',
    ].join('\n');
    const { ipt, restores } = fakeIptables({ nat });
    await cleanupIptables(silent, ipt, { ...IPVS_MODE_ONLY, markMasq: true });
    expect(restores.filter((r) => r.startsWith('*nat'))).toEqual([
      '*nat\n:KUBE-LOAD-BALANCER - [0:0]\n:KUBE-NODE-PORT - [0:0]\n-X KUBE-LOAD-BALANCER\n-X KUBE-NODE-PORT\nCOMMIT\n',
      '*nat\n:KUBE-MARK-MASQ - [0:0]\n-X KUBE-MARK-MASQ\nCOMMIT\n',
    ]);
  });
});
