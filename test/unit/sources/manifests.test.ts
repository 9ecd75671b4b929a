// Standalone mode: manifests on disk into the store, followed as they change,
// with broken input costing nothing that was already programmed.
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManifestSource } from '../../../control/sources/manifests.js';
import { Store } from '../../../control/sources/store.js';
import { captureLogs } from './log-capture.js';

const serviceYaml = (name: string, port = 80, ip = '10.96.0.10') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
  clusterIP: ${ip}
  ports:
    - port: ${port}
`;

const sliceYaml = (name: string, service: string, ip = '10.0.0.1') => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: shop
  labels:
    kubernetes.io/service-name: ${service}
addressType: IPv4
ports:
  - port: 8080
endpoints:
  - addresses: ["${ip}"]
`;

const WAIT = { timeout: 5_000, interval: 20 };

let dir: string;
const sources: ManifestSource[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-manifests-'));
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function start(path = dir) {
  const logs = captureLogs();
  const store = new Store('node-a');
  const source = new ManifestSource({ path, store, logger: logs.logger, debounceMs: 20, pollIntervalMs: 50 });
  sources.push(source);
  await source.start();
  return { store, logs, source };
}

const ports = (store: Store, key: string) => store.service(key)?.ports.map((p) => p.port);

describe('ManifestSource: reading', () => {
  it('reads a single YAML document (PATH a file) and marks every kind synced', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, serviceYaml('web'));
    const { store } = await start(file);
    expect(ports(store, 'shop/web')).toEqual([80]);
    expect(store.synced()).toBe(true);
  });

  it('reads several YAML documents, a List and a typed List', async () => {
    await writeFile(join(dir, 'multi.yaml'), `${serviceYaml('web')}---\n${sliceYaml('web-1', 'web')}---\n`);
    await writeFile(
      join(dir, 'list.yaml'),
      `apiVersion: v1
kind: List
items:
  - ${serviceYaml('api').trimEnd().replaceAll('\n', '\n    ')}
  - apiVersion: v1
    kind: Node
    metadata: { name: node-a, labels: { topology.kubernetes.io/zone: z1 } }
`,
    );
    await writeFile(
      join(dir, 'services.yaml'),
      `apiVersion: v1
kind: ServiceList
items:
  - metadata: { name: db, namespace: shop }
    spec: { clusterIP: 10.96.0.30, ports: [{ port: 5432 }] }
`,
    );
    const { store, logs } = await start();
    expect(store.serviceKeys().sort()).toEqual(['shop/api', 'shop/db', 'shop/web']);
    expect(store.slicesForService('shop/web').map((s) => s.name)).toEqual(['web-1']);
    expect(store.node()?.zone).toBe('z1');
    expect(logs.at('error').concat(logs.at('warn'))).toEqual([]);
  });

  it('reads JSON, an object or a List', async () => {
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] },
    };
    await writeFile(join(dir, 'web.json'), JSON.stringify(svc, null, 2));
    await writeFile(
      join(dir, 'list.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ ...svc, metadata: { name: 'api', namespace: 'shop' } }],
      }),
    );
    const { store } = await start();
    expect(store.serviceKeys().sort()).toEqual(['shop/api', 'shop/web']);
  });

  it('reads a directory in name order and skips what is not a manifest', async () => {
    await writeFile(join(dir, '10-web.yaml'), serviceYaml('web', 80));
    await writeFile(join(dir, '20-web.yml'), serviceYaml('web', 81));
    await writeFile(join(dir, '30-deploy.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: api }\n');
    await writeFile(join(dir, 'README.md'), '# not a manifest: {');
    await writeFile(join(dir, '.web.yaml.swp'), 'garbage: [');
    await writeFile(join(dir, '.hidden.yaml'), serviceYaml('hidden'));
    await mkdir(join(dir, 'sub.yaml'));
    await writeFile(join(dir, 'sub.yaml', 'nested.yaml'), serviceYaml('nested'));
    const { store, logs } = await start();
    expect(store.serviceKeys()).toEqual(['shop/web']);
    expect(ports(store, 'shop/web')).toEqual([81]); // the later file wins
    const [dup] = logs.at('warn');
    expect(dup?.msg).toBe(
      `Service shop/web is defined twice (${join(dir, '10-web.yaml')}:1, ${join(dir, '20-web.yml')}:1); the later one wins`,
    );
    expect(logs.at('debug')).toMatchObject([
      { kind: 'Deployment', msg: 'skipping an object of a kind the proxy does not read' },
    ]);
    expect(logs.at('error')).toEqual([]);
  });

  it('skips a bad object, logs why, and applies the rest of its file', async () => {
    const file = join(dir, 'all.yaml');
    await writeFile(
      file,
      [
        serviceYaml('web'),
        serviceYaml('broken', 70000),
        sliceYaml('web-1', 'web', '10.0.0.999'),
        sliceYaml('web-2', 'web', '10.0.0.2'),
      ].join('---\n'),
    );
    const { store, logs } = await start();
    expect(store.serviceKeys()).toEqual(['shop/web']);
    expect(store.slicesForService('shop/web').map((s) => [s.name, s.endpoints.length])).toEqual([
      ['web-1', 0],
      ['web-2', 1],
    ]);
    const errors = logs.at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toBe(
      `${file}:11: skipping Service shop/broken: spec.ports[0].port: 70000 is not a port (1-65535); port dropped; spec.ports: no valid port`,
    );
    expect(logs.at('warn')).toMatchObject([
      {
        file: `${file}:21`,
        kind: 'EndpointSlice',
        problems: [
          'endpoints[0].addresses[0]: "10.0.0.999" is not an IPv4 address',
          'endpoints[0]: no valid address; endpoint dropped',
        ],
      },
    ]);
  });

  it('refuses to start on a PATH that is not there', async () => {
    const store = new Store('node-a');
    const source = new ManifestSource({ path: join(dir, 'missing'), store, logger: captureLogs().logger });
    await expect(source.start()).rejects.toThrow(/manifests: cannot read .*missing/);
    expect(store.synced()).toBe(false);
  });
});

describe('ManifestSource: following changes', () => {
  it('applies an edit', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, serviceYaml('web'));
    const { store } = await start();
    await writeFile(file, serviceYaml('web', 8080));
    await vi.waitFor(() => expect(ports(store, 'shop/web')).toEqual([8080]), WAIT);
  });

  it('keeps the last good objects of a file that stops parsing, and says where it broke', async () => {
    const file = join(dir, 'web.yaml');
    const other = join(dir, 'api.yaml');
    await writeFile(file, serviceYaml('web'));
    await writeFile(other, serviceYaml('api'));
    const { store, logs } = await start();
    await writeFile(file, serviceYaml('web', 81).replace('name: web', 'name: web: oops')); // line 4
    await vi.waitFor(() => expect(logs.at('error')).toHaveLength(1), WAIT);
    const [err] = logs.at('error');
    expect(err).toMatchObject({ file, line: 4, column: 9 });
    expect(err?.msg).toBe(
      `${file}:4:9: does not parse: Nested mappings are not allowed in compact mappings; keeping its last good objects (1)`,
    );
    expect(ports(store, 'shop/web')).toEqual([80]);

    // Other files still apply, and the broken one is not logged again.
    await writeFile(other, serviceYaml('api', 9090));
    await vi.waitFor(() => expect(ports(store, 'shop/api')).toEqual([9090]), WAIT);
    expect(logs.at('error')).toHaveLength(1);
    expect(ports(store, 'shop/web')).toEqual([80]);

    await writeFile(file, serviceYaml('web', 81));
    await vi.waitFor(() => expect(ports(store, 'shop/web')).toEqual([81]), WAIT);
    expect(logs.at('info').map((l) => l.msg)).toContain(`${file}: parses again`);
  });

  it('names the line of broken JSON', async () => {
    const file = join(dir, 'web.json');
    await writeFile(file, '{\n  "kind": "Service",\n}\n');
    const { logs } = await start();
    expect(logs.at('error')).toMatchObject([{ file, line: 3, column: 1 }]);
  });

  it('deletes the objects of a deleted file', async () => {
    await writeFile(join(dir, 'web.yaml'), `${serviceYaml('web')}---\n${sliceYaml('web-1', 'web')}`);
    await writeFile(join(dir, 'api.yaml'), serviceYaml('api'));
    const { store } = await start();
    await unlink(join(dir, 'web.yaml'));
    await vi.waitFor(() => expect(store.serviceKeys()).toEqual(['shop/api']), WAIT);
    expect(store.slicesForService('shop/web')).toEqual([]);
  });

  it('sees an editor replace a file by renaming a new one over it', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, serviceYaml('web'));
    const { store } = await start();
    await writeFile(join(dir, 'web.yaml.tmp~'), serviceYaml('web', 81));
    await rename(join(dir, 'web.yaml.tmp~'), file);
    await vi.waitFor(() => expect(ports(store, 'shop/web')).toEqual([81]), WAIT);
  });

  it('follows a single-file PATH across repeated rename-replaces', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, serviceYaml('web'));
    const { store } = await start(file);
    for (const port of [81, 82]) {
      await writeFile(`${file}.new`, serviceYaml('web', port));
      await rename(`${file}.new`, file);
      await vi.waitFor(() => expect(ports(store, 'shop/web')).toEqual([port]), WAIT);
    }
  });

  it('keeps everything while PATH is gone, and follows it again when it is back', async () => {
    const path = join(dir, 'manifests');
    await mkdir(path);
    await writeFile(join(path, 'web.yaml'), serviceYaml('web'));
    const { store, logs } = await start(path);
    await rm(path, { recursive: true });
    await vi.waitFor(
      () =>
        expect(
          logs
            .at('error')
            .map((l) => l.msg)
            .join(),
        ).toMatch(/cannot read .*keeping every object as it is/),
      WAIT,
    );
    expect(store.serviceKeys()).toEqual(['shop/web']);

    await mkdir(path);
    await writeFile(join(path, 'api.yaml'), serviceYaml('api'));
    await vi.waitFor(() => expect(store.serviceKeys()).toEqual(['shop/api']), WAIT);
    // The new directory is watched too, not only polled.
    await writeFile(join(path, 'api.yaml'), serviceYaml('api', 81));
    await vi.waitFor(() => expect(ports(store, 'shop/api')).toEqual([81]), WAIT);
  });

  it('stops following on stop()', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, serviceYaml('web'));
    const { store, source } = await start();
    await source.stop();
    await writeFile(file, serviceYaml('web', 81));
    await new Promise((r) => setTimeout(r, 200));
    expect(ports(store, 'shop/web')).toEqual([80]);
  });
});
