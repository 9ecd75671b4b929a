// What IPVS programs, in the words of `ipvsadm` and kube-proxy: a virtual
// server (a service address, protocol and port, or a firewall mark) and its
// real servers. These are the shapes the proxier diffs; codec.ts turns them
// into the addon's and back.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Family = 4 | 6;

/** How packets reach a real server; kube-proxy uses masquerading (NAT) only. */
export type ForwardingMethod = 'masq' | 'local' | 'tunnel' | 'route';

/** A virtual server addressed by VIP, protocol and port (what kube-proxy programs). */
export interface AddressKey {
  address: string;
  protocol: Protocol;
  port: number;
}

/** A virtual server matched by a firewall mark set by iptables. */
export interface FwmarkKey {
  fwmark: number;
  family: Family;
}

export type VirtualServerKey = AddressKey | FwmarkKey;

export interface VirtualServerOptions {
  /** rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh: the kernel module is ip_vs_<scheduler>. */
  scheduler: string;
  /**
   * Persistence, which is how kube-proxy does ClientIP affinity: a client (or
   * every client of one /netmask) keeps its real server until `timeoutSeconds`
   * pass without a connection. Absent: every connection is scheduled anew.
   */
  persistence?: { timeoutSeconds: number; netmask?: number };
  /** Schedule each UDP datagram on its own (the kernel's one-packet scheduling). */
  onePacket?: boolean;
  /** Scheduler-specific flags 1–3 (sh: 1 = fallback, 2 = hash the port too; mh alike). */
  schedulerFlags?: [boolean, boolean, boolean];
}

export type VirtualServer = VirtualServerKey & VirtualServerOptions;

export interface RealServerKey {
  address: string;
  port: number;
}

export interface RealServer extends RealServerKey {
  /** 0 stops new connections and keeps existing ones: how a removed endpoint drains. */
  weight: number;
  forwarding?: ForwardingMethod;
  /** Connection thresholds; 0 is no limit. */
  upperThreshold?: number;
  lowerThreshold?: number;
}

/** Counters the kernel keeps per virtual and per real server. */
export interface IpvsStats {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Rates, estimated by the kernel every 2 s. */
  connectionsPerSecond: number;
  packetsInPerSecond: number;
  packetsOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
}

/** A virtual server as read back: everything it was given, and its counters. */
export type ProgrammedVirtualServer = VirtualServer & { stats?: IpvsStats };

/** A real server as read back, with the counts graceful removal waits on. */
export interface ProgrammedRealServer extends Required<RealServer> {
  /** Established connections (TCP) the kernel still tracks to it. */
  activeConnections: number;
  /** Other connections: TCP not established or closing, and UDP flows. */
  inactiveConnections: number;
  /** Persistence templates that point at it. */
  persistentConnections: number;
  stats?: IpvsStats;
}

export interface IpvsTimeouts {
  /** Seconds; in a set, 0 leaves the kernel's value unchanged. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsInfo {
  /** "1.2.1": the kernel's IPVS version. */
  version: string;
  connectionTableSize: number;
}

/** One change for Ipvs.apply; a sync sends many at once. */
export type IpvsChange =
  | { op: 'addVirtualServer' | 'editVirtualServer'; virtualServer: VirtualServer }
  | { op: 'deleteVirtualServer'; virtualServer: VirtualServerKey }
  | { op: 'addRealServer' | 'editRealServer'; virtualServer: VirtualServerKey; realServer: RealServer }
  | { op: 'deleteRealServer'; virtualServer: VirtualServerKey; realServer: RealServerKey }
  | { op: 'flush' };

export const isFwmarkKey = (k: VirtualServerKey): k is FwmarkKey => 'fwmark' in k;

/** A stable text key, as ipvsadm prints it: "TCP 10.96.0.1:80", "UDP [fd00::a]:53", "FWM 7 IPv6". */
export function virtualServerId(k: VirtualServerKey): string {
  if (isFwmarkKey(k)) return `FWM ${k.fwmark}${k.family === 6 ? ' IPv6' : ''}`;
  return `${k.protocol} ${hostPort(k.address, k.port)}`;
}

/** "10.244.1.5:8080", "[fd00::5]:8080". */
export function realServerId(k: RealServerKey): string {
  return hostPort(k.address, k.port);
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
