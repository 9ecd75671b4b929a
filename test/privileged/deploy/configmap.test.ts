// The ConfigMap's KubeProxyConfiguration on the real daemon, as the image
// runs it: scripts/install.sh makes the image's /opt/switchyard tree, and its
// bin/switchyard starts with --config pointing at the file deploy/ ships,
// inside a node's network namespace, in standalone mode (--manifests) since
// there is no cluster. The file must take effect, not merely be accepted:
// /configz shows every field it sets, the health server answers where the
// file puts it (the harness's own flags turn both servers off, and --config
// replaces them), and the DaemonSet's probes get 200 there.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCluster, type Node } from '../../harness/cluster.js';
import { startDaemon, type DaemonProcess } from '../../harness/daemon.js';
import { daemonContainer, readManifests, shippedConfig, type Obj } from '../../harness/deploy.js';
import { TestNet } from '../../harness/netns.js';
import { repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

/** Every leaf of a parsed document as [dotted path, value]; lists are leaves. */
function leaves(doc: Obj, path = ''): Array<[string, unknown]> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [[path, doc]];
  return Object.entries(doc).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
}

const valueAt = (doc: Obj, path: string): unknown =>
  path.split('.').reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), doc);

describe.runIf(requirePrivileges())('the shipped KubeProxyConfiguration, on the installed daemon', () => {
  const net = new TestNet();
  const dir = mkdtempSync(join(tmpdir(), 'sy-deploy-'));
  const prefix = join(dir, 'opt');
  const configPath = join(dir, 'config.conf');
  const manifestDir = join(dir, 'manifests');
  const deploy = readManifests();
  const shipped = shippedConfig(deploy);
  const file = parse(shipped.text, { version: '1.1' }) as Obj;
  const container = daemonContainer(deploy);
  let n1: Node;
  let daemon: DaemonProcess;

  const curl = (address: string, path: string) => {
    const out = net.exec(n1.ns, 'curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', `http://${address}${path}`]);
    const i = out.lastIndexOf('\n');
    return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
  };
  /** The address to reach a server the file binds to 0.0.0.0 or 127.0.0.1, from inside the namespace. */
  const local = (bind: string) => bind.replace(/^0\.0\.0\.0:/, '127.0.0.1:');

  beforeAll(async () => {
    execFileSync('bash', [join(repoRoot, 'scripts', 'install.sh'), prefix], { stdio: ['ignore', 'ignore', 'pipe'] });
    writeFileSync(configPath, shipped.text);
    cpSync(join(repoRoot, 'examples', 'demo'), manifestDir, { recursive: true });
    n1 = buildCluster(net, { nodes: 1, podsPerNode: 1, client: false }).nodes[0]!;
    daemon = startDaemon(net, {
      ns: n1.ns,
      nodeName: 'n1',
      pinDir: net.pinDir('n1'),
      command: [join(prefix, 'bin', 'switchyard')],
      args: [`--config=${configPath}`, `--manifests=${manifestDir}`],
    });
    await daemon.waitForLog((r) => r.msg === 'synced');
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file and ignores none of its fields', () => {
    const notes = daemon
      .logs()
      .filter((r) => r.level === 40)
      .map((r) => r.msg);
    expect(notes.filter((m) => /config field/.test(m))).toEqual([]);
    // The harness's --healthz-bind-address= and --metrics-bind-address= give way to the file.
    expect(notes.filter((m) => /is ignored because --config is given/.test(m))).toHaveLength(2);
  });

  it('/configz shows every field the file sets, with the value it sets', () => {
    const r = curl(local(file.metricsBindAddress), '/configz');
    expect(r.status).toBe(200);
    const configz = JSON.parse(r.body) as Obj;
    expect(configz.switchyard.configFile).toBe(configPath);
    const effective = configz['kubeproxy.config.k8s.io'];
    // logging.*: the harness's -v and --logging-format win over the file, as kube-proxy's logging flags do.
    const set = leaves(file).filter(([path]) => !path.startsWith('logging.'));
    expect(set.length).toBeGreaterThan(8);
    expect(Object.fromEntries(set.map(([path]) => [path, valueAt(effective, path)]))).toEqual(Object.fromEntries(set));
  });

  it('runs the mode the file names', () => {
    expect(curl(local(file.metricsBindAddress), '/proxyMode')).toEqual({ status: 200, body: file.mode });
  });

  it("answers the DaemonSet's probes on the health server the file configures", () => {
    const ports = new Map((container.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      const { path, port } = probe.httpGet;
      const r = curl(`127.0.0.1:${typeof port === 'string' ? ports.get(port) : port}`, path);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
    }
    expect(local(file.healthzBindAddress)).toBe(`127.0.0.1:${ports.get('healthz')}`);
  });
});
