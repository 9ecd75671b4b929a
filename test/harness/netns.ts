// Network namespaces for tests. Every name carries a per-run prefix
// (syt-<pid>-<random>-), so runs never collide and a sweeper can tell the
// leftovers of dead runs from the namespaces of live ones. Nothing here touches
// the root namespace: veth pairs are created with both ends placed directly in
// test namespaces, and sysctls are set inside them.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { Background, run } from './run.js';

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
export function cgroup2Root(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => / - cgroup2 /.test(l));
  if (!line) throw new Error('cgroup v2 is not mounted on this machine');
  return line.split(' ')[4]!;
}

const PREFIX_RE = /^syt-(\d+)-[0-9a-f]+-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces and BPF pins that runs no longer alive left behind. */
export function sweepLeftovers(): string[] {
  const removed: string[] = [];
  const names = run('ip', ['netns', 'list'], { allowFail: true })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
  for (const name of names) {
    const m = PREFIX_RE.exec(name);
    if (m && !alive(Number(m[1]))) {
      run('ip', ['netns', 'del', name], { allowFail: true });
      removed.push(name);
    }
  }
  const cgroups = (() => {
    try {
      return cgroup2Root();
    } catch {
      return undefined;
    }
  })();
  for (const entry of cgroups ? safeReaddir(cgroups) : []) {
    const m = PREFIX_RE.exec(entry + '-');
    if (m && !alive(Number(m[1]))) {
      removeCgroup(`${cgroups}/${entry}`);
      removed.push(`${cgroups}/${entry}`);
    }
  }
  for (const entry of safeReaddir('/sys/fs/bpf')) {
    const m = PREFIX_RE.exec(entry + '-');
    if (m && !alive(Number(m[1]))) {
      rmSync(`/sys/fs/bpf/${entry}`, { recursive: true, force: true });
      removed.push(`/sys/fs/bpf/${entry}`);
    }
  }
  return removed;
}

/** Kills what runs in a cgroup and removes it; a cgroup dir goes with rmdir only. */
function removeCgroup(dir: string): void {
  try {
    writeFileSync(`${dir}/cgroup.kill`, '1');
  } catch {
    /* older kernels: no cgroup.kill; processes were killed by their owners */
  }
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      execFileSync('sleep', ['0.02']);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const liveScopes = new Set<TestNet>();
process.once('exit', () => {
  for (const scope of liveScopes) scope.teardownSync();
});

/**
 * A scope for one test file: the namespaces, background processes and pin
 * directories it creates, all removed by teardown() (also on process exit).
 */
export class TestNet {
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  readonly #processes: Background[] = [];
  readonly #pinDirs: string[] = [];
  readonly #cgroups: string[] = [];

  constructor() {
    this.prefix = `syt-${process.pid}-${randomBytes(3).toString('hex')}-`;
    liveScopes.add(this);
  }

  /** Creates a namespace with loopback up; returns its full name. */
  namespace(name: string): string {
    const full = this.prefix + name;
    run('ip', ['netns', 'add', full]);
    this.#namespaces.push(full);
    this.ip(full, 'link', 'set', 'lo', 'up');
    return full;
  }

  /** A veth pair with each end created directly inside its namespace. */
  veth(a: { ns: string; name: string }, b: { ns: string; name: string }): void {
    this.ip(a.ns, 'link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.ns);
    this.ip(a.ns, 'link', 'set', a.name, 'up');
    this.ip(b.ns, 'link', 'set', b.name, 'up');
  }

  ip(ns: string, ...args: string[]): string {
    return run('ip', ['-n', ns, ...args]);
  }

  /**
   * Several `ip` commands in one namespace with one process (ip -batch), in
   * order, stopping at the first that fails. A batch line takes no options:
   * `route add default via fe80::1 dev eth0` (the family follows the address), not `-6 route …`.
   */
  ipBatch(ns: string, commands: string[][]): void {
    if (commands.length === 0) return;
    run('ip', ['-n', ns, '-batch', '-'], { input: `${commands.map((c) => c.join(' ')).join('\n')}\n` });
  }

  /** Runs a command inside a namespace and returns its stdout. */
  exec(ns: string, cmd: string, args: string[] = [], opts: { input?: string; allowFail?: boolean } = {}): string {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  sysctl(ns: string, key: string, value: string | number): void {
    this.sysctls(ns, { [key]: value });
  }

  /** Several sysctls inside a namespace, in order, with one process. */
  sysctls(ns: string, settings: Record<string, string | number>): void {
    this.exec(ns, 'sysctl', ['-qw', ...Object.entries(settings).map(([key, value]) => `${key}=${value}`)]);
  }

  ifindex(ns: string, ifname: string): number {
    const [link] = JSON.parse(this.ip(ns, '-j', 'link', 'show', 'dev', ifname)) as Array<{ ifindex: number }>;
    if (!link) throw new Error(`no interface ${ifname} in ${ns}`);
    return link.ifindex;
  }

  /** The path setns() takes for a namespace we created. */
  netnsPath(ns: string): string {
    return `/run/netns/${ns}`;
  }

  /** Starts a long-running command in a namespace, killed at teardown. */
  spawn(ns: string, cmd: string, args: string[] = []): Background {
    const p = new Background('ip', ['netns', 'exec', ns, cmd, ...args]);
    this.#processes.push(p);
    return p;
  }

  /**
   * Starts a long-running command that joins only the namespace's network:
   * unlike `ip netns exec`, it keeps the host's /sys, so /sys/fs/bpf is the
   * host's bpffs and pins outlive the process (a daemon restarted in the
   * namespace finds its maps). Its /sys/class/net is the host's too, so such
   * a process must list links by netlink, never through sysfs.
   */
  spawnNet(ns: string, cmd: string, args: string[] = [], opts: { cgroup?: string } = {}): Background {
    const argv = ['nsenter', `--net=${this.netnsPath(ns)}`, '--', cmd, ...args];
    const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const p = opts.cgroup
      ? new Background('sh', ['-c', `echo $$ > '${opts.cgroup}/cgroup.procs' && exec ${quoted}`])
      : new Background(argv[0]!, argv.slice(1));
    this.#processes.push(p);
    return p;
  }

  /**
   * The same, with the process moved into `cgroup` first: `ip netns exec`
   * remounts /sys for the namespace, so the cgroup is joined before it.
   */
  spawnInCgroup(cgroup: string, ns: string, cmd: string, args: string[] = []): Background {
    const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const p = new Background('sh', [
      '-c',
      `echo $$ > '${cgroup}/cgroup.procs' && exec ip netns exec '${ns}' ${quoted}`,
    ]);
    this.#processes.push(p);
    return p;
  }

  /** A fresh directory on bpffs for this run's pins, removed at teardown. */
  pinDir(name = 'pins'): string {
    const dir = `/sys/fs/bpf/${this.prefix}${name}`;
    execFileSync('mkdir', ['-p', dir]);
    this.#pinDirs.push(dir);
    return dir;
  }

  /** A child cgroup (never the root) for cgroup-hook tests, removed at teardown. */
  cgroup(name: string): string {
    const dir = `${cgroup2Root()}/${this.prefix}${name}`;
    mkdirSync(dir);
    this.#cgroups.push(dir);
    return dir;
  }

  async teardown(): Promise<void> {
    await Promise.all(this.#processes.map((p) => p.kill()));
    this.teardownSync();
  }

  teardownSync(): void {
    for (const p of this.#processes.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const dir of this.#cgroups.splice(0).reverse()) removeCgroup(dir);
    for (const ns of this.#namespaces.splice(0).reverse()) run('ip', ['netns', 'del', ns], { allowFail: true });
    for (const dir of this.#pinDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    liveScopes.delete(this);
  }
}
