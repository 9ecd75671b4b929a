// The ipvs mode's iptables rules: a fixed handful matching ipsets, against
// kube-proxy's IPVS proxier (pkg/proxy/ipvs/proxier.go writeIptablesRules).
import { describe, expect, it } from 'vitest';
import { ipv6SetName } from '../../../control/proxiers/ipvs/names.js';
import { ipvsRestoreInput, ipvsRules } from '../../../control/proxiers/ipvs/rules.js';

const CTX = { masqueradeMark: '0x4000', masqueradeAll: false, clusterCIDR: '10.244.0.0/16' };

describe('ipvsRules', () => {
  it('masquerades ClusterIP traffic from outside the cluster CIDR, and hairpin traffic', () => {
    const { nat } = ipvsRules(CTX);
    // kube-proxy's first rule: connections from localhost are never service traffic.
    expect(nat[0]).toBe('-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN');
    expect(nat[1]).toBe(
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    );
    expect(nat).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(nat).toContain(
      '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    );
    expect(nat).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000');
  });

  it('with --masquerade-all, masquerades every ClusterIP packet; without a cluster CIDR, none', () => {
    expect(ipvsRules({ ...CTX, masqueradeAll: true }).nat[1]).toMatch(
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
      // externalTrafficPolicy Local: pods and the node itself short-circuit to every endpoint; the rest is dropped.
      '-A KUBE-IPVS-DROP -m comment --comment "external ip + port with externalTrafficPolicy Local and no endpoint on this node: dropped from outside" -m set --match-set KUBE-NO-LOCAL-EXTERNAL dst,dst ! -s 10.244.0.0/16 -m addrtype ! --src-type LOCAL -j DROP',
    ]);
    // Without --cluster-cidr no pod can be told from an outside client: only the node's own go on.
    expect(ipvsRules({ masqueradeMark: '0x4000', masqueradeAll: false }).raw[1]).toMatch(
      /--match-set KUBE-NO-LOCAL-EXTERNAL dst,dst -m addrtype ! --src-type LOCAL -j DROP$/,
    );
  });
});

describe('ipvsRules: NodePorts', () => {
  it('sends every local destination to KUBE-NODE-PORT after the load-balancer jump and before the ACCEPTs', () => {
    const { nat } = ipvsRules(CTX);
    const at = (rule: string) => nat.indexOf(rule);
    const nodePorts = at('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
    expect(nodePorts).toBeGreaterThan(
      at(
        '-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER',
      ),
    );
    expect(nodePorts).toBeLessThan(at('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT'));
  });

  it("masquerades NodePort traffic unless the port's policy is Local (its LOCAL set returns first), per protocol", () => {
    const { nat } = ipvsRules(CTX);
    expect(nat.filter((r) => r.startsWith('-A KUBE-NODE-PORT '))).toEqual([
      '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN',
      '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
      '-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-UDP dst -j RETURN',
      '-A KUBE-NODE-PORT -p udp -m comment --comment "Kubernetes nodeport UDP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-UDP dst -j KUBE-MARK-MASQ',
    ]);
  });
});

describe('ipvsRules: loadBalancerSourceRanges', () => {
  it('sends firewalled LB IPs and ports to KUBE-SOURCE-RANGES-FIREWALL, which admits the ranges and the VIP itself and drops the rest', () => {
    const { filter } = ipvsRules(CTX);
    expect(filter.filter((r) => /^-A KUBE-(PROXY|SOURCE-RANGES)-FIREWALL /.test(r))).toEqual([
      '-A KUBE-PROXY-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port for load balancer with sourceRange" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL',
      '-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port + source cidr for packet filter purpose" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN',
      '-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment "Kubernetes service load balancer ip + port + source IP for packet filter purpose" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN',
      '-A KUBE-SOURCE-RANGES-FIREWALL -j DROP',
    ]);
  });

  it("drops the node's own connections to a firewalled LB IP none of whose ranges holds the node (kubernetes#119656)", () => {
    const { filter } = ipvsRules(CTX, [
      { address: '198.51.100.4', protocol: 'TCP', port: 80 },
      { address: '198.51.100.5', protocol: 'UDP', port: 53 },
    ]);
    expect(filter.filter((r) => r.startsWith('-A KUBE-IPVS-OUT-FILTER '))).toEqual([
      '-A KUBE-IPVS-OUT-FILTER -s 198.51.100.4 -m ipvs --vaddr 198.51.100.4 --vproto tcp --vport 80 -j DROP',
      '-A KUBE-IPVS-OUT-FILTER -s 198.51.100.5 -m ipvs --vaddr 198.51.100.5 --vproto udp --vport 53 -j DROP',
    ]);
    expect(ipvsRules(CTX).filter.some((r) => r.startsWith('-A KUBE-IPVS-OUT-FILTER '))).toBe(false);
  });

  it("jumps into the firewall from INPUT and FORWARD, and into the out-filter from OUTPUT, with kube-proxy's comments", () => {
    const input = ipvsRestoreInput('filter', [], '*filter\nCOMMIT\n').split('\n');
    expect(input.filter((l) => l.startsWith(':'))).toEqual([
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
      ':KUBE-IPVS-FILTER - [0:0]',
      ':KUBE-IPVS-OUT-FILTER - [0:0]',
    ]);
    expect(input.filter((l) => l.startsWith('-I '))).toEqual([
      '-I FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-I INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-I FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-I INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
      '-I OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
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
      ':KUBE-NODE-PORT - [0:0]',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
      '-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      'COMMIT',
      '',
    ]);
  });
});

describe('ipvsRules: the IPv6 proxier (ip6tables)', () => {
  const CTX6 = {
    family: 'IPv6' as const,
    masqueradeMark: '0x4000',
    masqueradeAll: false,
    clusterCIDR: 'fd00:10:244::/56',
  };

  it("writes the IPv4 proxier's rules with the KUBE-6- sets, ::1 for localhost and its own cluster CIDR", () => {
    const v4 = ipvsRules(CTX, [{ address: '198.51.100.4', protocol: 'TCP', port: 80 }]);
    const v6 = ipvsRules(CTX6, [{ address: '2001:db8:100::4', protocol: 'TCP', port: 80 }]);
    // kube-proxy: "-s ::1/128 -j RETURN" in IPv6.
    expect(v6.nat[0]).toBe('-A KUBE-SERVICES -s ::1/128 -j RETURN');
    expect(v6.nat[1]).toBe(
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-6-CLUSTER-IP dst,dst ! -s fd00:10:244::/56 -j KUBE-MARK-MASQ',
    );
    // Rule for rule the same, but for the set names, addresses and ranges of the family.
    const asIPv6 = (r: string) =>
      r
        .replace(/--match-set (\S+)/, (_, name: string) => `--match-set ${ipv6SetName(name)}`)
        .replace('-s 127.0.0.0/8', '-s ::1/128')
        .replace(/10\.244\.0\.0\/16/g, 'fd00:10:244::/56')
        .replace(/198\.51\.100\.4/g, '2001:db8:100::4');
    for (const table of ['raw', 'filter', 'nat'] as const) expect(v6[table], table).toEqual(v4[table].map(asIPv6));
    expect(v6.nat).toContain('-A KUBE-SERVICES -m set --match-set KUBE-6-CLUSTER-IP dst,dst -j ACCEPT');
    expect(v6.nat).toContain(
      '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-6-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
    );
    expect(v6.filter).toContain(
      '-A KUBE-IPVS-OUT-FILTER -s 2001:db8:100::4 -m ipvs --vaddr 2001:db8:100::4 --vproto tcp --vport 80 -j DROP',
    );
    expect(v6.filter.at(-2)).toBe(
      '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-6-IPVS-IPS dst -j REJECT',
    );
    // No IPv4 set and no IPv4 address in the IPv6 proxier's tables.
    const all6 = [...v6.raw, ...v6.filter, ...v6.nat].join('\n');
    expect(all6).not.toMatch(/--match-set KUBE-(?!6-)/);
    expect(all6).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b/);
  });

  it('without an IPv6 cluster CIDR, masquerades no ClusterIP traffic and drops only non-local sources', () => {
    const v6 = ipvsRules({ family: 'IPv6', masqueradeMark: '0x4000', masqueradeAll: false });
    expect(v6.nat.filter((r) => r.includes('KUBE-6-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'))).toEqual([]);
    expect(v6.raw[1]).toMatch(/--match-set KUBE-6-NO-LOCAL-EXTERNAL dst,dst -m addrtype ! --src-type LOCAL -j DROP$/);
  });
});
