// The iptables mode as an operator inspects it: `iptables-save` inside the
// node shows kube-proxy's chain layout; a partial sync rewrites only the
// chains of what changed (the untouched rules keep their packet counters);
// a restore the kernel refuses is counted and retried until it succeeds; a
// node without iptables gets a start-up error that says so.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash } from '../../../control/proxiers/iptables/names.js';
import { buildCluster, type Cluster, type Node } from '../../harness/cluster.js';
import { daemonMain, startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { iptablesSave } from '../../harness/iptables.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { startServers, tcpProbe } from '../../harness/traffic.js';

/** kube-proxy's chain name for a service port, e.g. svc('demo/web:http', 'tcp'). */
const svc = (name: string, proto: string, kind = 'SVC') => `KUBE-${kind}-${chainHash(name + proto)}`;
const sep = (name: string, proto: string, ep: string) => `KUBE-SEP-${chainHash(name + proto + ep)}`;

describe.runIf(requirePrivileges())('iptables mode (kube-proxy layout)', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-iptables-'));
  let cluster: Cluster;
  let n1: Node;
  let daemon: DaemonProcess;
  const save = (counters = false) => iptablesSave(net, n1.ns, { counters });
  const metric = (name: string): number => {
    const text = net.exec(n1.ns, 'curl', ['-sS', 'http://127.0.0.1:10249/metrics']);
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
    n1 = cluster.nodes[0]!;
    await Promise.all(cluster.pods().map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
    cpSync(join(repoRoot, 'examples', 'demo'), dir, { recursive: true });
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: [
        '--proxy-mode=iptables',
        '--iptables-min-sync-period=0',
        `--manifests=${dir}`,
        '--metrics-bind-address=127.0.0.1:10249',
      ],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  });
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('jumps from the built-in chains into kube-proxy’s chains', () => {
    const t = save();
    const portals = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES';
    expect(t.rules('nat', 'PREROUTING')).toContain(`-A PREROUTING ${portals}`);
    expect(t.rules('nat', 'OUTPUT')).toContain(`-A OUTPUT ${portals}`);
    expect(t.rules('nat', 'POSTROUTING')).toContain(
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    );
    expect(t.rules('filter', 'FORWARD')).toContain(`-A FORWARD -m conntrack --ctstate NEW ${portals}`);
    expect(t.rules('filter', 'OUTPUT')).toContain(`-A OUTPUT -m conntrack --ctstate NEW ${portals}`);
    expect(t.rules('filter', 'FORWARD')).toContain(
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    );
    expect(t.rules('filter', 'INPUT').map((l) => l.split(' -j ')[1])).toEqual(
      expect.arrayContaining(['KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']),
    );
    expect(t.rules('nat', 'KUBE-POSTROUTING').at(-1)).toBe(
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    );
    expect(t.rules('nat', 'KUBE-MARK-MASQ')).toEqual(['-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000']);
  });

  it('writes a service as KUBE-SERVICES → KUBE-SVC → KUBE-SEP with weighted random choice', () => {
    const t = save();
    const web = svc('demo/web:http', 'tcp');
    expect(t.rules('nat', 'KUBE-SERVICES')).toContain(
      `-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j ${web}`,
    );
    const endpoints = ['10.244.1.11:8080', '10.244.1.12:8080', '10.244.2.11:8080', '10.244.2.12:8080'];
    const picks = t.rules('nat', web);
    expect(picks.map((l) => l.split(' -j ')[1])).toEqual(endpoints.map((ep) => sep('demo/web:http', 'tcp', ep)));
    // 1/4, 1/3, 1/2, then the rest (iptables-nft prints the probability it stored, rounded to 2^-32).
    expect(picks.map((l) => Number(/--probability (\S+)/.exec(l)?.[1] ?? 1).toFixed(4))).toEqual([
      '0.2500',
      '0.3333',
      '0.5000',
      '1.0000',
    ]);
    for (const ep of endpoints) {
      const chain = sep('demo/web:http', 'tcp', ep);
      const ip = ep.split(':')[0];
      expect(t.rules('nat', chain)).toEqual([
        `-A ${chain} -s ${ip}/32 -m comment --comment "demo/web:http" -j KUBE-MARK-MASQ`,
        `-A ${chain} -p tcp -m comment --comment "demo/web:http" -m tcp -j DNAT --to-destination ${ep}`,
      ]);
    }
    // The NodePorts tail-call stays last.
    expect(t.rules('nat', 'KUBE-SERVICES').at(-1)).toMatch(
      /"kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/,
    );
  });

  it('rejects a service without endpoints, uses KUBE-SVL for Local, recent for ClientIP', () => {
    const t = save();
    expect(t.rules('filter', 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "demo/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(t.rules('nat', 'KUBE-SERVICES').find((l) => l.includes('10.96.0.15/32'))).toMatch(
      new RegExp(`-j ${svc('demo/local:http', 'tcp', 'SVL')}$`),
    );
    const sticky = t.rules('nat', svc('demo/sticky:http', 'tcp'));
    expect(sticky.filter((l) => l.includes('-m recent --rcheck --seconds 300 --reap'))).toHaveLength(4);
    // No chain for what nothing uses: only this node's Local endpoint is in KUBE-SVL.
    expect(t.rules('nat', svc('demo/local:http', 'tcp', 'SVL'))).toHaveLength(1);
  });

  it('shows each service port’s chains in the ops API', () => {
    const body = JSON.parse(net.exec(n1.ns, 'curl', ['-sS', 'http://127.0.0.1:10249/v1/services/demo/web'])) as {
      items: Array<{ chains: string[] }>;
    };
    const chains = body.items[0]!.chains;
    expect(chains).toContain(svc('demo/web:http', 'tcp'));
    expect(chains.filter((c) => c.startsWith('KUBE-SEP-'))).toHaveLength(4);
    expect(net.exec(n1.ns, 'curl', ['-sS', 'http://127.0.0.1:10249/proxyMode'])).toBe('iptables');
    expect(metric('kubeproxy_sync_proxy_rules_iptables_total{table="nat"}')).toBeGreaterThan(20);
  });

  it('writes a dual-stack service into both families, ip6tables with the same chain names', async () => {
    const file = join(dir, 'dualstack.yaml');
    const slice = (family: 'IPv4' | 'IPv6', addresses: string[]) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: both-${family.toLowerCase()}, namespace: demo, labels: { kubernetes.io/service-name: both } }
addressType: ${family}
ports: [{ name: http, protocol: TCP, port: 8080 }]
endpoints:
${addresses.map((a) => `  - { addresses: ["${a}"], nodeName: n2, conditions: { ready: true } }`).join('\n')}
`;
    const syncs = daemon.syncs().length;
    writeFileSync(
      file,
      `apiVersion: v1
kind: Service
metadata: { name: both, namespace: demo }
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: 10.96.0.50
  clusterIPs: [10.96.0.50, "fd00:10:96::50"]
  ports: [{ name: http, protocol: TCP, port: 80, targetPort: 8080 }]
${slice('IPv4', ['10.244.2.11'])}${slice('IPv6', ['fd00:10:244:2::11', 'fd00:10:244:2::12'])}`,
    );
    try {
      await daemon.waitForLog((r) => r.msg === 'synced', { count: syncs + 1 });
      const chain = svc('demo/both:http', 'tcp');
      const four = save();
      const six = iptablesSave(net, n1.ns, { ipv6: true });
      expect(four.rules('nat', 'KUBE-SERVICES')).toContainEqual(
        expect.stringMatching(/-d 10\.96\.0\.50\/32 .* -j (\S+)$/),
      );
      expect(six.rules('nat', 'KUBE-SERVICES')).toContain(
        `-A KUBE-SERVICES -d fd00:10:96::50/128 -p tcp -m comment --comment "demo/both:http cluster IP" -m tcp --dport 80 -j ${chain}`,
      );
      expect(four.rules('nat', chain)).toHaveLength(1);
      expect(six.rules('nat', chain).map((l) => l.split(' -j ')[1])).toEqual([
        sep('demo/both:http', 'tcp', '[fd00:10:244:2::11]:8080'),
        sep('demo/both:http', 'tcp', '[fd00:10:244:2::12]:8080'),
      ]);
      const ep = sep('demo/both:http', 'tcp', '[fd00:10:244:2::12]:8080');
      expect(six.rules('nat', ep)).toContain(
        `-A ${ep} -p tcp -m comment --comment "demo/both:http" -m tcp -j DNAT --to-destination [fd00:10:244:2::12]:8080`,
      );
      // Only IPv6 in ip6tables; the shared chains are there as in iptables, and ::1 is never a NodePort address.
      expect(six.rules('nat', 'KUBE-SERVICES').join('\n')).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
      expect(six.rules('nat', 'KUBE-SERVICES').at(-1)).toMatch(/--dst-type LOCAL -j KUBE-NODEPORTS$/);
      expect(six.rules('nat', 'KUBE-SERVICES').at(-1)).toContain('! -d ::1/128');
      expect(six.rules('nat', 'POSTROUTING')).toContain(
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      );
      // One view of the port in the ops API: the same chain names once.
      const body = JSON.parse(net.exec(n1.ns, 'curl', ['-sS', 'http://127.0.0.1:10249/v1/services/demo/both'])) as {
        items: Array<{ chains: string[] }>;
      };
      expect(
        body.items[0]!.chains.filter((c) => c === chain),
        JSON.stringify(body.items[0]),
      ).toHaveLength(1);
      expect(
        body.items[0]!.chains.filter((c) => c.startsWith('KUBE-SEP-')),
        JSON.stringify(body.items[0]),
      ).toHaveLength(3);
    } finally {
      rmSync(file);
      await daemon.waitForLog((r) => r.msg === 'synced', { count: syncs + 2 });
    }
    expect(iptablesSave(net, n1.ns, { ipv6: true }).chains('nat')).not.toContain(svc('demo/both:http', 'tcp'));
  });

  it('rewrites only the changed service’s chains on a partial sync: other rules keep their counters', async () => {
    const client = n1.pods[0]!;
    expect((await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 12, concurrency: 3 })).every((r) => r.ok)).toBe(
      true,
    );
    const webCounters = () =>
      save(true)
        .rules('nat', svc('demo/web:http', 'tcp'))
        .map((l) => l.slice(0, l.indexOf(']') + 1));
    const before = webCounters();
    expect(before.some((c) => c !== '[0:0]')).toBe(true);

    const file = join(dir, 'endpointslices.yaml');
    const text = readFileSync(file, 'utf8');
    const syncs = daemon.syncs().length;
    writeFileSync(file, text.replace('      - { addresses: [10.244.2.11], nodeName: n2 }\n', ''));
    const sync = await daemon.waitForLog((r) => r.msg === 'synced', { count: syncs + 1 });
    expect(sync).toMatchObject({ full: false, changed: 1 });
    expect(save().rules('nat', svc('demo/dns:dns', 'udp'))).toHaveLength(1);
    expect(save().chains('nat')).not.toContain(sep('demo/dns:dns', 'udp', '10.244.2.11:5353'));
    expect(webCounters()).toEqual(before);
    writeFileSync(file, text);
    await daemon.waitForLog((r) => r.msg === 'synced', { count: syncs + 2 });
  });

  it('counts a restore the kernel refuses and retries until it goes through', async () => {
    // An operator's chain jumps to one of ours: the chain cannot be deleted while it is referenced.
    const draining = sep('demo/draining:http', 'tcp', '10.244.2.12:8080');
    net.exec(n1.ns, 'iptables', ['-t', 'nat', '-N', 'TEST-HOLD']);
    net.exec(n1.ns, 'iptables', ['-t', 'nat', '-A', 'TEST-HOLD', '-j', draining]);
    const file = join(dir, 'services.yaml');
    const text = readFileSync(file, 'utf8');
    try {
      const failures = metric('kubeproxy_sync_proxy_rules_iptables_restore_failures_total');
      writeFileSync(
        file,
        text
          .split('\n---\n')
          .filter((doc) => !doc.includes('name: draining'))
          .join('\n---\n'),
      );
      const err = await daemon.waitForLog((r) => r.msg === 'sync failed; retrying');
      expect(JSON.stringify(err)).toMatch(/iptables-restore failed/);
      expect(metric('kubeproxy_sync_proxy_rules_iptables_restore_failures_total')).toBeGreaterThan(failures);
      expect(metric('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total')).toBeGreaterThan(0);
      // Still programmed as before the refused restore.
      expect(save().chains('nat')).toContain(svc('demo/draining:http', 'tcp'));
    } finally {
      net.exec(n1.ns, 'iptables', ['-t', 'nat', '-F', 'TEST-HOLD']);
      net.exec(n1.ns, 'iptables', ['-t', 'nat', '-X', 'TEST-HOLD']);
    }
    const retried = await daemon.waitForLog((r) => r.msg === 'synced' && r.reason === 'retry', { timeoutMs: 10_000 });
    expect(retried).toMatchObject({ full: true });
    expect(save().chains('nat')).not.toContain(svc('demo/draining:http', 'tcp'));
    expect(save().chains('nat')).not.toContain(draining);
    writeFileSync(file, text);
  });

  it('writes a first sync too large for one iptables-restore in pieces of whole service ports, the shared chains last', async () => {
    // On the other node, which has no rules yet: 400 services of 4
    // endpoints are 8,000 lines of own chains, over RESTORE_CHUNK_LINES.
    const count = 400;
    const n2 = cluster.nodes[1]!;
    const endpoints = [
      ['10.244.1.11', 'n1'],
      ['10.244.1.12', 'n1'],
      ['10.244.2.11', 'n2'],
      ['10.244.2.12', 'n2'],
    ] as const;
    const ip = (i: number) => `10.97.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const docs = Array.from({ length: count }, (_, i) => [
      `apiVersion: v1\nkind: Service\nmetadata: { name: bulk-${i}, namespace: demo }\nspec: { clusterIP: ${ip(i)}, ports: [{ name: http, port: 80, targetPort: 8080 }] }`,
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: bulk-${i}, namespace: demo, labels: { kubernetes.io/service-name: bulk-${i} } }\naddressType: IPv4\n` +
        `ports: [{ name: http, port: 8080, protocol: TCP }]\nendpoints:\n` +
        endpoints
          .map(([a, node]) => `  - { addresses: [${a}], nodeName: ${node}, conditions: { ready: true } }\n`)
          .join(''),
    ]).flat();
    const bulkDir = mkdtempSync(join(tmpdir(), 'sy-iptables-bulk-'));
    const file = join(bulkDir, 'bulk.yaml');
    writeFileSync(file, docs.join('\n---\n'));
    const bulk = startDaemon(net, {
      ns: n2.ns,
      nodeName: 'n2',
      pinDir: net.pinDir('n2'),
      args: [
        '--proxy-mode=iptables',
        '--iptables-min-sync-period=0',
        `--manifests=${bulkDir}`,
        '--healthz-bind-address=',
        '--metrics-bind-address=',
      ],
    });
    try {
      const pieces = await bulk.waitForLog(
        (r) => r.msg === 'wrote the service chains in several iptables-restore transactions, the shared chains last',
      );
      expect(pieces.transactions).toBeGreaterThan(2);
      await bulk.waitForLog((r) => r.msg === 'synced');
      const t = iptablesSave(net, n2.ns);
      const chains = new Set(t.chains('nat'));
      for (let i = 0; i < count; i++) {
        const name = `demo/bulk-${i}:http`;
        expect(chains.has(svc(name, 'tcp'))).toBe(true);
        expect(t.rules('nat', svc(name, 'tcp')).filter((l) => l.includes('-j KUBE-SEP-'))).toHaveLength(4);
        for (const [a] of endpoints) expect(chains.has(sep(name, 'tcp', `${a}:8080`))).toBe(true);
      }
      expect(t.rules('nat', 'KUBE-SERVICES').filter((l) => l.includes('demo/bulk-'))).toHaveLength(count);
      const client = n2.pods[0]!;
      for (const i of [0, count - 1])
        expect((await tcpProbe(net, client.ns, `${ip(i)}:80`, { count: 8, concurrency: 2 })).every((r) => r.ok)).toBe(
          true,
        );

      const syncs = bulk.syncs().length;
      writeFileSync(file, '');
      await bulk.waitForLog((r) => r.msg === 'synced', { count: syncs + 1 });
      const after = iptablesSave(net, n2.ns);
      expect(
        after
          .chains('nat')
          .filter(
            (c) => c === svc('demo/bulk-0:http', 'tcp') || c === sep('demo/bulk-0:http', 'tcp', '10.244.1.11:8080'),
          ),
      ).toEqual([]);
      expect(after.rules('nat', 'KUBE-SERVICES').filter((l) => l.includes('demo/bulk-'))).toEqual([]);
    } finally {
      await bulk.stop();
      rmSync(bulkDir, { recursive: true, force: true });
    }
  });

  it('masquerades pod traffic to services with --masquerade-all', async () => {
    const client = n1.pods[0]!;
    const peers = async () =>
      (await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 40, concurrency: 4 })).filter((r) =>
        r.name?.startsWith('n2'),
      );
    // Without it, a backend on the other node sees the pod's own address.
    expect(new Set((await peers()).map((r) => r.peer?.split(':')[0]))).toEqual(new Set([client.ip]));
    await daemon.stop();
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      args: ['--proxy-mode=iptables', '--iptables-min-sync-period=0', `--manifests=${dir}`, '--masquerade-all'],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
    const rs = await peers();
    expect(rs.length).toBeGreaterThan(0);
    expect(new Set(rs.map((r) => r.peer?.split(':')[0]))).toEqual(new Set([n1.wireIp]));
  });

  it('fails at start-up, naming what is missing, on a node without iptables', () => {
    const out = spawnSync(
      'nsenter',
      [
        `--net=${net.netnsPath(cluster.nodes[1]!.ns)}`,
        '--',
        'env',
        'PATH=/nonexistent',
        nodeBinary,
        daemonMain,
        '--proxy-mode=iptables',
        `--manifests=${dir}`,
        '--hostname-override=n2',
        '--healthz-bind-address=',
        '--metrics-bind-address=',
        `--bpffs-root=${net.pinDir('n2')}`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/cannot start.*iptables-restore is not installed/s);
    expect(out.stderr).toMatch(/ERR_IPTABLES_MISSING/);
  });
});
