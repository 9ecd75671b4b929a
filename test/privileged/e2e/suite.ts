// One end-to-end suite for every proxy mode: the real daemon on each node of a
// namespace cluster, fed by manifest files, judged only by traffic. What it
// expects is what kube-proxy does; a mode that behaves otherwise has a bug, and
// a mode that cannot do something yet says so with a skip reason per
// capability (shown in the test's name), never by passing. Nothing here looks
// at a mode's internals (maps, pins, chains, filters): mode-specific tests do.
//
// The cluster and its services are dual-stack (plan.ts), and every capability
// is tested once per IP family, each family's tests with that family's
// addresses; a mode that does not serve a family yet skips all of its tests,
// saying why. The tests share one cluster and run in order; each leaves the
// services as it found them, so a skipped test never changes what the next
// one sees. Restart and --cleanup come last, once for both families,
// --cleanup the very last.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPort, type IPFamily } from '../../harness/cluster.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { addressOf, holdConnection, type Held, type ProbeOptions, type ProbeResult } from '../../harness/traffic.js';
import { NAMESPACE } from './fixtures.js';
import {
  ALL,
  HC_NODE_PORT,
  LOCAL_NODE_PORT,
  NODE_PORT,
  NODE_PORT_UDP,
  PLANS,
  RANGES_NODE_PORT,
  clusterTargets,
  services,
  type AddressPlan,
} from './plan.js';
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

type Reasons = Partial<Record<Capability, string>>;

export interface ServiceSuiteOptions {
  /** More daemon flags, e.g. --iptables-min-sync-period=0. */
  args?: string[];
  /** Capabilities this mode lacks in every family, each with the reason shown in the test name. */
  skip?: Reasons;
  /**
   * The IP families of every service, primary first, each tested in turn;
   * both unless given (every service RequireDualStack). One family makes
   * every service SingleStack.
   */
  families?: IPFamily[];
  /** Families the mode does not serve yet: each of their tests skipped, with the reason in its name. */
  skipFamily?: Partial<Record<IPFamily, string>>;
  /** Capabilities this mode lacks in one family only, with the reason. */
  skipIn?: Partial<Record<IPFamily, Reasons>>;
}

/** Why `cap` is not tested in `family`, if it is not. */
function skipReason(opts: ServiceSuiteOptions, family: IPFamily, cap: Capability): string | undefined {
  return opts.skip?.[cap] ?? opts.skipFamily?.[family] ?? opts.skipIn?.[family]?.[cap];
}

export function defineServiceSuite(mode: ProxyMode, opts: ServiceSuiteOptions = {}): void {
  const families = opts.families ?? ['IPv4', 'IPv6'];
  const privileged = requirePrivileges();
  // One world for every family's tests: one cluster, each daemon started once.
  const world = new E2eWorld({ mode, ...(opts.args ? { args: opts.args } : {}) });
  if (privileged) {
    beforeAll(() => world.start((pod) => services(pod, families)));
    afterAll(() => world.teardown());
  }

  for (const family of families) {
    describe.runIf(privileged)(`services end to end (${mode}, ${family})`, () => {
      defineFamilyTests(world, PLANS[family], (cap, name, fn) => {
        const why = skipReason(opts, family, cap);
        const whose = opts.skip?.[cap] !== undefined ? mode : `${mode} in ${family}`;
        it.skipIf(why !== undefined)(why === undefined ? name : `${name} [skipped for ${whose}: ${why}]`, fn);
      });
    });
  }

  /**
   * A test of every family at once (the daemon restarted, cleaned up): run
   * with the families that do not skip it, named after them; skipped when
   * none is left, or for all of them.
   */
  const testFamilies = (cap: Capability, name: string, fn: (plans: AddressPlan[]) => Promise<void>) => {
    const all = opts.skip?.[cap];
    const checked = families.filter((f) => skipReason(opts, f, cap) === undefined);
    const left = families
      .filter((f) => !checked.includes(f))
      .map((f) => ` [${f} skipped for ${mode}: ${skipReason(opts, f, cap)}]`);
    const title =
      all !== undefined
        ? `${name} [skipped for ${mode}: ${all}]`
        : `${name} (${checked.join(' and ') || 'no family'})${left.join('')}`;
    it.skipIf(checked.length === 0)(title, () => fn(checked.map((f) => PLANS[f])));
  };

  describe.runIf(privileged)(`services end to end (${mode}, restart and cleanup)`, () => {
    testFamilies('restart', 'keeps serving while the daemon is down and after it restarts', async (plans) => {
      const webs = plans.map((p) => clusterTargets(p).WEB);
      const held: Held[] = [];
      try {
        for (const web of webs) held.push(await holdConnection(world.net, world.pod('n1p2').ns, web));
        expect(await world.daemon('n1').stop()).toBe(0);
        for (const web of webs)
          expect(failures(await world.fromPod('n1p1', 'tcp', web, { count: 16, concurrency: 4 })), web).toEqual([]);
        for (const h of held) expect(await h.send('while-down')).toBe(`${h.name} while-down`);

        await world.startDaemon('n1');
        for (const web of webs) {
          const rs = await until(
            () => world.fromPod('n1p1', 'tcp', web, { count: 16, concurrency: 4 }),
            (r) => failures(r).length === 0,
          );
          expect(failures(rs), web).toEqual([]);
        }
        for (const h of held) expect(await h.send('after')).toBe(`${h.name} after`);
      } finally {
        for (const h of held) await h.close();
      }
    });

    testFamilies(
      'cleanup',
      "--cleanup after a stop leaves no service answering from the node's pods",
      async (plans) => {
        const webs = plans.map((p) => clusterTargets(p).WEB);
        for (const web of webs)
          expect(failures(await world.fromPod('n1p1', 'tcp', web, { count: 4 })), web).toEqual([]);
        expect(await world.daemon('n1').stop()).toBe(0);
        const { code, stderr } = await world.cleanup('n1');
        expect(code, stderr).toBe(0);
        for (const web of webs) {
          const rs = await world.fromPod('n1p1', 'tcp', web, { count: 3, concurrency: 3, timeoutMs: 1000 });
          const answered = rs.filter((r) => r.ok);
          expect(answered, web).toEqual([]);
        }
      },
    );
  });
}

/** Every capability's test in one family, with that family's addresses. */
function defineFamilyTests(
  world: E2eWorld,
  plan: AddressPlan,
  test: (cap: Capability, name: string, fn: () => Promise<void>) => void,
): void {
  const { WEB, EMPTY, DNS, SELF, STICKY, LOCAL, DRAINING, LOCAL_N1, SCALE, EMPTY_UDP } = clusterTargets(plan);
  const ipOf = (pod: string) => plan.pod(world.pod(pod));

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
    for (const r of others) expect(addressOf(r.peer)).toBe(ipOf('n1p1'));
  });

  test('udp', 'carries UDP over more than one backend, replies included', async () => {
    const rs = await world.fromPod('n2p1', 'udp', DNS, { count: 30 });
    expect(failures(rs)).toEqual([]);
    expect(names(rs).size).toBeGreaterThan(1);
  });

  // A REJECT on the client's own host (its node) answers the SYN within the
  // connect() call that sends it, while the socket is still locked: IPv4's
  // ICMP error still fails that connect(), but IPv6's is only kept as a soft
  // error (TcpExtLockDroppedIcmps), so the refusal comes with the SYN's first
  // retransmission, 1 s later. Either is far from a drop's timeout.
  const refused =
    plan.family === 'IPv4' ? { when: 'at once', ms: 1000 } : { when: 'by its SYN retransmission', ms: 2000 };
  test(
    'reject',
    `refuses TCP to a service without endpoints ${refused.when}, from a pod and from the node`,
    async () => {
      const [fromPod] = await world.fromPod('n1p2', 'tcp', EMPTY, { timeoutMs: 5000 });
      const [fromNode] = await world.fromNode('n1', 'tcp', EMPTY, { timeoutMs: 5000 });
      for (const r of [fromPod, fromNode]) {
        expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
        expect(r!.ms).toBeLessThan(refused.ms);
      }
    },
  );

  test('reject-udp', 'refuses UDP to a service without endpoints (ICMP port unreachable), from a pod', async () => {
    const [r] = await world.fromPod('n1p2', 'udp', EMPTY_UDP, { timeoutMs: 3000 });
    expect(r).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(r!.ms).toBeLessThan(1000);
  });

  test('hairpin', 'lets a pod reach itself through its service, from an address not its own', async () => {
    const rs = await world.fromPod('n1p1', 'tcp', SELF, { count: 5 });
    expect(failures(rs)).toEqual([]);
    expect(names(rs)).toEqual(new Set(['n1p1']));
    for (const r of rs) expect(addressOf(r.peer)).not.toBe(ipOf('n1p1'));
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
      const rs = await world.fromClient('tcp', WEB, { count: 40, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(ALL));
      for (const r of rs) expect(addressOf(r.peer)).not.toBe(plan.client);
    },
  );

  // North-south, as kube-proxy's proxier tests define it (TestNodePorts,
  // TestLoadBalancer, TestExternalTrafficPolicyLocal, TestHealthCheckNodePort):
  // from the outside client unless said otherwise.
  const nodePort = (node: string, port: number) => hostPort(plan.node(world.node(node)), port);
  /** The answers whose backend saw the client's own address: none, where the node must masquerade. */
  const unmasqueraded = (rs: ProbeResult[]) => rs.filter((r) => r.ok && addressOf(r.peer) === plan.client);
  /** Fresh connections from the client until every backend has answered (untilEvery). */
  const everyBackend = (proto: Protocol, target: string, opts: ProbeOptions = {}) =>
    untilEvery(() => world.fromClient(proto, target, { count: 16, concurrency: 4, ...opts }), ALL);

  test(
    'nodeport',
    "reaches every backend through each node's NodePort (externalTrafficPolicy Cluster), masqueraded",
    async () => {
      for (const node of ['n1', 'n2']) {
        const rs = await everyBackend('tcp', nodePort(node, NODE_PORT));
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
        const held = await holdConnection(world.net, far.ns, nodePort(node, NODE_PORT), { timeoutMs: 5000 });
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
      const rs = await everyBackend('udp', nodePort(node, NODE_PORT_UDP));
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
        everyBackend('tcp', hostPort(plan.lb, 80)),
        world.fromClient('tcp', hostPort(plan.lbProxy, 80), { timeoutMs: 1500 }),
      ]);
      expect(failures(rs)).toEqual([]);
      expect(names(rs)).toEqual(new Set(ALL));
      expect(unmasqueraded(rs)).toEqual([]);
      expect(proxied).toMatchObject({ ok: false });
    },
  );

  test('external-ip', 'serves TCP and UDP to a spec.externalIPs address routed to a node, masqueraded', async () => {
    const tcp = await everyBackend('tcp', hostPort(plan.externalIP, 80));
    expect(failures(tcp)).toEqual([]);
    expect(names(tcp)).toEqual(new Set(ALL));
    expect(unmasqueraded(tcp)).toEqual([]);
    const udp = await world.fromClient('udp', hostPort(plan.externalIP, 53), { count: 12, concurrency: 4 });
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
        world.fromClient('tcp', nodePort('n1', LOCAL_NODE_PORT), { count: 12, concurrency: 4 }),
        // n2 has no endpoint of it: dropped, not refused.
        world.fromClient('tcp', nodePort('n2', LOCAL_NODE_PORT), { timeoutMs: 1500 }),
        // kube-proxy's short-circuit: traffic from a pod to an external address
        // uses every endpoint (the cluster policy), so a pod on n2 is served by n1.
        world.fromPod('n2p1', 'tcp', nodePort('n2', LOCAL_NODE_PORT), { count: 6 }),
      ]);
      expect(failures(rs)).toEqual([]);
      expect([...names(rs)].every((n) => local.has(n))).toBe(true);
      // No SNAT: the backend sees the client itself.
      for (const r of rs) expect(addressOf(r.peer)).toBe(plan.client);
      expect(dropped).toMatchObject({ ok: false, error: 'ETIMEDOUT' });
      expect(failures(fromPod)).toEqual([]);
      expect([...names(fromPod)].every((n) => local.has(n))).toBe(true);
    },
  );

  test(
    'source-ranges',
    'loadBalancerSourceRanges: the LB IP answers listed sources only, dropping others; its NodePort answers all',
    async () => {
      const second = plan.clientSecond; // not in the ranges
      const fromSecond = (target: string, opts: ProbeOptions = {}) =>
        world.fromClient('tcp', target, { source: second, ...opts });
      const [allowed, [denied], ...nodePorts] = await Promise.all([
        world.fromClient('tcp', hostPort(plan.rangesLb, 80), { count: 8, concurrency: 4 }),
        fromSecond(hostPort(plan.rangesLb, 80), { timeoutMs: 1500 }),
        // The ranges are the load balancer's, not the NodePort's (kube-proxy filters only the LB IP).
        ...['n1', 'n2'].map((n) => fromSecond(nodePort(n, RANGES_NODE_PORT), { count: 4, concurrency: 4 })),
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
        const r = await world.httpFromClient(nodePort(node, HC_NODE_PORT));
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
        const target = nodePort(node, NODE_PORT);
        const rs = await world.fromNode('n1', 'tcp', target, { count: 8, concurrency: 4 });
        expect(failures(rs), target).toEqual([]);
        expect(names(rs).size, target).toBeGreaterThan(1);
      }
    },
  );

  // kube-proxy serves NodePorts on 127.0.0.1 in its iptables mode only
  // (--iptables-localhost-nodeports, default true), with route_localnet, and
  // never on ::1: IPv6 has no route_localnet, so a packet DNATed from ::1 to
  // a pod could not leave the node.
  if (plan.family === 'IPv4') {
    test('localhost-nodeport', "carries a node's own connections to 127.0.0.1:<NodePort>", async () => {
      const rs = await world.fromNode('n1', 'tcp', hostPort(plan.loopback, NODE_PORT), { count: 8, concurrency: 4 });
      expect(failures(rs)).toEqual([]);
      expect(names(rs).size).toBeGreaterThan(1);
    });
  } else {
    test('localhost-nodeport', "serves no NodePort on [::1] to the node's own connections, as kube-proxy", async () => {
      const rs = await world.fromNode('n1', 'tcp', hostPort(plan.loopback, NODE_PORT), {
        count: 2,
        concurrency: 2,
        timeoutMs: 1000,
      });
      expect(rs.filter((r) => r.ok)).toEqual([]);
    });
  }
}
