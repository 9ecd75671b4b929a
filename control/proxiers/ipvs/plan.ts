// The difference between the virtual servers a sync wants and what the kernel
// holds, as IPVS changes. Pure, like Katran's placement: the proxier reads
// the kernel, this decides, the proxier writes only the delta.
//
// Removing a real server is graceful, as kube-proxy's graceful termination
// (pkg/proxy/ipvs/graceful_termination.go): a TCP or SCTP real server that
// still has connections gets weight 0, so the scheduler sends it nothing new
// while its connections finish, and is deleted by a later sync once the
// kernel counts none. UDP has no end to wait for: it goes at once (and its
// flows are moved by expire_nodest_conn and the conntrack clean-up).
import {
  realServerId,
  virtualServerId,
  type IpvsChange,
  type ProgrammedRealServer,
  type ProgrammedVirtualServer,
  type RealServer,
  type VirtualServer,
} from '../../netlink/types.js';
import type { VirtualServerLayout } from './layout.js';

export interface ProgrammedEntry {
  virtualServer: ProgrammedVirtualServer;
  realServers: ProgrammedRealServer[];
}

export interface PlanInput {
  /** The virtual servers in scope that should exist, by virtualServerId. */
  desired: ReadonlyMap<string, VirtualServerLayout>;
  /** What the kernel holds of the virtual servers in scope, by virtualServerId. */
  programmed: ReadonlyMap<string, ProgrammedEntry>;
  /** Whether an unwanted virtual server may be deleted (--ipvs-exclude-cidrs says no to some). */
  mayDelete: (vs: ProgrammedVirtualServer) => boolean;
}

export interface Plan {
  changes: IpvsChange[];
  /** Virtual servers left with a real server at weight 0 that still has connections. */
  draining: Set<string>;
  /** Real servers at weight 0 waiting for their connections to end, after this plan. */
  drainingRealServers: number;
}

export function planChanges({ desired, programmed, mayDelete }: PlanInput): Plan {
  const first: IpvsChange[] = [];
  const realServerChanges: IpvsChange[] = [];
  const last: IpvsChange[] = [];
  const draining = new Set<string>();
  let drainingRealServers = 0;

  for (const [id, want] of desired) {
    const have = programmed.get(id);
    const vs = want.virtualServer;
    if (!have) {
      first.push({ op: 'addVirtualServer', virtualServer: vs });
      for (const rs of want.realServers)
        realServerChanges.push({ op: 'addRealServer', virtualServer: vs, realServer: rs });
      continue;
    }
    if (!sameOptions(vs, have.virtualServer)) first.push({ op: 'editVirtualServer', virtualServer: vs });
    const wanted = new Map(want.realServers.map((rs) => [realServerId(rs), rs]));
    for (const rs of have.realServers) {
      const id2 = realServerId(rs);
      const w = wanted.get(id2);
      if (w) {
        wanted.delete(id2);
        if (!sameRealServer(w, rs)) realServerChanges.push({ op: 'editRealServer', virtualServer: vs, realServer: w });
        continue;
      }
      const key = { address: rs.address, port: rs.port };
      const connections = rs.activeConnections + rs.inactiveConnections;
      if (vs.protocol === 'UDP' || connections === 0) {
        realServerChanges.push({ op: 'deleteRealServer', virtualServer: vs, realServer: key });
        continue;
      }
      if (rs.weight !== 0)
        realServerChanges.push({
          op: 'editRealServer',
          virtualServer: vs,
          realServer: { ...key, weight: 0, forwarding: rs.forwarding },
        });
      draining.add(id);
      drainingRealServers++;
    }
    for (const rs of wanted.values())
      realServerChanges.push({ op: 'addRealServer', virtualServer: vs, realServer: rs });
  }
  for (const [id, have] of programmed) {
    if (desired.has(id) || !mayDelete(have.virtualServer)) continue;
    last.push({ op: 'deleteVirtualServer', virtualServer: have.virtualServer });
  }
  return { changes: [...first, ...realServerChanges, ...last], draining, drainingRealServers };
}

/** The virtual server's id for the maps planChanges takes. */
export const idOf = virtualServerId;

function sameOptions(want: VirtualServer, have: ProgrammedVirtualServer): boolean {
  const wp = want.persistence;
  const hp = have.persistence;
  if (!!wp !== !!hp) return false;
  if (wp && hp && (wp.timeoutSeconds !== hp.timeoutSeconds || (wp.netmask !== undefined && wp.netmask !== hp.netmask)))
    return false;
  return (want.scheduler || 'rr') === have.scheduler && !!want.onePacket === !!have.onePacket;
}

function sameRealServer(want: RealServer, have: ProgrammedRealServer): boolean {
  return (
    want.weight === have.weight &&
    (want.forwarding ?? 'masq') === have.forwarding &&
    (want.upperThreshold ?? 0) === have.upperThreshold &&
    (want.lowerThreshold ?? 0) === have.lowerThreshold
  );
}
