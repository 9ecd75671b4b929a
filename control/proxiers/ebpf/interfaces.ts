// Which interfaces of this network namespace the programs belong on, as they
// come and go. A new pod brings a new veth; the program must be on it before
// the pod's first packet to a service, so link and address events are
// followed as they happen (`ip monitor link address`), with a periodic
// rescan as a safety net. An interface holding a global IPv4 address is an
// uplink (where traffic from outside the cluster arrives, and where XDP
// goes); one that gains or loses its address (DHCP, a new uplink) is
// reported again, so its programs follow without a restart.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export interface Link {
  name: string;
  ifindex: number;
  /** Holds a global IPv4 address: the node is reached through it. */
  uplink: boolean;
  /** A virtual device's kind (veth, bridge, bond, vlan, …); absent for a physical NIC's driver. */
  kind?: string;
}

export interface InterfaceWatcherOptions {
  /** Names, or prefixes ending in "+"; empty selects every interface but loopback. */
  devices: string[];
  /** A link appeared, or became or stopped being an uplink: attach (again) what it needs. */
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
      if (this.#known.get(ifindex)?.uplink === link.uplink) continue;
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

  /** `ip -o monitor link address` prints a line per event; each one triggers a (coalesced) rescan. */
  #followEvents(): void {
    if (this.#stopped) return;
    const child = spawn('ip', ['-o', 'monitor', 'link', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
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
export function listLinks(): Link[] {
  const out = execFileSync('ip', ['-d', '-j', 'address', 'show'], { encoding: 'utf8' });
  return parseIpAddressJson(out);
}

/** `ip -d -j address show` as links, each an uplink when it holds a global IPv4 address. */
export function parseIpAddressJson(out: string): Link[] {
  type AddrInfo = { family?: string; scope?: string };
  type Entry = { ifname?: string; ifindex?: number; addr_info?: AddrInfo[]; linkinfo?: { info_kind?: string } };
  return (JSON.parse(out) as Entry[])
    .filter((l) => typeof l.ifname === 'string' && Number.isInteger(l.ifindex))
    .map((l) => ({
      name: l.ifname!.replace(/@.*$/, ''),
      ifindex: l.ifindex!,
      uplink: (l.addr_info ?? []).some((a) => a.family === 'inet' && a.scope === 'global'),
      ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
    }));
}
