// Standalone mode: `switchyard --manifests DIR` in a node's namespace. Edits
// to the files reach the dataplane; a broken file leaves the last good state
// programmed; a pod that appears later gets the tc program on its veth; and
// --cleanup removes every filter and pin the daemon left.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPod, buildCluster, type Cluster, type Node, type Pod } from '../../harness/cluster.js';
import { daemonMain, startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { run } from '../../harness/run.js';
import { agentPath, startServers, tcpProbe, type ProbeResult } from '../../harness/traffic.js';

const names = (rs: ProbeResult[]) => [...new Set(rs.filter((r) => r.ok).map((r) => r.name ?? '?'))].sort();

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() - t0 > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Our tc filter (handle 0x5359) on an interface's ingress hook, as tc reports it. */
function hasOurFilter(net: TestNet, ns: string, dev: string): boolean {
  const out = net.exec(ns, 'tc', ['filter', 'show', 'dev', dev, 'ingress'], { allowFail: true });
  return /handle 0x5359/.test(out);
}

describe.runIf(requirePrivileges())('switchyard --manifests (standalone mode)', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-manifests-'));
  let cluster: Cluster;
  let n1: Node;
  let client: Pod;
  let daemon: DaemonProcess;
  let pinDir: string;
  /** Stands for the node's own processes: the socket hooks go on this test cgroup, never a root. */
  let cgroup: string;
  const fromNode = (target: string): ProbeResult[] =>
    run('sh', [
      '-c',
      `echo $$ > '${cgroup}/cgroup.procs' && exec ip netns exec '${n1.ns}' '${nodeBinary}' '${agentPath}' tcp --target ${target} --count 8 --timeout 1000`,
    ])
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ProbeResult);
  /** Programs attached to the test cgroup, by bpftool. */
  const cgroupPrograms = () =>
    (JSON.parse(run('bpftool', ['-j', 'cgroup', 'show', cgroup]).trim() || '[]') as unknown[]).length;
  const web = (): Promise<ProbeResult[]> =>
    tcpProbe(net, client.ns, '10.96.0.10:80', { count: 40, concurrency: 4, timeoutMs: 1000 });

  beforeAll(async () => {
    cluster = buildCluster(net, { nodes: 2, podsPerNode: 2, client: false });
    n1 = cluster.nodes[0]!;
    client = n1.pods[0]!;
    await Promise.all(cluster.pods().map((p) => startServers(net, p, { tcp: [8080], udp: [5353] })));
    cpSync(join(repoRoot, 'examples', 'demo'), dir, { recursive: true });
    pinDir = net.pinDir('n1');
    cgroup = net.cgroup('n1-host');
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir,
      args: [`--manifests=${dir}`, `--cgroup-root=${cgroup}`],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  });
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the example services from the files', async () => {
    expect(names(await web())).toEqual(['n1p1', 'n1p2', 'n2p1', 'n2p2']);
  });

  it('runs with small V8 semi-spaces, in the process that was started (same PID)', () => {
    const cmdline = readFileSync(`/proc/${daemon.proc.child.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('--max-semi-space-size=8');
    expect(cmdline).toContain(daemonMain);
  });

  it('follows an edit to a file', async () => {
    const file = join(dir, 'endpointslices.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      text.replace('- { addresses: [10.244.2.11], nodeName: n2, conditions: { ready: true } }\n', ''),
    );
    const rs = await eventually(web, (r) => names(r).join() === 'n1p1,n1p2,n2p2');
    expect(names(rs)).toEqual(['n1p1', 'n1p2', 'n2p2']);
    writeFileSync(file, text);
    expect(names(await eventually(web, (r) => names(r).length === 4))).toHaveLength(4);
  });

  it('keeps the last good state when a file breaks, and applies the fix', async () => {
    const file = join(dir, 'services.yaml');
    const good = readFileSync(file, 'utf8');
    const syncsBefore = daemon.syncs().length;
    writeFileSync(
      file,
      good.replace(
        'ports: [{ name: http, port: 80, targetPort: http }]',
        'ports: [{ name: http, port: 80, targetPort: http }',
      ),
    );
    const err = await daemon.waitForLog((r) => r.level >= 50 && String(r.file).endsWith('services.yaml'));
    expect(err.msg).toMatch(/keeping its last good objects \(6\)/);
    // Nothing was withdrawn: the same backends answer, and no sync removed anything.
    expect(names(await web())).toHaveLength(4);
    expect(
      daemon
        .syncs()
        .slice(syncsBefore)
        .every((s) => s.removed === 0),
    ).toBe(true);
    // The fix moves web to port 81.
    writeFileSync(
      file,
      good.replace(
        'ports: [{ name: http, port: 80, targetPort: http }]',
        'ports: [{ name: http, port: 81, targetPort: http }]',
      ),
    );
    const rs = await eventually(
      () => tcpProbe(net, client.ns, '10.96.0.10:81', { count: 4, timeoutMs: 1000 }),
      (r) => r.every((x) => x.ok),
    );
    expect(rs.every((x) => x.ok)).toBe(true);
    writeFileSync(file, good);
    await eventually(web, (r) => r.every((x) => x.ok));
  });

  it('attaches to a pod that appears after start-up', async () => {
    const pod = addPod(net, n1);
    await startServers(net, pod, { tcp: [8080] });
    await daemon.waitForLog((r) => r.msg === 'attached tc ingress' && r.interface === pod.hostIf, { timeoutMs: 3000 });
    expect(hasOurFilter(net, n1.ns, pod.hostIf)).toBe(true);
    const rs = await tcpProbe(net, pod.ns, '10.96.0.10:80', { count: 8, timeoutMs: 1000 });
    expect(rs.filter((r) => !r.ok)).toEqual([]);
  });

  it("translates the node's own connections at the socket (cgroup hooks), across a restart", async () => {
    expect(fromNode('10.96.0.10:80').filter((r) => !r.ok)).toEqual([]);
    expect(cgroupPrograms()).toBe(9); // connect, sendmsg, recvmsg, getpeername of each family, and egress
    expect(await daemon.stop()).toBe(0);
    expect(fromNode('10.96.0.10:80').filter((r) => !r.ok)).toEqual([]); // pinned links outlive the process
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir,
      args: [`--manifests=${dir}`, `--cgroup-root=${cgroup}`],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
    expect(cgroupPrograms()).toBe(9); // the new links replaced the old ones
    expect(
      run('ls', [join(pinDir, 'links')])
        .trim()
        .split('\n'),
    ).toHaveLength(9);
    expect(fromNode('10.96.0.10:80').filter((r) => !r.ok)).toEqual([]);
  });

  it('--cleanup removes our filters, links and pins', async () => {
    expect(await daemon.stop()).toBe(0);
    // Still attached and pinned after a graceful stop.
    expect(hasOurFilter(net, n1.ns, 'wire')).toBe(true);
    expect(run('ls', [pinDir]).trim().split('\n')).toContain('sy_services_v3');
    // As the daemon runs: in the node's network namespace, with the host's bpffs.
    run('nsenter', [
      `--net=${net.netnsPath(n1.ns)}`,
      '--',
      nodeBinary,
      daemonMain,
      `--bpffs-root=${pinDir}`,
      '--cleanup',
    ]);
    for (const dev of ['wire', 'p1', 'p2', 'p3']) expect(hasOurFilter(net, n1.ns, dev)).toBe(false);
    expect(cgroupPrograms()).toBe(0);
    expect(run('ls', ['/sys/fs/bpf']).includes(`${net.prefix}n1`)).toBe(false);
  });
});
