// Reading iptables-save output inside a test namespace: chains and their
// rules, by table, as the kernel holds them.
import type { TestNet } from './netns.js';

export interface SavedTables {
  /** table → chain → rules ("-A CHAIN …" lines, in order). */
  tables: Map<string, Map<string, string[]>>;
  rules(table: string, chain: string): string[];
  chains(table: string): string[];
}

export function parseSave(text: string): SavedTables {
  const tables = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (current = new Map()));
    else if (line.startsWith(':') && current) current.set(line.slice(1, line.indexOf(' ')), []);
    else if (current) {
      // With counters (iptables-save -c) each rule starts with "[packets:bytes] ".
      const body = line.replace(/^\[\d+:\d+\] /, '');
      if (body.startsWith('-A ')) current.get(body.slice(3, body.indexOf(' ', 3)))?.push(line);
    }
  }
  return {
    tables,
    rules: (table, chain) => tables.get(table)?.get(chain) ?? [],
    chains: (table) => [...(tables.get(table)?.keys() ?? [])],
  };
}

/** iptables-save (ip6tables-save with `ipv6`) of the node namespace `ns`, parsed. */
export function iptablesSave(net: TestNet, ns: string, opts: { counters?: boolean; ipv6?: boolean } = {}): SavedTables {
  return parseSave(net.exec(ns, opts.ipv6 ? 'ip6tables-save' : 'iptables-save', opts.counters ? ['-c'] : []));
}

/** Every KUBE-* chain and every rule mentioning one, in any table of either family: what must be gone after a cleanup. */
export function kubeLeftovers(net: TestNet, ns: string): string[] {
  return ['iptables-save', 'ip6tables-save'].flatMap((save) =>
    net
      .exec(ns, save, [])
      .split('\n')
      .filter((l) => /KUBE-/.test(l))
      .map((l) => `${save}: ${l}`),
  );
}
