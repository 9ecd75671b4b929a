// The ipvs mode's ipsets by family, named as kube-proxy's NewIPSet names them
// (pkg/proxy/ipvs/ipset.go): in dual-stack both families' sets coexist, the
// IPv6 ones with "KUBE-6-" for the leading "KUBE-", cut to 31 characters.
import { describe, expect, it } from 'vitest';
import {
  KUBE_PROXY_ONLY_SETS,
  SETS,
  SET_KEYS,
  ipv6SetName,
  setNamesOf,
  setsOf,
} from '../../../control/proxiers/ipvs/names.js';

describe('setsOf', () => {
  it("IPv4: kube-proxy's names, family inet", () => {
    expect(setsOf('IPv4')).toBe(SETS);
    expect(setsOf('IPv4').clusterIP).toMatchObject({ name: 'KUBE-CLUSTER-IP', family: 'inet' });
  });

  it('IPv6: the same types, family inet6, KUBE-6- names cut to 31 characters as kube-proxy cuts them', () => {
    const v6 = setsOf('IPv6');
    expect(Object.fromEntries(SET_KEYS.map((k) => [k, v6[k].name]))).toEqual({
      clusterIP: 'KUBE-6-CLUSTER-IP',
      loopBack: 'KUBE-6-LOOP-BACK',
      externalIP: 'KUBE-6-EXTERNAL-IP',
      externalIPLocal: 'KUBE-6-EXTERNAL-IP-LOCAL',
      loadBalancer: 'KUBE-6-LOAD-BALANCER',
      loadBalancerLocal: 'KUBE-6-LOAD-BALANCER-LOCAL',
      loadBalancerFW: 'KUBE-6-LOAD-BALANCER-FW',
      // KUBE-6-LOAD-BALANCER-SOURCE-CIDR is 32 characters: kube-proxy keeps the first 31.
      loadBalancerSourceCIDR: 'KUBE-6-LOAD-BALANCER-SOURCE-CID',
      loadBalancerSourceIP: 'KUBE-6-LOAD-BALANCER-SOURCE-IP',
      // bitmap:port sets have no family, but each family's proxier has its own, as in kube-proxy.
      nodePortTCP: 'KUBE-6-NODE-PORT-TCP',
      nodePortLocalTCP: 'KUBE-6-NODE-PORT-LOCAL-TCP',
      nodePortUDP: 'KUBE-6-NODE-PORT-UDP',
      nodePortLocalUDP: 'KUBE-6-NODE-PORT-LOCAL-UDP',
      ipvsIPs: 'KUBE-6-IPVS-IPS',
      noLocalEndpoints: 'KUBE-6-NO-LOCAL-ENDPOINTS',
      noLocalExternal: 'KUBE-6-NO-LOCAL-EXTERNAL',
    });
    for (const k of SET_KEYS) {
      expect(v6[k].type, k).toBe(SETS[k].type);
      expect(v6[k].family, k).toBe('inet6');
      expect(v6[k].comment, k).toBe(SETS[k].comment);
      expect(v6[k].name.length, k).toBeLessThanOrEqual(31);
    }
    // Both families' names are distinct: the sets coexist.
    const all = [...setNamesOf('IPv4'), ...setNamesOf('IPv6')];
    expect(new Set(all).size).toBe(all.length);
  });

  it("names kube-proxy's own IPv6 sets that this mode does not create, for clean-up", () => {
    expect(KUBE_PROXY_ONLY_SETS.IPv6).toEqual([
      'KUBE-6-NODE-PORT-SCTP-HASH',
      'KUBE-6-NODE-PORT-LOCAL-SCTP-HAS',
      'KUBE-6-HEALTH-CHECK-NODE-PORT',
    ]);
    expect(ipv6SetName('OTHER-SET')).toBe('OTHER-SET');
  });
});
