// The ops API over real HTTP, against the daemon running in a node's
// namespace with its servers on the namespace's loopback: every route, the
// error paths, paging through maps larger than a page, agreement with what
// bpftool reads from the same pins, flows in /v1/conntrack after real
// traffic, the `switchyard get` CLI, and a clear failure when a port is taken.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCluster, type Cluster, type Node, type Pod } from '../../harness/cluster.js';
import { daemonMain, startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { run } from '../../harness/run.js';
import { startServers, tcpProbe } from '../../harness/traffic.js';

const METRICS = 10249;
const HEALTHZ = 10256;
const BULK = 30;

/** 30 more services with two endpoints each: maps larger than the pages the test asks for. */
function bulkManifests(): string {
  const items: unknown[] = [];
  for (let i = 0; i < BULK; i++) {
    const name = `bulk-${String(i).padStart(2, '0')}`;
    items.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'bulk' },
      spec: { clusterIP: `10.96.1.${10 + i}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    items.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'bulk', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.1.11'], nodeName: 'n1' },
        { addresses: ['10.244.2.11'], nodeName: 'n2' },
      ],
    });
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

interface Reply {
  status: number;
  body: string;
  json: any;
  type: string;
}

type BpftoolEntry = { key: string[]; value: string[] };
const bytes = (hex: string[]) => Buffer.from(hex.map((h) => parseInt(h, 16)));
/** A struct sy_addr at `at`: 16 bytes, IPv4 IPv4-mapped (the last 4). */
const ip = (b: Buffer, at: number) => [...b.subarray(at + 12, at + 16)].join('.');

describe.runIf(requirePrivileges())('ops API (HTTP, against a running daemon)', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-api-'));
  let cluster: Cluster;
  let n1: Node;
  let client: Pod;
  let daemon: DaemonProcess;
  let pinDir: string;

  /** curl inside the node's namespace, where the servers listen on loopback. */
  const http = (path: string, port = METRICS): Reply => {
    const out = net.exec(n1.ns, 'curl', [
      '-sS',
      '-o',
      '-',
      '-w',
      '\n%{http_code} %{content_type}',
      `http://127.0.0.1:${port}${path}`,
    ]);
    const i = out.lastIndexOf('\n');
    const [status, type = ''] = out.slice(i + 1).split(' ');
    const body = out.slice(0, i);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status: Number(status), body, json, type };
  };
  const cli = (...args: string[]) => net.exec(n1.ns, nodeBinary, [daemonMain, 'get', ...args]);
  const bpftool = (map: string) =>
    JSON.parse(run('bpftool', ['-j', 'map', 'dump', 'pinned', join(pinDir, map)])) as BpftoolEntry[];

  /** Every entry of a map through the API, `limit` at a time. */
  const allPages = (map: string, limit: number, query = '') => {
    const items: Array<{ key: any; value: any }> = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const r = http(`/v1/maps/${map}?limit=${limit}${query}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      expect(r.status, r.body).toBe(200);
      expect(r.json.items.length).toBeLessThanOrEqual(limit);
      items.push(...r.json.items);
      cont = r.json.continue;
      pages++;
    } while (cont);
    return { items, pages };
  };

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
    n1 = cluster.nodes[0]!;
    client = n1.pods[1]!;
    await Promise.all(cluster.pods().map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
    cpSync(join(repoRoot, 'examples', 'demo'), dir, { recursive: true });
    writeFileSync(join(dir, 'bulk.json'), bulkManifests());
    pinDir = net.pinDir('n1');
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir,
      args: [
        `--manifests=${dir}`,
        `--metrics-bind-address=127.0.0.1:${METRICS}`,
        `--healthz-bind-address=127.0.0.1:${HEALTHZ}`,
      ],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  });
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves kube-proxy's /healthz and /livez on the healthz port, and /readyz", () => {
    const h = http('/healthz', HEALTHZ);
    expect(h.status).toBe(200);
    expect(h.type).toMatch(/^application\/json/);
    expect(Object.keys(h.json)).toEqual(['lastUpdated', 'currentTime', 'nodeEligible']);
    expect(h.json.nodeEligible).toBe(true);
    expect(h.json.currentTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    const l = http('/livez', HEALTHZ);
    expect(l.status).toBe(200);
    expect(Object.keys(l.json)).toEqual(['lastUpdated', 'currentTime']);
    expect(http('/readyz', HEALTHZ).json).toEqual({
      ready: true,
      initialSyncDone: true,
      healthy: true,
      // The ebpf mode's programs keep serving while the daemon is down.
      servesWhileStopped: true,
    });
    // The health server serves nothing else.
    expect(http('/metrics', HEALTHZ)).toMatchObject({ status: 404, json: { code: 'ERR_API_NOT_FOUND' } });
  });

  it('/v1/status: mode, version, node, last sync and counts', () => {
    const s = http('/v1/status').json;
    expect(s).toMatchObject({
      mode: 'ebpf',
      node: 'n1',
      source: dir,
      healthy: true,
      initialSyncDone: true,
      counts: { services: 6 + BULK, servicePorts: 6 + BULK, maps: 12 },
      lastSuccessfulSync: { full: true },
    });
    expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.counts.programmed).toBeGreaterThanOrEqual(5 + BULK);
    expect(s.interfaces.map((i: { name: string }) => i.name)).toEqual(expect.arrayContaining(['wire', 'p1', 'p2']));
  });

  it('/v1/services: every service port with its endpoints, clusterEndpoints, localEndpoints and programmed entries', () => {
    const web = http('/v1/services/demo/web');
    expect(web.status).toBe(200);
    const [sp] = web.json.items;
    expect(sp).toMatchObject({
      name: 'demo/web:http/TCP',
      clusterIPs: ['10.96.0.10'],
      clusterEndpoints: ['10.244.1.11:8080', '10.244.1.12:8080', '10.244.2.11:8080', '10.244.2.12:8080'],
      localEndpoints: null,
      programmed: [{ address: '10.96.0.10', port: 80, protocol: 'TCP', backends: expect.any(Array) }],
    });
    expect(sp.endpoints).toHaveLength(4);
    expect(sp.endpoints[0]).toMatchObject({
      ip: '10.244.1.11',
      ready: true,
      serving: true,
      terminating: false,
      isLocal: true,
    });
    const local = http('/v1/services/demo/local').json.items[0];
    expect(local.localEndpoints).toEqual(['10.244.1.11:8080']);

    const all = http('/v1/services?limit=1000').json;
    expect(all.items).toHaveLength(6 + BULK);
    expect(all.continue).toBeUndefined();
    expect(http('/v1/services?namespace=demo').json.items).toHaveLength(6);
  });

  it('/v1/maps: every map with type, sizes, capacity, entries and memory', () => {
    const r = http('/v1/maps');
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(r.json.items.map((m: { name: string }) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual([
      'sy_affinity_v2',
      'sy_backends_v2',
      'sy_cluster_cidr_v2',
      'sy_config_v2',
      'sy_conntrack_v3',
      'sy_drops',
      'sy_frags_v2',
      'sy_services_v3',
      'sy_slots',
      'sy_sock_revnat_v2',
      'sy_src_ranges_v2',
      'sy_uplinks',
    ]);
    expect(byName.sy_services_v3).toMatchObject({
      type: 'hash',
      keySize: 20,
      valueSize: 32,
      pinPath: join(pinDir, 'sy_services_v3'),
    });
    expect(byName.sy_services_v3.entries).toBe(bpftool('sy_services_v3').length);
    expect(byName.sy_services_v3.maxEntries).toBeGreaterThan(byName.sy_services_v3.entries);
    expect(byName.sy_services_v3.memoryBytes).toBeGreaterThan(0);
  });

  it('/v1/maps/sy_services_v3 pages through more entries than a page holds, and agrees with bpftool', () => {
    const { items, pages } = allPages('sy_services_v3', 7);
    const dump = bpftool('sy_services_v3');
    expect(items.length).toBe(dump.length);
    expect(pages).toBe(Math.ceil(dump.length / 7));
    const fromBpftool = dump
      .map(({ key, value }) => {
        const k = bytes(key);
        const v = bytes(value);
        const flags = v.readUInt16LE(6);
        return JSON.stringify({
          addr: ip(k, 0),
          port: k.readUInt16BE(16),
          proto: k[18] === 6 ? 'TCP' : k[18] === 17 ? 'UDP' : String(k[18]),
          id: v.readUInt32LE(0),
          backends: v.readUInt16LE(4),
          flags: [...(flags & 1 ? ['affinity'] : []), ...(flags & 2 ? ['drop-no-backend'] : [])],
          affinity: v.readUInt32LE(8),
        });
      })
      .sort();
    const fromApi = items
      .map(({ key, value }) =>
        JSON.stringify({
          addr: key.addr,
          port: key.port,
          proto: key.proto,
          id: value.id,
          backends: value.backend_count,
          flags: value.flags,
          affinity: value.affinity_timeout,
        }),
      )
      .sort();
    expect(fromApi).toEqual(fromBpftool);
    expect(fromApi.some((e) => e.includes('"affinity":300') && e.includes('["affinity"]'))).toBe(true);
  });

  it('/v1/maps/sy_backends_v2 agrees with bpftool too', () => {
    const { items } = allPages('sy_backends_v2', 16);
    const fromBpftool = bpftool('sy_backends_v2')
      .map(({ key, value }) => `${bytes(key).readUInt32LE(0)} ${ip(bytes(value), 0)}:${bytes(value).readUInt16BE(16)}`)
      .sort();
    expect(items.map(({ key, value }) => `${key} ${value.addr}:${value.port}`).sort()).toEqual(fromBpftool);
    expect(items.length).toBeGreaterThan(16);
  });

  it('filters entries by field, across pages', () => {
    const one = http('/v1/maps/sy_services_v3?filter=key.addr=10.96.0.14');
    expect(one.json.items).toEqual([
      {
        key: { addr: '10.96.0.14', port: 80, proto: 'TCP' },
        value: expect.objectContaining({ flags: ['affinity'], affinity_timeout: 300, backend_count: 4 }),
      },
    ]);
    const bulk = allPages('sy_services_v3', 4, '&filter=key.port=80,value.backend_count=2');
    expect(bulk.items.length).toBe(BULK);
    expect(
      http('/v1/maps/sy_services_v3?filter=key.proto=UDP').json.items.map((e: { key: { port: number } }) => e.key.port),
    ).toEqual([53]);
  });

  it('answers every error path with a JSON body and a stable code', () => {
    const cases: Array<[string, number, string, RegExp]> = [
      ['/nope', 404, 'ERR_API_NOT_FOUND', /no route for GET \/nope/],
      ['/v1/maps/sy_nope', 404, 'ERR_API_NOT_FOUND', /no map named "sy_nope"/],
      ['/v1/maps/bad%20name', 400, 'ERR_API_BAD_REQUEST', /name must match pattern/],
      ['/v1/maps/sy_services_v3?limit=0', 400, 'ERR_API_BAD_REQUEST', /limit must be >= 1/],
      ['/v1/maps/sy_services_v3?limit=lots', 400, 'ERR_API_BAD_REQUEST', /limit must be integer/],
      ['/v1/maps/sy_services_v3?sort=key', 400, 'ERR_API_BAD_REQUEST', /must NOT have additional properties/],
      [
        '/v1/maps/sy_services_v3?filter=key.address=1',
        400,
        'ERR_API_BAD_REQUEST',
        /"key.address" is not one of: key.addr, key.port, key.proto/,
      ],
      ['/v1/maps/sy_services_v3?filter=junk', 400, 'ERR_API_BAD_REQUEST', /not field=value/],
      ['/v1/maps/sy_services_v3?continue=xyz', 400, 'ERR_API_BAD_CONTINUE', /not one this API issued/],
      ['/v1/services/demo/nope', 404, 'ERR_API_NOT_FOUND', /demo\/nope/],
      ['/v1/services?limit=-1', 400, 'ERR_API_BAD_REQUEST', /limit/],
      ['/v1/conntrack?client=nobody', 400, 'ERR_API_BAD_REQUEST', /not an IP address/],
      ['/v1/conntrack?protocol=ICMP', 400, 'ERR_API_BAD_REQUEST', /protocol/],
      ['/v1/conntrack?service=demo/nope', 404, 'ERR_API_NOT_FOUND', /no programmed service port matches/],
    ];
    for (const [path, status, code, message] of cases) {
      const r = http(path);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(r.type, path).toMatch(/^application\/json/);
      expect(r.json, path).toMatchObject({ code, statusCode: status, message: expect.stringMatching(message) });
    }
    // A token of one map is refused by another.
    const token = http('/v1/maps/sy_slots?limit=1').json.continue;
    expect(http(`/v1/maps/sy_backends_v2?continue=${encodeURIComponent(token)}`).json).toMatchObject({
      code: 'ERR_API_BAD_CONTINUE',
      message: expect.stringMatching(/belongs to map\/sy_slots/),
    });
  });

  it('/v1/conntrack shows the flows of real traffic, filtered by service and client', async () => {
    const rs = await tcpProbe(net, client.ns, '10.96.0.10:80', { count: 6, timeoutMs: 1000 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    await tcpProbe(net, client.ns, '10.96.1.10:80', { count: 2, timeoutMs: 1000 });

    const web = http(`/v1/conntrack?service=demo/web&client=${client.ip}`).json;
    const originals = web.items.filter((f: { direction: string }) => f.direction === 'original');
    expect(originals.length).toBeGreaterThanOrEqual(6);
    for (const f of originals) {
      expect(f).toMatchObject({
        protocol: 'TCP',
        client: client.ip,
        destination: '10.96.0.10:80',
        service: 'demo/web:http/TCP',
      });
      expect(f.source).toMatch(new RegExp(`^${client.ip.replaceAll('.', '\\.')}:\\d+$`));
      expect(f.translatedTo).toMatch(/^10\.244\.\d\.1[12]:8080$/);
      expect(f.idleSeconds).toBeLessThan(60);
    }
    // Replies belong to the same client, whichever address they were sent to.
    expect(web.items.some((f: { direction: string }) => f.direction === 'reply')).toBe(true);
    expect(web.items.every((f: { client: string }) => f.client === client.ip)).toBe(true);
    // By address too, and other services are not mixed in.
    const bulk = http('/v1/conntrack?service=10.96.1.10:80').json.items;
    expect(bulk.length).toBeGreaterThan(0);
    expect(bulk.every((f: { service: string }) => f.service === 'bulk/bulk-00:http/TCP')).toBe(true);
    // Paging over the whole table covers it exactly once.
    const seen = new Set<string>();
    let cont: string | undefined;
    let total = 0;
    do {
      const r = http(`/v1/conntrack?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`).json;
      for (const f of r.items) seen.add(`${f.direction} ${f.protocol} ${f.source} ${f.destination}`);
      total += r.items.length;
      cont = r.continue;
    } while (cont);
    expect(seen.size).toBe(total);
    expect(total).toBe(bpftool('sy_conntrack_v3').length);
  });

  it("/metrics: kube-proxy's sync metrics and ours for maps and conntrack", () => {
    const r = http('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain/);
    const value = (re: RegExp) => Number(re.exec(r.body)?.[1]);
    expect(value(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds (\S+)$/m)).toBeGreaterThan(
      Date.now() / 1000 - 600,
    );
    expect(value(/^kubeproxy_sync_proxy_rules_duration_seconds_count (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^kubeproxy_sync_full_proxy_rules_duration_seconds_count (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^kubeproxy_sync_proxy_rules_service_changes_total (\d+)$/m)).toBeGreaterThanOrEqual(6 + BULK);
    expect(value(/^kubeproxy_sync_proxy_rules_endpoint_changes_total (\d+)$/m)).toBeGreaterThanOrEqual(6 + BULK);
    expect(value(/^switchyard_bpf_map_entries\{map="sy_services_v3"\} (\d+)$/m)).toBe(bpftool('sy_services_v3').length);
    expect(value(/^switchyard_bpf_map_capacity\{map="sy_conntrack_v3"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^switchyard_conntrack_entries (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^kubeproxy_proxy_healthz_total\{code="200"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(r.body).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('/proxyMode, /configz and /openapi.json', () => {
    expect(http('/proxyMode')).toMatchObject({ status: 200, body: 'ebpf' });
    expect(http('/configz').json).toMatchObject({
      'kubeproxy.config.k8s.io': {
        kind: 'KubeProxyConfiguration',
        mode: 'ebpf',
        metricsBindAddress: `127.0.0.1:${METRICS}`,
      },
      switchyard: { manifests: dir, ebpf: { bpffsRoot: pinDir } },
    });
    const doc = http('/openapi.json').json;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/livez',
        '/readyz',
        '/metrics',
        '/v1/status',
        '/v1/services',
        '/v1/maps',
        '/v1/maps/{name}',
        '/v1/conntrack',
      ]),
    );
  });

  it('switchyard get: tables and -o json|yaml', () => {
    const svc = cli('services', '-n', 'demo');
    expect(svc.split('\n')[0]).toMatch(
      /^NAMESPACE\s+NAME\s+PORT\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+READY\s+CLUSTER-ENDPOINTS\s+LOCAL-ENDPOINTS$/,
    );
    expect(svc).toMatch(
      /demo\s+web\s+http:80\/TCP\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+4\/4\s+10\.244\.1\.11:8080,10\.244\.1\.12:8080,10\.244\.2\.11:8080 \+ 1 more\.\.\.\s+-/,
    );
    // The CLI follows continue tokens: all service ports arrive through pages of 5.
    expect(cli('services', '--chunk-size', '5').trim().split('\n')).toHaveLength(1 + 6 + BULK);
    expect(cli('maps')).toMatch(/^NAME\s+TYPE\s+KEY\s+VALUE\s+MAX-ENTRIES\s+ENTRIES\s+MEMORY\n/);
    const map = cli('map', 'sy_services_v3', '--filter', 'key.addr=10.96.0.14');
    expect(map).toMatch(
      /^ADDR\s+PORT\s+PROTO\s+ID\s+BACKEND-COUNT\s+FLAGS\s+AFFINITY-TIMEOUT\s+CLUSTER-ADDR\s+CLUSTER-PORT\n10\.96\.0\.14\s+80\s+TCP\s+\d+\s+4\s+affinity\s+300\s+0\.0\.0\.0\s+0\n$/,
    );
    expect(cli('conntrack', '--client', client.ip)).toMatch(
      /^PROTOCOL\s+DIRECTION\s+SOURCE\s+DESTINATION\s+TRANSLATED-TO\s+SERVICE\s+BACKEND\s+FLAGS\s+IDLE\n/,
    );
    expect(cli('status')).toMatch(/^Mode:\s+ebpf\n/);
    expect(JSON.parse(cli('map', 'sy_backends_v2', '-o', 'json', '--chunk-size', '7')).items).toHaveLength(
      bpftool('sy_backends_v2').length,
    );
    expect(cli('status', '-o', 'yaml')).toMatch(/^mode: ebpf$/m);
    // Errors: the server's code and message; usage errors exit 2.
    const nf = run(
      'ip',
      ['netns', 'exec', n1.ns, 'sh', '-c', `'${nodeBinary}' '${daemonMain}' get map sy_nope; echo "exit=$?"`],
      { allowFail: true },
    );
    expect(nf).toMatch(/exit=1/);
    const usage = run(
      'ip',
      ['netns', 'exec', n1.ns, 'sh', '-c', `'${nodeBinary}' '${daemonMain}' get pods 2>&1; echo "exit=$?"`],
      { allowFail: true },
    );
    expect(usage).toMatch(/unknown resource "pods"[\s\S]*exit=2/);
  });

  it('a second daemon on the same ports fails at start-up with a clear error, before touching the dataplane', async () => {
    const other = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('other'),
      args: [
        `--manifests=${dir}`,
        `--metrics-bind-address=127.0.0.1:${METRICS}`,
        `--healthz-bind-address=127.0.0.1:${HEALTHZ}`,
      ],
    });
    expect(await other.proc.exited).toBe(1);
    const fatal = other.logs().find((r) => r.msg === 'cannot start');
    expect(fatal).toMatchObject({ code: 'ERR_API_LISTEN' });
    expect(String(fatal?.err)).toMatch(/127\.0\.0\.1:10256: the address is already in use .*--healthz-bind-address=""/);
    expect(other.logs().some((r) => r.msg === 'synced')).toBe(false);
    // The first daemon is unaffected.
    expect(http('/healthz', HEALTHZ).status).toBe(200);
  });
});
