// planChanges: the delta between the virtual servers a sync wants and what
// the kernel holds, with kube-proxy's graceful removal of real servers.
import { describe, expect, it } from 'vitest';
import { buildServicePorts } from '../../../control/model/service-port.js';
import {
  virtualServerId,
  type ProgrammedRealServer,
  type ProgrammedVirtualServer,
} from '../../../control/netlink/types.js';
import { portLayout, type VirtualServerLayout } from '../../../control/proxiers/ipvs/layout.js';
import { planChanges, type ProgrammedEntry } from '../../../control/proxiers/ipvs/plan.js';
import { NODE, endpoint, service, slice } from '../model/fixtures.js';

const VS = { address: '10.96.0.10', protocol: 'TCP' as const, port: 80, scheduler: 'rr' };
const ID = 'TCP 10.96.0.10:80';

const want = (realServers: string[], vs = VS): Map<string, VirtualServerLayout> =>
  new Map([[ID, { virtualServer: vs, realServers: realServers.map((a) => ({ address: a, port: 8080, weight: 1 })) }]]);

function rs(address: string, o: Partial<ProgrammedRealServer> = {}): ProgrammedRealServer {
  return {
    address,
    port: 8080,
    weight: 1,
    forwarding: 'masq',
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConnections: 0,
    inactiveConnections: 0,
    persistentConnections: 0,
    ...o,
  };
}

const have = (realServers: ProgrammedRealServer[], vs: ProgrammedVirtualServer = VS): Map<string, ProgrammedEntry> =>
  new Map([[ID, { virtualServer: vs, realServers }]]);
const all = () => true;

describe('planChanges', () => {
  it('adds a new virtual server before its real servers', () => {
    const p = planChanges({ desired: want(['10.244.1.5', '10.244.2.7']), programmed: new Map(), mayDelete: all });
    expect(p.changes.map((c) => c.op)).toEqual(['addVirtualServer', 'addRealServer', 'addRealServer']);
  });

  it('writes nothing when the kernel already holds what is wanted', () => {
    expect(
      planChanges({ desired: want(['10.244.1.5']), programmed: have([rs('10.244.1.5')]), mayDelete: all }).changes,
    ).toEqual([]);
  });

  it('edits a virtual server whose scheduler or persistence changed', () => {
    const p = planChanges({
      desired: want(['10.244.1.5'], { ...VS, persistence: { timeoutSeconds: 300 } } as typeof VS),
      programmed: have([rs('10.244.1.5')]),
      mayDelete: all,
    });
    expect(p.changes.map((c) => c.op)).toEqual(['editVirtualServer']);
    const q = planChanges({
      desired: want(['10.244.1.5'], { ...VS, scheduler: 'lc' }),
      programmed: have([rs('10.244.1.5')]),
      mayDelete: all,
    });
    expect(q.changes.map((c) => c.op)).toEqual(['editVirtualServer']);
  });

  it('drains a removed TCP real server with connections at weight 0, and deletes it once it has none', () => {
    const busy = planChanges({
      desired: want(['10.244.1.5']),
      programmed: have([rs('10.244.1.5'), rs('10.244.2.7', { activeConnections: 2 })]),
      mayDelete: all,
    });
    expect(busy.changes).toEqual([
      {
        op: 'editRealServer',
        virtualServer: VS,
        realServer: { address: '10.244.2.7', port: 8080, weight: 0, forwarding: 'masq' },
      },
    ]);
    expect(busy.draining).toEqual(new Set([ID]));
    expect(busy.drainingRealServers).toBe(1);

    const still = planChanges({
      desired: want(['10.244.1.5']),
      programmed: have([rs('10.244.1.5'), rs('10.244.2.7', { weight: 0, inactiveConnections: 1 })]),
      mayDelete: all,
    });
    expect(still.changes).toEqual([]);
    expect(still.draining).toEqual(new Set([ID]));

    const done = planChanges({
      desired: want(['10.244.1.5']),
      programmed: have([rs('10.244.1.5'), rs('10.244.2.7', { weight: 0 })]),
      mayDelete: all,
    });
    expect(done.changes).toEqual([
      { op: 'deleteRealServer', virtualServer: VS, realServer: { address: '10.244.2.7', port: 8080 } },
    ]);
    expect(done.draining).toEqual(new Set());
  });

  it('brings a draining real server back to weight 1 when its endpoint returns', () => {
    const p = planChanges({
      desired: want(['10.244.2.7']),
      programmed: have([rs('10.244.2.7', { weight: 0, activeConnections: 1 })]),
      mayDelete: all,
    });
    expect(p.changes).toEqual([
      { op: 'editRealServer', virtualServer: VS, realServer: { address: '10.244.2.7', port: 8080, weight: 1 } },
    ]);
  });

  it('deletes a removed UDP real server at once, connections or not', () => {
    const udp = { ...VS, protocol: 'UDP' as const, port: 53 };
    const id = 'UDP 10.96.0.10:53';
    const p = planChanges({
      desired: new Map([[id, { virtualServer: udp, realServers: [] }]]),
      programmed: new Map([[id, { virtualServer: udp, realServers: [rs('10.244.2.7', { inactiveConnections: 3 })] }]]),
      mayDelete: all,
    });
    expect(p.changes.map((c) => c.op)).toEqual(['deleteRealServer']);
  });

  it('deletes unwanted virtual servers last, except those it may not touch', () => {
    const other = { address: '10.0.0.1', protocol: 'TCP' as const, port: 443, scheduler: 'rr' };
    const programmed = new Map([
      ...have([rs('10.244.1.5')]),
      ['TCP 10.0.0.1:443', { virtualServer: other, realServers: [] }],
    ]);
    const p = planChanges({
      desired: new Map(),
      programmed,
      mayDelete: (vs) => 'address' in vs && vs.address !== '10.0.0.1',
    });
    expect(p.changes).toEqual([{ op: 'deleteVirtualServer', virtualServer: VS }]);
  });
});

describe('planChanges with NodePorts', () => {
  const [nodePort] = buildServicePorts(
    service({
      type: 'NodePort',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    [slice('s1', [endpoint('10.244.2.7')])],
    NODE,
  );
  /** What the sync wants for the port on a node whose NodePorts answer on `addresses`. */
  const wanted = (addresses: string[]) =>
    new Map(
      portLayout(nodePort!, {
        family: 'IPv4',
        scheduler: '',
        nodePortAddresses: addresses,
        nodeAddresses: addresses,
      }).virtualServers.map((v) => [virtualServerId(v.virtualServer), v] as const),
    );
  /** The kernel holding exactly what `desired` asks, as it reads back. */
  const holding = (desired: Map<string, VirtualServerLayout>) =>
    new Map(
      [...desired].map(
        ([id, v]) =>
          [id, { virtualServer: v.virtualServer, realServers: v.realServers.map((r) => rs(r.address)) }] as const,
      ),
    );

  it('follows new node addresses: a virtual server on the new one, the old one deleted, the ClusterIP untouched', () => {
    const before = wanted(['172.31.0.11', '172.31.0.12']);
    const p = planChanges({
      desired: wanted(['172.31.0.11', '172.31.0.13']),
      programmed: holding(before),
      mayDelete: all,
    });
    expect(p.changes.map((c) => [c.op, 'virtualServer' in c ? virtualServerId(c.virtualServer) : ''])).toEqual([
      ['addVirtualServer', 'TCP 172.31.0.13:30080'],
      ['addRealServer', 'TCP 172.31.0.13:30080'],
      ['deleteVirtualServer', 'TCP 172.31.0.12:30080'],
    ]);
  });

  it('writes nothing when the node and its NodePorts are as programmed (a restarted daemon adopts them)', () => {
    const now = wanted(['172.31.0.11', '172.31.0.12']);
    expect(planChanges({ desired: now, programmed: holding(now), mayDelete: all }).changes).toEqual([]);
  });
});
