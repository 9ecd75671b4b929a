// The ipvs mode's iptables rules: a fixed handful matching ipsets, against
// kube-proxy's IPVS proxier (pkg/proxy/ipvs/proxier.go writeIptablesRules).
import { describe, expect, it } from 'vitest';
import { ipvsRestoreInput, ipvsRules } from '../../../control/proxiers/ipvs/rules.js';

const CTX = { masqueradeMark: '0x4000', masqueradeAll: false, clusterCIDR: '10.244.0.0/16' };

describe('ipvsRules', () => {
  it('masquerades ClusterIP traffic from outside the cluster CIDR, and hairpin traffic', () => {
    const { nat } = ipvsRules(CTX);
    expect(nat[0]).toBe(
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    );
    expect(nat).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(nat).toContain(
      '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    );
    expect(nat).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000');
  });

  it('with --masquerade-all, masquerades every ClusterIP packet; without a cluster CIDR, none', () => {
    expect(ipvsRules({ ...CTX, masqueradeAll: true }).nat[0]).toMatch(
      /--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ$/,
    );
    expect(
      ipvsRules({ masqueradeMark: '0x4000', masqueradeAll: false }).nat.filter((r) =>
        r.includes('KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'),
      ),
    ).toEqual([]);
  });

  it('refuses new connections to a service address on a port no service has, and drops traffic policy Local with no local endpoint', () => {
    const { filter, raw } = ipvsRules(CTX);
    expect(filter.at(-1)).toBe(
      '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT',
    );
    expect(raw).toEqual([
      '-A KUBE-IPVS-DROP -m comment --comment "service ip + port with traffic policy Local and no endpoint on this node: dropped" -m set --match-set KUBE-NO-LOCAL-ENDPOINTS dst,dst -j DROP',
    ]);
  });
});

describe('ipvsRestoreInput', () => {
  it('declares the chains (flushing them) and inserts only the jumps that are missing', () => {
    const saved = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      'COMMIT',
    ].join('\n');
    const input = ipvsRestoreInput('nat', ['-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000'], saved).split('\n');
    expect(input).toEqual([
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      ':KUBE-LOAD-BALANCER - [0:0]',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
      '-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      'COMMIT',
      '',
    ]);
  });
});
