// Which interfaces of this network namespace the tc program belongs on, as
// they come and go. A new pod brings a new veth; the program must be on it
// before the pod's first packet to a service, so link events are followed as
// they happen (`ip monitor link`), with a periodic rescan as a safety net.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export interface Link {
  name: string;
  ifindex: number;
}

export interface InterfaceWatcherOptions {
  /** Names, or prefixes ending in "+"; empty selects every interface but loopback. */
  devices: string[];
  onAdded: (link: Link) => void;
  onRemoved: (link: Link) => void;
  logger: Logger;
  rescanMs?: number;
}

/** iptables' wildcard: "veth+" matches every name starting with "veth". */
export function deviceMatcher(devices: string[]): (name: string) => boolean {
  if (devices.length === 0) return (name) => name !== 'lo';
  return (name) => devices.some((d) => (d.endsWith('+') ? name.startsWith(d.slice(0, -1)) : name === d));
}

export class InterfaceWatcher {
  readonly #opts: Required<Omit<InterfaceWatcherOptions, 'logger'>> & { logger: Logger };

  readonly #matches: (name: string) => boolean;
  /** ifindex → link, for the links we attached to. */
  readonly #known = new Map<number, Link>();
  #monitor: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pending: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: InterfaceWatcherOptions) {
    this.#opts = { rescanMs: 5000, ...opts };
    this.#matches = deviceMatcher(opts.devices);
  }

  /** Attaches to what exists now, then follows changes. */
  start(): void {
    this.rescan();
    this.#followEvents();
    this.#timer = setInterval(() => this.rescan(), this.#opts.rescanMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#pending) clearTimeout(this.#pending);
    this.#monitor?.kill();
    this.#monitor = undefined;
  }

  get links(): Link[] {
    return [...this.#known.values()];
  }

  /** Lists the namespace's links and reports what appeared and what went. */
  rescan(): void {
    const now = new Map<number, Link>();
    for (const link of listLinks()) {
      if (this.#matches(link.name)) now.set(link.ifindex, link);
    }
    for (const [ifindex, link] of this.#known) {
      const cur = now.get(ifindex);
      if (cur && cur.name === link.name) continue;
      this.#known.delete(ifindex);
      this.#opts.onRemoved(link);
    }
    for (const [ifindex, link] of now) {
      if (this.#known.has(ifindex)) continue;
      try {
        this.#opts.onAdded(link);
        this.#known.set(ifindex, link);
      } catch (err) {
        // A link that vanished between listing and attaching, or one that
        // refuses clsact: logged, and tried again on the next rescan.
        this.#opts.logger.warn({ err, interface: link.name }, 'cannot attach to interface; will retry');
      }
    }
  }

  /** `ip -o monitor link` prints a line per link event; each one triggers a (coalesced) rescan. */
  #followEvents(): void {
    if (this.#stopped) return;
    const child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#monitor = child;
    child.stdout?.on('data', () => {
      if (this.#pending) return;
      this.#pending = setTimeout(() => {
        this.#pending = undefined;
        this.rescan();
      }, 20);
    });
    child.on('error', (err) => this.#opts.logger.warn({ err }, 'cannot follow link events; rescanning periodically'));
    child.on('exit', () => {
      if (this.#stopped || this.#monitor !== child) return;
      const retry = setTimeout(() => this.#followEvents(), 1000);
      retry.unref();
    });
  }
}

/**
 * The links of this process's network namespace, by netlink. Not sysfs:
 * /sys/class/net shows the namespace of whoever mounted /sys, which for a
 * process that entered a namespace with setns() is still the host's.
 */
function listLinks(): Link[] {
  const out = execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ ifname?: string; ifindex?: number }>)
    .filter((l) => typeof l.ifname === 'string' && Number.isInteger(l.ifindex))
    .map((l) => ({ name: l.ifname!.replace(/@.*$/, ''), ifindex: l.ifindex! }));
}
