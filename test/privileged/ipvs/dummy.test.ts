// kube-ipvs0, the dummy link the ipvs mode binds service addresses to, driven
// through the real `ip` in a namespace of its own: created DOWN and only
// once, addresses on it local while it stays DOWN (a connect from the
// namespace reaches a listener on 0.0.0.0 / [::]), 10,000 addresses bound and
// unbound in one call each, failures reported per address, removed.
//
// This machine's kernel has no dummy driver (CONFIG_DUMMY is not set): here
// the dummy part skips and says why, ensure() is checked to fail with
// ERR_DUMMY_UNSUPPORTED, and the bulk binding runs on a stand-in link (a veth
// end, DOWN). In the VM harness (test/vm/run.sh, Debian's 6.1 and 6.12
// kernels, SWITCHYARD_IN_VM set) the dummy driver must be there:
//   test/vm/run.sh --kernel 6.12 -- bash scripts/with-node.sh vitest run --project privileged test/privileged/ipvs/dummy.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DummyInterface, KUBE_IPVS0 } from '../../../control/proxiers/ipvs/dummy.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { run } from '../../harness/run.js';
import { scaled } from '../../harness/slow.js';

/** Whether this kernel can create a dummy link, asked in a throw-away namespace. */
function kernelHasDummy(): boolean {
  const probe = new TestNet();
  try {
    const ns = probe.namespace('dummy-probe');
    run('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'dummy']);
    return true;
  } catch {
    return false;
  } finally {
    probe.teardownSync();
  }
}

const privileged = requirePrivileges();
const inVm = process.env.SWITCHYARD_IN_VM;
const dummyDriver = privileged && (inVm !== undefined || kernelHasDummy());

/** 9,000 IPv4 and 1,000 IPv6 addresses, spelt as ip prints them. */
const manyAddresses = () => [
  ...Array.from({ length: 9_000 }, (_, k) => `10.96.${Math.floor(k / 250)}.${(k % 250) + 1}`),
  ...Array.from({ length: 1_000 }, (_, k) => `fd00::a:${(k + 1).toString(16)}`),
];

/** `ip -d -j link show` of one link. */
function link(
  net: TestNet,
  ns: string,
  name: string,
): { ifindex: number; flags: string[]; operstate: string; linkinfo?: { info_kind?: string } } {
  return (JSON.parse(net.ip(ns, '-d', '-j', 'link', 'show', 'dev', name)) as Array<ReturnType<typeof link>>)[0]!;
}

/**
 * TCP connects from inside `ns`, with listeners on 0.0.0.0:8080 and
 * [::]:8080: "hello" when one answered, else the error code.
 */
function connectFrom(net: TestNet, ns: string, targets: Array<[string, number]>): string[] {
  const script = `
    import { createServer, connect } from 'node:net';
    const listen = (host, ipv6Only) => new Promise((resolve, reject) => {
      const server = createServer((c) => c.end('hello\\n'));
      server.once('error', reject).listen({ host, port: 8080, ipv6Only }, () => resolve(server));
    });
    const servers = [await listen('0.0.0.0', false), await listen('::', true)];
    const attempt = ([host, port]) => new Promise((resolve) => {
      const c = connect({ host, port, timeout: 2000 });
      c.once('data', (d) => { resolve(String(d).trim()); c.destroy(); });
      c.once('error', (e) => resolve(e.code ?? e.message));
      c.once('timeout', () => { resolve('ETIMEDOUT'); c.destroy(); });
    });
    const results = [];
    for (const t of JSON.parse(process.argv[1])) results.push(await attempt(t));
    for (const s of servers) s.close();
    console.log(JSON.stringify(results));`;
  return JSON.parse(
    net.exec(ns, nodeBinary, ['--input-type=module', '-e', script, JSON.stringify(targets)]),
  ) as string[];
}

/** Binding and unbinding on `iface`, a link that exists and holds no addresses. */
async function bulkBinding(iface: DummyInterface, what: string): Promise<void> {
  const all = manyAddresses();
  let t = performance.now();
  expect(await iface.bind(all, [])).toEqual({ failed: [] });
  const bound = performance.now() - t;
  t = performance.now();
  expect(await iface.addresses()).toEqual(new Set(all));
  const listed = performance.now() - t;

  // Present ones again, absent ones away: no failures; an address in both lists stays bound.
  expect(await iface.bind(all.slice(0, 100), ['10.99.0.1', 'fd00::99', ...all.slice(100, 200)])).toEqual({
    failed: [],
  });
  expect(await iface.bind(['10.99.0.2'], ['10.99.0.2'])).toEqual({ failed: [] });
  expect(await iface.addresses()).toEqual(new Set([...all.slice(0, 100), ...all.slice(200), '10.99.0.2']));
  // What is no address is refused without reaching ip (a line ip cannot parse would end the batch).
  expect(await iface.bind(['bogus', '10.96.0.1/24', 'fe80::1%eth0', '10.99.0.3'], ['not-an-ip'])).toEqual({
    failed: [
      { address: 'not-an-ip', op: 'del', error: 'not an IP address' },
      { address: 'bogus', op: 'add', error: 'not an IP address' },
      { address: '10.96.0.1/24', op: 'add', error: 'not an IP address' },
      { address: 'fe80::1%eth0', op: 'add', error: 'not an IP address' },
    ],
  });

  t = performance.now();
  expect(await iface.bind([], [...all, '10.99.0.2', '10.99.0.3'])).toEqual({ failed: [] });
  const unbound = performance.now() - t;
  expect(await iface.addresses()).toEqual(new Set());
  console.log(
    `kube-ipvs0 (${what}, kernel ${inVm ?? 'of this machine'}): bind 10,000 addresses ${bound.toFixed(0)} ms, ` +
      `addresses() of 10,000 ${listed.toFixed(0)} ms, unbind 10,000 ${unbound.toFixed(0)} ms`,
  );
}

describe.runIf(privileged)('kube-ipvs0 (ip, in a namespace)', () => {
  const net = new TestNet();
  let ns: string;
  let iface: DummyInterface;

  beforeAll(() => {
    ns = net.namespace('dummy');
    iface = new DummyInterface({ netns: ns });
  });
  afterAll(() => net.teardown());

  it('has no addresses and nothing to remove while the link does not exist', async () => {
    expect(iface.name).toBe(KUBE_IPVS0);
    expect(await iface.addresses()).toEqual(new Set());
    expect(await iface.remove()).toBe(false);
  });

  it('reports each address of a bind to a link that does not exist as failed, with what ip said', async () => {
    const { failed } = await new DummyInterface({ name: 'nope0', netns: ns }).bind(
      ['10.96.0.1', 'fd00::1'],
      ['10.96.0.2'],
    );
    expect(failed.map((f) => [f.address, f.op])).toEqual([
      ['10.96.0.2', 'del'],
      ['10.96.0.1', 'add'],
      ['fd00::1', 'add'],
    ]);
    for (const f of failed) expect(f.error).toMatch(/Cannot find device "nope0"/);
  });

  it('neither takes over nor deletes a link of that name that is not a dummy', async () => {
    net.ip(ns, 'link', 'add', 'kube-ipvs1', 'type', 'veth', 'peer', 'name', 'kube-ipvs1p');
    try {
      const other = new DummyInterface({ name: 'kube-ipvs1', netns: ns });
      await expect(other.ensure()).rejects.toMatchObject({
        code: 'ERR_DUMMY_NOT_DUMMY',
        message: expect.stringMatching(/kube-ipvs1 exists but is a veth link, not a dummy/),
      });
      await expect(other.remove()).rejects.toMatchObject({ code: 'ERR_DUMMY_NOT_DUMMY' });
      expect(link(net, ns, 'kube-ipvs1').linkinfo?.info_kind).toBe('veth');
    } finally {
      net.ip(ns, 'link', 'del', 'kube-ipvs1');
    }
  });

  it('fails, naming the package, without the ip binary', async () => {
    await expect(new DummyInterface({ bin: '/nonexistent/ip', netns: ns }).addresses()).rejects.toMatchObject({
      code: 'ERR_IP_MISSING',
      message: expect.stringMatching(/apt-get install iproute2/),
    });
  });

  describe.runIf(dummyDriver)('with the dummy driver', () => {
    it('creates kube-ipvs0 as a DOWN dummy, once', async () => {
      await iface.ensure();
      const created = link(net, ns, KUBE_IPVS0);
      expect(created.linkinfo?.info_kind).toBe('dummy');
      expect(created.flags).not.toContain('UP');
      expect(created.operstate).toBe('DOWN');
      await iface.ensure();
      expect(link(net, ns, KUBE_IPVS0).ifindex).toBe(created.ifindex);
    });

    it('makes bound addresses local while the link stays DOWN: connects reach a listener on 0.0.0.0 / [::]', async () => {
      expect(await iface.bind(['10.96.0.10', 'fd00::10'], [])).toEqual({ failed: [] });
      expect(link(net, ns, KUBE_IPVS0).flags).not.toContain('UP');
      // The kernel gave each address its local route without the link being up.
      expect(net.ip(ns, 'route', 'show', 'table', 'local')).toMatch(
        /^local 10\.96\.0\.10 dev kube-ipvs0 proto kernel scope host src 10\.96\.0\.10/m,
      );
      expect(net.ip(ns, '-6', 'route', 'show', 'table', 'local')).toMatch(
        /^local fd00::10 dev kube-ipvs0 proto kernel/m,
      );
      expect(
        connectFrom(net, ns, [
          ['10.96.0.10', 8080],
          ['fd00::10', 8080],
          ['10.96.0.10', 8081],
          ['fd00::10', 8081],
          ['10.96.0.11', 8080],
        ]),
      ).toEqual(['hello', 'hello', 'ECONNREFUSED', 'ECONNREFUSED', 'ENETUNREACH']);

      expect(await iface.bind([], ['10.96.0.10', 'fd00::10'])).toEqual({ failed: [] });
      expect(
        connectFrom(net, ns, [
          ['10.96.0.10', 8080],
          ['fd00::10', 8080],
        ]),
      ).toEqual(['ENETUNREACH', 'ENETUNREACH']);
    });

    it(
      'binds and unbinds 10,000 addresses in one call each',
      async () => {
        await bulkBinding(iface, 'dummy');
      },
      scaled(60_000),
    );

    it('removes the link with its addresses, and says when there was none', async () => {
      await iface.bind(['10.96.0.10'], []);
      expect(await iface.remove()).toBe(true);
      expect(net.ip(ns, 'link', 'show')).not.toMatch(/kube-ipvs0/);
      expect(await iface.addresses()).toEqual(new Set());
      expect(await iface.remove()).toBe(false);
      await iface.ensure();
      expect(await iface.addresses()).toEqual(new Set());
      expect(await iface.remove()).toBe(true);
    });
  });

  describe.runIf(!dummyDriver)(
    'without the dummy driver (this kernel: CONFIG_DUMMY is not set; the VM harness runs the dummy part)',
    () => {
      it('fails ensure(), naming the missing driver', async () => {
        await expect(iface.ensure()).rejects.toMatchObject({
          code: 'ERR_DUMMY_UNSUPPORTED',
          message: expect.stringMatching(/no dummy network driver \(CONFIG_DUMMY/),
        });
        expect(net.ip(ns, 'link', 'show')).not.toMatch(/kube-ipvs0/);
      });

      it('binds and unbinds 10,000 addresses in one call each, on a stand-in link (a DOWN veth end)', async () => {
        net.ip(ns, 'link', 'add', KUBE_IPVS0, 'type', 'veth', 'peer', 'name', 'kube-ipvs0p');
        try {
          await bulkBinding(iface, 'veth stand-in');
        } finally {
          net.ip(ns, 'link', 'del', KUBE_IPVS0);
        }
      });
    },
  );
});
