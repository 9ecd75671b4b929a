// kube-ipvs0: the dummy interface that holds the ipvs mode's service
// addresses. IPVS takes packets at LOCAL_IN (and LOCAL_OUT), so the kernel
// must route a packet to a ClusterIP, external IP or load-balancer IP as one
// for this host: kube-proxy binds each address (/32, /128) to a dummy link,
// which never sends or receives anything itself.
//
// What the kernel does with it (measured in a fresh namespace on Debian's 6.1
// and 6.12 kernels, test/privileged/ipvs/dummy.test.ts):
// - Down is enough. An address added to the dummy while it is DOWN gets its
//   `local` route in table local at once, IPv4 and IPv6 alike; a TCP connect
//   from the namespace to it reaches a listener on 0.0.0.0 or [::], and a port
//   nothing listens on answers RST (ECONNREFUSED).
// - Up adds what service addresses do not want: an fe80:: address of its own
//   and an ff00::/8 route on kube-ipvs0.
// - Down after up flushes its IPv6 addresses (keep_addr_on_down is 0 by
//   default); IPv4 ones stay. So ensure() creates the link DOWN, as kube-proxy
//   does, and never changes the state of one that exists.
//
// Bulk changes are one `ip -force -batch -` process with a line per address:
// -force goes on past a refused line, and ip names each ("Command failed
// -:N"). Measured for 10,000 addresses (9,000 IPv4, 1,000 IPv6) in one call:
// bound in 0.6–0.9 s and unbound in 0.7–0.9 s on this machine (its kernel has
// no dummy driver: a DOWN veth end stands in), addresses() 45 ms; on a real
// dummy in the VM harness, under TCG emulation, 3.4–4.5 s and 2.4–2.7 s. Most
// of it is the kernel's: each IPv4 address added walks the link's address
// list, so the cost grows with the square of the count.
import { isIP } from 'node:net';
import { runTool, type ToolOutput as Output } from '../../netfilter/run-tool.js';
import { DummyInterfaceErrorCode } from '../../netfilter/errors.js';

export const KUBE_IPVS0 = 'kube-ipvs0';

// The codes: control/netfilter/errors.ts. The literals below are checked against it.
export { DummyInterfaceErrorCode };

export class DummyInterfaceError extends Error {
  readonly code: DummyInterfaceErrorCode;

  constructor(code: DummyInterfaceErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface DummyInterfaceOptions {
  /** The link's name; default kube-ipvs0. */
  name?: string;
  /** The ip binary; default: `ip` on PATH. */
  bin?: string;
  /** A network namespace by its `ip netns` name (`ip -n NAME`); default: this process's own. */
  netns?: string;
}

/** An address bind() could not add or remove, with why. */
export interface BindFailure {
  address: string;
  op: 'add' | 'del';
  error: string;
}

/** A Linux interface name: 1 to 15 bytes, no whitespace, slash or colon. */
const IFNAME = /^[^\s/:]{1,15}$/;
/** What ip prints when a deleted address is not there (kernels with and without extended acks). */
const NOT_BOUND = /address not found|Cannot assign requested address/i;
const NO_DEVICE = /does not exist|Cannot find device/;
const INSTALL_HINT = 'Debian and Ubuntu: apt-get install iproute2';

export class DummyInterface {
  readonly name: string;
  readonly #where: Where;

  constructor(opts: DummyInterfaceOptions = {}) {
    this.name = opts.name ?? KUBE_IPVS0;
    if (!IFNAME.test(this.name)) throw new TypeError(`"${this.name}" is not a Linux interface name`);
    this.#where = { bin: opts.bin, netns: opts.netns };
  }

  /** Creates the dummy link, DOWN, if it is missing; one that exists is left as it is. */
  async ensure(): Promise<void> {
    if (await this.#existingDummy()) return;
    const out = await exec('ip', ['link', 'add', this.name, 'type', 'dummy'], this.#where);
    if (out.status === 0) return;
    if (/Unknown device type/.test(out.stderr)) {
      throw new DummyInterfaceError(
        'ERR_DUMMY_UNSUPPORTED',
        `cannot create ${this.name}: this kernel has no dummy network driver (CONFIG_DUMMY; modprobe dummy): ${out.stderr.trim()}`,
      );
    }
    // Created meanwhile by someone else: fine if it is a dummy.
    if (/File exists/.test(out.stderr) && (await this.#existingDummy())) return;
    throw commandError(`ip link add ${this.name} type dummy`, out);
  }

  /**
   * The addresses bound to the link, without prefix length, both families'
   * (each family's proxier keeps to its own); its own fe80:: (had it been up)
   * left out. Empty when there is no link.
   */
  async addresses(): Promise<Set<string>> {
    const out = await exec('ip', ['-j', 'address', 'show', 'dev', this.name], this.#where);
    if (out.status !== 0) {
      if (NO_DEVICE.test(out.stderr)) return new Set();
      throw commandError(`ip address show dev ${this.name}`, out);
    }
    return addressesOf(out.stdout);
  }

  /**
   * Binds `add` (/32 or /128) and unbinds `unbind`, in one ip process. An
   * address in both lists ends up bound; adding one that is there or deleting
   * one that is not is not a failure. The others that fail are returned, with
   * what ip said; a link that does not exist fails every line.
   */
  async bind(add: string[], unbind: string[]): Promise<{ failed: BindFailure[] }> {
    const failed: BindFailure[] = [];
    const ops: Array<{ address: string; op: 'add' | 'del' }> = [];
    const plan = (op: 'add' | 'del', address: string) => {
      // A line ip cannot parse ends the whole batch (invarg exits), so only addresses are sent.
      if (isIP(address) && !address.includes('%')) ops.push({ address, op });
      else failed.push({ address, op, error: 'not an IP address' });
    };
    for (const a of unbind) plan('del', a);
    for (const a of add) plan('add', a);
    if (!ops.length) return { failed };

    // `replace` adds, or leaves a present address as it is, without an error.
    // An IPv6 one goes in with nodad: duplicate address detection would hold
    // it tentative (no source address, no bind()) until the link came up,
    // and kube-ipvs0 stays down; a service address is never on another host.
    const lines = ops.map(({ address, op }) => {
      const v6 = isIP(address) === 6;
      const line = `address ${op === 'add' ? 'replace' : 'del'} ${address}/${v6 ? 128 : 32} dev ${this.name}`;
      return op === 'add' && v6 ? `${line} nodad` : line;
    });
    const out = await exec('ip', ['-force', '-batch', '-'], this.#where, lines.join('\n') + '\n');
    const refused = batchFailures(out.stderr);
    if (out.status !== 0 && refused.size === 0) throw commandError('ip -force -batch', out);
    for (const [n, error] of refused) {
      const op = ops[n - 1];
      if (!op || (op.op === 'del' && NOT_BOUND.test(error))) continue;
      failed.push({ ...op, error });
    }
    return { failed };
  }

  /** Deletes the link (its addresses go with it); false when it was not there. */
  async remove(): Promise<boolean> {
    if (!(await this.#existingDummy())) return false;
    const out = await exec('ip', ['link', 'del', this.name], this.#where);
    if (out.status === 0) return true;
    if (NO_DEVICE.test(out.stderr)) return false;
    throw commandError(`ip link del ${this.name}`, out);
  }

  /** True when the link exists as a dummy, false when it does not exist; a link of another kind throws. */
  async #existingDummy(): Promise<boolean> {
    const out = await exec('ip', ['-d', '-j', 'link', 'show', 'dev', this.name], this.#where);
    if (out.status !== 0) {
      if (NO_DEVICE.test(out.stderr)) return false;
      throw commandError(`ip link show dev ${this.name}`, out);
    }
    const kind = linkKindOf(out.stdout);
    if (kind === 'dummy') return true;
    throw new DummyInterfaceError(
      'ERR_DUMMY_NOT_DUMMY',
      `${this.name} exists but is ${kind ? `a ${kind} link` : 'a device without a link kind'}, not a dummy: rename or delete it, it is not ours`,
    );
  }
}

/** The addresses in `ip -j address show` output, without prefix length; link-scope ones (fe80::) left out. */
export function addressesOf(json: string): Set<string> {
  const links = JSON.parse(json) as Array<{ addr_info?: Array<{ local?: string; scope?: string }> }>;
  const addresses = new Set<string>();
  for (const link of links) {
    for (const a of link.addr_info ?? []) if (a.local && a.scope !== 'link') addresses.add(a.local);
  }
  return addresses;
}

/** The link kind in `ip -d -j link show dev X` output ("dummy", "veth"); "" for a device without one. */
export function linkKindOf(json: string): string {
  const [link] = JSON.parse(json) as Array<{ linkinfo?: { info_kind?: string } }>;
  return link?.linkinfo?.info_kind ?? '';
}

/**
 * The lines `ip -force -batch` refused, by 1-based line number, with what it
 * printed before each "Command failed FILE:N" (ip prints the reason first).
 */
export function batchFailures(stderr: string): Map<number, string> {
  const failures = new Map<number, string>();
  let said: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    const failed = /^Command failed .*:(\d+)$/.exec(line);
    if (failed) {
      failures.set(Number(failed[1]), said.join('; ') || 'refused');
      said = [];
    } else if (line) said.push(line);
  }
  return failures;
}

function commandError(what: string, out: Output): DummyInterfaceError {
  return new DummyInterfaceError('ERR_IP_COMMAND', `${what} failed (exit ${out.status}): ${out.stderr.trim()}`);
}

interface Where {
  bin: string | undefined;
  netns: string | undefined;
}

/** Runs `cmd` (or `where.bin` in its place), with `-n NETNS` if given, and `input` on stdin. */
function exec(cmd: 'ip', args: string[], where: Where, input?: string): Promise<Output> {
  const bin = where.bin ?? cmd;
  const argv = where.netns === undefined ? args : ['-n', where.netns, ...args];
  return runTool([bin, ...argv], {
    input,
    missing: () => new DummyInterfaceError('ERR_IP_MISSING', `${bin} is not installed (${INSTALL_HINT})`),
  });
}
