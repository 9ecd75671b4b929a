// The userspace mode with fewer open files than its proxy sockets need (a
// socket per service port and family): the daemon, under
// `prlimit --nofile=400:400`, is given 300 dual-stack services (600
// sockets). It must stay up, serve the ports that fit below the limit less
// its reserve, report the others skipped with ERR_PROXY_OPEN_FILES, keep
// answering the ops API and running iptables-restore, and serve the waiting
// ports once removed services free their sockets. (Before: the sockets took
// every descriptor, `spawn ip6tables-save` failed with EMFILE, and the
// unhandled 'error' event ended the process.)
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFilesReserve } from '../../../control/proxiers/userspace/open-files.js';
import { buildCluster, type Cluster, type Pod } from '../../harness/cluster.js';
import { daemonMain, startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { startServers, tcpProbe } from '../../harness/traffic.js';
import { ManifestDir, POD_TCP_PORT, type ServiceSpec } from '../e2e/fixtures.js';
import { failures } from '../e2e/world.js';

const SERVICES = 300;
const NOFILE = 400;
/** Leaves 100 services: 200 sockets, which fit (the first sync served about 250). */
const REMOVED = 200;

const spec = (i: number, pod: Pod): ServiceSpec => ({
  name: `s${i}`,
  clusterIPs: [`10.96.${1 + (i >> 8)}.${i & 255}`, `fd00:10:96::${(0x1000 + i).toString(16)}`],
  endpoints: [pod],
});

interface Served {
  IPv4: Set<string>;
  IPv6: Set<string>;
}

describe.runIf(requirePrivileges())('userspace mode: more proxy sockets than open files', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-userspace-fd-'));
  let cluster: Cluster;
  let manifests: ManifestDir;
  let daemon: DaemonProcess;
  let specs: ServiceSpec[];
  let pid: number;
  const pod = (name: string): Pod => cluster.pods().find((p) => p.name === name)!;
  const nodeNs = () => cluster.nodes[0]!.ns;

  /** Per family, the services with a proxy socket, from /v1/services. */
  const served = (): Served => {
    const out = net.exec(nodeNs(), 'curl', [
      '-sS',
      '--max-time',
      '10',
      'http://127.0.0.1:10249/v1/services?limit=5000',
    ]);
    const { items } = JSON.parse(out) as { items: Array<{ service: string; proxy?: Array<{ family: string }> }> };
    const s: Served = { IPv4: new Set(), IPv6: new Set() };
    for (const it of items) for (const p of it.proxy ?? []) s[p.family as 'IPv4' | 'IPv6'].add(it.service);
    return s;
  };
  const skipped = () =>
    daemon
      .logs()
      .filter((r) => r.msg === 'service port not programmed by this mode')
      .map((r) => String(r.reason));
  const probe = async (target: string) =>
    failures(await tcpProbe(net, pod('n1p1').ns, target, { count: 3, timeoutMs: 5000 }));

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 1, podsPerNode: 1, client: false });
    await startServers(net, pod('n1p1'), { tcp: [POD_TCP_PORT] });
    specs = Array.from({ length: SERVICES }, (_, i) => spec(i, pod('n1p1')));
    manifests = new ManifestDir(dir, cluster.nodes);
    manifests.set(...specs).write();
    daemon = startDaemon(net, {
      ns: nodeNs(),
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      command: ['prlimit', `--nofile=${NOFILE}:${NOFILE}`, nodeBinary, daemonMain],
      args: [
        '--proxy-mode=userspace',
        '--iptables-min-sync-period=0',
        `--manifests=${dir}`,
        '--metrics-bind-address=127.0.0.1:10249',
      ],
    });
    pid = Number((await daemon.waitForLog((r) => r.msg === 'synced', { timeoutMs: 60_000 })).pid);
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the ports that fit are served, the others skipped with ERR_PROXY_OPEN_FILES, the daemon up', async () => {
    const s = served();
    const sockets = s.IPv4.size + s.IPv6.size;
    expect(sockets).toBeGreaterThan(100);
    expect(sockets).toBeLessThan(2 * SERVICES);
    // Below the limit by the reserve, with room for this test's connections.
    expect(readdirSync(`/proc/${pid}/fd`).length).toBeLessThanOrEqual(NOFILE - openFilesReserve(NOFILE) + 8);
    const why = skipped();
    // One line per service port short of a socket in either family (the reason is the same in both).
    expect(why.length).toBe(specs.filter((x) => !s.IPv4.has(x.name) || !s.IPv6.has(x.name)).length);
    expect(new Set(why)).toEqual(
      new Set([
        "internal frontends: the open-file limit (400, less 128 kept for connections, iptables and the ops API) leaves no descriptor for another proxy socket; raise the pod's RLIMIT_NOFILE (ERR_PROXY_OPEN_FILES)",
      ]),
    );
    // Traffic through a served port of each family that has one; none is refused for want of a socket elsewhere.
    const v4 = specs.find((x) => s.IPv4.has(x.name))!;
    expect(await probe(`${v4.clusterIPs[0]}:80`)).toEqual([]);
    const v6 = specs.find((x) => s.IPv6.has(x.name));
    if (v6) expect(await probe(`[${v6.clusterIPs[1]}]:80`)).toEqual([]);
    expect(daemon.proc.child.exitCode).toBeNull();
    expect(daemon.logs().filter((r) => r.msg === 'sync failed; retrying')).toEqual([]);
  });

  it('services removed: the waiting ports get the freed descriptors, in that sync', async () => {
    const before = served();
    const waiting = specs.filter((x) => !before.IPv4.has(x.name) || !before.IPv6.has(x.name)).at(-1)!;
    const syncs = daemon.syncs().length;
    for (const x of specs.slice(0, REMOVED)) manifests.remove(x.name);
    manifests.write();
    await daemon.waitForLog((r) => r.msg === 'synced', { count: syncs + 1, timeoutMs: 60_000 });
    const after = served();
    // The last service waited in at least one family; now it is served in both (200 services' sockets freed).
    expect(after.IPv4.has(waiting.name) && after.IPv6.has(waiting.name)).toBe(true);
    expect(after.IPv4.size + after.IPv6.size).toBe(2 * (SERVICES - REMOVED));
    expect(await probe(`${waiting.clusterIPs[0]}:80`)).toEqual([]);
    expect(await probe(`[${waiting.clusterIPs[1]}]:80`)).toEqual([]);
    expect(daemon.proc.child.exitCode).toBeNull();
    expect(daemon.logs().filter((r) => r.msg === 'sync failed; retrying')).toEqual([]);
  }, 120_000);
});
