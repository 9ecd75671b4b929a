// The start-up check of the ipvs mode: does this kernel have IPVS? As
// kube-proxy does, a missing ip_vs is loaded with modprobe first; if IPVS is
// still not there, the error names what is missing and what modprobe said.
// The check only asks: it creates no interface, rule, service or pin.
import { spawnSync } from 'node:child_process';
import { IpvsError, IpvsErrorCode } from './errors.js';
import { Ipvs, type OpenOptions } from './ipvs.js';
import type { IpvsInfo } from './types.js';

const MISSING_HINT =
  'run on a kernel built with CONFIG_IP_VS, or with its ip_vs module installed (in a container: /lib/modules mounted from the host)';

export interface IpvsRequirementOptions extends OpenOptions {
  /** What needs IPVS, to start the message with ("--proxy-mode=ipvs"). */
  purpose?: string;
  /** Loads a kernel module: undefined when it did, else why not. Default: `modprobe`. */
  loadModule?: (name: string) => string | undefined;
  /** Opens IPVS (a test seam). Default: Ipvs.open. */
  open?: (opts: OpenOptions) => Pick<Ipvs, 'info' | 'close'>;
}

/** Returns the kernel's IPVS version, or throws ERR_IPVS_UNAVAILABLE. */
export function requireIpvs(opts: IpvsRequirementOptions = {}): IpvsInfo {
  const open = opts.open ?? ((o: OpenOptions) => Ipvs.open(o));
  const loadModule = opts.loadModule ?? modprobe;
  const openOpts: OpenOptions = opts.netns ? { netns: opts.netns } : {};
  const tryOpen = (): Pick<Ipvs, 'info' | 'close'> | IpvsError => {
    try {
      return open(openOpts);
    } catch (e) {
      if (e instanceof IpvsError && e.code === IpvsErrorCode.Unavailable) return e;
      throw e;
    }
  };
  let ipvs = tryOpen();
  let modprobeSaid: string | undefined;
  if (ipvs instanceof IpvsError) {
    modprobeSaid = loadModule('ip_vs');
    if (modprobeSaid === undefined) ipvs = tryOpen();
  }
  if (ipvs instanceof IpvsError) {
    const why =
      modprobeSaid === undefined
        ? '`modprobe ip_vs` succeeded, but the family is still missing'
        : `\`modprobe ip_vs\` failed: ${modprobeSaid}`;
    const message = `${opts.purpose ? `${opts.purpose} needs IPVS, but ` : ''}this kernel has no IPVS: the generic netlink family "IPVS" is not registered, and ${why}`;
    throw new IpvsError(IpvsErrorCode.Unavailable, message, {
      op: 'ipvs.open',
      errno: ipvs.errno,
      target: 'IPVS',
      hint: MISSING_HINT,
      cause: ipvs,
    });
  }
  try {
    return ipvs.info();
  } finally {
    ipvs.close();
  }
}

function modprobe(name: string): string | undefined {
  const out = spawnSync('modprobe', [name], { encoding: 'utf8', timeout: 10_000 });
  if (out.error)
    return (out.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'modprobe is not installed (Debian: apt-get install kmod)'
      : out.error.message;
  if (out.status === 0) return undefined;
  return out.stderr.trim() || `exit status ${out.status}`;
}
