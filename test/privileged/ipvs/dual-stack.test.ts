// The ipvs mode's two family proxiers on one node, on a kernel with IPVS (the
// VM harness; this machine's kernel has none, so here the file skips and says
// why). kube-proxy's dual-stack IPVS layout: the IPv6 proxier programs
// AF_INET6 virtual servers with the IPv6 endpoints, fills KUBE-6-* ipsets of
// family inet6 and matches them with ip6tables rules; both share the one IPVS
// table and kube-ipvs0, and each touches only what is of its own family. The
// real daemon runs on each node of the dual-stack namespace cluster; what it
// programmed is read with the reference tools and judged with IPv6 traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IP, CLIENT_IP6, CLIENT_SECOND_IP6, type Pod } from '../../harness/cluster.js';
import { kernelHasIpvs } from '../../harness/ipvs.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { addressOf } from '../../harness/traffic.js';
import { POD_TCP_PORT, POD_UDP_PORT, type ServiceSpec } from '../e2e/fixtures.js';
import { E2eWorld, failures, names } from '../e2e/world.js';
import { ipvsadmList } from './ipvsadm.js';

const runnable = requirePrivileges() && kernelHasIpvs();
const title = runnable
  ? 'the ipvs mode, dual-stack, on a kernel with IPVS'
  : 'the ipvs mode, dual-stack (SKIPPED: this kernel has no IPVS; scripts/test.sh vm runs this file on Debian 6.12)';

const ALL = ['n1p1', 'n1p2', 'n2p1', 'n2p2'];
const LB_IP = '198.51.100.30';
const LB_IP6 = '2001:db8:100::30';
const EXTERNAL_IP6 = '2001:db8:100::40';

function services(pod: (name: string) => Pod): ServiceSpec[] {
  const all = ALL.map(pod);
  return [
    { name: 'web', clusterIPs: ['10.96.0.10', 'fd00:10:96::10'], endpoints: all },
    { name: 'dns', clusterIPs: ['10.96.0.12', 'fd00:10:96::12'], protocol: 'UDP', port: 53, endpoints: all },
    // SingleStack IPv6: the IPv4 proxier never sees it.
    { name: 'six', clusterIPs: ['fd00:10:96::13'], endpoints: [pod('n2p1'), pod('n2p2')] },
    {
      name: 'ext',
      clusterIPs: ['10.96.0.14', 'fd00:10:96::14'],
      externalIPs: ['198.51.100.40', EXTERNAL_IP6],
      endpoints: all,
    },
    { name: 'np', clusterIPs: ['10.96.0.30', 'fd00:10:96::30'], type: 'NodePort', nodePort: 30080, endpoints: all },
    // Open to the client's first address of each family only: no range holds a node.
    {
      name: 'lb',
      clusterIPs: ['10.96.0.36', 'fd00:10:96::36'],
      type: 'LoadBalancer',
      nodePort: 30083,
      loadBalancerIngress: [{ ip: LB_IP }, { ip: LB_IP6 }],
      loadBalancerSourceRanges: [`${CLIENT_IP}/32`, `${CLIENT_IP6}/128`],
      endpoints: all,
    },
  ];
}

/** Every service address of each family the layout binds to kube-ipvs0. */
const BOUND = {
  IPv4: ['10.96.0.10', '10.96.0.12', '10.96.0.14', '198.51.100.40', '10.96.0.30', '10.96.0.36', LB_IP],
  IPv6: [
    'fd00:10:96::10',
    'fd00:10:96::12',
    'fd00:10:96::13',
    'fd00:10:96::14',
    EXTERNAL_IP6,
    'fd00:10:96::30',
    'fd00:10:96::36',
    LB_IP6,
  ],
};
const isIPv6Id = (id: string) => id.includes('[');
/** The KUBE-* (IPv4) and KUBE-6-* (IPv6) sets this mode writes, by family. */
const KUBE6 = /^KUBE-6-/;

describe.runIf(runnable)(title, () => {
  const world = new E2eWorld({ mode: 'ipvs', args: ['--ipvs-min-sync-period=0'] });
  const ns = (node: string) => world.node(node).ns;
  const pod = (name: string) => world.pod(name);
  const rs = (pods: string[], port = POD_TCP_PORT) =>
    pods
      .map((p) => ({ id: `[${pod(p).ip6}]:${port}`, forward: 'Masq', weight: 1, active: 0, inactive: 0 }))
      .sort((a, b) => a.id.localeCompare(b.id));
  /** ipvsadm's view without the connection counters, which traffic moves. */
  const layout = (node: string) =>
    ipvsadmList(world.net, ns(node)).map((s) => ({
      ...s,
      realServers: s.realServers.map((r) => ({ ...r, active: 0, inactive: 0 })),
    }));
  const ofFamily = (node: string, family: 'IPv4' | 'IPv6') =>
    layout(node).filter((s) => isIPv6Id(s.id) === (family === 'IPv6'));
  /** kube-ipvs0's addresses, "address/prefix" with the flags that matter, sorted. */
  const bound = (node: string) => {
    const out = world.net.exec(ns(node), 'ip', ['-j', 'addr', 'show', 'dev', 'kube-ipvs0'], { allowFail: true });
    if (!out.trim()) return [];
    const [link] = JSON.parse(out) as Array<{
      addr_info: Array<{ local: string; prefixlen: number; scope: string; tentative?: boolean }>;
    }>;
    return link!.addr_info
      .filter((a) => a.scope !== 'link')
      .map((a) => `${a.local}/${a.prefixlen}${a.tentative ? ' tentative' : ''}`)
      .sort();
  };
  const setNames = (node: string) =>
    world.net.exec(ns(node), 'ipset', ['list', '-n']).trim().split('\n').filter(Boolean);
  /** The members of an ipset as `ipset save` prints them, sorted. */
  const members = (node: string, set: string) =>
    world.net
      .exec(ns(node), 'ipset', ['save', set])
      .split('\n')
      .filter((l) => l.startsWith('add '))
      .map((l) => l.split(' ')[2]!)
      .sort();
  /** Every set of a family with its members. */
  const sets = (node: string, family: 'IPv4' | 'IPv6') =>
    Object.fromEntries(
      setNames(node)
        .filter((n) => KUBE6.test(n) === (family === 'IPv6'))
        .sort()
        .map((n) => [n, members(node, n)]),
    );
  /** The family's table's kube rules, as iptables-save or ip6tables-save prints them. */
  const rules = (node: string, family: 'IPv4' | 'IPv6') =>
    ['raw', 'filter', 'nat'].flatMap((table) =>
      world.net
        .exec(ns(node), family === 'IPv4' ? 'iptables-save' : 'ip6tables-save', ['-t', table])
        .split('\n')
        .filter((l) => l.includes('KUBE-'))
        .map((l) => `${table} ${l}`),
    );
  /** Everything of one family on a node: what a proxier of the other family must leave as it is. */
  const snapshot = (node: string, family: 'IPv4' | 'IPv6') => ({
    virtualServers: ofFamily(node, family),
    addresses: bound(node).filter((a) => a.includes(':') === (family === 'IPv6')),
    sets: sets(node, family),
    rules: rules(node, family),
  });
  /** One family's proxier alone in the node's namespace (one-family.mjs), the daemon stopped. */
  const oneFamily = async (node: string, family: 'IPv4' | 'IPv6', op: 'sync' | 'cleanup') => {
    const script = `${repoRoot}/test/privileged/ipvs/one-family.mjs`;
    const p = world.net.spawnNet(ns(node), nodeBinary, [script, family, op]);
    expect(await p.exited, p.stderr).toBe(0);
  };
  const diagnose = (node: string) =>
    [
      world.net.exec(ns(node), 'ipvsadm', ['-Ln', '--stats']),
      world.net.exec(ns(node), 'ip6tables-save', ['-c']),
      world.net.exec(ns(node), 'ipset', ['save']),
      world.net.exec(ns(node), 'ip', ['-6', 'route']),
      world.net.exec(ns(node), 'dmesg', [], { allowFail: true }).split('\n').slice(-20).join('\n'),
    ].join('\n');

  beforeAll(() => world.start(services));
  afterAll(() => world.teardown());

  it('gives a dual-stack service AF_INET6 virtual servers with its IPv6 endpoints, beside its IPv4 ones', () => {
    const n1 = layout('n1');
    const vs = (id: string) => n1.find((s) => s.id === id);
    expect(vs('TCP [fd00:10:96::10]:80')).toEqual({
      id: 'TCP [fd00:10:96::10]:80',
      scheduler: 'rr',
      persistent: undefined,
      mask: undefined,
      realServers: rs(ALL),
    });
    expect(vs('TCP 10.96.0.10:80')?.realServers.map((r) => r.id)).toEqual(
      ALL.map((p) => `${pod(p).ip}:${POD_TCP_PORT}`).sort(),
    );
    expect(vs('UDP [fd00:10:96::12]:53')?.realServers).toEqual(rs(ALL, POD_UDP_PORT));
    // SingleStack IPv6: an IPv6 virtual server, no IPv4 one.
    expect(vs('TCP [fd00:10:96::13]:80')?.realServers).toEqual(rs(['n2p1', 'n2p2']));
    expect(vs(`TCP [${EXTERNAL_IP6}]:80`)?.realServers).toEqual(rs(ALL));
    expect(vs(`TCP [${LB_IP6}]:80`)?.realServers).toEqual(rs(ALL));
    // NodePorts on the node's IPv6 address too (its wire's; never ::1 or fe80::).
    const nodePorts6 = n1.filter((s) => isIPv6Id(s.id) && /:30\d{3}$/.test(s.id)).map((s) => s.id);
    expect(nodePorts6).toEqual([`TCP [${world.node('n1').wireIp6}]:30080`, `TCP [${world.node('n1').wireIp6}]:30083`]);
    // Every IPv6 virtual server's real servers are IPv6, every IPv4 one's IPv4.
    for (const s of n1) {
      for (const r of s.realServers) expect(r.id.startsWith('['), `${s.id} -> ${r.id}`).toBe(isIPv6Id(s.id));
    }
  });

  it('fills KUBE-6-* ipsets of family inet6 (kube-proxy names) and matches them with ip6tables, KUBE-* with iptables', () => {
    const header = (set: string) => world.net.exec(ns('n1'), 'ipset', ['list', '-t', set]);
    expect(header('KUBE-6-CLUSTER-IP')).toMatch(/Type: hash:ip,port\nRevision: \d+\nHeader: family inet6 /);
    expect(header('KUBE-CLUSTER-IP')).toMatch(/Header: family inet /);
    expect(header('KUBE-6-NODE-PORT-TCP')).toMatch(/Type: bitmap:port/);
    expect(members('n1', 'KUBE-6-CLUSTER-IP')).toEqual([
      'fd00:10:96::10,tcp:80',
      'fd00:10:96::12,udp:53',
      'fd00:10:96::13,tcp:80',
      'fd00:10:96::14,tcp:80',
      'fd00:10:96::30,tcp:80',
      'fd00:10:96::36,tcp:80',
    ]);
    expect(members('n1', 'KUBE-6-EXTERNAL-IP')).toEqual([`${EXTERNAL_IP6},tcp:80`]);
    expect(members('n1', 'KUBE-6-LOAD-BALANCER-FW')).toEqual([`${LB_IP6},tcp:80`]);
    // The /128 range as ipset prints it, bare; kube-proxy's name cut to 31 characters.
    expect(members('n1', 'KUBE-6-LOAD-BALANCER-SOURCE-CID')).toEqual([`${LB_IP6},tcp:80,${CLIENT_IP6}`]);
    expect(members('n1', 'KUBE-6-NODE-PORT-TCP')).toEqual(['30080', '30083']);
    expect(members('n1', 'KUBE-6-LOOP-BACK')).toContain(`${pod('n1p1').ip6},tcp:${POD_TCP_PORT},${pod('n1p1').ip6}`);
    expect(members('n1', 'KUBE-6-IPVS-IPS')).toEqual([...BOUND.IPv6].sort());
    // The IPv4 sets hold no IPv6 member, and the other way round.
    expect(members('n1', 'KUBE-CLUSTER-IP').filter((m) => m.split(',')[0]!.includes(':'))).toEqual([]);
    expect(members('n1', 'KUBE-IPVS-IPS')).toEqual([...BOUND.IPv4].sort());

    const nat6 = world.net.exec(ns('n1'), 'ip6tables-save', ['-t', 'nat']);
    expect(nat6).toContain('-A KUBE-SERVICES -s ::1/128 -j RETURN');
    expect(nat6).toContain('-A KUBE-SERVICES -m set --match-set KUBE-6-CLUSTER-IP dst,dst -j ACCEPT');
    // (ip6tables-save prints the source match first.)
    expect(nat6).toMatch(
      /-A KUBE-SERVICES ! -s fd00:10:244::\/56 .*--match-set KUBE-6-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ/,
    );
    expect(nat6).toMatch(/-A KUBE-NODE-PORT -p tcp .*--match-set KUBE-6-NODE-PORT-TCP dst -j KUBE-MARK-MASQ/);
    expect(nat6).toMatch(/-A PREROUTING .*-j KUBE-SERVICES/);
    const filter6 = world.net.exec(ns('n1'), 'ip6tables-save', ['-t', 'filter']);
    expect(filter6).toMatch(
      /-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-6-IPVS-IPS dst -j REJECT/,
    );
    // No range holds the node: its own connections to the IPv6 LB IP are dropped on the way out.
    expect(filter6).toContain(
      `-A KUBE-IPVS-OUT-FILTER -s ${LB_IP6}/128 -m ipvs --vproto 6 --vaddr ${LB_IP6} --vport 80 -j DROP`,
    );
    expect(world.net.exec(ns('n1'), 'ip6tables-save', ['-t', 'raw'])).toMatch(
      /-A KUBE-IPVS-DROP .*--match-set KUBE-6-NO-LOCAL-ENDPOINTS dst,dst -j DROP/,
    );
    // Each family's tables match its own sets only.
    expect(rules('n1', 'IPv6').filter((l) => / --match-set KUBE-(?!6-)/.test(l))).toEqual([]);
    expect(rules('n1', 'IPv4').filter((l) => / --match-set KUBE-6-/.test(l))).toEqual([]);
    expect(rules('n1', 'IPv4')).toContain('nat -A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN');
  });

  it("binds both families' service addresses to kube-ipvs0: /32 and /128, the IPv6 ones usable at once (nodad)", () => {
    for (const node of ['n1', 'n2']) {
      expect(bound(node), node).toEqual(
        [...BOUND.IPv4.map((a) => `${a}/32`), ...BOUND.IPv6.map((a) => `${a}/128`)].sort(),
      );
    }
  });

  it('carries IPv6 traffic: a ClusterIP over TCP and UDP from pods, an IPv6-only service, an external IP from outside', async () => {
    const tcp = await world.fromPod('n1p2', 'tcp', '[fd00:10:96::10]:80', { count: 24, concurrency: 4 });
    expect(failures(tcp), diagnose('n1')).toEqual([]);
    expect(names(tcp)).toEqual(new Set(ALL));
    // From a pod in the cluster CIDR: not masqueraded, the backend sees the pod.
    const far = tcp.filter((r) => r.name?.startsWith('n2'));
    expect(new Set(far.map((r) => addressOf(r.peer)))).toEqual(new Set([pod('n1p2').ip6]));
    const udp = await world.fromPod('n1p1', 'udp', '[fd00:10:96::12]:53', { count: 24, concurrency: 4 });
    expect(failures(udp), diagnose('n1')).toEqual([]);
    expect(names(udp)).toEqual(new Set(ALL));
    const six = await world.fromPod('n2p1', 'tcp', '[fd00:10:96::13]:80', { count: 8 });
    expect(failures(six), diagnose('n2')).toEqual([]);
    expect([...names(six)].every((n) => n === 'n2p1' || n === 'n2p2')).toBe(true);
    // The node's own connection to an IPv6 ClusterIP.
    expect(failures(await world.fromNode('n2', 'tcp', '[fd00:10:96::10]:80', { count: 4 })), diagnose('n2')).toEqual(
      [],
    );
    const ext = await world.fromClient('tcp', `[${EXTERNAL_IP6}]:80`, { count: 12, concurrency: 4 });
    expect(failures(ext), diagnose('n1')).toEqual([]);
    expect(names(ext)).toEqual(new Set(ALL));
  });

  it('NodePorts on the IPv6 node addresses carry TCP from outside to every backend, masqueraded', async () => {
    for (const node of ['n1', 'n2']) {
      const seen = await world.fromClient('tcp', `[${world.node(node).wireIp6}]:30080`, { count: 24, concurrency: 4 });
      expect(failures(seen), diagnose(node)).toEqual([]);
      expect(names(seen), node).toEqual(new Set(ALL));
      expect(
        seen.filter((r) => addressOf(r.peer) === CLIENT_IP6),
        node,
      ).toEqual([]);
    }
  });

  it('loadBalancerSourceRanges in IPv6: the listed source is answered, another dropped, the node itself dropped', async () => {
    const allowed = await world.fromClient('tcp', `[${LB_IP6}]:80`, { count: 8, concurrency: 4 });
    expect(failures(allowed), diagnose('n1')).toEqual([]);
    const [denied] = await world.fromClient('tcp', `[${LB_IP6}]:80`, { source: CLIENT_SECOND_IP6, timeoutMs: 1500 });
    expect(denied).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
    const [own] = await world.fromNode('n1', 'tcp', `[${LB_IP6}]:80`, { timeoutMs: 1500 });
    expect(own).toMatchObject({ ok: false });
    // The IPv4 range is the IPv4 proxier's: the same client in IPv4 is answered.
    expect(failures(await world.fromClient('tcp', `${LB_IP}:80`, { count: 4 })), diagnose('n1')).toEqual([]);
  });

  it("a full sync of one family's proxier leaves the other family's virtual servers, addresses, sets and rules alone", async () => {
    expect(await world.daemon('n2').stop()).toBe(0);
    const v6 = snapshot('n2', 'IPv6');
    expect(v6.virtualServers.length).toBeGreaterThan(0);
    // The IPv4 proxier wanting nothing: every IPv4 object goes, no IPv6 one.
    await oneFamily('n2', 'IPv4', 'sync');
    expect(ofFamily('n2', 'IPv4')).toEqual([]);
    expect(bound('n2').filter((a) => !a.includes(':'))).toEqual([]);
    expect(members('n2', 'KUBE-CLUSTER-IP')).toEqual([]);
    expect(snapshot('n2', 'IPv6')).toEqual(v6);
    // Its clean-up: its rules and sets go; kube-ipvs0 stays, holding the IPv6 addresses.
    await oneFamily('n2', 'IPv4', 'cleanup');
    expect(rules('n2', 'IPv4')).toEqual([]);
    expect(setNames('n2').filter((n) => !KUBE6.test(n))).toEqual([]);
    expect(snapshot('n2', 'IPv6')).toEqual(v6);

    // The daemon puts IPv4 back; then the IPv6 proxier alone, the other way round.
    await world.startDaemon('n2');
    expect(await world.daemon('n2').stop()).toBe(0);
    const v4 = snapshot('n2', 'IPv4');
    expect(v4.virtualServers.length).toBeGreaterThan(0);
    expect(snapshot('n2', 'IPv6')).toEqual(v6);
    await oneFamily('n2', 'IPv6', 'sync');
    expect(ofFamily('n2', 'IPv6')).toEqual([]);
    expect(bound('n2').filter((a) => a.includes(':'))).toEqual([]);
    expect(snapshot('n2', 'IPv4')).toEqual(v4);
    await oneFamily('n2', 'IPv6', 'cleanup');
    expect(rules('n2', 'IPv6')).toEqual([]);
    expect(setNames('n2').filter((n) => KUBE6.test(n))).toEqual([]);
    expect(snapshot('n2', 'IPv4')).toEqual(v4);
  }, 300_000);

  it('a restarted daemon adopts both families: its first sync writes nothing', async () => {
    expect(await world.daemon('n1').stop()).toBe(0);
    const d = await world.startDaemon('n1');
    expect(d.syncs()[0]).toMatchObject({ full: true, written: 0 });
  });

  it("--cleanup removes both families': virtual servers, KUBE-* and KUBE-6-* sets, iptables and ip6tables rules, kube-ipvs0", async () => {
    expect(await world.daemon('n1').stop()).toBe(0);
    expect(ofFamily('n1', 'IPv6').length).toBeGreaterThan(0);
    expect(setNames('n1').filter((n) => KUBE6.test(n)).length).toBeGreaterThan(0);
    const { code, stderr } = await world.cleanup('n1');
    expect(code, stderr).toBe(0);
    expect(ipvsadmList(world.net, ns('n1'))).toEqual([]);
    expect(setNames('n1')).toEqual([]);
    expect(rules('n1', 'IPv4')).toEqual([]);
    expect(rules('n1', 'IPv6')).toEqual([]);
    expect(bound('n1')).toEqual([]);
  });
});
