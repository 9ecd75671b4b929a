// The mode registry: a mode is one entry (how it is created, checked, synced,
// cleaned up, and which routes it adds), and the daemon and the ops API ask
// nothing else. A fake mode runs the real daemon from manifest files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultOptions } from '../../../control/config/defaults.js';
import type { ProxyMode, ProxyOptions } from '../../../control/config/options.js';
import { cleanupAll, Daemon } from '../../../control/daemon.js';
import { MODES, ModeRegistry, type ModeDefinition, type ModeEntry } from '../../../control/proxiers/modes.js';
import type { Proxier, SyncRequest, SyncResult } from '../../../control/proxiers/types.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, d) => d() }));

class FakeProxier implements Proxier {
  readonly mode = 'fake' as ProxyMode;
  readonly syncs: SyncRequest[] = [];
  started = false;
  async start() {
    this.started = true;
  }
  async sync(req: SyncRequest): Promise<SyncResult> {
    this.syncs.push(req);
    return { written: req.desired.size, removed: 0, skipped: [] };
  }
  view() {
    return {
      programmedCount: () => this.syncs.at(-1)?.desired.size ?? null,
      mapCount: () => null,
      interfaces: () => [{ name: 'fake0', ifindex: 7 }],
      servicePorts: (ports: readonly { name: string }[]) => ports.map((p) => ({ chains: [`FAKE-${p.name}`] })),
    };
  }
  async stop() {}
  async cleanup() {}
}

const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo }
spec: { clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{ name: http, port: 80, targetPort: 8080, protocol: TCP }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: demo, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
  - { addresses: [10.244.1.11], nodeName: n1, conditions: { ready: true } }
`;

function fakeRegistry(log: string[]) {
  const proxiers: FakeProxier[] = [];
  const fake: ModeDefinition<FakeProxier> = {
    requires: () => log.push('requires'),
    create: () => {
      const p = new FakeProxier();
      proxiers.push(p);
      return p;
    },
    periods: () => ({ syncPeriodMs: 60_000, minSyncPeriodMs: 0 }),
    cleanup: async (_deps, { keepShared }) => void log.push(`cleanup fake keepShared=${keepShared}`),
    routes: (app, _ctx, proxier) => {
      app.get('/v1/fake', async () => ({ running: proxier !== undefined, syncs: proxier?.syncs.length ?? 0 }));
    },
  };
  const other: ModeDefinition = {
    create: () => {
      throw new Error('not the running mode');
    },
    periods: (o) => o.sync,
    cleanup: async (_deps, { keepShared }) => void log.push(`cleanup other keepShared=${keepShared}`),
  };
  const entries: ModeEntry[] = [
    {
      name: 'fake',
      summary: 'a test mode',
      shares: ['kube-chains'],
      runsOn: ['linux'],
      load: async () => fake as unknown as ModeDefinition,
    },
    { name: 'other', summary: 'shares with fake', shares: ['kube-chains'], runsOn: ['linux'], load: async () => other },
    { name: 'lone', summary: 'shares nothing', shares: [], runsOn: ['linux'], load: async () => other },
    { name: 'later', summary: 'not built', shares: [], runsOn: ['linux'], planned: 'not built yet' },
    {
      name: 'elsewhere',
      summary: 'another system',
      shares: [],
      runsOn: ['win32'],
      load: async () => {
        throw new Error('a mode of another system is never loaded');
      },
    },
  ];
  return { registry: new ModeRegistry(entries, 'linux'), proxiers };
}

describe('mode registry', () => {
  let dir: string | undefined;
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the daemon in a mode that is only a registry entry: created, synced, described, its route served', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-modes-'));
    writeFileSync(join(dir, 'web.yaml'), MANIFESTS);
    const log: string[] = [];
    const { registry, proxiers } = fakeRegistry(log);
    const options: ProxyOptions = {
      ...defaultOptions({ hostname: () => 'n1' }),
      mode: 'fake' as ProxyMode,
      manifests: dir,
      healthzBindAddress: '',
      metricsBindAddress: '127.0.0.1:0',
    };
    const synced = new Promise<void>((resolve) => {
      void Daemon.create(options, silent, { modes: registry, onSync: (r) => r.error === undefined && resolve() }).then(
        async (d) => {
          daemon = d;
          await d.start();
        },
      );
    });
    await synced;
    const [proxier] = proxiers;
    expect(proxier?.started).toBe(true);
    expect([...proxier!.syncs[0]!.desired.keys()]).toEqual(['demo/web:http/TCP']);
    expect(log[0]).toBe('requires');

    const app = daemon!.ops.servers[0]!;
    const status = (await app.inject('/v1/status')).json();
    expect(status).toMatchObject({
      mode: 'fake',
      counts: { programmed: 1, maps: null },
      interfaces: [{ name: 'fake0', ifindex: 7 }],
    });
    const services = (await app.inject('/v1/services')).json() as { items: Array<{ chains: string[] }> };
    expect(services.items[0]!.chains).toEqual(['FAKE-demo/web:http/TCP']);
    expect((await app.inject('/v1/fake')).json()).toEqual({ running: true, syncs: 1 });

    // Once programmed, the other modes' leftovers go; a mode sharing objects keeps them.
    await expect
      .poll(() => log.filter((l) => l.startsWith('cleanup')))
      .toEqual(['cleanup other keepShared=true', 'cleanup other keepShared=false']);
  });

  it('refuses a planned or unknown mode, naming the modes there are', async () => {
    const { registry } = fakeRegistry([]);
    await expect(registry.load('later')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_UNSUPPORTED',
      message: expect.stringMatching(
        /--proxy-mode=later is not available in this build yet \(not built: not built yet\); use --proxy-mode=fake, --proxy-mode=other, --proxy-mode=lone/,
      ),
    });
    await expect(registry.load('elsewhere')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_PLATFORM',
      message:
        '--proxy-mode=elsewhere needs Windows, and this node runs Linux; here use --proxy-mode=fake, --proxy-mode=other, --proxy-mode=lone',
    });
    await expect(registry.load('nftables')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_UNSUPPORTED',
      message: expect.stringContaining('--proxy-mode=nftables is not a mode switchyard has'),
    });
  });

  it('--cleanup runs every built mode’s clean-up, shared objects included', async () => {
    const log: string[] = [];
    const { registry } = fakeRegistry(log);
    await cleanupAll(defaultOptions({ hostname: () => 'n1' }), silent, registry);
    expect(log).toEqual([
      'cleanup fake keepShared=false',
      'cleanup other keepShared=false',
      'cleanup other keepShared=false',
    ]);
  });

  it('the built-in table: --proxy-mode values, and which modes share kube-proxy’s chains', async () => {
    expect(MODES.map((m) => m.name)).toEqual(['ebpf', 'iptables', 'ipvs', 'kernelspace', 'userspace']);
    const built = new ModeRegistry().built().map((m) => m.name);
    expect(built).toEqual(['ebpf', 'iptables', 'ipvs', 'kernelspace', 'userspace']);
    expect(new ModeRegistry(MODES, 'linux').runnable().map((m) => m.name)).toEqual([
      'ebpf',
      'iptables',
      'ipvs',
      'userspace',
    ]);
    expect(new ModeRegistry(MODES, 'win32').runnable().map((m) => m.name)).toEqual(['kernelspace']);
    // A Windows node never loads a Linux mode (the libbpf addon, iptables): their routes are not registered there.
    expect(new ModeRegistry(MODES, 'win32').loadable().map((m) => m.name)).toEqual(['kernelspace']);
    expect(new ModeRegistry(MODES, 'linux').loadable().map((m) => m.name)).toEqual([
      'ebpf',
      'iptables',
      'ipvs',
      'kernelspace',
      'userspace',
    ]);
    const sharing = MODES.filter((m) => m.shares.includes('kube-chains' as never)).map((m) => m.name);
    expect(sharing).toEqual(['iptables', 'ipvs']);
    for (const entry of new ModeRegistry().built()) {
      const mode = await entry.load!();
      expect(typeof mode.create).toBe('function');
      expect(typeof mode.cleanup).toBe('function');
    }
    await expect(new ModeRegistry(MODES, 'linux').load('kernelspace')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_PLATFORM',
    });
    await expect(new ModeRegistry(MODES, 'win32').load('ebpf')).rejects.toMatchObject({
      code: 'ERR_PROXY_MODE_PLATFORM',
      message: '--proxy-mode=ebpf needs Linux, and this node runs Windows; here use --proxy-mode=kernelspace',
    });
  });
});
