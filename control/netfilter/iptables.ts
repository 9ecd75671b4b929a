// The iptables binaries, driven as kube-proxy drives them: whole tables
// written atomically through `iptables-restore --noflush`, state read back
// with `iptables-save`. Asynchronous: a restore of 10,000 services takes
// seconds, and the ops API must keep answering meanwhile.
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

export class Iptables {
  /** Writes restore input without flushing the tables; chains it declares are flushed, others kept. */
  async restore(input: string): Promise<void> {
    const out = await exec('iptables-restore', [...WAIT, '--noflush', '--counters'], input);
    if (out.status === 0) return;
    const at = /line:? (\d+)/.exec(out.stderr);
    const line = at ? input.split('\n')[Number(at[1]) - 1] : undefined;
    throw new IptablesError(
      'ERR_IPTABLES_RESTORE',
      `iptables-restore failed (exit ${out.status}): ${out.stderr.trim()}${line ? `; the refused line: ${line}` : ''}`,
      line,
    );
  }

  async save(table: Table): Promise<string> {
    const out = await exec('iptables-save', ['-t', table]);
    if (out.status !== 0)
      throw new IptablesError('ERR_IPTABLES_SAVE', `iptables-save -t ${table} failed: ${out.stderr.trim()}`);
    return out.stdout;
  }

  /** Fails with what is missing when this node cannot run iptables rules of kube-proxy's kind. */
  async check(): Promise<void> {
    for (const bin of ['iptables-restore', 'iptables-save']) {
      const out = await exec(bin, ['--version']);
      if (out.status !== 0)
        throw new IptablesError('ERR_IPTABLES_MISSING', `${bin} --version failed: ${out.stderr.trim()}`);
    }
    const nat = await exec('iptables', [...WAIT, '-t', 'nat', '-S', 'POSTROUTING']);
    if (nat.status !== 0) {
      throw new IptablesError(
        'ERR_IPTABLES_KERNEL',
        `the kernel's iptables nat table is not usable (needs nf_tables with nft_compat, or iptable_nat): ${nat.stderr.trim()}`,
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
