// The kernel settings the ipvs mode needs, in the network namespace it runs
// in (net.* sysctls are per namespace), set as kube-proxy sets them.
import { readFileSync, writeFileSync } from 'node:fs';
import { ProxierErrorCode } from '../errors.js';

export interface Sysctl {
  /** "net/ipv4/vs/conntrack": the path under /proc/sys. */
  path: string;
  value: string;
  /** Why, for the log and the error. */
  why: string;
  /** Start-up fails when a required setting cannot be made. */
  required: boolean;
}

export function ipvsSysctls(opts: { strictARP: boolean }): Sysctl[] {
  const out: Sysctl[] = [
    // Netfilter keeps conntrack entries for IPVS connections: MASQUERADE (off-cluster clients, hairpin) needs them.
    { path: 'net/ipv4/vs/conntrack', value: '1', why: 'masquerading of IPVS connections', required: true },
    // A packet of a connection whose real server is gone ends that connection, and the next one is scheduled anew.
    {
      path: 'net/ipv4/vs/expire_nodest_conn',
      value: '1',
      why: 'connections to removed real servers end',
      required: false,
    },
    // Persistence templates of a real server at weight 0 expire, so ClientIP affinity moves off a draining endpoint.
    {
      path: 'net/ipv4/vs/expire_quiescent_template',
      value: '1',
      why: 'affinity leaves draining real servers',
      required: false,
    },
    { path: 'net/ipv4/ip_forward', value: '1', why: 'forwarding to real servers on other nodes', required: true },
  ];
  if (opts.strictARP) {
    // Service addresses sit on kube-ipvs0: without these the node would answer ARP for them on every interface.
    out.push(
      { path: 'net/ipv4/conf/all/arp_ignore', value: '1', why: '--ipvs-strict-arp', required: true },
      { path: 'net/ipv4/conf/all/arp_announce', value: '2', why: '--ipvs-strict-arp', required: true },
    );
  }
  return out;
}

export class SysctlError extends Error {
  readonly code = ProxierErrorCode.IpvsSysctl;
}

/** Sets each value that differs; returns what it changed. A required one that cannot be set throws. */
export function applySysctls(all: Sysctl[], root = '/proc/sys'): Array<{ path: string; from: string; to: string }> {
  const changed: Array<{ path: string; from: string; to: string }> = [];
  for (const s of all) {
    const file = `${root}/${s.path}`;
    let from: string;
    try {
      from = readFileSync(file, 'utf8').trim();
      if (from === s.value) continue;
      writeFileSync(file, s.value);
    } catch (err) {
      if (!s.required) continue;
      throw new SysctlError(
        `cannot set ${s.path.replaceAll('/', '.')}=${s.value} (needed for ${s.why}): ${(err as Error).message}`,
      );
    }
    changed.push({ path: s.path.replaceAll('/', '.'), from, to: s.value });
  }
  return changed;
}
