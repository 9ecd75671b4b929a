// Resolves the daemon's ProxyOptions from defaults, the --config file and the
// command line, and validates the result.
//
// Precedence follows current kube-proxy (cmd/kube-proxy/app/options.go,
// Options.Complete): without --config, flags override the defaults. With
// --config, the file replaces every flag that has a KubeProxyConfiguration
// field (--proxy-mode, --kubeconfig, --cluster-cidr, --iptables-*, --ipvs-*,
// the bind addresses, …: kube-proxy documents these as "ignored if a config
// file is specified by --config"); only the flags kube-proxy still honours
// then win over the file: --hostname-override (processHostnameOverrideFlag),
// the logging flags -v and --logging-format (copyLogsFromFlags), --master and
// --cleanup. Switchyard's own flags have no field in the file and always
// apply. Unlike kube-proxy, a flag that the file replaces is not dropped
// silently: it produces a note.
import { hostname as osHostname } from 'node:os';
import { isAbsolute } from 'node:path';
import { EBPF_SYNC, defaultOptions } from './defaults.js';
import { formatGoDuration } from './duration.js';
import { ConfigError, ConfigErrorCode, ValueError } from './errors.js';
import { FLAGS, helpText, parseFlags, shown, type ParsedFlags } from './flags.js';
import { packageVersion } from './install.js';
import {
  applyKubeProxyConfiguration,
  readKubeProxyConfiguration,
  type AppliedConfiguration,
} from './kubeproxy-config.js';
import { PROXY_MODES, type ProxyOptions, type SyncPeriods } from './options.js';
import * as v from './values.js';

export { ConfigError, ConfigErrorCode } from './errors.js';

/** Seams for tests; the daemon passes nothing. */
export interface LoadEnv {
  /** The machine's host name (default: os.hostname()). */
  hostname?: () => string;
  /** Reads the --config file (default: fs.readFileSync as UTF-8). */
  readFile?: (path: string) => string;
  /** The default --bpf-object-dir (default: <install root>/build/bpf). */
  objectDir?: string;
}

export interface LoadedOptions {
  options: ProxyOptions;
  /** Accepted-but-ignored flags and fields, and flags the config file replaced: the daemon logs each as a warning. */
  notes: string[];
}

/** --help or --version: print `output` on stdout and exit with `exit`, without reading any config file. */
export interface EarlyExit {
  output: string;
  exit: number;
}

/**
 * The daemon's options from its argv (without node and the script), or what
 * to print for --help and --version. Throws ConfigError.
 */
export function loadOptions(argv: readonly string[], env: LoadEnv = {}): LoadedOptions | EarlyExit {
  const flags = parseFlags(argv);
  if (flags.help) return { output: helpText(), exit: 0 };
  if (flags.version === 'raw') return { output: `${packageVersion()}\n`, exit: 0 };
  if (flags.version) return { output: `switchyard v${packageVersion()}\n`, exit: 0 };
  return resolveOptions(flags, env);
}

/** Applies defaults, then the --config file, then the flags that may override it; validates. Throws ConfigError. */
export function resolveOptions(flags: ParsedFlags, env: LoadEnv = {}): LoadedOptions {
  const notes = [...flags.notes];
  const o = defaultOptions({ hostname: env.hostname ?? osHostname, objectDir: env.objectDir });

  const configFile = (flags.given.get('config')?.value as string | undefined) || undefined;
  let file: AppliedConfiguration | undefined;
  if (configFile !== undefined) {
    const { config, notes: fileNotes } = readKubeProxyConfiguration(configFile, env.readFile);
    file = applyKubeProxyConfiguration(o, config, configFile);
    o.configFile = configFile;
    notes.push(...fileNotes);
  }

  // Table order, not command-line order, so that e.g. the deprecated
  // --healthz-port always acts on the address --healthz-bind-address set.
  for (const def of FLAGS) {
    const given = flags.given.get(def.name);
    if (!given) continue;
    if (configFile !== undefined && def.configField) {
      if (!def.ignored) {
        notes.push(
          `${shown(def, given.raw)} is ignored because --config is given: as with kube-proxy, the file's ` +
            `"${def.configField}" is used instead (set it in ${configFile})`,
        );
      }
      continue;
    }
    def.apply?.(o, given.value);
  }

  o.hostname = resolveHostname(flags.given.get('hostname-override')?.raw, file?.hostnameOverride, o.hostname);
  o.sync = syncPeriods(o, {
    syncPeriod: file ? file.iptablesSyncPeriodSet : flags.given.has('iptables-sync-period'),
    minSyncPeriod: file ? file.iptablesMinSyncPeriodSet : flags.given.has('iptables-min-sync-period'),
  });
  validateOptions(o);
  return { options: o, notes };
}

/** --hostname-override, else the file's hostnameOverride, else the host name; lower-cased as Node names are. */
function resolveHostname(flag: string | undefined, fromFile: string | undefined, host: string): string {
  if (flag !== undefined && flag !== '') {
    const name = flag.trim();
    if (name === '')
      throw new ConfigError(
        ConfigErrorCode.Flag,
        'invalid value for --hostname-override: it is blank; give the Node name or leave the flag out',
      );
    return name.toLowerCase();
  }
  if (fromFile !== undefined && fromFile.trim() !== '') return fromFile.trim().toLowerCase();
  return host;
}

/**
 * The periods the sync loop uses. kube-proxy takes them from the ipvs
 * settings in ipvs mode and from the iptables settings in every other mode;
 * so do we, except that the ebpf mode keeps its own defaults (EBPF_SYNC)
 * for whichever of the two the operator did not set.
 */
function syncPeriods(o: ProxyOptions, iptablesSet: { syncPeriod: boolean; minSyncPeriod: boolean }): SyncPeriods {
  if (o.mode === 'ipvs') return { syncPeriodMs: o.ipvs.syncPeriodMs, minSyncPeriodMs: o.ipvs.minSyncPeriodMs };
  if (o.mode !== 'ebpf') return { syncPeriodMs: o.iptables.syncPeriodMs, minSyncPeriodMs: o.iptables.minSyncPeriodMs };
  return {
    syncPeriodMs: iptablesSet.syncPeriod ? o.iptables.syncPeriodMs : EBPF_SYNC.syncPeriodMs,
    minSyncPeriodMs: iptablesSet.minSyncPeriod ? o.iptables.minSyncPeriodMs : EBPF_SYNC.minSyncPeriodMs,
  };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Checks resolved options, however they were built. Flags and file fields are
 * checked as they are read, so from resolveOptions only the rules that
 * involve several settings can fail here. Throws ConfigError ERR_CONFIG_INVALID.
 */
export function validateOptions(o: ProxyOptions): void {
  const fail = (message: string) => {
    throw new ConfigError(ConfigErrorCode.Invalid, message);
  };
  const check = (what: string, value: unknown, parse: () => unknown) => {
    try {
      parse();
    } catch (e) {
      if (e instanceof ValueError) fail(`invalid ${what} ${JSON.stringify(value)}: ${e.message}`);
      throw e;
    }
  };

  if (!(PROXY_MODES as readonly string[]).includes(o.mode)) check('proxy mode', o.mode, () => v.parseMode(o.mode));
  if (o.manifests !== undefined && (o.kubeconfig !== undefined || o.master !== undefined)) {
    const api = [
      o.kubeconfig !== undefined && `kubeconfig ${JSON.stringify(o.kubeconfig)}`,
      o.master !== undefined && `master ${JSON.stringify(o.master)}`,
    ]
      .filter(Boolean)
      .join(' and ');
    const where = o.configFile ? ` (from the flags, or clientConnection.kubeconfig in ${o.configFile})` : '';
    fail(
      `--manifests (standalone mode) cannot be combined with an API server, but ${api} ${api.includes(' and ') ? 'are' : 'is'} set${where}: ` +
        'choose one source of Services and EndpointSlices',
    );
  }
  if (o.hostname === '') fail('the node name is empty: set --hostname-override');
  check('--healthz-bind-address', o.healthzBindAddress, () => v.parseBindAddress(o.healthzBindAddress, 10256));
  check('--metrics-bind-address', o.metricsBindAddress, () => v.parseBindAddress(o.metricsBindAddress, 10249));
  check('--cluster-cidr', o.clusterCIDRs.join(','), () => v.parseClusterCidrs(o.clusterCIDRs.join(',')));
  check('--ipvs-exclude-cidrs', o.ipvs.excludeCIDRs.join(','), () => v.parseCidrList(o.ipvs.excludeCIDRs.join(',')));
  check('--ipvs-scheduler', o.ipvs.scheduler, () => {
    if (!(v.IPVS_SCHEDULERS as readonly string[]).includes(o.ipvs.scheduler)) v.parseScheduler(o.ipvs.scheduler || '?');
  });
  if (!Number.isInteger(o.iptables.masqueradeBit) || o.iptables.masqueradeBit < 0 || o.iptables.masqueradeBit > 31) {
    fail(`invalid --iptables-masquerade-bit ${o.iptables.masqueradeBit}: must be within [0, 31]`);
  }
  periods('the sync loop', o.sync);
  periods('--iptables-*', o.iptables);
  periods('--ipvs-*', o.ipvs);
  for (const [name, ms] of Object.entries({
    tcpTimeout: o.ipvs.tcpTimeoutMs,
    tcpFinTimeout: o.ipvs.tcpFinTimeoutMs,
    udpTimeout: o.ipvs.udpTimeoutMs,
  })) {
    if (!(ms >= 0)) fail(`invalid IPVS ${name} ${formatGoDuration(ms)}: must be 0 (leave the kernel's) or more`);
  }
  if (!isAbsolute(o.ebpf.bpffsRoot))
    fail(`invalid --bpffs-root ${JSON.stringify(o.ebpf.bpffsRoot)}: expected an absolute path`);
  if (o.ebpf.cgroupRoot !== undefined && !isAbsolute(o.ebpf.cgroupRoot)) {
    fail(`invalid --cgroup-root ${JSON.stringify(o.ebpf.cgroupRoot)}: expected an absolute path`);
  }
  if (o.ebpf.objectDir === '') fail('--bpf-object-dir is empty');
  check('--devices', o.ebpf.devices.join(','), () => v.parseDevices(o.ebpf.devices.join(',')));
  for (const [name, size] of Object.entries(o.ebpf.mapSizes)) {
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 32 - 1)
      fail(`invalid --bpf-map-sizes entry ${name}=${size}: sizes are 1 to 4294967295`);
  }
  check('--source-vip', o.winkernel.sourceVip, () => v.parseOptionalIp(o.winkernel.sourceVip));
  if (!LOG_LEVELS.includes(o.logLevel))
    fail(`invalid log level ${JSON.stringify(o.logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`);
  check('--logging-format', o.logFormat, () => v.parseLogFormat(o.logFormat));

  function periods(what: string, p: SyncPeriods) {
    if (!(p.syncPeriodMs > 0))
      fail(`invalid sync period for ${what}: ${formatGoDuration(p.syncPeriodMs)}; it must be greater than 0`);
    if (!(p.minSyncPeriodMs >= 0))
      fail(`invalid minimum sync period for ${what}: ${formatGoDuration(p.minSyncPeriodMs)}; it must be 0 or more`);
  }
}
