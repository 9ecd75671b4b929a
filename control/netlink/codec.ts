// Virtual and real servers to the addon's shapes and back. The numbers
// (address families, protocols, flags, forwarding methods) come from the
// addon, which takes them from <linux/ip_vs.h>; nothing is restated here.
import { isIP } from 'node:net';
import type {
  NativeIpvsConstants,
  NativeIpvsDest,
  NativeIpvsOp,
  NativeIpvsService,
  NativeIpvsStats,
} from '../native/addon.js';
import { IpvsError, IpvsErrorCode } from './errors.js';
import {
  isFwmarkKey,
  type Family,
  type ForwardingMethod,
  type IpvsChange,
  type IpvsStats,
  type ProgrammedRealServer,
  type ProgrammedVirtualServer,
  type Protocol,
  type RealServer,
  type RealServerKey,
  type VirtualServer,
  type VirtualServerKey,
} from './types.js';

export class IpvsCodec {
  readonly #c: NativeIpvsConstants;

  constructor(constants: NativeIpvsConstants) {
    this.#c = constants;
  }

  // --- to the addon ---

  serviceKey(k: VirtualServerKey): Partial<NativeIpvsService> {
    if (isFwmarkKey(k)) return { af: this.#af(k.family), fwmark: k.fwmark };
    return {
      af: this.#af(familyOf(k.address, 'virtual server')),
      protocol: this.#protocol(k.protocol),
      addr: k.address,
      port: k.port,
    };
  }

  service(vs: VirtualServer): Partial<NativeIpvsService> {
    const c = this.#c;
    const family = isFwmarkKey(vs) ? vs.family : familyOf(vs.address, 'virtual server');
    let flags = 0;
    if (vs.persistence) flags |= c.SVC_F_PERSISTENT;
    if (vs.onePacket) flags |= c.SVC_F_ONEPACKET;
    const [f1, f2, f3] = vs.schedulerFlags ?? [false, false, false];
    if (f1) flags |= c.SVC_F_SCHED1;
    if (f2) flags |= c.SVC_F_SCHED2;
    if (f3) flags |= c.SVC_F_SCHED3;
    return {
      ...this.serviceKey(vs),
      scheduler: vs.scheduler || 'rr',
      flags,
      timeout: vs.persistence?.timeoutSeconds ?? 0,
      netmask: vs.persistence?.netmask ?? (family === 6 ? 128 : 32),
    };
  }

  destKey(k: RealServerKey): Partial<NativeIpvsDest> {
    return { af: this.#af(familyOf(k.address, 'real server')), addr: k.address, port: k.port };
  }

  dest(rs: RealServer): Partial<NativeIpvsDest> {
    return {
      ...this.destKey(rs),
      weight: rs.weight,
      fwdMethod: this.#forwarding(rs.forwarding ?? 'masq'),
      upperThreshold: rs.upperThreshold ?? 0,
      lowerThreshold: rs.lowerThreshold ?? 0,
    };
  }

  change(ch: IpvsChange): NativeIpvsOp {
    switch (ch.op) {
      case 'addVirtualServer':
        return { op: 'addService', service: this.service(ch.virtualServer) };
      case 'editVirtualServer':
        return { op: 'editService', service: this.service(ch.virtualServer) };
      case 'deleteVirtualServer':
        return { op: 'deleteService', service: this.serviceKey(ch.virtualServer) };
      case 'addRealServer':
        return { op: 'addDest', service: this.serviceKey(ch.virtualServer), dest: this.dest(ch.realServer) };
      case 'editRealServer':
        return { op: 'editDest', service: this.serviceKey(ch.virtualServer), dest: this.dest(ch.realServer) };
      case 'deleteRealServer':
        return { op: 'deleteDest', service: this.serviceKey(ch.virtualServer), dest: this.destKey(ch.realServer) };
      case 'flush':
        return { op: 'flush' };
    }
  }

  // --- from the addon ---

  virtualServer(s: NativeIpvsService): ProgrammedVirtualServer {
    const c = this.#c;
    const family: Family = s.af === c.AF_INET6 ? 6 : 4;
    const key: VirtualServerKey = s.fwmark
      ? { fwmark: s.fwmark, family }
      : { address: s.addr, protocol: this.#protocolName(s.protocol), port: s.port };
    const vs: ProgrammedVirtualServer = { ...key, scheduler: s.scheduler };
    if (s.flags & c.SVC_F_PERSISTENT) vs.persistence = { timeoutSeconds: s.timeout, netmask: s.netmask };
    if (s.flags & c.SVC_F_ONEPACKET) vs.onePacket = true;
    const sched: [boolean, boolean, boolean] = [
      !!(s.flags & c.SVC_F_SCHED1),
      !!(s.flags & c.SVC_F_SCHED2),
      !!(s.flags & c.SVC_F_SCHED3),
    ];
    if (sched.some(Boolean)) vs.schedulerFlags = sched;
    if (s.stats) vs.stats = stats(s.stats);
    return vs;
  }

  realServer(d: NativeIpvsDest): ProgrammedRealServer {
    const rs: ProgrammedRealServer = {
      address: d.addr,
      port: d.port,
      weight: d.weight,
      forwarding: this.#forwardingName(d.fwdMethod),
      upperThreshold: d.upperThreshold,
      lowerThreshold: d.lowerThreshold,
      activeConnections: d.activeConns,
      inactiveConnections: d.inactConns,
      persistentConnections: d.persistConns,
    };
    if (d.stats) rs.stats = stats(d.stats);
    return rs;
  }

  // --- numbers ---

  #af(f: Family): number {
    return f === 6 ? this.#c.AF_INET6 : this.#c.AF_INET;
  }

  #protocol(p: Protocol): number {
    const n = { TCP: this.#c.IPPROTO_TCP, UDP: this.#c.IPPROTO_UDP, SCTP: this.#c.IPPROTO_SCTP }[p];
    if (n === undefined) throw invalid(`protocol ${String(p)} is not TCP, UDP or SCTP`);
    return n;
  }

  #protocolName(n: number): Protocol {
    if (n === this.#c.IPPROTO_UDP) return 'UDP';
    if (n === this.#c.IPPROTO_SCTP) return 'SCTP';
    return 'TCP';
  }

  #forwarding(m: ForwardingMethod): number {
    const c = this.#c;
    const n = { masq: c.CONN_F_MASQ, local: c.CONN_F_LOCALNODE, tunnel: c.CONN_F_TUNNEL, route: c.CONN_F_DROUTE }[m];
    if (n === undefined) throw invalid(`forwarding method ${String(m)} is not masq, local, tunnel or route`);
    return n;
  }

  #forwardingName(n: number): ForwardingMethod {
    const c = this.#c;
    if (n === c.CONN_F_LOCALNODE) return 'local';
    if (n === c.CONN_F_TUNNEL) return 'tunnel';
    if (n === c.CONN_F_DROUTE) return 'route';
    return 'masq';
  }
}

function familyOf(address: string, what: string): Family {
  const v = isIP(address);
  if (v === 4 || v === 6) return v;
  throw invalid(`${what} address "${address}" is not an IP address`);
}

function invalid(message: string): IpvsError {
  return new IpvsError(IpvsErrorCode.InvalidArgument, message, { op: 'ipvs.encode' });
}

function stats(s: NativeIpvsStats): IpvsStats {
  return {
    connections: s.conns,
    packetsIn: s.inPkts,
    packetsOut: s.outPkts,
    bytesIn: s.inBytes,
    bytesOut: s.outBytes,
    connectionsPerSecond: s.cps,
    packetsInPerSecond: s.inPps,
    packetsOutPerSecond: s.outPps,
    bytesInPerSecond: s.inBps,
    bytesOutPerSecond: s.outBps,
  };
}
