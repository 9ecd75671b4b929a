// The ipvs mode's own layout and IPVS behaviour, on a kernel with IPVS (the
// VM harness; this machine's kernel has none, so here the file skips and says
// why). The real daemon runs on each node of a namespace cluster; what it
// programmed is read with the reference tools (ipvsadm -Ln, ipset, ip,
// iptables-save) and judged with traffic: the scheduler's spread, persistence
// for ClientIP affinity, and graceful removal of a real server with a
// connection still open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../harness/cluster.js';
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
    { name: 'web', clusterIP: '10.96.0.10', endpoints: all },
    { name: 'empty', clusterIP: '10.96.0.11', endpoints: [] },
    { name: 'dns', clusterIP: '10.96.0.12', protocol: 'UDP', port: 53, endpoints: all },
    { name: 'sticky', clusterIP: '10.96.0.14', endpoints: all, affinitySeconds: 300 },
    { name: 'local', clusterIP: '10.96.0.15', internalTrafficPolicy: 'Local', endpoints: [pod('n1p1'), pod('n2p1')] },
    { name: 'drain', clusterIP: '10.96.0.16', endpoints: [pod('n2p1'), pod('n2p2')] },
  ];
}

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
    expect(layout('n1')).toEqual([
      vs('TCP 10.96.0.10:80', rs(ALL)),
      vs('TCP 10.96.0.11:80', []),
      vs('TCP 10.96.0.14:80', rs(ALL), 300),
      // internalTrafficPolicy Local: this node's endpoint only.
      vs('TCP 10.96.0.15:80', rs(['n1p1'])),
      vs('TCP 10.96.0.16:80', rs(['n2p1', 'n2p2'])),
      vs('UDP 10.96.0.12:53', rs(ALL, POD_UDP_PORT)),
    ]);
    expect(layout('n2').find((s) => s.id === 'TCP 10.96.0.15:80')?.realServers).toEqual(rs(['n2p1']));
  });

  it('binds every service address to kube-ipvs0 and fills the ipsets its rules match', () => {
    const addrs = JSON.parse(world.net.exec(ns('n1'), 'ip', ['-j', 'addr', 'show', 'dev', 'kube-ipvs0'])) as Array<{
      addr_info: Array<{ local: string; prefixlen: number }>;
    }>;
    expect(addrs[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual(
      ['10.96.0.10', '10.96.0.11', '10.96.0.12', '10.96.0.14', '10.96.0.15', '10.96.0.16'].map((a) => `${a}/32`),
    );
    const members = (set: string) =>
      world.net
        .exec(ns('n1'), 'ipset', ['save', set])
        .split('\n')
        .filter((l) => l.startsWith('add '))
        .map((l) => l.split(' ')[2])
        .sort();
    expect(members('KUBE-CLUSTER-IP')).toEqual([
      '10.96.0.10,tcp:80',
      '10.96.0.11,tcp:80',
      '10.96.0.12,udp:53',
      '10.96.0.14,tcp:80',
      '10.96.0.15,tcp:80',
      '10.96.0.16,tcp:80',
    ]);
    expect(members('KUBE-LOOP-BACK')).toContain(`${ip('n1p1')},tcp:${POD_TCP_PORT},${ip('n1p1')}`);
    expect(members('KUBE-IPVS-IPS')).toHaveLength(6);
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
});
