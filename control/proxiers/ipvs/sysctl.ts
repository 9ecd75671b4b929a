// The kernel settings the ipvs mode needs, in the network namespace it runs
// in (net.* sysctls are per namespace), set as kube-proxy sets them. Each
// family's proxier sets what it needs, so both set net.ipv4.vs.* (IPVS keeps
// them under ipv4 for both families): the second finds them set and writes
// nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import type { IPFamily } from '../../sources/types.js';
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

/**
 * The settings of one family's proxier (IPv4 when left out). IPv6
 * forwarding is not among them: kube-proxy never sets it (on a node that
 * takes its address or routes from router advertisements, forwarding on
 * stops accepting them, unless accept_ra is 2), so the IPv6 proxier only
 * reads it (ipv6Forwarding) and warns.
 */
export function ipvsSysctls(opts: { strictARP: boolean; family?: IPFamily }): Sysctl[] {
  const ipvs: Sysctl[] = [
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
  ];
  if (opts.family === 'IPv6') return ipvs;
  const out: Sysctl[] = [
    ...ipvs,
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

/**
 * Whether the namespace forwards IPv6 (net.ipv6.conf.all.forwarding):
 * without it the replies of a real server to a client IPVS forwarded to it
 * (a pod, another node, a client outside) are never routed back through
 * IPVS. undefined when it cannot be read (IPv6 disabled).
 */
export function ipv6Forwarding(root = '/proc/sys'): boolean | undefined {
  try {
    return readFileSync(`${root}/net/ipv6/conf/all/forwarding`, 'utf8').trim() !== '0';
  } catch {
    return undefined;
  }
}
