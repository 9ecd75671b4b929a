// The iptables mode's rules against kube-proxy's own expectations: chain
// names and rule text below are taken from kube-proxy's iptables proxier
// tests (pkg/proxy/iptables/proxier_test.go), so a script or guide written
// for kube-proxy reads our rules the same way.
import { describe, expect, it } from 'vitest';
import { servicePortOfFamily } from '../../../control/model/family.js';
import { buildServicePorts } from '../../../control/model/service-port.js';
import { chainHash, endpointChain, servicePortChains } from '../../../control/proxiers/iptables/names.js';
import { portRules, probability, type RuleContext } from '../../../control/proxiers/iptables/rules.js';
import { missingJumps, nodePortsTail } from '../../../control/netfilter/kube-chains.js';
import type { Service } from '../../../control/sources/types.js';
import { NODE, NOT_READY, SERVING_TERMINATING, endpoint, service, slice } from '../model/fixtures.js';

const CTX: RuleContext = {
  masqueradeMark: '0x4000',
  masqueradeAll: false,
  clusterCIDR: '10.0.0.0/8',
  nodeIPs: ['192.168.0.2'],
};

function rulesFor(svc: Partial<Service>, endpoints: Parameters<typeof slice>[1], ctx: RuleContext = CTX) {
  const s = service({
    namespace: 'ns1',
    name: 'svc1',
    ports: [{ name: 'p80', protocol: 'TCP', port: 80, targetPort: 80 }],
    ...svc,
  });
  const [sp] = buildServicePorts(
    s,
    [
      slice('s1', endpoints, {
        namespace: s.namespace,
        serviceName: s.name,
        ports: [{ name: 'p80', protocol: 'TCP', port: 80 }],
      }),
    ],
    NODE,
  );
  return portRules(sp!, ctx);
}

const all = (r: ReturnType<typeof portRules>) => [...r.chains.values()].flat();

describe('chain names', () => {
  it('hashes as kube-proxy does', () => {
    expect(servicePortChains('ns1/svc1:p80', 'TCP').svc).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(servicePortChains('ns2/svc2:p80', 'tcp')).toEqual({
      svc: 'KUBE-SVC-GNZBNJ2PO5MGZ6GT',
      svl: 'KUBE-SVL-GNZBNJ2PO5MGZ6GT',
      ext: 'KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      fw: 'KUBE-FW-GNZBNJ2PO5MGZ6GT',
    });
    expect(servicePortChains('ns3/svc3:p80', 'tcp').svc).toBe('KUBE-SVC-X27LE4BHSL4DOUIK');
    expect(endpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
    expect(endpointChain('ns2/svc2:p80', 'tcp', '10.180.0.2:80')).toBe('KUBE-SEP-RS4RBKLTHTF2IUXJ');
    expect(chainHash('')).toHaveLength(16);
  });

  it('writes probabilities with ten decimals', () => {
    expect([4, 3, 2].map(probability)).toEqual(['0.2500000000', '0.3333333333', '0.5000000000']);
  });
});

describe('portRules', () => {
  it('writes a ClusterIP service as kube-proxy does', () => {
    const r = rulesFor({ clusterIPs: ['172.30.0.41'] }, [endpoint('10.180.0.1')]);
    expect(r.nat).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    ]);
    expect(r.filter).toEqual([]);
    expect(Object.fromEntries(r.chains)).toEqual({
      'KUBE-SVC-XPGD46QRK7WJZT7O': [
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
        '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
      ],
      'KUBE-SEP-SXIVWICOYRO3J4NJ': [
        '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
        '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
      ],
    });
  });

  it('masquerades everything with --masquerade-all, nothing extra without a cluster CIDR', () => {
    const everything = rulesFor({}, [endpoint('10.180.0.1')], { ...CTX, masqueradeAll: true });
    expect(all(everything)[0]).toMatch(/--dport 80 -j KUBE-MARK-MASQ$/);
    const { clusterCIDR: _, ...noCIDR } = CTX;
    const none = rulesFor({}, [endpoint('10.180.0.1')], noCIDR);
    expect(all(none).filter((l) => l.includes('cluster IP'))).toEqual([]);
  });

  it('rejects a service without endpoints in the filter table and writes no nat chain', () => {
    const r = rulesFor({ clusterIPs: ['172.30.0.41'] }, [endpoint('10.180.0.1', NOT_READY)]);
    expect(r.filter).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT',
    ]);
    expect(r.nat).toEqual([]);
    expect(r.chains.size).toBe(0);
  });

  it('drops internal traffic with a Local policy and no local endpoint', () => {
    const r = rulesFor({ internalTrafficPolicy: 'Local' }, [endpoint('10.180.0.1', { nodeName: 'node-b' })]);
    expect(r.filter).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 10.96.0.10 --dport 80 -j DROP',
    ]);
    expect(r.noLocalEndpoints).toEqual({ internal: true, external: false });
  });

  it('spreads over endpoints with decreasing probabilities and pins ClientIP with recent', () => {
    const r = rulesFor({ affinityTimeoutSeconds: 10800 }, [
      endpoint('10.180.0.1'),
      endpoint('10.180.0.2'),
      endpoint('10.180.0.3'),
    ]);
    const svc = r.chains.get('KUBE-SVC-XPGD46QRK7WJZT7O')!;
    const picks = svc.filter((l) => l.includes('-> 10.180') && !l.includes('recent'));
    expect(picks.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'last')).toEqual([
      '0.3333333333',
      '0.5000000000',
      'last',
    ]);
    expect(svc[1]).toBe(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --name KUBE-SEP-SXIVWICOYRO3J4NJ --rcheck --seconds 10800 --reap -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    );
    expect(svc.filter((l) => l.includes('--rcheck'))).toHaveLength(3);
    expect(r.chains.get('KUBE-SEP-SXIVWICOYRO3J4NJ')?.[1]).toBe(
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-SXIVWICOYRO3J4NJ --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
    );
  });

  it('falls back to serving terminating endpoints', () => {
    const r = rulesFor({}, [endpoint('10.180.0.1', SERVING_TERMINATING), endpoint('10.180.0.2', NOT_READY)]);
    expect(all(r).filter((l) => l.includes('DNAT'))).toEqual([
      expect.stringContaining('--to-destination 10.180.0.1:80'),
    ]);
  });

  it('writes external traffic with externalTrafficPolicy Local as kube-proxy does', () => {
    const r = rulesFor(
      {
        namespace: 'ns2',
        name: 'svc2',
        type: 'LoadBalancer',
        clusterIPs: ['172.30.0.42'],
        externalIPs: ['192.168.99.22'],
        loadBalancerIPs: ['1.2.3.4'],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 30000,
        ports: [{ name: 'p80', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 3001 }],
      },
      [endpoint('10.180.0.2', { nodeName: NODE.nodeName })],
    );
    expect(r.nat).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
    ]);
    expect(r.filter).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
    ]);
    expect(r.chains.get('KUBE-EXT-GNZBNJ2PO5MGZ6GT')).toEqual([
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVL-GNZBNJ2PO5MGZ6GT',
    ]);
    expect(new Set(r.chains.keys())).toEqual(
      new Set([
        'KUBE-EXT-GNZBNJ2PO5MGZ6GT',
        'KUBE-SVC-GNZBNJ2PO5MGZ6GT',
        'KUBE-SVL-GNZBNJ2PO5MGZ6GT',
        'KUBE-SEP-RS4RBKLTHTF2IUXJ',
      ]),
    );
  });

  it('masquerades all external traffic with externalTrafficPolicy Cluster and filters loadBalancerSourceRanges', () => {
    const r = rulesFor(
      {
        type: 'LoadBalancer',
        loadBalancerIPs: ['1.2.3.4'],
        loadBalancerSourceRanges: ['203.0.113.0/25', '192.168.0.0/24'],
        ports: [{ name: 'p80', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 3001 }],
      },
      [endpoint('10.180.0.1')],
    );
    const { ext, fw } = servicePortChains('ns1/svc1:p80', 'tcp');
    expect(r.chains.get(ext)?.[0]).toBe(
      `-A ${ext} -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ`,
    );
    expect(r.nat).toContain(
      `-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j ${fw}`,
    );
    // The node (192.168.0.2) is inside a source range: its own loopback through the VIP is allowed.
    expect(r.chains.get(fw)).toEqual([
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/25 -j ${ext}`,
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.168.0.0/24 -j ${ext}`,
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 1.2.3.4 -j ${ext}`,
      `-A ${fw} -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
    ]);
    expect(r.filter).toContain(
      `-A KUBE-PROXY-FIREWALL -m comment --comment "ns1/svc1:p80 traffic not accepted by ${fw}" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP`,
    );
  });

  it("programs a dual-stack port's IPv4 share only, and names an unnamed port without a colon", () => {
    const s = service({
      namespace: 'ns1',
      name: 'v6',
      clusterIPs: ['10.96.0.20', 'fd00::20'],
      ports: [{ name: '', protocol: 'UDP', port: 53, targetPort: 53 }],
    });
    const [sp] = buildServicePorts(
      s,
      [
        slice('s', [endpoint('10.180.0.9')], {
          namespace: 'ns1',
          serviceName: 'v6',
          ports: [{ name: '', protocol: 'UDP', port: 53 }],
        }),
      ],
      NODE,
    );
    const r = portRules(servicePortOfFamily(sp!, 'IPv4')!, CTX);
    expect(r.skipped).toEqual([]);
    expect([...r.nat, ...r.filter, ...all(r)].join('\n')).not.toContain('fd00');
    expect(r.nat[0]).toContain('--comment "ns1/v6 cluster IP" -m udp -p udp -d 10.96.0.20 --dport 53');
    expect([...r.chains.keys()][0]).toBe(servicePortChains('ns1/v6', 'udp').svc);
  });
});

describe('a service port whose endpoints are of the other family', () => {
  const nodePort = (clusterIPs: string[]) => {
    const s = service({
      namespace: 'ns1',
      name: 'v6eps',
      type: 'NodePort',
      clusterIPs,
      ports: [{ name: 'p80', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 }],
    });
    const eps = [endpoint('fd00::1'), endpoint('fd00::2', { nodeName: NODE.nodeName })];
    const [sp] = buildServicePorts(
      s,
      [
        slice('s6', eps, {
          namespace: 'ns1',
          serviceName: 'v6eps',
          addressType: 'IPv6',
          ports: [{ name: 'p80', protocol: 'TCP', port: 80 }],
        }),
      ],
      NODE,
    );
    // What the IPv4 proxier is handed (the dual-stack meta proxier's projection).
    return servicePortOfFamily(sp!, 'IPv4');
  };
  const jumpsToOwnChains = (r: ReturnType<typeof portRules>) =>
    [...r.nat, ...r.filter, ...all(r)].flatMap((l) => /-j (KUBE-(?:SVC|SVL|EXT|FW|SEP)-\w+)/.exec(l)?.[1] ?? []);

  it('IPv4 ClusterIP and NodePort with only IPv6 endpoints: rejected as having no endpoints, no jump to a chain it lacks', () => {
    const r = portRules(nodePort(['10.96.0.30', 'fd00::30'])!, CTX);
    for (const target of jumpsToOwnChains(r)) expect(r.chains.has(target)).toBe(true);
    expect(r.filter).toContainEqual(expect.stringMatching(/-d 10\.96\.0\.30 --dport 80 -j REJECT/));
    expect(r.filter).toContainEqual(expect.stringMatching(/--dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT/));
    expect(r.nat).toEqual([]);
  });

  it("IPv6 only: nothing of it is the IPv4 proxier's, NodePort included", () => {
    expect(nodePort(['fd00::30'])).toBeUndefined();
  });
});

describe("the IPv6 proxier's rules (ip6tables)", () => {
  const CTX6: RuleContext = {
    masqueradeMark: '0x4000',
    masqueradeAll: false,
    clusterCIDR: 'fd00:10:244::/56',
    nodeIPs: ['fd00:172:31::11'],
  };
  /** A dual-stack LoadBalancer with endpoints of both families, as the IPv6 proxier is handed it. */
  const dualStack = (ranges: string[] = []) => {
    const s = service({
      namespace: 'ns1',
      name: 'svc1',
      type: 'LoadBalancer',
      clusterIPs: ['172.30.0.41', 'fd00:10:96::41'],
      loadBalancerIPs: ['1.2.3.4', '2001:db8::4'],
      loadBalancerSourceRanges: ranges,
      ports: [{ name: 'p80', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30080 }],
    });
    const port = [{ name: 'p80', protocol: 'TCP' as const, port: 80 }];
    const [sp] = buildServicePorts(
      s,
      [
        slice('s4', [endpoint('10.180.0.1')], { namespace: 'ns1', serviceName: 'svc1', ports: port }),
        slice('s6', [endpoint('fd00:10:244:1::11')], {
          namespace: 'ns1',
          serviceName: 'svc1',
          addressType: 'IPv6',
          ports: port,
        }),
      ],
      NODE,
    );
    return { v4: servicePortOfFamily(sp!, 'IPv4')!, v6: servicePortOfFamily(sp!, 'IPv6')! };
  };

  it('names its chains as the IPv4 proxier does (kube-proxy hashes the port name, not the family)', () => {
    const { v4, v6 } = dualStack();
    const four = portRules(v4, CTX);
    const six = portRules(v6, CTX6);
    const own = (r: ReturnType<typeof portRules>) => [...r.chains.keys()].filter((c) => !c.startsWith('KUBE-SEP-'));
    expect(own(six)).toEqual(own(four));
    expect(own(six)).toContain(servicePortChains('ns1/svc1:p80', 'tcp').svc);
  });

  it('holds only IPv6 addresses, and DNATs to the bracketed endpoint', () => {
    const r = portRules(dualStack().v6, CTX6);
    const text = [...r.nat, ...r.filter, ...all(r)].join('\n');
    expect(text).not.toMatch(/\b\d+\.\d+\.\d+\.\d+\b/);
    expect(r.nat).toContainEqual(expect.stringContaining('-d fd00:10:96::41 --dport 80 -j KUBE-SVC-'));
    expect(r.nat).toContainEqual(expect.stringContaining('-d 2001:db8::4 --dport 80 -j KUBE-EXT-'));
    const sep = endpointChain('ns1/svc1:p80', 'tcp', '[fd00:10:244:1::11]:80');
    expect(r.chains.get(sep)).toContainEqual(
      `-A ${sep} -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:244:1::11]:80`,
    );
    expect(all(r)).toContainEqual(expect.stringContaining('! -s fd00:10:244::/56 -j KUBE-MARK-MASQ'));
  });

  it('lets the node past its own source ranges when a range holds its IPv6 address', () => {
    const r = portRules(dualStack(['fd00:172:31::/64', '10.0.0.0/8']).v6, CTX6);
    const fw = [...r.chains].find(([c]) => c.startsWith('KUBE-FW-'))![1];
    expect(fw).toContainEqual(expect.stringContaining('-s fd00:172:31::/64 -j KUBE-EXT-'));
    expect(fw).toContainEqual(expect.stringContaining('-s 2001:db8::4 -j KUBE-EXT-'));
    expect(fw.join('\n')).not.toContain('10.0.0.0/8');
  });

  it('never makes ::1 a NodePort address, whatever --iptables-localhost-nodeports says', () => {
    expect(nodePortsTail(true, undefined, 'IPv6')).toEqual([
      expect.stringMatching(/--dst-type LOCAL ! -d ::1\/128 -j KUBE-NODEPORTS$/),
    ]);
    expect(nodePortsTail(true, ['::1', 'fd00::5'], 'IPv6')).toEqual([
      expect.stringMatching(/-d fd00::5 -j KUBE-NODEPORTS$/),
    ]);
    // IPv4 keeps 127.0.0.1 when asked to serve it.
    expect(nodePortsTail(true, ['127.0.0.1'])).toEqual([expect.stringMatching(/-d 127\.0\.0\.1 -j KUBE-NODEPORTS$/)]);
  });
});

describe('missingJumps', () => {
  it('inserts only the jumps a table lacks', () => {
    const saved = [
      '*nat',
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      'COMMIT',
    ].join('\n');
    expect(missingJumps('nat', saved)).toEqual([
      '-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]);
    expect(missingJumps('filter', '')).toHaveLength(9);
  });
});
