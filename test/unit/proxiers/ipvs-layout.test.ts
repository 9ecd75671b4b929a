// The ipvs mode's layout of a service port, against what kube-proxy's IPVS
// proxier programs (pkg/proxy/ipvs/proxier_test.go): one virtual server per
// address and port, endpoints of the address's traffic policy as real
// servers of weight 1, ClientIP affinity as persistence, and the ipset
// members its rules match.
import { describe, expect, it } from 'vitest';
import { servicePortOfFamily } from '../../../control/model/family.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import { portLayout } from '../../../control/proxiers/ipvs/layout.js';
import type { Service } from '../../../control/sources/types.js';
import { NODE, NOT_READY, endpoint, service, slice } from '../model/fixtures.js';

/** The layout of the port's IPv4 share, as the dual-stack meta proxier hands it to this mode. */
function layoutFor(svc: Partial<Service>, endpoints: Parameters<typeof slice>[1], scheduler = '') {
  const [sp] = buildServicePorts(service(svc), [slice('s1', endpoints)], NODE);
  return portLayout(servicePortOfFamily(sp!, 'IPv4')!, { scheduler });
}

describe('portLayout', () => {
  it('lays out a ClusterIP service as kube-proxy does', () => {
    const l = layoutFor({}, [endpoint('10.244.1.5', { nodeName: NODE.nodeName }), endpoint('10.244.2.7')]);
    expect(l.virtualServers).toEqual([
      {
        virtualServer: { address: '10.96.0.10', protocol: 'TCP', port: 80, scheduler: 'rr' },
        realServers: [
          { address: '10.244.1.5', port: 8080, weight: 1 },
          { address: '10.244.2.7', port: 8080, weight: 1 },
        ],
      },
    ]);
    expect(l.addresses).toEqual(['10.96.0.10']);
    expect(l.sets).toEqual({
      clusterIP: ['10.96.0.10,tcp:80'],
      // Hairpin entries for this node's endpoints only, as kube-proxy.
      loopBack: ['10.244.1.5,tcp:8080,10.244.1.5'],
    });
    expect(l.skipped).toEqual([]);
  });

  it('uses the scheduler asked for, and persistence for ClientIP affinity', () => {
    const l = layoutFor({ affinityTimeoutSeconds: 300 }, [endpoint('10.244.1.5')], 'sh');
    expect(l.virtualServers[0]!.virtualServer).toEqual({
      address: '10.96.0.10',
      protocol: 'TCP',
      port: 80,
      scheduler: 'sh',
      persistence: { timeoutSeconds: 300 },
    });
  });

  it('keeps a virtual server without real servers for a service without endpoints (IPVS refuses its traffic)', () => {
    const l = layoutFor({}, [endpoint('10.244.1.5', NOT_READY)]);
    expect(l.virtualServers).toEqual([
      { virtualServer: { address: '10.96.0.10', protocol: 'TCP', port: 80, scheduler: 'rr' }, realServers: [] },
    ]);
    expect(l.sets.noLocalEndpoints).toBeUndefined();
    expect(l.sets.clusterIP).toEqual(['10.96.0.10,tcp:80']);
  });

  it("with internalTrafficPolicy Local, programs only this node's endpoints, and drops when it has none", () => {
    const mixed = layoutFor({ internalTrafficPolicy: 'Local' }, [
      endpoint('10.244.1.5', { nodeName: NODE.nodeName }),
      endpoint('10.244.2.7'),
    ]);
    expect(mixed.virtualServers[0]!.realServers).toEqual([{ address: '10.244.1.5', port: 8080, weight: 1 }]);
    expect(mixed.sets.noLocalEndpoints).toBeUndefined();
    const none = layoutFor({ internalTrafficPolicy: 'Local' }, [endpoint('10.244.2.7')]);
    expect(none.virtualServers[0]!.realServers).toEqual([]);
    expect(none.sets.noLocalEndpoints).toEqual(['10.96.0.10,tcp:80']);
    expect(none.noLocalEndpoints).toEqual({ internal: true, external: false });
  });

  it('gives externalIPs and load-balancer IPs their own virtual servers and sets, by external policy', () => {
    const l = layoutFor(
      {
        type: 'LoadBalancer',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
        externalIPs: ['192.0.2.10'],
        loadBalancerIPs: ['198.51.100.4'],
        externalTrafficPolicy: 'Local',
      },
      [endpoint('10.244.1.5', { nodeName: NODE.nodeName }), endpoint('10.244.2.7')],
    );
    expect(l.virtualServers.map((v) => [v.virtualServer.address, v.realServers.map((r) => r.address)])).toEqual([
      ['10.96.0.10', ['10.244.1.5', '10.244.2.7']],
      ['192.0.2.10', ['10.244.1.5']],
      ['198.51.100.4', ['10.244.1.5']],
    ]);
    expect(l.addresses).toEqual(['10.96.0.10', '192.0.2.10', '198.51.100.4']);
    expect(l.sets.externalIPLocal).toEqual(['192.0.2.10,tcp:80']);
    expect(l.sets.loadBalancer).toEqual(['198.51.100.4,tcp:80']);
    expect(l.sets.loadBalancerLocal).toEqual(['198.51.100.4,tcp:80']);
    expect(l.skipped).toEqual(['NodePort 30080 is not programmed by the ipvs mode yet']);
  });

  it('reports SCTP as skipped instead of programming it half (IPv6 never reaches it: the meta proxier reports it)', () => {
    const sctp = layoutFor({ ports: [{ name: 'http', protocol: 'SCTP', port: 80, targetPort: 8080 }] }, []);
    expect(sctp.virtualServers).toEqual([]);
    expect(sctp.skipped).toContain('SCTP is not programmed by the ipvs mode yet');
  });
});
