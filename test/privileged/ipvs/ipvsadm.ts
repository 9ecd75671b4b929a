// `ipvsadm -Ln` read into plain objects, so tests can compare what our
// netlink client reads back with what the reference tool sees.
import type { TestNet } from '../../harness/netns.js';

export interface IpvsadmService {
  /** "TCP 10.96.0.10:80", "UDP [fd00::10]:53", "FWM 7" — as virtualServerId() spells it. */
  id: string;
  scheduler: string;
  persistent: number | undefined;
  /** Printed for IPv4 persistence with a netmask other than /32. */
  mask: string | undefined;
  realServers: Array<{ id: string; forward: string; weight: number; active: number; inactive: number }>;
}

const SERVICE = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$/;
const FWMARK = /^FWM\s+(\d+)\s+(IPv6\s+)?(\S+)(.*)$/;
const REAL = /^\s+->\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+)\s+(\d+)/;

export function ipvsadmList(net: TestNet, ns: string): IpvsadmService[] {
  const out: IpvsadmService[] = [];
  for (const line of net.exec(ns, 'ipvsadm', ['-Ln']).split('\n')) {
    const svc = SERVICE.exec(line);
    const fwm = svc ? null : FWMARK.exec(line);
    if (svc || fwm) {
      const rest = (svc ? svc[4] : fwm![4])!;
      out.push({
        id: svc ? `${svc[1]} ${svc[2]}` : `FWM ${fwm![1]}${fwm![2] ? ' IPv6' : ''}`,
        scheduler: (svc ? svc[3] : fwm![3])!,
        persistent: /persistent (\d+)/.exec(rest) ? Number(/persistent (\d+)/.exec(rest)![1]) : undefined,
        mask: /mask (\S+)/.exec(rest)?.[1],
        realServers: [],
      });
      continue;
    }
    const real = REAL.exec(line);
    if (real && real[1] !== 'RemoteAddress:Port' && out.length) {
      out[out.length - 1]!.realServers.push({
        id: real[1]!,
        forward: real[2]!,
        weight: Number(real[3]),
        active: Number(real[4]),
        inactive: Number(real[5]),
      });
    }
  }
  for (const s of out) s.realServers.sort((a, b) => a.id.localeCompare(b.id));
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
