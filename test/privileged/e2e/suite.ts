// One end-to-end suite for every proxy mode: the real daemon on each node of a
// namespace cluster, fed by manifest files, judged only by traffic. What it
// expects is what kube-proxy does; a mode that behaves otherwise has a bug, and
// a mode that cannot do something yet says so with a skip reason per
// capability (shown in the test's name), never by passing. Nothing here looks
// at a mode's internals (maps, pins, chains, filters): mode-specific tests do.
//
// The tests share one cluster and run in order; each leaves the services as
// it found them, so a skipped test never changes what the next one sees.
// Restart and --cleanup come last, --cleanup the very last.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod } from '../../harness/cluster.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { holdConnection, type ProbeResult } from '../../harness/traffic.js';
import type { ServiceSpec } from './fixtures.js';
import { E2eWorld, failures, names, until, type ProxyMode } from './world.js';

export type Capability =
  | 'tcp'
  | 'udp'
  | 'reject'
  | 'reject-udp'
  | 'hairpin'
  | 'session-affinity'
  | 'endpoint-removal'
  | 'udp-endpoint-removal'
  | 'endpoint-changes'
  | 'local-traffic-policy'
  | 'local-traffic-policy-from-node'
  | 'terminating-fallback'
  | 'node-originated'
  | 'off-cluster-client'
  | 'restart'
  | 'cleanup';

export interface ServiceSuiteOptions {
  /** More daemon flags, e.g. --iptables-min-sync-period=0. */
  args?: string[];
  /** Capabilities this mode lacks, each with the reason shown in the test name. */
  skip?: Partial<Record<Capability, string>>;
}

const WEB = '10.96.0.10:80';
const EMPTY = '10.96.0.11:80';
const DNS = '10.96.0.12:53';
const SELF = '10.96.0.13:80';
const STICKY = '10.96.0.14:80';
const LOCAL = '10.96.0.15:80';
const DRAINING = '10.96.0.16:80';
const LOCAL_N1 = '10.96.0.17:80';
const SCALE = '10.96.0.20:80';
const EMPTY_UDP = '10.96.0.21:53';

const ip = (target: string) => target.slice(0, target.lastIndexOf(':'));
const ALL = ['n1p1', 'n1p2', 'n2p1', 'n2p2'];

/** The services at the start of every test. */
function services(pod: (name: string) => Pod): ServiceSpec[] {
  const all = ALL.map(pod);
  return [
    { name: 'web', clusterIP: ip(WEB), endpoints: all },
    { name: 'empty', clusterIP: ip(EMPTY), endpoints: [] },
    { name: 'dns', clusterIP: ip(DNS), protocol: 'UDP', port: 53, endpoints: all },
    { name: 'self', clusterIP: ip(SELF), endpoints: [pod('n1p1')] },
    { name: 'sticky', clusterIP: ip(STICKY), endpoints: all, affinitySeconds: 300 },
    {
      name: 'local',
      clusterIP: ip(LOCAL),
      internalTrafficPolicy: 'Local',
      endpoints: [pod('n1p1'), pod('n2p1'), pod('n2p2')],
    },
    { name: 'local-n1', clusterIP: ip(LOCAL_N1), internalTrafficPolicy: 'Local', endpoints: [pod('n1p1')] },
    {
      name: 'draining',
      clusterIP: ip(DRAINING),
      // Every endpoint is shutting down and one still serves: kube-proxy falls back to it.
      endpoints: [
        { pod: pod('n2p2'), ready: false, serving: true, terminating: true },
        { pod: pod('n2p1'), ready: false, serving: false, terminating: true },
      ],
    },
    { name: 'scale', clusterIP: ip(SCALE), endpoints: [pod('n2p1')] },
    { name: 'empty-udp', clusterIP: ip(EMPTY_UDP), protocol: 'UDP', port: 53, endpoints: [] },
  ];
}

export function defineServiceSuite(mode: ProxyMode, opts: ServiceSuiteOptions = {}): void {
  /** A test of one capability, skipped with its reason when the mode lacks it. */
  const test = (cap: Capability, name: string, fn: () => Promise<void>) => {
    const why = opts.skip?.[cap];
    it.skipIf(why !== undefined)(why === undefined ? name : `${name} [skipped for ${mode}: ${why}]`, fn);
  };

  describe.runIf(requirePrivileges())(`services end to end (${mode})`, () => {
    const world = new E2eWorld({ mode, ...(opts.args ? { args: opts.args } : {}) });
    const ipOf = (pod: string) => world.pod(pod).ip;
    const peerIp = (peer: string | undefined) => peer?.slice(0, peer.lastIndexOf(':'));

    beforeAll(() => world.start(services));
    afterAll(() => world.teardown());

    test('tcp', 'carries TCP from a pod to every backend, local and remote, unmasqueraded', async () => {
      const rs = await world.fromPod('n1p1', 'tcp', WEB, { count: 40, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(ALL));
      // Other backends see the client's own address; n1p1 reaching itself is hairpin, tested below.
      for (const r of rs.filter((x) => x.name !== 'n1p1')) expect(peerIp(r.peer)).toBe(ipOf('n1p1'));
    });

    test('udp', 'carries UDP over more than one backend, replies included', async () => {
      const rs = await world.fromPod('n2p1', 'udp', DNS, { count: 30 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs).size).toBeGreaterThan(1);
    });

    test('reject', 'refuses TCP to a service without endpoints at once, from a pod and from the node', async () => {
      const [fromPod] = await world.fromPod('n1p2', 'tcp', EMPTY, { timeoutMs: 5000 });
      const [fromNode] = await world.fromNode('n1', 'tcp', EMPTY, { timeoutMs: 5000 });
      for (const r of [fromPod, fromNode]) {
        expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
        expect(r!.ms).toBeLessThan(1000);
      }
    });

    test('reject-udp', 'refuses UDP to a service without endpoints (ICMP port unreachable), from a pod', async () => {
      const [r] = await world.fromPod('n1p2', 'udp', EMPTY_UDP, { timeoutMs: 3000 });
      expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      expect(r!.ms).toBeLessThan(1000);
    });

    test('hairpin', 'lets a pod reach itself through its service, from an address not its own', async () => {
      const rs = await world.fromPod('n1p1', 'tcp', SELF, { count: 5 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(['n1p1']));
      for (const r of rs) expect(peerIp(r.peer)).not.toBe(ipOf('n1p1'));
    });

    test('session-affinity', 'keeps a client on one backend with ClientIP affinity', async () => {
      const rs = await world.fromPod('n2p2', 'tcp', STICKY, { count: 20 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs).size).toBe(1);
    });

    test(
      'endpoint-removal',
      'sends no new connection to a removed endpoint while its open one keeps working',
      async () => {
        const held = await holdConnection(world.net, world.pod('n2p2').ns, WEB);
        const web = world.manifests.get('web');
        try {
          world.manifests.set({ ...web, endpoints: ALL.filter((n) => n !== held.name).map((n) => world.pod(n)) });
          await world.apply();
          const ok = (rs: ProbeResult[]) =>
            failures(rs).length === 0 && names(rs).size === 3 && !names(rs).has(held.name);
          const rs = await until(() => world.fromPod('n2p2', 'tcp', WEB, { count: 30, concurrency: 3 }), ok);
          expect(failures(rs)).toEqual([]);
          expect(names(rs)).toEqual(new Set(ALL.filter((n) => n !== held.name)));
          expect(await held.send('still-there')).toBe(`${held.name} still-there`);
        } finally {
          await held.close();
          world.manifests.set(web);
          await world.apply();
        }
      },
    );

    test(
      'udp-endpoint-removal',
      'moves a UDP flow off a removed endpoint (kube-proxy clears its conntrack entries)',
      async () => {
        // One flow: the same source port each time, so conntrack keeps it on one backend.
        const flow = () => world.fromPod('n2p2', 'udp', DNS, { count: 3, sourcePort: 41053 });
        const before = await flow();
        expect(failures(before)).toEqual([]);
        expect(names(before).size).toBe(1);
        const victim = [...names(before)][0] ?? '?';
        const dns = world.manifests.get('dns');
        try {
          world.manifests.set({ ...dns, endpoints: ALL.filter((n) => n !== victim).map((n) => world.pod(n)) });
          await world.apply();
          const after = await until(flow, (rs) => failures(rs).length === 0 && !names(rs).has(victim));
          expect(failures(after)).toEqual([]);
          expect(names(after).has(victim)).toBe(false);
        } finally {
          world.manifests.set(dns);
          await world.apply();
        }
      },
    );

    test('endpoint-changes', 'follows an endpoint scale-up and a service deletion', async () => {
      const scale = world.manifests.get('scale');
      try {
        expect(names(await world.fromPod('n1p1', 'tcp', SCALE, { count: 8 }))).toEqual(new Set(['n2p1']));
        world.manifests.set({ ...scale, endpoints: [world.pod('n2p1'), world.pod('n1p2')] });
        await world.apply();
        const both = new Set(['n1p2', 'n2p1']);
        let rs = await until(
          () => world.fromPod('n1p1', 'tcp', SCALE, { count: 16, concurrency: 4 }),
          (r) => names(r).size === 2,
        );
        expect(failures(rs)).toEqual([]);
        expect(names(rs)).toEqual(both);

        world.manifests.remove('scale');
        await world.apply();
        // Whatever the error (refused, dropped), nothing may answer for a deleted service.
        rs = await until(
          () => world.fromPod('n1p1', 'tcp', SCALE, { count: 2, concurrency: 2, timeoutMs: 500 }),
          (r) => names(r).size === 0,
        );
        expect(rs.filter((r) => r.ok)).toEqual([]);
      } finally {
        world.manifests.set(scale);
        await world.apply();
      }
    });

    test(
      'local-traffic-policy',
      "internalTrafficPolicy Local: only the node's own endpoints; none there drops, not refuses",
      async () => {
        const fromN1 = await world.fromPod('n1p2', 'tcp', LOCAL, { count: 12 });
        expect(failures(fromN1)).toEqual([]);
        expect(names(fromN1)).toEqual(new Set(['n1p1']));
        const fromN2 = await world.fromPod('n2p1', 'tcp', LOCAL, { count: 12, concurrency: 2 });
        expect(failures(fromN2)).toEqual([]);
        expect([...names(fromN2)].every((n) => n.startsWith('n2'))).toBe(true);
        // local-n1 has its one endpoint on n1: from n2 the connection is dropped.
        const [dropped] = await world.fromPod('n2p2', 'tcp', LOCAL_N1, { timeoutMs: 1500 });
        expect(dropped).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
      },
    );

    test(
      'local-traffic-policy-from-node',
      "internalTrafficPolicy Local: the node's own connection is dropped too when it has no endpoint",
      async () => {
        const [dropped] = await world.fromNode('n2', 'tcp', LOCAL_N1, { timeoutMs: 1500 });
        expect(dropped).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
      },
    );

    test('terminating-fallback', 'falls back to a serving terminating endpoint when none is ready', async () => {
      const rs = await world.fromPod('n1p1', 'tcp', DRAINING, { count: 12 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(['n2p2']));
    });

    test('node-originated', "carries the node's own TCP and UDP to ClusterIPs", async () => {
      const tcp = await world.fromNode('n1', 'tcp', WEB, { count: 20 });
      expect(failures(tcp)).toEqual([]);
      expect(names(tcp).size).toBeGreaterThan(1);
      const udp = await world.fromNode('n1', 'udp', DNS, { count: 10 });
      expect(failures(udp)).toEqual([]);
    });

    test(
      'off-cluster-client',
      'serves a client outside --cluster-cidr through a node, masqueraded so replies return through it',
      async () => {
        const client = world.cluster.client!;
        const rs = await world.fromClient('tcp', WEB, { count: 40, concurrency: 4 });
        expect(failures(rs)).toEqual([]);
        expect(names(rs)).toEqual(new Set(ALL));
        for (const r of rs) expect(peerIp(r.peer)).not.toBe(client.ip);
      },
    );

    test('restart', 'keeps serving while the daemon is down and after it restarts', async () => {
      const held = await holdConnection(world.net, world.pod('n1p2').ns, WEB);
      try {
        expect(await world.daemon('n1').stop()).toBe(0);
        expect(failures(await world.fromPod('n1p1', 'tcp', WEB, { count: 16, concurrency: 4 }))).toEqual([]);
        expect(await held.send('while-down')).toBe(`${held.name} while-down`);

        await world.startDaemon('n1');
        const rs = await until(
          () => world.fromPod('n1p1', 'tcp', WEB, { count: 16, concurrency: 4 }),
          (r) => failures(r).length === 0,
        );
        expect(failures(rs)).toEqual([]);
        expect(await held.send('after')).toBe(`${held.name} after`);
      } finally {
        await held.close();
      }
    });

    test('cleanup', "--cleanup after a stop leaves no service answering from the node's pods", async () => {
      expect(failures(await world.fromPod('n1p1', 'tcp', WEB, { count: 4 }))).toEqual([]);
      expect(await world.daemon('n1').stop()).toBe(0);
      const { code, stderr } = await world.cleanup('n1');
      expect(code, stderr).toBe(0);
      const rs = await world.fromPod('n1p1', 'tcp', WEB, { count: 3, concurrency: 3, timeoutMs: 1000 });
      expect(rs.filter((r) => r.ok)).toEqual([]);
    });
  });
}
