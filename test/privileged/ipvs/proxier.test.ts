// The ipvs mode's own layout and IPVS behaviour, on a kernel with IPVS (the
// VM harness; this machine's kernel has none, so here the file skips and says
// why). The real daemon runs on each node of a namespace cluster; what it
// programmed is read with the reference tools (ipvsadm -Ln, ipset, ip,
// iptables-save) and judged with traffic: the scheduler's spread, persistence
// for ClientIP affinity, graceful removal of a real server with a connection
// still open, NodePorts on the node's addresses (following them as they
// change), and loadBalancerSourceRanges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IP, CLIENT_SECOND_IP, type Pod } from '../../harness/cluster.js';
import { kernelHasIpvs } from '../../harness/ipvs.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { holdConnection } from '../../harness/traffic.js';
import { POD_TCP_PORT, POD_UDP_PORT, type ServiceSpec } from '../e2e/fixtures.js';
import { E2eWorld, failures, names, until } from '../e2e/world.js';
import { ipvsadmList, type IpvsadmService } from './ipvsadm.js';

const runnable = requirePrivileges() && kernelHasIpvs();
const title = runnable
  ? 'the ipvs mode on a kernel with IPVS'
  : 'the ipvs mode (SKIPPED: this kernel has no IPVS; scripts/test.sh vm runs this file on Debian 6.12)';

const ALL = ['n1p1', 'n1p2', 'n2p1', 'n2p2'];

function services(pod: (name: string) => Pod): ServiceSpec[] {
  const all = ALL.map(pod);
  return [
    { name: 'web', clusterIPs: ['10.96.0.10'], endpoints: all },
    { name: 'empty', clusterIPs: ['10.96.0.11'], endpoints: [] },
    { name: 'dns', clusterIPs: ['10.96.0.12'], protocol: 'UDP', port: 53, endpoints: all },
    { name: 'sticky', clusterIPs: ['10.96.0.14'], endpoints: all, affinitySeconds: 300 },
    {
      name: 'local',
      clusterIPs: ['10.96.0.15'],
      internalTrafficPolicy: 'Local',
      endpoints: [pod('n1p1'), pod('n2p1')],
    },
    { name: 'drain', clusterIPs: ['10.96.0.16'], endpoints: [pod('n2p1'), pod('n2p2')] },
    // North-south.
    { name: 'np', clusterIPs: ['10.96.0.30'], type: 'NodePort', nodePort: 30080, endpoints: all },
    {
      name: 'np-udp',
      clusterIPs: ['10.96.0.31'],
      type: 'NodePort',
      protocol: 'UDP',
      port: 53,
      nodePort: 30053,
      endpoints: all,
    },
    {
      name: 'np-local',
      clusterIPs: ['10.96.0.32'],
      type: 'NodePort',
      nodePort: 30082,
      externalTrafficPolicy: 'Local',
      endpoints: [pod('n1p1'), pod('n1p2')],
    },
    // Open to the client's first address only: no range holds a node.
    {
      name: 'lb-ranges',
      clusterIPs: ['10.96.0.36'],
      type: 'LoadBalancer',
      nodePort: 30083,
      loadBalancerIngress: [{ ip: RANGES_LB_IP }],
      loadBalancerSourceRanges: [`${CLIENT_IP}/32`],
      endpoints: all,
    },
    // Open to the nodes' subnet: the node itself may reach it.
    {
      name: 'lb-nodes',
      clusterIPs: ['10.96.0.38'],
      type: 'LoadBalancer',
      nodePort: 30085,
      loadBalancerIngress: [{ ip: NODES_LB_IP }],
      loadBalancerSourceRanges: ['172.31.0.0/24'],
      endpoints: all,
    },
  ];
}

const RANGES_LB_IP = '198.51.100.30';
const NODES_LB_IP = '198.51.100.31';
const NODE_PORTS = { tcp: [30080, 30082, 30083, 30085], udp: [30053] };
/**
 * Where the node's NodePorts answer without --nodeport-addresses: every local
 * address but loopback and link-local (the pods' gateway on lo) — here, the wire's.
 */
const nodePortAddresses = (wireIp: string) => [wireIp];
/** The peer address a backend saw, without its port. */
const peerIp = (peer: string | undefined) => peer?.slice(0, peer.lastIndexOf(':'));

describe.runIf(runnable)(title, () => {
  // A periodic sync every 3 s: drained real servers are deleted by the sync after their last connection ends.
  const world = new E2eWorld({ mode: 'ipvs', args: ['--ipvs-min-sync-period=0', '--ipvs-sync-period=3s'] });
  const ns = (node: string) => world.node(node).ns;
  const ip = (pod: string) => world.pod(pod).ip;
  const rs = (pods: string[], port = POD_TCP_PORT, weight = 1) =>
    pods
      .map((p) => ({ id: `${ip(p)}:${port}`, forward: 'Masq', weight, active: 0, inactive: 0 }))
      .sort((a, b) => a.id.localeCompare(b.id));
  const vs = (id: string, realServers: IpvsadmService['realServers'], persistent?: number): IpvsadmService => ({
    id,
    scheduler: 'rr',
    persistent,
    mask: undefined,
    realServers,
  });
  /** ipvsadm's view without the connection counters, which traffic of earlier tests moves. */
  const layout = (node: string) =>
    ipvsadmList(world.net, ns(node)).map((s) => ({
      ...s,
      realServers: s.realServers.map((r) => ({ ...r, active: 0, inactive: 0 })),
    }));
  const wire = (node: string) => world.node(node).wireIp;
  /** The members of an ipset as `ipset save` prints them, sorted. */
  const members = (node: string, set: string) =>
    world.net
      .exec(ns(node), 'ipset', ['save', set])
      .split('\n')
      .filter((l) => l.startsWith('add '))
      .map((l) => l.split(' ')[2])
      .sort();

  /** What a failed traffic check shows: the node's IPVS table with counters, its rules' counters, the kernel's last words. */
  const diagnose = (node: string) =>
    [
      world.net.exec(ns(node), 'ipvsadm', ['-Ln', '--stats']),
      world.net.exec(ns(node), 'ipvsadm', ['-Lnc']),
      world.net.exec(ns(node), 'conntrack', ['-L'], { allowFail: true }),
      world.net.exec(ns(node), 'iptables-save', ['-c']),
      world.net.exec(ns(node), 'ipset', ['save']),
      world.net.exec(ns(node), 'dmesg', [], { allowFail: true }).split('\n').slice(-20).join('\n'),
    ].join('\n');

  beforeAll(() => world.start(services));
  afterAll(() => world.teardown());

  it("lays out kube-proxy's IPVS mode: a virtual server per ClusterIP and port, real servers of weight 1, Masq", () => {
    const clusterIPs = (node: string) => layout(node).filter((s) => /^(TCP|UDP) 10\.96\.0\.1\d:/.test(s.id));
    expect(clusterIPs('n1')).toEqual([
      vs('TCP 10.96.0.10:80', rs(ALL)),
      vs('TCP 10.96.0.11:80', []),
      vs('TCP 10.96.0.14:80', rs(ALL), 300),
      // internalTrafficPolicy Local: this node's endpoint only.
      vs('TCP 10.96.0.15:80', rs(['n1p1'])),
      vs('TCP 10.96.0.16:80', rs(['n2p1', 'n2p2'])),
      vs('UDP 10.96.0.12:53', rs(ALL, POD_UDP_PORT)),
    ]);
    expect(clusterIPs('n2').find((s) => s.id === 'TCP 10.96.0.15:80')?.realServers).toEqual(rs(['n2p1']));
  });

  it('binds every service address to kube-ipvs0 and fills the ipsets its rules match', () => {
    const addrs = JSON.parse(world.net.exec(ns('n1'), 'ip', ['-j', 'addr', 'show', 'dev', 'kube-ipvs0'])) as Array<{
      addr_info: Array<{ local: string; prefixlen: number }>;
    }>;
    const serviceAddresses = [
      '10.96.0.10',
      '10.96.0.11',
      '10.96.0.12',
      '10.96.0.14',
      '10.96.0.15',
      '10.96.0.16',
      '10.96.0.30',
      '10.96.0.31',
      '10.96.0.32',
      '10.96.0.36',
      '10.96.0.38',
      RANGES_LB_IP,
      NODES_LB_IP,
    ];
    // Service addresses only: NodePorts use the node's own addresses, which stay where they are.
    expect(addrs[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual(
      serviceAddresses.map((a) => `${a}/32`).sort(),
    );
    expect(members('n1', 'KUBE-CLUSTER-IP')).toEqual([
      '10.96.0.10,tcp:80',
      '10.96.0.11,tcp:80',
      '10.96.0.12,udp:53',
      '10.96.0.14,tcp:80',
      '10.96.0.15,tcp:80',
      '10.96.0.16,tcp:80',
      '10.96.0.30,tcp:80',
      '10.96.0.31,udp:53',
      '10.96.0.32,tcp:80',
      '10.96.0.36,tcp:80',
      '10.96.0.38,tcp:80',
    ]);
    expect(members('n1', 'KUBE-LOOP-BACK')).toContain(`${ip('n1p1')},tcp:${POD_TCP_PORT},${ip('n1p1')}`);
    expect(members('n1', 'KUBE-IPVS-IPS')).toEqual([...serviceAddresses].sort());
    const nat = world.net.exec(ns('n1'), 'iptables-save', ['-t', 'nat']);
    expect(nat).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(nat).toMatch(/-A KUBE-POSTROUTING .*--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE/);
    expect(nat).toMatch(/-A PREROUTING .*-j KUBE-SERVICES/);
  });

  it("round robin: spreads one client's connections evenly over the real servers", async () => {
    const rs = await world.fromPod('n1p2', 'tcp', '10.96.0.10:80', { count: 40 });
    expect(failures(rs)).toEqual([]);
    const counts = ALL.map((n) => rs.filter((r) => r.name === n).length);
    expect(Math.max(...counts) - Math.min(...counts), `per backend: ${counts.join(', ')}`).toBeLessThanOrEqual(1);
  });

  it('persistence: ClientIP affinity keeps each client on one real server', async () => {
    for (const pod of ['n1p1', 'n1p2']) {
      const rs = await world.fromPod(pod, 'tcp', '10.96.0.14:80', { count: 12 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs).size).toBe(1);
    }
  });

  it('drains a removed real server: weight 0 while its connection is open, no new connection, deleted once it is gone', async () => {
    // Closed with a RST: IPVS keeps a connection closed with FINs in TIME_WAIT for 2 minutes, one reset for 10 s.
    const held = await holdConnection(world.net, world.pod('n1p2').ns, '10.96.0.16:80', { close: 'reset' });
    const other = held.name === 'n2p1' ? 'n2p2' : 'n2p1';
    const drain = world.manifests.get('drain');
    const heldId = `${ip(held.name)}:${POD_TCP_PORT}`;
    const entry = () => ipvsadmList(world.net, ns('n1')).find((s) => s.id === 'TCP 10.96.0.16:80')!;
    try {
      world.manifests.set({ ...drain, endpoints: [world.pod(other)] });
      await world.apply();
      // (apply() may return on a periodic sync: wait for the change itself.)
      const draining = await until(
        async () => entry().realServers.find((r) => r.id === heldId),
        (r) => r?.weight === 0,
      );
      expect(draining).toMatchObject({ weight: 0, active: 1 });
      const rs = await world.fromPod('n1p1', 'tcp', '10.96.0.16:80', { count: 10 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set([other]));
      expect(await held.send('draining')).toBe(`${held.name} draining`);
    } finally {
      await held.close();
    }
    // The reset connection stays in IPVS's table (CLOSE) for 10 s; then a periodic sync deletes the real server.
    const gone = await until(
      async () => entry().realServers.map((r) => r.id),
      (ids) => !ids.includes(heldId),
      60_000,
    );
    expect(gone).toEqual([`${ip(other)}:${POD_TCP_PORT}`]);
    world.manifests.set(drain);
    await world.apply();
  }, 120_000);

  it('gives each NodePort a virtual server on every address of the node, with the real servers of its traffic policy', () => {
    for (const node of ['n1', 'n2']) {
      const nodePorts = layout(node).filter((s) => !/ 10\.96\.| 198\.51\.100\./.test(s.id));
      const expected: IpvsadmService[] = [];
      for (const address of nodePortAddresses(wire(node))) {
        // externalTrafficPolicy Local: n1's own endpoints there; n2 has none, so every endpoint (both on n1), for its pods.
        expected.push(
          vs(`TCP ${address}:30080`, rs(ALL)),
          vs(`TCP ${address}:30082`, rs(['n1p1', 'n1p2'])),
          vs(`TCP ${address}:30083`, rs(ALL)),
          vs(`TCP ${address}:30085`, rs(ALL)),
          vs(`UDP ${address}:30053`, rs(ALL, POD_UDP_PORT)),
        );
      }
      expect(nodePorts, node).toEqual(expected.sort((a, b) => a.id.localeCompare(b.id)));
      expect(members(node, 'KUBE-NODE-PORT-TCP'), node).toEqual(NODE_PORTS.tcp.map(String).sort());
      expect(members(node, 'KUBE-NODE-PORT-UDP'), node).toEqual(NODE_PORTS.udp.map(String));
      expect(members(node, 'KUBE-NODE-PORT-LOCAL-TCP'), node).toEqual(['30082']);
    }
    // Only n2 lacks an endpoint of the Local one: it drops it from outside the cluster.
    expect(members('n1', 'KUBE-NO-LOCAL-EXTERNAL')).toEqual([]);
    expect(members('n2', 'KUBE-NO-LOCAL-EXTERNAL')).toEqual(
      nodePortAddresses(wire('n2'))
        .map((a) => `${a},tcp:30082`)
        .sort(),
    );
    const nat = world.net.exec(ns('n1'), 'iptables-save', ['-t', 'nat']);
    expect(nat).toContain('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
    expect(nat).toMatch(/-A KUBE-NODE-PORT -p tcp .*--match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN/);
    expect(nat).toMatch(/-A KUBE-NODE-PORT -p tcp .*--match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ/);
    expect(nat).toMatch(/-A KUBE-NODE-PORT -p udp .*--match-set KUBE-NODE-PORT-UDP dst -j KUBE-MARK-MASQ/);
  });

  it('NodePorts carry TCP and UDP from outside to every backend, masqueraded; Local keeps the client and its node', async () => {
    for (const node of ['n1', 'n2']) {
      for (const [proto, port] of [
        ['tcp', 30080],
        ['udp', 30053],
      ] as const) {
        const seen = await world.fromClient(proto, `${wire(node)}:${port}`, { count: 24, concurrency: 4 });
        expect(failures(seen), `${proto} ${node}`).toEqual([]);
        expect(names(seen), `${proto} ${node}`).toEqual(new Set(ALL));
        // Policy Cluster: the backend answers the node, never the client itself.
        expect(
          seen.filter((r) => peerIp(r.peer) === CLIENT_IP),
          `${proto} ${node}`,
        ).toEqual([]);
      }
    }
    // Policy Local on n1: its own endpoints, the client's address kept.
    const local = await world.fromClient('tcp', `${wire('n1')}:30082`, { count: 12, concurrency: 4 });
    expect(failures(local), diagnose('n1')).toEqual([]);
    expect([...names(local)].sort()).toEqual(['n1p1', 'n1p2']);
    expect(new Set(local.map((r) => peerIp(r.peer)))).toEqual(new Set([CLIENT_IP]));
    // n2 has none: the client is dropped, a pod on n2 is served by n1's.
    const [dropped] = await world.fromClient('tcp', `${wire('n2')}:30082`, { timeoutMs: 1500 });
    expect(dropped).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
    const fromPod = await world.fromPod('n2p1', 'tcp', `${wire('n2')}:30082`, { count: 6 });
    expect(failures(fromPod), diagnose('n2')).toEqual([]);
    expect([...names(fromPod)].every((n) => n === 'n1p1' || n === 'n1p2')).toBe(true);
    // The node's own connections to its NodePort.
    const own = await world.fromNode('n1', 'tcp', `${wire('n1')}:30080`, { count: 8, concurrency: 4 });
    expect(failures(own), diagnose('n1')).toEqual([]);
  });

  it("loadBalancerSourceRanges: kube-proxy's ipsets and firewall chains, with a rule for the node's own connections", () => {
    expect(members('n1', 'KUBE-LOAD-BALANCER-FW')).toEqual([`${RANGES_LB_IP},tcp:80`, `${NODES_LB_IP},tcp:80`]);
    expect(members('n1', 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual([
      `${RANGES_LB_IP},tcp:80,${CLIENT_IP}`,
      `${NODES_LB_IP},tcp:80,172.31.0.0/24`,
    ]);
    // A range holds the node: the VIP may reach itself.
    expect(members('n1', 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual([`${NODES_LB_IP},tcp:80,${NODES_LB_IP}`]);
    const filter = world.net.exec(ns('n1'), 'iptables-save', ['-t', 'filter']).split('\n');
    const chain = (name: string) => filter.filter((l) => l.startsWith(`-A ${name} `));
    expect(chain('KUBE-PROXY-FIREWALL')).toEqual([
      expect.stringMatching(/--match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL$/),
    ]);
    expect(chain('KUBE-SOURCE-RANGES-FIREWALL')).toEqual([
      expect.stringMatching(/--match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN$/),
      expect.stringMatching(/--match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN$/),
      '-A KUBE-SOURCE-RANGES-FIREWALL -j DROP',
    ]);
    // Only the one no range lets the node reach.
    // Only the one no range lets the node reach (iptables-save prints the protocol by number).
    expect(chain('KUBE-IPVS-OUT-FILTER')).toEqual([
      `-A KUBE-IPVS-OUT-FILTER -s ${RANGES_LB_IP}/32 -m ipvs --vproto 6 --vaddr ${RANGES_LB_IP} --vport 80 -j DROP`,
    ]);
    expect(filter).toContain('-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL');
    expect(filter).toContain('-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER');
  });

  it('loadBalancerSourceRanges: the LB IP answers listed sources and drops the rest, its NodePort and ClusterIP answer all', async () => {
    const allowed = await world.fromClient('tcp', `${RANGES_LB_IP}:80`, { count: 8, concurrency: 4 });
    expect(failures(allowed), diagnose('n1')).toEqual([]);
    const [denied] = await world.fromClient('tcp', `${RANGES_LB_IP}:80`, {
      source: CLIENT_SECOND_IP,
      timeoutMs: 1500,
    });
    expect(denied).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
    // Pods are sources like any other: n1p2 is not in the range.
    const [pod] = await world.fromPod('n1p2', 'tcp', `${RANGES_LB_IP}:80`, { timeoutMs: 1500 });
    expect(pod).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
    expect(failures(await world.fromPod('n1p2', 'tcp', '10.96.0.36:80', { count: 4 }))).toEqual([]);
    const nodePort = await world.fromClient('tcp', `${wire('n1')}:30083`, { count: 4, source: CLIENT_SECOND_IP });
    expect(failures(nodePort)).toEqual([]);
    // The node's own connection: dropped on the way out where no range holds it, served where one does.
    const [own] = await world.fromNode('n1', 'tcp', `${RANGES_LB_IP}:80`, { timeoutMs: 1500 });
    expect(own).toMatchObject({ ok: false });
    const ownAllowed = await world.fromNode('n1', 'tcp', `${NODES_LB_IP}:80`, { count: 4 });
    expect(failures(ownAllowed), diagnose('n1')).toEqual([]);
    // The client's second address is in 172.31.0.0/24 too.
    const second = await world.fromClient('tcp', `${NODES_LB_IP}:80`, { count: 4, source: CLIENT_SECOND_IP });
    expect(failures(second)).toEqual([]);
  });

  it("follows the node's addresses: a NodePort virtual server on an address that appears, gone once it goes", async () => {
    const added = '172.31.0.50';
    const has = () => ipvsadmList(world.net, ns('n1')).some((s) => s.id === `TCP ${added}:30080`);
    world.net.ip(ns('n1'), 'addr', 'add', `${added}/24`, 'dev', 'wire');
    try {
      // No Node object changed: the sync loop sees the interface's new address at its next period (3 s here).
      expect(
        await until(
          async () => has(),
          (v) => v,
          60_000,
        ),
      ).toBe(true);
      const rs = await world.fromClient('tcp', `${added}:30080`, { count: 8, concurrency: 4 });
      expect(failures(rs), diagnose('n1')).toEqual([]);
    } finally {
      world.net.ip(ns('n1'), 'addr', 'del', `${added}/24`, 'dev', 'wire');
    }
    expect(
      await until(
        async () => has(),
        (v) => !v,
        60_000,
      ),
    ).toBe(false);
    expect(
      layout('n1')
        .filter((s) => s.id.endsWith(':30080'))
        .map((s) => s.id),
    ).toEqual(nodePortAddresses(wire('n1')).map((a) => `TCP ${a}:30080`));
  }, 180_000);

  it('a restarted daemon adopts what is programmed: its first sync changes nothing in IPVS', async () => {
    expect(await world.daemon('n2').stop()).toBe(0);
    const d = await world.startDaemon('n2');
    const first = d.syncs()[0]!;
    expect(first).toMatchObject({ full: true, written: 0 });
  });

  it('--ipvs-scheduler and the --ipvs-*-timeout flags: a restart with them edits the virtual servers in place', async () => {
    expect(await world.daemon('n2').stop()).toBe(0);
    await world.startDaemon('n2', [
      '--ipvs-scheduler=sh',
      '--ipvs-tcp-timeout=10m',
      '--ipvs-tcpfin-timeout=30s',
      '--ipvs-udp-timeout=100s',
    ]);
    const list = ipvsadmList(world.net, ns('n2'));
    expect(new Set(list.map((s) => s.scheduler))).toEqual(new Set(['sh']));
    expect(world.net.exec(ns('n2'), 'ipvsadm', ['-L', '--timeout'])).toMatch(/Timeout \(tcp tcpfin udp\): 600 30 100/);
    // Source hashing: one client always reaches the same real server.
    const rs = await world.fromPod('n2p2', 'tcp', '10.96.0.10:80', { count: 12 });
    expect(failures(rs), failures(rs).length ? diagnose('n2') : '').toEqual([]);
    expect(names(rs).size).toBe(1);
  });

  // Last: strict ARP makes the node ignore ARP for its local addresses on other
  // interfaces, and this harness's pods reach their gateway 169.254.1.1 on the
  // node's lo; a cluster with Calico-style proxy ARP is not affected.
  it('--ipvs-strict-arp: the node answers ARP only for addresses on the interface asked (arp_ignore=1, arp_announce=2)', async () => {
    const arp = () =>
      world.net
        .exec(ns('n1'), 'sysctl', ['-n', 'net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.all.arp_announce'])
        .trim()
        .split('\n');
    expect(arp()).toEqual(['0', '0']);
    expect(await world.daemon('n1').stop()).toBe(0);
    await world.startDaemon('n1', ['--ipvs-strict-arp']);
    expect(arp()).toEqual(['1', '2']);
  });

  it('--cleanup removes every virtual server, ipset and chain of the mode, the NodePort and firewall ones included', async () => {
    expect(await world.daemon('n2').stop()).toBe(0);
    const { code, stderr } = await world.cleanup('n2');
    expect(code, stderr).toBe(0);
    expect(ipvsadmList(world.net, ns('n2'))).toEqual([]);
    expect(world.net.exec(ns('n2'), 'ipset', ['list', '-n']).trim()).toBe('');
    for (const table of ['raw', 'filter', 'nat']) {
      const saved = world.net.exec(ns('n2'), 'iptables-save', ['-t', table]);
      expect(
        saved.split('\n').filter((l) => /KUBE-/.test(l)),
        table,
      ).toEqual([]);
    }
  });
});
