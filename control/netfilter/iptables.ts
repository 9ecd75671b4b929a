// The iptables binaries, driven as kube-proxy drives them: whole tables
// written atomically through `iptables-restore --noflush`, state read back
// with `iptables-save`. Asynchronous: a restore of 10,000 services takes
// seconds, and the ops API must keep answering meanwhile.
import type { IPFamily } from '../sources/types.js';
import { runTool, type ToolOutput as Output } from './run-tool.js';
import type { IptablesErrorCode } from './errors.js';

export type Table = 'filter' | 'nat' | 'mangle' | 'raw';

/**
 * Lines of rules in one iptables-restore (the iptables and userspace modes
 * write larger syncs in pieces of about this size). Debian 12's
 * iptables-nft-restore (1.8.9) with --noflush takes time that grows with the
 * square of its input (measured here, 11 chains and 31 rules a service:
 * 1,000 services 6 s, 2,000 28 s, 4,000 235 s; iptables-legacy-restore 0.3,
 * 0.7 and 1.9 s), so kube-proxy's one transaction for 10,000 services does
 * not finish in minutes. In pieces of about this size, 10,000 take 11 s;
 * pieces of 11,000 lines took 16 s and of 1,800 lines 15 s.
 */
export const RESTORE_CHUNK_LINES = 4500;

export class IptablesError extends Error {
  readonly code: IptablesErrorCode;
  /** The restore input line the kernel refused, when iptables-restore names one. */
  readonly line?: string;

  constructor(code: IptablesErrorCode, message: string, line?: string) {
    super(message);
    this.code = code;
    if (line !== undefined) this.line = line;
  }
}

function exec(cmd: string, args: string[], input?: string): Promise<Output> {
  return runTool([cmd, ...args], {
    input,
    missing: () =>
      new IptablesError(
        'ERR_IPTABLES_MISSING',
        `${cmd} is not installed (Debian and Ubuntu: apt-get install iptables)`,
      ),
  });
}

/** The xtables lock: wait up to 5 s for it, polling every 100 ms (kube-proxy's -w 5 -W 100000). */
const WAIT = ['-w', '5', '-W', '100000'];

/** The binaries of one family: iptables for IPv4, ip6tables for IPv6 (kube-proxy runs one of each). */
export const IPTABLES_BINARIES: Record<IPFamily, { cmd: string; restore: string; save: string }> = {
  IPv4: { cmd: 'iptables', restore: 'iptables-restore', save: 'iptables-save' },
  IPv6: { cmd: 'ip6tables', restore: 'ip6tables-restore', save: 'ip6tables-save' },
};

export class Iptables {
  readonly family: IPFamily;
  readonly #bin: (typeof IPTABLES_BINARIES)[IPFamily];

  constructor(family: IPFamily = 'IPv4') {
    this.family = family;
    this.#bin = IPTABLES_BINARIES[family];
  }

  /** The family's iptables command ("iptables", "ip6tables"), for messages. */
  get command(): string {
    return this.#bin.cmd;
  }

  /** Writes restore input without flushing the tables; chains it declares are flushed, others kept. */
  async restore(input: string): Promise<void> {
    const { restore } = this.#bin;
    const out = await exec(restore, [...WAIT, '--noflush', '--counters'], input);
    if (out.status === 0) return;
    const at = /line:? (\d+)/.exec(out.stderr);
    const line = at ? input.split('\n')[Number(at[1]) - 1] : undefined;
    throw new IptablesError(
      'ERR_IPTABLES_RESTORE',
      `${restore} failed (exit ${out.status}): ${out.stderr.trim()}${line ? `; the refused line: ${line}` : ''}`,
      line,
    );
  }

  async save(table: Table): Promise<string> {
    const { save } = this.#bin;
    const out = await exec(save, ['-t', table]);
    if (out.status !== 0)
      throw new IptablesError('ERR_IPTABLES_SAVE', `${save} -t ${table} failed: ${out.stderr.trim()}`);
    return out.stdout;
  }

  /** Fails with what is missing when this node cannot run iptables rules of kube-proxy's kind. */
  async check(): Promise<void> {
    for (const bin of [this.#bin.restore, this.#bin.save]) {
      const out = await exec(bin, ['--version']);
      if (out.status !== 0)
        throw new IptablesError('ERR_IPTABLES_MISSING', `${bin} --version failed: ${out.stderr.trim()}`);
    }
    const nat = await exec(this.#bin.cmd, [...WAIT, '-t', 'nat', '-S', 'POSTROUTING']);
    if (nat.status !== 0) {
      const legacy = this.family === 'IPv4' ? 'iptable_nat' : 'ip6table_nat';
      throw new IptablesError(
        'ERR_IPTABLES_KERNEL',
        `the kernel's ${this.#bin.cmd} nat table is not usable (needs nf_tables with nft_compat, or ${legacy}): ${nat.stderr.trim()}`,
      );
    }
  }
}

/** The chains of a table as iptables-save lists them (":NAME POLICY [p:b]" lines). */
export function chainsOf(saved: string): Set<string> {
  const chains = new Set<string>();
  for (const line of saved.split('\n')) {
    if (line.startsWith(':')) chains.add(line.slice(1, line.indexOf(' ')));
  }
  return chains;
}

/** The rules ("-A CHAIN …" lines) of the given chains in iptables-save output. */
export function rulesOf(saved: string, chains: ReadonlySet<string>): string[] {
  return saved.split('\n').filter((line) => line.startsWith('-A ') && chains.has(line.slice(3, line.indexOf(' ', 3))));
}
