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
import { CLIENT_IP, type Pod } from '../../harness/cluster.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { holdConnection, type ProbeOptions, type ProbeResult } from '../../harness/traffic.js';
import { NAMESPACE, type ServiceSpec } from './fixtures.js';
import { E2eWorld, failures, names, until, untilEvery, type Protocol, type ProxyMode } from './world.js';

export type Capability =
  | 'tcp'
  | 'client-address'
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
  | 'nodeport'
  | 'nodeport-udp'
  | 'load-balancer'
  | 'external-ip'
  | 'external-local'
  | 'source-ranges'
  | 'health-check-node-port'
  | 'nodeport-from-node'
  | 'path-mtu'
  | 'localhost-nodeport'
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

// North-south: each service has a ClusterIP too, as the API server gives every one.
const NODE_PORT = 30080; // 'nodeport', 10.96.0.30:80
const NODE_PORT_UDP = 30053; // 'nodeport-udp', 10.96.0.31:53
/** 'lb': ingress LB_IP (ipMode VIP) and LB_PROXY_IP (ipMode Proxy); NodePort 30081. */
const LB_IP = '198.51.100.10';
const LB_PROXY_IP = '198.51.100.11';
/** 'external-ip' (TCP 80) and 'external-ip-udp' (UDP 53) share this spec.externalIPs address. */
const EXTERNAL_IP = '198.51.100.20';
const LOCAL_NODE_PORT = 30082; // 'external-local', externalTrafficPolicy Local, endpoints on n1 only
/** 'source-ranges': a LoadBalancer open to the client's own address only; NodePort 30083. */
const RANGES_LB_IP = '198.51.100.30';
const RANGES_NODE_PORT = 30083;
/** 'health-check': a Local LoadBalancer (LB IP 198.51.100.40, NodePort 30084) and its health-check node port. */
const HC_NODE_PORT = 32100;

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
    { name: 'nodeport', clusterIP: '10.96.0.30', type: 'NodePort', nodePort: NODE_PORT, endpoints: all },
    {
      name: 'nodeport-udp',
      clusterIP: '10.96.0.31',
      type: 'NodePort',
      protocol: 'UDP',
      port: 53,
      nodePort: NODE_PORT_UDP,
      endpoints: all,
    },
    {
      name: 'lb',
      clusterIP: '10.96.0.32',
      type: 'LoadBalancer',
      nodePort: 30081,
      // The second load balancer proxies itself (KEP-1860): the node must leave its IP alone.
      loadBalancerIngress: [
        { ip: LB_IP, ipMode: 'VIP' },
        { ip: LB_PROXY_IP, ipMode: 'Proxy' },
      ],
      endpoints: all,
    },
    { name: 'external-ip', clusterIP: '10.96.0.33', externalIPs: [EXTERNAL_IP], endpoints: all },
    {
      name: 'external-ip-udp',
      clusterIP: '10.96.0.34',
      protocol: 'UDP',
      port: 53,
      externalIPs: [EXTERNAL_IP],
      endpoints: all,
    },
    {
      name: 'external-local',
      clusterIP: '10.96.0.35',
      type: 'NodePort',
      nodePort: LOCAL_NODE_PORT,
      externalTrafficPolicy: 'Local',
      endpoints: [pod('n1p1'), pod('n1p2')],
    },
    {
      name: 'source-ranges',
      clusterIP: '10.96.0.36',
      type: 'LoadBalancer',
      nodePort: RANGES_NODE_PORT,
      loadBalancerIngress: [{ ip: RANGES_LB_IP, ipMode: 'VIP' }],
      loadBalancerSourceRanges: [`${CLIENT_IP}/32`],
      endpoints: all,
    },
    {
      name: 'health-check',
      clusterIP: '10.96.0.37',
      type: 'LoadBalancer',
      nodePort: 30084,
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: HC_NODE_PORT,
      loadBalancerIngress: [{ ip: '198.51.100.40', ipMode: 'VIP' }],
      endpoints: [pod('n1p1')],
    },
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

    test('tcp', 'carries TCP from a pod to every backend, local and remote', async () => {
      const rs = await world.fromPod('n1p1', 'tcp', WEB, { count: 40, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(ALL));
    });

    test('client-address', "keeps a pod's own address as the source its backends see (unmasqueraded)", async () => {
      const rs = await world.fromPod('n1p1', 'tcp', WEB, { count: 20, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      // n1p1 reaching itself is hairpin, tested below.
      const others = rs.filter((x) => x.name !== 'n1p1');
      expect(others.length).toBeGreaterThan(0);
      for (const r of others) expect(peerIp(r.peer)).toBe(ipOf('n1p1'));
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

    // North-south, as kube-proxy's proxier tests define it (TestNodePorts,
    // TestLoadBalancer, TestExternalTrafficPolicyLocal, TestHealthCheckNodePort):
    // from the outside client unless said otherwise.
    const nodeIp = (node: string) => world.node(node).wireIp;
    /** The answers whose backend saw the client's own address: none, where the node must masquerade. */
    const unmasqueraded = (rs: ProbeResult[]) => rs.filter((r) => r.ok && peerIp(r.peer) === CLIENT_IP);
    /** Fresh connections from the client until every backend has answered (untilEvery). */
    const everyBackend = (proto: Protocol, target: string, opts: ProbeOptions = {}) =>
      untilEvery(() => world.fromClient(proto, target, { count: 16, concurrency: 4, ...opts }), ALL);

    test(
      'nodeport',
      "reaches every backend through each node's NodePort (externalTrafficPolicy Cluster), masqueraded",
      async () => {
        for (const node of ['n1', 'n2']) {
          const rs = await everyBackend('tcp', `${nodeIp(node)}:${NODE_PORT}`);
          expect(failures(rs), node).toEqual([]);
          expect(names(rs), node).toEqual(new Set(ALL));
          // Cluster policy: the node SNATs, so a backend on the other node answers through it.
          expect(unmasqueraded(rs), node).toEqual([]);
        }
      },
    );

    test(
      'path-mtu',
      'carries large replies through a NodePort to a client behind a lower path MTU (ICMP fragmentation needed reaches the backend)',
      async () => {
        const far = world.cluster.farClient!;
        // A request of a few hundred bytes; each backend's echo of it in
        // segments of the 1460-byte MSS both ends advertise, which the far
        // router cannot take: only if its ICMP error reaches the backend,
        // translated back, do smaller segments follow.
        for (const node of ['n1', 'n2']) {
          const held = await holdConnection(world.net, far.ns, `${nodeIp(node)}:${NODE_PORT}`, { timeoutMs: 5000 });
          try {
            const line = 'x'.repeat(3 * far.pathMtu);
            expect(await held.send(line), node).toBe(`${held.name} ${line}`);
          } finally {
            await held.close();
          }
        }
      },
    );

    test('nodeport-udp', "carries UDP to every backend through each node's NodePort, masqueraded", async () => {
      for (const node of ['n1', 'n2']) {
        const rs = await everyBackend('udp', `${nodeIp(node)}:${NODE_PORT_UDP}`);
        expect(failures(rs), node).toEqual([]);
        expect(names(rs), node).toEqual(new Set(ALL));
        expect(unmasqueraded(rs), node).toEqual([]);
      }
    });

    test(
      'load-balancer',
      'serves a LoadBalancer ingress IP routed to a node, masqueraded; leaves an ipMode Proxy IP alone',
      async () => {
        // The Proxy IP is not captured: the node routes it on to the router, which drops it.
        // (Probed alongside, so its timeout does not add to the test's time.)
        const [rs, [proxied]] = await Promise.all([
          everyBackend('tcp', `${LB_IP}:80`),
          world.fromClient('tcp', `${LB_PROXY_IP}:80`, { timeoutMs: 1500 }),
        ]);
        expect(failures(rs)).toEqual([]);
        expect(names(rs)).toEqual(new Set(ALL));
        expect(unmasqueraded(rs)).toEqual([]);
        expect(proxied).toMatchObject({ ok: false });
      },
    );

    test('external-ip', 'serves TCP and UDP to a spec.externalIPs address routed to a node, masqueraded', async () => {
      const tcp = await everyBackend('tcp', `${EXTERNAL_IP}:80`);
      expect(failures(tcp)).toEqual([]);
      expect(names(tcp)).toEqual(new Set(ALL));
      expect(unmasqueraded(tcp)).toEqual([]);
      const udp = await world.fromClient('udp', `${EXTERNAL_IP}:53`, { count: 12, concurrency: 4 });
      expect(failures(udp)).toEqual([]);
      expect(names(udp).size).toBeGreaterThan(1);
      expect(unmasqueraded(udp)).toEqual([]);
    });

    test(
      'external-local',
      "externalTrafficPolicy Local: a node's own endpoints with the client's address kept; none there drops; pods use all",
      async () => {
        const local = new Set(['n1p1', 'n1p2']);
        const [rs, [dropped], fromPod] = await Promise.all([
          world.fromClient('tcp', `${nodeIp('n1')}:${LOCAL_NODE_PORT}`, { count: 12, concurrency: 4 }),
          // n2 has no endpoint of it: dropped, not refused.
          world.fromClient('tcp', `${nodeIp('n2')}:${LOCAL_NODE_PORT}`, { timeoutMs: 1500 }),
          // kube-proxy's short-circuit: traffic from a pod to an external address
          // uses every endpoint (the cluster policy), so a pod on n2 is served by n1.
          world.fromPod('n2p1', 'tcp', `${nodeIp('n2')}:${LOCAL_NODE_PORT}`, { count: 6 }),
        ]);
        expect(failures(rs)).toEqual([]);
        expect([...names(rs)].every((n) => local.has(n))).toBe(true);
        // No SNAT: the backend sees the client itself.
        for (const r of rs) expect(peerIp(r.peer)).toBe(CLIENT_IP);
        expect(dropped).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
        expect(failures(fromPod)).toEqual([]);
        expect([...names(fromPod)].every((n) => local.has(n))).toBe(true);
      },
    );

    test(
      'source-ranges',
      'loadBalancerSourceRanges: the LB IP answers listed sources only, dropping others; its NodePort answers all',
      async () => {
        const second = world.cluster.client!.secondIp; // not in the ranges
        const fromSecond = (target: string, opts: ProbeOptions = {}) =>
          world.fromClient('tcp', target, { source: second, ...opts });
        const [allowed, [denied], ...nodePorts] = await Promise.all([
          world.fromClient('tcp', `${RANGES_LB_IP}:80`, { count: 8, concurrency: 4 }),
          fromSecond(`${RANGES_LB_IP}:80`, { timeoutMs: 1500 }),
          // The ranges are the load balancer's, not the NodePort's (kube-proxy filters only the LB IP).
          ...['n1', 'n2'].map((n) => fromSecond(`${nodeIp(n)}:${RANGES_NODE_PORT}`, { count: 4, concurrency: 4 })),
        ]);
        expect(failures(allowed)).toEqual([]);
        expect(denied).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
        nodePorts.forEach((rs, i) => expect(failures(rs), `n${i + 1}'s NodePort`).toEqual([]));
      },
    );

    test(
      'health-check-node-port',
      'healthCheckNodePort: 200 on the node with a ready local endpoint, 503 on the other, following the endpoint',
      async () => {
        const check = async (node: string) => {
          const r = await world.httpFromClient(`${nodeIp(node)}:${HC_NODE_PORT}`);
          let json: unknown;
          try {
            json = JSON.parse(r.body ?? '');
          } catch {
            // not JSON: the assertion below shows the body
          }
          return { ...r, json };
        };
        const both = () => Promise.all([check('n1'), check('n2')]);
        const service = { namespace: NAMESPACE, name: 'health-check' };
        const statuses = (n1: number, n2: number) => (rs: Array<{ status?: number }>) =>
          rs[0]?.status === n1 && rs[1]?.status === n2;

        let [n1, n2] = await until(both, statuses(200, 503));
        expect(n1).toMatchObject({ ok: true, status: 200, json: { service, localEndpoints: 1 } });
        expect(n2).toMatchObject({ ok: true, status: 503, json: { service, localEndpoints: 0 } });

        const hc = world.manifests.get('health-check');
        try {
          world.manifests.set({ ...hc, endpoints: [world.pod('n2p1')] });
          await world.apply();
          [n1, n2] = await until(both, statuses(503, 200));
          expect(n1).toMatchObject({ ok: true, status: 503, json: { service, localEndpoints: 0 } });
          expect(n2).toMatchObject({ ok: true, status: 200, json: { service, localEndpoints: 1 } });
        } finally {
          world.manifests.set(hc);
          await world.apply();
        }
      },
    );

    test(
      'nodeport-from-node',
      "carries a node's own connections to its own NodePort and to the other node's",
      async () => {
        for (const node of ['n1', 'n2']) {
          const target = `${nodeIp(node)}:${NODE_PORT}`;
          const rs = await world.fromNode('n1', 'tcp', target, { count: 8, concurrency: 4 });
          expect(failures(rs), target).toEqual([]);
          expect(names(rs).size, target).toBeGreaterThan(1);
        }
      },
    );

    // kube-proxy serves NodePorts on 127.0.0.1 in its iptables mode only
    // (--iptables-localhost-nodeports, default true; IPv4 only), with route_localnet.
    test('localhost-nodeport', "carries a node's own connections to 127.0.0.1:<NodePort>", async () => {
      const rs = await world.fromNode('n1', 'tcp', `127.0.0.1:${NODE_PORT}`, { count: 8, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs).size).toBeGreaterThan(1);
    });

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
