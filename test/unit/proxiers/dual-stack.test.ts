// The dual-stack meta proxier: each family proxier is handed its family's
// share of every service port and of the node's facts, as kube-proxy's
// per-family proxiers see them; a family the mode has no proxier for is
// reported per address. Service ports come from the real model.
import { describe, expect, it } from 'vitest';
import type { ProxyMode } from '../../../control/config/options.js';
import { servicePortOfFamily } from '../../../control/model/family.js';
import { nodeFacts, nodePortAddressSpec } from '../../../control/model/node-facts.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import type { ServicePortName, ServicePortState } from '../../../control/model/types.js';
import { DualStackProxier } from '../../../control/proxiers/dual-stack.js';
import type { Proxier, SyncRequest, SyncResult } from '../../../control/proxiers/types.js';
import type { Service } from '../../../control/sources/types.js';
import { NODE, endpoint, service, slice } from '../model/fixtures.js';

class FamilyProxier implements Proxier {
  readonly mode = 'fake' as ProxyMode;
  readonly syncs: SyncRequest[] = [];
  fail = false;
  startFails = false;
  constructor(readonly label: string) {}
  async start() {
    if (this.startFails) throw new Error(`no ${this.label} nat table`);
  }
  async sync(req: SyncRequest): Promise<SyncResult> {
    if (this.fail) throw new Error(`${this.label} failed`);
    this.syncs.push(req);
    return { written: req.desired.size, removed: req.removed.size, skipped: [] };
  }
  view() {
    return {
      programmedCount: () => this.syncs.at(-1)?.desired.size ?? null,
      mapCount: () => null,
      interfaces: () => [{ name: `${this.label}0`, ifindex: 1 }],
      servicePorts: (ports: readonly ServicePortState[]) => ports.map((p) => ({ chains: [`${this.label}-${p.name}`] })),
      drops: async () => ({ NO_BACKEND: this.label === 'v4' ? 2n : 3n }),
    };
  }
  async stop() {}
  async cleanup() {}
}

const DUAL: Partial<Service> = {
  type: 'LoadBalancer',
  clusterIPs: ['10.96.0.10', 'fd00::10'],
  externalIPs: ['192.0.2.10', '2001:db8::10'],
  loadBalancerIPs: ['198.51.100.10', '2001:db8:1::10'],
  loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8:2::/48'],
  ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
};
const SLICES = [
  slice('v4', [endpoint('10.244.1.5', { nodeName: NODE.nodeName }), endpoint('10.244.2.7')]),
  slice('v6', [endpoint('fd00:244::5')], { addressType: 'IPv6' }),
];
const FACTS = nodeFacts({
  nodeName: NODE.nodeName,
  node: { addresses: ['192.168.1.5', 'fd00:1::5'], podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] },
  localAddresses: [],
  nodePortAddresses: nodePortAddressSpec([]),
});

function port(overrides: Partial<Service> = {}, slices = SLICES): ServicePortState {
  return buildServicePorts(service(overrides), slices, NODE)[0]!;
}

function request(
  ports: ServicePortState[],
  opts: { full?: boolean; changed?: string[]; removed?: ServicePortState[] } = {},
): SyncRequest {
  const desired = new Map<ServicePortName, ServicePortState>(ports.map((p) => [p.name, p]));
  return {
    desired,
    changed: new Set(opts.changed ?? desired.keys()),
    removed: new Map((opts.removed ?? []).map((p) => [p.name, p])),
    full: opts.full ?? true,
    node: FACTS,
  };
}

const texts = (sp: ServicePortState | undefined) => sp?.clusterEndpoints?.map((e) => e.ip);

describe('servicePortOfFamily', () => {
  it("keeps the family's addresses, ranges and endpoints, and its own hasAnyEndpoints", () => {
    const sp = port(DUAL);
    const v4 = servicePortOfFamily(sp, 'IPv4')!;
    expect(v4).toMatchObject({
      clusterIPs: ['10.96.0.10'],
      externalIPs: ['192.0.2.10'],
      loadBalancerIPs: ['198.51.100.10'],
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      nodePort: 30080,
      hasAnyEndpoints: true,
    });
    expect(v4.endpoints.map((e) => e.ip)).toEqual(['10.244.1.5', '10.244.2.7']);
    expect(texts(v4)).toEqual(['10.244.1.5', '10.244.2.7']);
    const v6 = servicePortOfFamily(sp, 'IPv6')!;
    expect(v6).toMatchObject({ clusterIPs: ['fd00::10'], externalIPs: ['2001:db8::10'], nodePort: 30080 });
    expect(texts(v6)).toEqual(['fd00:244::5']);
    // The merged state is the API's and stays whole.
    expect(sp.clusterIPs).toEqual(['10.96.0.10', 'fd00::10']);
  });

  it('a dual-stack port whose slices are all IPv6 has no endpoints in IPv4 (rejected there, not half-programmed)', () => {
    const sp = port({ type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00::10'], ports: DUAL.ports! }, [SLICES[1]!]);
    expect(sp.hasAnyEndpoints).toBe(true);
    expect(servicePortOfFamily(sp, 'IPv4')).toMatchObject({
      endpoints: [],
      clusterEndpoints: [],
      hasAnyEndpoints: false,
    });
    expect(servicePortOfFamily(sp, 'IPv6')).toMatchObject({ hasAnyEndpoints: true, clusterIPs: ['fd00::10'] });
  });

  it('a port of one family only is handed on as it is, and not at all to the other family', () => {
    const sp = port({}, [SLICES[0]!]);
    expect(servicePortOfFamily(sp, 'IPv4')).toBe(sp);
    expect(servicePortOfFamily(sp, 'IPv6')).toBeUndefined();
  });

  it('a port external only through the other family is internal in this one (no path it does not take)', () => {
    const sp = port({
      clusterIPs: ['10.96.0.10', 'fd00::10'],
      externalIPs: ['2001:db8::10'],
      internalTrafficPolicy: 'Local',
    });
    expect(sp.externallyAccessible).toBe(true);
    const v4 = servicePortOfFamily(sp, 'IPv4')!;
    expect(v4.externallyAccessible).toBe(false);
    expect(v4.clusterEndpoints).toBeNull();
    expect(v4.localEndpoints?.map((e) => e.ip)).toEqual(['10.244.1.5']);
  });
});

describe('DualStackProxier', () => {
  it('a mode serving IPv4 only: gets the IPv4 share and the IPv4 node facts; each IPv6 address is reported', async () => {
    const v4 = new FamilyProxier('v4');
    const meta = new DualStackProxier('fake' as ProxyMode, { IPv4: v4 });
    const dual = port(DUAL);
    const only6 = port({ name: 'six', clusterIPs: ['fd00::20'] }, [
      slice('s6', [endpoint('fd00:244::6')], { addressType: 'IPv6', serviceName: 'six' }),
    ]);
    const result = await meta.sync(request([dual, only6]));

    const [req] = v4.syncs;
    expect([...req!.desired.keys()]).toEqual([dual.name]);
    expect(req!.desired.get(dual.name)!.clusterIPs).toEqual(['10.96.0.10']);
    expect(req!.node).toEqual({
      nodeName: NODE.nodeName,
      addresses: ['192.168.1.5'],
      podCIDRs: ['10.244.1.0/24'],
      nodePortAddresses: {},
      localAddresses: [],
    });
    expect(result.skipped).toEqual([
      {
        name: dual.name,
        reason: 'IPv6 ClusterIP fd00::10 is not programmed by the fake mode yet (it serves IPv4 only)',
      },
      {
        name: dual.name,
        reason: 'IPv6 externalIP 2001:db8::10 is not programmed by the fake mode yet (it serves IPv4 only)',
      },
      {
        name: dual.name,
        reason: 'IPv6 load-balancer IP 2001:db8:1::10 is not programmed by the fake mode yet (it serves IPv4 only)',
      },
      {
        name: only6.name,
        reason: 'IPv6 ClusterIP fd00::20 is not programmed by the fake mode yet (it serves IPv4 only)',
      },
    ]);
    expect(meta.families).toEqual(['IPv4']);
    expect(meta.primary).toBe(v4);
    // One family: its own view, unchanged.
    expect(meta.view().interfaces()).toEqual([{ name: 'v40', ifindex: 1 }]);
  });

  it('two families: each gets its share, results add up, views merge', async () => {
    const v4 = new FamilyProxier('v4');
    const v6 = new FamilyProxier('v6');
    const meta = new DualStackProxier('fake' as ProxyMode, { IPv6: v6, IPv4: v4 });
    const dual = port(DUAL);
    const result = await meta.sync(request([dual]));
    expect(result).toEqual({ written: 2, removed: 0, skipped: [] });
    expect(texts(v4.syncs[0]!.desired.get(dual.name))).toEqual(['10.244.1.5', '10.244.2.7']);
    expect(texts(v6.syncs[0]!.desired.get(dual.name))).toEqual(['fd00:244::5']);
    expect(v6.syncs[0]!.node.addresses).toEqual(['fd00:1::5']);
    expect(meta.families).toEqual(['IPv4', 'IPv6']);

    const view = meta.view();
    expect(view.programmedCount()).toBe(2);
    expect(view.mapCount()).toBeNull();
    expect(view.interfaces().map((i) => i.name)).toEqual(['v40', 'v60']);
    expect(view.servicePorts?.([dual])).toEqual([{ chains: [`v4-${dual.name}`, `v6-${dual.name}`] }]);
    expect(await view.drops?.()).toEqual({ NO_BACKEND: 5n });
  });

  it('partial syncs: a port that loses a family is removed from that family only; a removed port from both', async () => {
    const v4 = new FamilyProxier('v4');
    const v6 = new FamilyProxier('v6');
    const meta = new DualStackProxier('fake' as ProxyMode, { IPv4: v4, IPv6: v6 });
    const dual = port(DUAL);
    const other = port({ name: 'other', clusterIPs: ['10.96.0.11', 'fd00::11'] }, []);
    await meta.sync(request([dual, other]));

    // dual turns single-stack IPv4.
    const single = port(
      { ...DUAL, clusterIPs: ['10.96.0.10'], externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [] },
      [SLICES[0]!],
    );
    await meta.sync(request([single, other], { full: false, changed: [single.name] }));
    expect([...v4.syncs[1]!.changed]).toEqual([single.name]);
    expect(v4.syncs[1]!.removed.size).toBe(0);
    expect(v4.syncs[1]!.desired.get(single.name)).toBe(single);
    expect(v6.syncs[1]!.changed.size).toBe(0);
    expect([...v6.syncs[1]!.removed.keys()]).toEqual([single.name]);
    expect(v6.syncs[1]!.removed.get(single.name)!.clusterIPs).toEqual(['fd00::10']);
    expect([...v6.syncs[1]!.desired.keys()]).toEqual([other.name]);

    await meta.sync(request([single], { full: false, changed: [], removed: [other] }));
    expect([...v4.syncs[2]!.removed.keys()]).toEqual([other.name]);
    expect(v4.syncs[2]!.removed.get(other.name)!.clusterIPs).toEqual(['10.96.0.11']);
    expect([...v6.syncs[2]!.removed.keys()]).toEqual([other.name]);
    expect(v6.syncs[2]!.desired.size).toBe(0);
  });

  it("a family's failed sync fails the sync; the next full one hands it the whole state again", async () => {
    const v4 = new FamilyProxier('v4');
    const v6 = new FamilyProxier('v6');
    const meta = new DualStackProxier('fake' as ProxyMode, { IPv4: v4, IPv6: v6 });
    const dual = port(DUAL);
    v6.fail = true;
    await expect(meta.sync(request([dual]))).rejects.toThrow('v6 failed');
    v6.fail = false;
    await meta.sync(request([dual], { full: true, changed: [] }));
    expect([...v6.syncs[0]!.desired.keys()]).toEqual([dual.name]);
    expect(v6.syncs[0]!.full).toBe(true);
  });

  it('a secondary family that cannot start leaves the mode serving the primary, its addresses reported', async () => {
    const v4 = new FamilyProxier('v4');
    const v6 = new FamilyProxier('v6');
    v6.startFails = true;
    const unavailable: string[] = [];
    const meta = new DualStackProxier(
      'fake' as ProxyMode,
      { IPv4: v4, IPv6: v6 },
      { onFamilyUnavailable: (family, err) => unavailable.push(`${family}: ${err.message}`) },
    );
    await meta.start();
    expect(unavailable).toEqual(['IPv6: no v6 nat table']);
    expect(meta.families).toEqual(['IPv4']);
    const dual = port(DUAL);
    const result = await meta.sync(request([dual]));
    expect(v6.syncs).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toContainEqual(
      'IPv6 ClusterIP fd00::10 is not programmed: the fake mode cannot program IPv6 on this node (no v6 nat table)',
    );
    // The primary family's failure is the mode's.
    const v4down = new FamilyProxier('v4');
    v4down.startFails = true;
    await expect(new DualStackProxier('fake' as ProxyMode, { IPv4: v4down, IPv6: v6 }).start()).rejects.toThrow(
      'no v4 nat table',
    );
  });

  it('refuses a mode with no family proxier at all', () => {
    expect(() => new DualStackProxier('fake' as ProxyMode, {})).toThrow(/no proxier for any IP family/);
  });
});
