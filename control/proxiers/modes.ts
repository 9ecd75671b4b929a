// The mode registry: every --proxy-mode value, what it is, and where its
// implementation lives. The daemon and the ops API know no mode by name:
// they ask this table. Adding a mode is a folder under proxiers/ with a
// mode.ts exporting a ModeDefinition, and one entry here.
//
// The table is light on purpose (names, one-line summaries, what a mode
// shares with others): the configuration reads it to parse --proxy-mode and
// print --help, and only the running daemon loads a mode's implementation.
import type { Logger } from 'pino';
import type { ApiApp } from '../api/app.js';
import type { ApiContext } from '../api/context.js';
import type { ProxyMetrics } from '../api/metrics.js';
import type { ProxyOptions, SyncPeriods } from '../config/options.js';
import { ProxierErrorCode } from './errors.js';
import type { IPFamily } from '../sources/types.js';
import { DualStackProxier, type DualStackHooks, type FamilyProxiers } from './dual-stack.js';
import type { Proxier } from './types.js';

/**
 * Node objects more than one mode programs. The iptables and ipvs modes both
 * write kube-proxy's KUBE-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ and
 * KUBE-FORWARD; a mode taking over from another that shares a group keeps
 * that group (it rewrites it) and removes only the other's own objects.
 */
export type SharedObjects = 'kube-chains';

export interface ModeEntry {
  readonly name: string;
  /** One line for --help and errors. */
  readonly summary: string;
  readonly shares: readonly SharedObjects[];
  /**
   * The operating systems the mode runs on. Another's node refuses it at
   * start-up (ERR_PROXY_MODE_PLATFORM), and never loads its implementation
   * unless `portable`: the Linux modes load the libbpf addon and run
   * iptables, which a Windows node has not.
   */
  readonly runsOn: readonly NodeJS.Platform[];
  /** The implementation loads on every system (no native code at import): its routes answer everywhere. */
  readonly portable?: boolean;
  /** Set for a mode kube-proxy has and switchyard does not build yet: why it is refused. */
  readonly planned?: string;
  /** The implementation; only the running daemon (and --cleanup) loads it. */
  readonly load?: () => Promise<ModeDefinition>;
}

/** What a mode's creation is given. */
export interface ModeDeps {
  options: ProxyOptions;
  logger: Logger;
  metrics: ProxyMetrics;
}

/** What a mode's clean-up is given, with or without a running daemon. */
export interface CleanupDeps {
  options: ProxyOptions;
  logger: Logger;
}

export interface ModeDefinition<P extends Proxier = Proxier> {
  /**
   * The start-up check of what the mode needs from the node, before anything
   * is created: throws an error with a code (ERR_IPVS_UNAVAILABLE, …) that
   * says what is missing.
   */
  requires?(deps: CleanupDeps): void;
  /**
   * The IP families the mode programs, each by a proxier of its own that the
   * dual-stack meta proxier (dual-stack.ts) hands that family's share of
   * every service port; ['IPv4'] when left out. A family a mode does not list
   * is reported, per service port, as not programmed.
   */
  readonly families?: readonly IPFamily[];
  /** The proxier of one family (one of `families`). */
  create(deps: ModeDeps, family: IPFamily): P;
  /** The sync periods kube-proxy gives this mode (its --*-sync-period flags). */
  periods(options: ProxyOptions): SyncPeriods;
  /**
   * Removes what this mode (or kube-proxy's same mode) left on the node.
   * keepShared: the running mode shares objects with this one and rewrites
   * them, so only this mode's own go.
   */
  cleanup(deps: CleanupDeps, scope: { keepShared: boolean }): Promise<void>;
  /**
   * The mode's own ops-API routes, registered whichever mode runs so the
   * API's shape never depends on the mode: `proxier` is the running mode's
   * primary family proxier when it is this mode, undefined otherwise (the route then says the
   * running mode has no such thing). `families`, with it: the proxier of
   * every family the mode serves, as of the call (a family whose proxier
   * could not start is not among them), for a route that shows both.
   */
  routes?(app: ApiApp, ctx: ApiContext, proxier: P | undefined, families?: () => readonly P[]): void;
}

/**
 * The running mode's proxier: one per family it programs, behind the
 * dual-stack meta proxier (which reports the families it does not).
 */
export function createProxier(
  name: ModeName | string,
  mode: ModeDefinition,
  deps: ModeDeps,
  hooks: DualStackHooks = {},
): DualStackProxier {
  const proxiers: FamilyProxiers = {};
  for (const family of mode.families ?? ['IPv4']) proxiers[family] = mode.create(deps, family);
  return new DualStackProxier(name as ProxyOptions['mode'], proxiers, hooks);
}

/** A definition with its proxier type erased, as the registry holds it. */
export function defineMode<P extends Proxier>(d: ModeDefinition<P>): ModeDefinition {
  return d as unknown as ModeDefinition;
}

export const MODES = [
  {
    name: 'ebpf',
    summary: 'tc (and XDP) programs reading BPF maps; the default',
    shares: [],
    runsOn: ['linux'],
    load: async (): Promise<ModeDefinition> => (await import('./ebpf/mode.js')).ebpfMode,
  },
  {
    name: 'iptables',
    summary: "kube-proxy's iptables layout, written with iptables-restore",
    shares: ['kube-chains'],
    runsOn: ['linux'],
    load: async (): Promise<ModeDefinition> => (await import('./iptables/mode.js')).iptablesMode,
  },
  {
    name: 'ipvs',
    summary: "kube-proxy's IPVS layout: virtual servers, ipsets and a few iptables rules",
    shares: ['kube-chains'],
    runsOn: ['linux'],
    load: async (): Promise<ModeDefinition> => (await import('./ipvs/mode.js')).ipvsMode,
  },
  {
    name: 'kernelspace',
    summary: 'Windows nodes: VFP load balancers programmed through HNS',
    shares: [],
    runsOn: ['win32'],
    portable: true,
    load: async (): Promise<ModeDefinition> => (await import('./kernelspace/mode.js')).kernelspaceMode,
  },
  {
    name: 'userspace',
    summary: "kube-proxy's original proxier: iptables redirects each service to a socket of the proxy process",
    shares: [],
    runsOn: ['linux'],
    load: async (): Promise<ModeDefinition> => (await import('./userspace/mode.js')).userspaceMode,
  },
] as const satisfies readonly ModeEntry[];

export type ModeName = (typeof MODES)[number]['name'];
export const MODE_NAMES: readonly ModeName[] = MODES.map((m) => m.name);

export class UnsupportedModeError extends Error {
  readonly code = ProxierErrorCode.ModeUnsupported;
}

/** The mode is built but runs on another operating system. */
export class ModePlatformError extends Error {
  readonly code = ProxierErrorCode.ModePlatform;
}

const SYSTEM: Partial<Record<NodeJS.Platform, string>> = { linux: 'Linux', win32: 'Windows' };
const systemName = (p: NodeJS.Platform) => SYSTEM[p] ?? p;

/** What a mode needs of the node, for the refusal on another system. */
const NEEDS: Record<string, string> = {
  kernelspace: 'Windows with the Host Networking Service (it programs VFP through computenetwork.dll)',
};

/** A set of modes: the built-in table, or a test's own. */
export class ModeRegistry {
  readonly entries: readonly ModeEntry[];
  /** The system this node runs (process.platform; tests name another). */
  readonly platform: NodeJS.Platform;

  constructor(entries: readonly ModeEntry[] = MODES, platform: NodeJS.Platform = process.platform) {
    this.entries = entries;
    this.platform = platform;
  }

  entry(name: string): ModeEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** The modes this build can run. */
  built(): ModeEntry[] {
    return this.entries.filter((e) => e.load && !e.planned);
  }

  /** The built modes this node's system runs. */
  runnable(): ModeEntry[] {
    return this.built().filter((e) => e.runsOn.includes(this.platform));
  }

  /** The built modes whose implementation may be loaded here: the runnable ones and the portable ones. */
  loadable(): ModeEntry[] {
    return this.built().filter((e) => e.runsOn.includes(this.platform) || e.portable);
  }

  /** The running mode's definition, or a refusal that names the modes there are. */
  async load(name: string): Promise<ModeDefinition> {
    const e = this.entry(name);
    if (!e?.load || e.planned) {
      const built = this.runnable().map((b) => `--proxy-mode=${b.name}`);
      const what = e
        ? `is not available in this build yet (${e.summary}: ${e.planned ?? 'not built'})`
        : 'is not a mode switchyard has';
      throw new UnsupportedModeError(`--proxy-mode=${name} ${what}; use ${built.join(', ')}`);
    }
    if (!e.runsOn.includes(this.platform)) {
      const needs = NEEDS[name] ?? e.runsOn.map(systemName).join(' or ');
      const others = this.runnable().map((b) => `--proxy-mode=${b.name}`);
      throw new ModePlatformError(
        `--proxy-mode=${name} needs ${needs}, and this node runs ${systemName(this.platform)}` +
          (others.length ? `; here use ${others.join(', ')}` : ''),
      );
    }
    return e.load();
  }

  /** The definitions of `entries` (the loadable modes by default), each with its entry. */
  async loadAll(entries = this.loadable()): Promise<Array<{ entry: ModeEntry; mode: ModeDefinition }>> {
    return Promise.all(entries.map(async (entry) => ({ entry, mode: await entry.load!() })));
  }

  /**
   * Every built mode's routes, each given the running proxier when it is
   * that mode's and undefined otherwise, so /v1/ipvs answers in the ebpf
   * mode too (saying it programs no IPVS) and the OpenAPI document is the
   * same whichever mode runs.
   */
  async routes(running: DualStackProxier | undefined): Promise<Array<(app: ApiApp, ctx: ApiContext) => void>> {
    const all = await this.loadAll();
    return all.flatMap(({ entry, mode }) => {
      const routes = mode.routes;
      if (!routes) return [];
      const mine = running && entry.name === running.mode ? running.primary : undefined;
      const families = mine ? () => running!.families.map((f) => running!.proxier(f)!) : undefined;
      return [(app: ApiApp, ctx: ApiContext) => routes(app, ctx, mine, families)];
    });
  }

  /**
   * What another mode left on this node, removed once the running mode has
   * programmed its first sync (kube-proxy removes other modes' leftovers
   * too). A mode sharing objects with the running one keeps those.
   */
  async removeOthers(running: string, deps: CleanupDeps): Promise<void> {
    const mine = new Set<SharedObjects>(this.entry(running)?.shares ?? []);
    for (const { entry, mode } of await this.loadAll(this.runnable())) {
      if (entry.name === running) continue;
      await mode.cleanup(deps, { keepShared: entry.shares.some((s) => mine.has(s)) });
    }
  }

  /** --cleanup: every mode's leftovers, shared objects included. */
  async cleanupAll(deps: CleanupDeps): Promise<void> {
    for (const { mode } of await this.loadAll(this.runnable())) await mode.cleanup(deps, { keepShared: false });
  }
}
