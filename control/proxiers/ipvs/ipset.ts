// The ipsets of the ipvs mode, driven through the ipset binary as kube-proxy's
// IPVS mode drives them. Its few iptables rules match on sets
// (`-m set --match-set KUBE-CLUSTER-IP dst,dst`), so the rule count does not
// grow with the number of services: a service only adds set members.
//
// Every write is one `ipset restore` process however many members, with the
// script on stdin (10,000 members replaced in 120–160 ms on this machine,
// read back by members() in ~100 ms: test/privileged/ipvs/ipset.test.ts). replace() builds the new content in a temporary set and
// `swap`s it in; the kernel swaps the two sets under its lock, so a packet
// sees either the old members or the new, never a half-filled set, and the
// iptables rules that reference the name keep working. Asynchronous (spawn):
// the ops API keeps answering while ipset works.
import { runTool, type ToolOutput as Output } from '../../netfilter/run-tool.js';
import { IpsetErrorCode } from '../../netfilter/errors.js';
import { createHash } from 'node:crypto';

export type IpsetType =
  | 'hash:ip'
  | 'hash:ip,port'
  | 'hash:ip,port,ip'
  | 'hash:ip,port,net'
  | 'hash:net'
  | 'bitmap:port';

export interface IpsetSpec {
  /** At most 31 characters: the kernel's IPSET_MAXNAMELEN is 32 with the NUL. */
  name: string;
  type: IpsetType;
  /** Ignored for bitmap:port, which has no family. */
  family: 'inet' | 'inet6';
  /** What the set holds, for the ops API; not written to the kernel. */
  comment: string;
  /** bitmap:port only: "FROM-TO", default 0-65535. */
  range?: string;
}

// The codes: control/netfilter/errors.ts. The literals below are checked against it.
export { IpsetErrorCode };

export class IpsetError extends Error {
  readonly code: IpsetErrorCode;
  /** The restore input line ipset refused, when it names one. */
  readonly line?: string;
  /** The sets a failed destroy() left in place. */
  readonly sets?: string[];

  constructor(code: IpsetErrorCode, message: string, details: { line?: string; sets?: string[] } = {}) {
    super(message);
    this.code = code;
    if (details.line !== undefined) this.line = details.line;
    if (details.sets !== undefined) this.sets = details.sets;
  }
}

export interface IpsetOptions {
  /** The ipset binary; default: `ipset` on PATH. */
  bin?: string;
  /**
   * A network namespace by its `ip netns` name: commands run through
   * `ip netns exec NAME`. Default: this process's own namespace (the daemon
   * runs inside the node's).
   */
  netns?: string;
}

/** kube-proxy's parameters for every hash set; a hash grows past hashsize by itself, maxelem is the cap. */
const HASH_PARAMS = 'hashsize 1024 maxelem 65536';
const DEFAULT_PORT_RANGE = '0-65535';
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,30}$/;
const RANGE = /^\d{1,5}-\d{1,5}$/;
/** Members never hold whitespace; one that did could smuggle a command into the restore script. */
const MEMBER = /^\S+$/;

// What ipset prints (ipset 7.x, lib/errcode.c and lib/session.c).
const NO_SUCH_SET = /The set with the given name does not exist/;
const IN_USE = /in use by a kernel component/;
const ALREADY_EXISTS = /set with the same name already exists/;
const TYPE_MISMATCH = /their type does not match/;
const KERNEL =
  /Cannot open session to kernel|Kernel error received|Kernel support protocol versions|Protocol not supported|Address family not supported/;
/** `ip netns exec` could not exec the binary. */
const EXEC_MISSING = /^exec of ".*" failed: No such file or directory/m;

const INSTALL_HINT = 'Debian and Ubuntu: apt-get install ipset';

export class Ipset {
  readonly #where: Where;
  /** Restores of one instance run one after another: two replace() of one set would share its temporary set. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(opts: IpsetOptions = {}) {
    this.#where = { bin: opts.bin, netns: opts.netns };
  }

  /** Fails, saying what is missing, unless the binary runs and the kernel answers it. */
  async check(): Promise<void> {
    const out = await exec('ipset', ['list', '-n'], this.#where);
    if (out.status === 0) return;
    const err = commandError('ipset list -n', out);
    if (err.code === 'ERR_IPSET_MISSING') throw err;
    throw new IpsetError(
      'ERR_IPSET_KERNEL',
      `the kernel's ipsets are not usable (needs ip_set, CONFIG_IP_SET, and CAP_NET_ADMIN): ${out.stderr.trim()}`,
    );
  }

  /** Every set in the namespace, temporary ones of a replace() in flight included. */
  async names(): Promise<string[]> {
    const out = await exec('ipset', ['list', '-n'], this.#where);
    if (out.status !== 0) throw commandError('ipset list -n', out);
    return out.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** The members as `ipset save` prints them ("10.96.0.10,tcp:80"); undefined when there is no such set. */
  async members(name: string): Promise<Set<string> | undefined> {
    checkName(name);
    const out = await exec('ipset', ['save', name], this.#where);
    if (out.status !== 0) {
      if (NO_SUCH_SET.test(out.stderr)) return undefined;
      throw commandError(`ipset save ${name}`, out);
    }
    return parseIpsetSave(out.stdout).get(name) ?? new Set();
  }

  /**
   * Makes the set hold exactly `members`, atomically for the packet path (one
   * restore: fill a temporary set, swap it in, destroy it). A set that exists
   * with other parameters of a compatible type (another maxelem) takes ours
   * with the swap; one of another type is refused at the swap
   * (ERR_IPSET_RESTORE): destroy it, after the rules that match on it, first.
   */
  async replace(spec: IpsetSpec, members: Iterable<string>): Promise<void> {
    const tmp = temporarySetName(spec);
    const script = replaceScript(spec, tmp, members);
    return this.#serially(async () => {
      const { out, sent } = await this.#restoreCreating(script);
      if (out.status === 0) return;
      // The refused line stopped the restore: the temporary set may hold some members.
      await exec('ipset', ['destroy', tmp], this.#where);
      const hint = TYPE_MISMATCH.test(out.stderr)
        ? `${spec.name} exists with another type than ${spec.type}: destroy it (after the rules that match on it) to change its type`
        : undefined;
      throw restoreError(out, sent, hint);
    });
  }

  /**
   * Creates the set if missing, deletes `del`, adds `add` (one restore). A
   * member in both lists ends up in the set; deleting a missing member or
   * adding a present one is not an error.
   */
  async update(spec: IpsetSpec, add: Iterable<string>, del: Iterable<string>): Promise<void> {
    const script = updateScript(spec, add, del);
    return this.#serially(async () => {
      const { out, sent } = await this.#restoreCreating(script);
      if (out.status !== 0) throw restoreError(out, sent);
    });
  }

  /**
   * Destroys the named sets; missing ones are fine. Sets still referenced
   * (by an iptables rule's `-m set`, or a list:set) stay, and once the others
   * are gone the call fails with ERR_IPSET_IN_USE naming them.
   */
  async destroy(names: string[]): Promise<void> {
    for (const n of names) checkName(n);
    let rest = [...new Set(names)];
    if (!rest.length) return;
    return this.#serially(async () => {
      const inUse: string[] = [];
      while (rest.length) {
        const script = rest.map((n) => `destroy ${n}`);
        const out = await this.#restore(script);
        if (out.status === 0) break;
        const at = refusedLineNumber(out.stderr);
        if (at === undefined || at > rest.length) throw restoreError(out, script);
        // ipset 7 ignores a missing set under -exist; older ones refuse the line.
        if (IN_USE.test(out.stderr)) inUse.push(rest[at - 1]!);
        else if (!NO_SUCH_SET.test(out.stderr)) throw restoreError(out, script);
        rest = rest.slice(at);
      }
      if (inUse.length) {
        throw new IpsetError(
          'ERR_IPSET_IN_USE',
          `cannot destroy ipset ${inUse.join(', ')}: still referenced by a kernel component (an iptables rule's -m set --match-set, or a list:set); ` +
            `remove the rules that match on ${inUse.length > 1 ? 'them' : 'it'} first (iptables-save | grep -- '--match-set ${inUse[0]} ')`,
          { sets: inUse },
        );
      }
    });
  }

  /** One `ipset restore -exist`: -exist makes creating an identical set, adding a present member and deleting a missing one no-ops. */
  #restore(script: string[]): Promise<Output> {
    return exec('ipset', ['restore', '-exist'], this.#where, script.join('\n') + '\n');
  }

  /**
   * Restores a script whose line 1 creates the real set. When that set exists
   * with other parameters (another maxelem: an older version's, another
   * tool's), -exist does not cover it and the line is refused; the rest works
   * on the set as it is (replace()'s swap gives it ours), so it goes again
   * without that line.
   */
  async #restoreCreating(script: string[]): Promise<{ out: Output; sent: string[] }> {
    const out = await this.#restore(script);
    if (out.status === 0 || refusedLineNumber(out.stderr) !== 1 || !ALREADY_EXISTS.test(out.stderr))
      return { out, sent: script };
    const sent = script.slice(1);
    return { out: await this.#restore(sent), sent };
  }

  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => {});
    return run;
  }
}

/**
 * The name replace() fills before swapping: the set's name cut to 18
 * characters, "-TMP-", and 8 hex digits of a hash of the whole spec, so it
 * fits 31 characters (kube-proxy's longest set name is 30), stays readable in
 * `ipset list -n`, and differs for two sets sharing a prefix or for one set
 * whose type changed (a leftover temporary set of the old type is never reused).
 */
export function temporarySetName(spec: IpsetSpec): string {
  const hash = createHash('sha256')
    .update(`${spec.name} ${createParams(spec)}`)
    .digest('hex')
    .slice(0, 8);
  return `${spec.name.slice(0, 18)}-TMP-${hash}`;
}

/** "create NAME TYPE …": kube-proxy's parameters, hashsize 1024 maxelem 65536 (bitmap:port: its range). */
export function createLine(spec: IpsetSpec, name = spec.name): string {
  checkName(name);
  return `create ${name} ${createParams(spec)}`;
}

function createParams(spec: IpsetSpec): string {
  if (spec.type === 'bitmap:port') {
    const range = spec.range ?? DEFAULT_PORT_RANGE;
    if (!RANGE.test(range))
      throw new IpsetError('ERR_IPSET_INVALID', `ipset ${spec.name}: range "${range}" is not FROM-TO`);
    return `bitmap:port range ${range}`;
  }
  return `${spec.type} family ${spec.family} ${HASH_PARAMS}`;
}

/** The restore script of replace(): the real set if missing, the temporary one filled, swapped in, destroyed. */
export function replaceScript(spec: IpsetSpec, tmp: string, members: Iterable<string>): string[] {
  const lines = [createLine(spec), createLine(spec, tmp), `flush ${tmp}`];
  for (const m of members) lines.push(`add ${tmp} ${checkMember(spec, m)}`);
  lines.push(`swap ${tmp} ${spec.name}`, `destroy ${tmp}`);
  return lines;
}

/** The restore script of update(): create if missing, deletions, then additions. */
export function updateScript(spec: IpsetSpec, add: Iterable<string>, del: Iterable<string>): string[] {
  const lines = [createLine(spec)];
  for (const m of del) lines.push(`del ${spec.name} ${checkMember(spec, m)}`);
  for (const m of add) lines.push(`add ${spec.name} ${checkMember(spec, m)}`);
  return lines;
}

/**
 * The sets in `ipset save` output, each with its members as printed: the
 * third word of an "add SET MEMBER [options]" line (options such as
 * `timeout 30` or `comment "…"` follow the member and are not part of it). A
 * set without members is there, empty.
 */
export function parseIpsetSave(text: string): Map<string, Set<string>> {
  const sets = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const [verb, name, member] = words;
    if (!name) continue;
    if (verb === 'create' && !sets.has(name)) sets.set(name, new Set());
    else if (verb === 'add' && member) {
      let members = sets.get(name);
      if (!members) sets.set(name, (members = new Set()));
      members.add(member);
    }
  }
  return sets;
}

/** The 1-based script line `ipset restore` refused ("Error in line 3: …"). */
export function refusedLineNumber(stderr: string): number | undefined {
  const at = /Error in line (\d+)/.exec(stderr);
  return at ? Number(at[1]) : undefined;
}

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new IpsetError(
      'ERR_IPSET_INVALID',
      `"${name}" is not a usable ipset name (1 to 31 letters, digits, _ . : -)`,
    );
}

function checkMember(spec: IpsetSpec, member: string): string {
  if (!MEMBER.test(member))
    throw new IpsetError(
      'ERR_IPSET_INVALID',
      `ipset ${spec.name}: member ${JSON.stringify(member)} is empty or holds whitespace`,
    );
  return member;
}

function restoreError(out: Output, script: string[], hint?: string): IpsetError {
  const failed = commandError('ipset restore', out);
  if (failed.code !== 'ERR_IPSET_COMMAND') return failed;
  const at = refusedLineNumber(out.stderr);
  const line = at === undefined ? undefined : script[at - 1];
  return new IpsetError(
    'ERR_IPSET_RESTORE',
    `ipset restore failed (exit ${out.status}): ${out.stderr.trim()}${line ? `; the refused line: ${line}` : ''}${hint ? ` (${hint})` : ''}`,
    line === undefined ? {} : { line },
  );
}

function commandError(what: string, out: Output): IpsetError {
  const said = out.stderr.trim();
  if (EXEC_MISSING.test(said))
    return new IpsetError('ERR_IPSET_MISSING', `ipset is not installed (${INSTALL_HINT}): ${said}`);
  if (KERNEL.test(said))
    return new IpsetError(
      'ERR_IPSET_KERNEL',
      `${what}: the kernel's ipsets are not usable (needs ip_set, CONFIG_IP_SET): ${said}`,
    );
  return new IpsetError('ERR_IPSET_COMMAND', `${what} failed (exit ${out.status}): ${said}`);
}

interface Where {
  bin: string | undefined;
  netns: string | undefined;
}

/** Runs `cmd` (or `where.bin` in its place), in `where.netns` if given, with `input` on stdin. */
function exec(cmd: 'ipset', args: string[], where: Where, input?: string): Promise<Output> {
  const bin = where.bin ?? cmd;
  // `ip netns exec` enters the namespace, then execs the binary as given (PATH lookup included).
  const argv = where.netns === undefined ? [bin, ...args] : ['ip', 'netns', 'exec', where.netns, bin, ...args];
  return runTool(argv, {
    input,
    missing: () =>
      where.netns === undefined
        ? new IpsetError('ERR_IPSET_MISSING', `${bin} is not installed (${INSTALL_HINT})`)
        : new IpsetError(
            'ERR_IPSET_MISSING',
            `ip is not installed (Debian and Ubuntu: apt-get install iproute2); it runs ${cmd} in namespace ${where.netns}`,
          ),
  });
}
