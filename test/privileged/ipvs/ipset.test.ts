// The ipvs mode's ipset driver against the real ipset binary and kernel, in a
// namespace of its own (ipsets are per network namespace, and go with it):
// atomic replace of 10,000 members, incremental updates, every set type
// kube-proxy uses read back as ipset prints it, the refused restore line
// named, sets of other parameters or types met on the node, and destroy of a
// set an iptables rule still matches on. The driver runs through its netns
// option here, and once as the daemon runs it: a process inside the namespace.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ipset, temporarySetName, type IpsetSpec } from '../../../control/proxiers/ipvs/ipset.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { scaled } from '../../harness/slow.js';

const spec = (name: string, type: IpsetSpec['type'], family: IpsetSpec['family'] = 'inet'): IpsetSpec => ({
  name,
  type,
  family,
  comment: name,
});
const clusterIP = spec('KUBE-CLUSTER-IP', 'hash:ip,port');

/** n distinct "10.96.x.y,tcp:PORT" members. */
const ipPorts = (n: number, port = 80, from = 0) =>
  Array.from(
    { length: n },
    (_, k) => `10.${96 + ((from + k) >> 16)}.${((from + k) >> 8) & 255}.${(from + k) & 255},tcp:${port}`,
  );

describe.runIf(requirePrivileges())('ipsets (the ipset binary, in a namespace)', () => {
  const net = new TestNet();
  let ns: string;
  let ipset: Ipset;
  /** What `ipset list -t` says of a set (the reference tool's own view). */
  const header = (name: string) => net.exec(ns, 'ipset', ['list', '-t', name]);
  const iptables = (...args: string[]) => net.exec(ns, 'iptables', ['-w', '5', ...args]);

  beforeAll(() => {
    ns = net.namespace('ipset');
    ipset = new Ipset({ netns: ns });
  });
  afterAll(() => net.teardown());

  it('passes its check here, and fails one without the binary, naming the package', async () => {
    await ipset.check();
    for (const missing of [
      new Ipset({ netns: ns, bin: '/nonexistent/ipset' }),
      new Ipset({ bin: '/nonexistent/ipset' }),
    ]) {
      await expect(missing.check()).rejects.toMatchObject({
        code: 'ERR_IPSET_MISSING',
        message: expect.stringMatching(/apt-get install ipset/),
      });
    }
  });

  it('sees no sets in a fresh namespace, and no members of a set that does not exist', async () => {
    expect(await ipset.names()).toEqual([]);
    expect(await ipset.members('KUBE-CLUSTER-IP')).toBeUndefined();
  });

  it(
    'replaces 10,000 members in one restore, and again with half of them changed',
    async () => {
      const first = ipPorts(10_000);
      let t = performance.now();
      await ipset.replace(clusterIP, first);
      const created = performance.now() - t;
      t = performance.now();
      const read = await ipset.members('KUBE-CLUSTER-IP');
      const readMs = performance.now() - t;
      expect(read).toEqual(new Set(first));

      const second = [...first.slice(5_000), ...ipPorts(5_000, 443)];
      t = performance.now();
      await ipset.replace(clusterIP, second);
      const replaced = performance.now() - t;
      expect(await ipset.members('KUBE-CLUSTER-IP')).toEqual(new Set(second));
      // The temporary set is gone; the real one has kube-proxy's parameters.
      expect(await ipset.names()).toEqual(['KUBE-CLUSTER-IP']);
      expect(header('KUBE-CLUSTER-IP')).toMatch(
        /Type: hash:ip,port\n[\s\S]*Header: family inet hashsize \d+ maxelem 65536[\s\S]*Number of entries: 10000/,
      );
      console.log(
        `ipset: replace with 10,000 members ${created.toFixed(0)} ms (set created), ${replaced.toFixed(0)} ms (5,000 changed); members() read 10,000 in ${readMs.toFixed(0)} ms`,
      );
    },
    scaled(60_000),
  ); // ~7 s of ipset in the VM when quiet, over 60 s when the host is busy

  it('swaps new members in under an iptables rule that matches the set', async () => {
    iptables('-A', 'INPUT', '-m', 'set', '--match-set', 'KUBE-CLUSTER-IP', 'dst,dst', '-j', 'ACCEPT');
    try {
      expect(header('KUBE-CLUSTER-IP')).toMatch(/References: 1/);
      await ipset.replace(clusterIP, ['10.96.0.10,tcp:80', '10.96.0.10,udp:53']);
      expect(await ipset.members('KUBE-CLUSTER-IP')).toEqual(new Set(['10.96.0.10,tcp:80', '10.96.0.10,udp:53']));
      // The rule still matches on the set by name, now holding the new members.
      expect(header('KUBE-CLUSTER-IP')).toMatch(/References: 1/);
      expect(iptables('-S', 'INPUT')).toMatch(/--match-set KUBE-CLUSTER-IP dst,dst/);
    } finally {
      iptables('-D', 'INPUT', '-m', 'set', '--match-set', 'KUBE-CLUSTER-IP', 'dst,dst', '-j', 'ACCEPT');
    }
  });

  it('writes every set type kube-proxy uses and reads the members back as ipset prints them', async () => {
    const cases: Array<[IpsetSpec, string[]]> = [
      [spec('KUBE-IPVS-IPS', 'hash:ip'), ['10.96.0.10', '10.96.0.11']],
      [spec('KUBE-LOOP-BACK', 'hash:ip,port,ip'), ['10.244.1.5,tcp:8080,10.244.1.5', '10.244.1.6,udp:53,10.244.1.6']],
      [
        spec('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'hash:ip,port,net'),
        ['192.0.2.10,tcp:80,198.51.100.0/24', '192.0.2.10,tcp:80,203.0.113.0/25'],
      ],
      [spec('KUBE-LOAD-BALANCER-SOURCE-NET', 'hash:net'), ['198.51.100.0/24', '10.0.0.0/8']],
      [{ ...spec('KUBE-NODE-PORT-TCP', 'bitmap:port') }, ['30080', '32767']],
      [spec('KUBE-6-CLUSTER-IP', 'hash:ip,port', 'inet6'), ['fd00::a,tcp:80', 'fd00::a,sctp:5060']],
    ];
    for (const [s, members] of cases) {
      await ipset.replace(s, members);
      expect(await ipset.members(s.name), s.type).toEqual(new Set(members));
    }
    expect(header('KUBE-NODE-PORT-TCP')).toMatch(/Type: bitmap:port\n[\s\S]*Header: range 0-65535/);
    expect(header('KUBE-6-CLUSTER-IP')).toMatch(/Header: family inet6 /);
    await ipset.destroy(cases.map(([s]) => s.name));
  });

  it('updates in one restore: creates a missing set; a present add and a missing delete are no errors', async () => {
    const lb = spec('KUBE-LOAD-BALANCER', 'hash:ip,port');
    await ipset.update(lb, ['192.0.2.1,tcp:80', '192.0.2.2,tcp:80'], ['192.0.2.99,tcp:80']);
    expect(await ipset.members(lb.name)).toEqual(new Set(['192.0.2.1,tcp:80', '192.0.2.2,tcp:80']));
    await ipset.update(
      lb,
      ['192.0.2.1,tcp:80', '192.0.2.3,tcp:80', '192.0.2.4,tcp:80'],
      ['192.0.2.2,tcp:80', '192.0.2.98,tcp:80', '192.0.2.4,tcp:80'],
    );
    // Deletions go first: a member in both lists stays.
    expect(await ipset.members(lb.name)).toEqual(new Set(['192.0.2.1,tcp:80', '192.0.2.3,tcp:80', '192.0.2.4,tcp:80']));
    await ipset.update(lb, [], []);
    expect(await ipset.members(lb.name)).toEqual(new Set(['192.0.2.1,tcp:80', '192.0.2.3,tcp:80', '192.0.2.4,tcp:80']));
  });

  it('takes over a set that exists with another maxelem, giving it ours', async () => {
    const ext = spec('KUBE-EXTERNAL-IP', 'hash:ip,port');
    net.exec(ns, 'ipset', ['create', ext.name, 'hash:ip,port', 'family', 'inet', 'maxelem', '1000']);
    net.exec(ns, 'ipset', ['add', ext.name, '192.0.2.50,tcp:80']);
    // update() works on it as it is.
    await ipset.update(ext, ['192.0.2.51,tcp:80'], []);
    expect(await ipset.members(ext.name)).toEqual(new Set(['192.0.2.50,tcp:80', '192.0.2.51,tcp:80']));
    expect(header(ext.name)).toMatch(/maxelem 1000/);
    await ipset.replace(ext, ['192.0.2.52,tcp:80']);
    expect(await ipset.members(ext.name)).toEqual(new Set(['192.0.2.52,tcp:80']));
    expect(header(ext.name)).toMatch(/maxelem 65536/);
  });

  it('refuses a set of another type at the swap, leaving it as it was and no temporary set', async () => {
    const fw = spec('KUBE-LOAD-BALANCER-FW', 'hash:ip,port');
    net.exec(ns, 'ipset', ['create', fw.name, 'hash:ip', 'family', 'inet']);
    net.exec(ns, 'ipset', ['add', fw.name, '192.0.2.60']);
    const err = await ipset.replace(fw, ['192.0.2.60,tcp:80']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_IPSET_RESTORE', line: `swap ${temporarySetName(fw)} ${fw.name}` });
    expect((err as Error).message).toMatch(
      /their type does not match.*exists with another type than hash:ip,port: destroy it/,
    );
    expect(await ipset.members(fw.name)).toEqual(new Set(['192.0.2.60']));
    expect(await ipset.names()).not.toContain(temporarySetName(fw));
    await ipset.destroy([fw.name]);
  });

  it('names the refused line of a restore, keeps the old members, and leaves no temporary set', async () => {
    await ipset.replace(clusterIP, ['10.96.0.10,tcp:80']);
    const tmp = temporarySetName(clusterIP);
    const err = await ipset.replace(clusterIP, ['10.96.0.11,tcp:80', '10.96.0.300,tcp:80']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_IPSET_RESTORE', line: `add ${tmp} 10.96.0.300,tcp:80` });
    expect((err as Error).message).toMatch(
      /Error in line 5: .*; the refused line: add KUBE-CLUSTER-IP-TMP-[0-9a-f]{8} 10\.96\.0\.300,tcp:80/,
    );
    expect(await ipset.members(clusterIP.name)).toEqual(new Set(['10.96.0.10,tcp:80']));
    expect(await ipset.names()).not.toContain(tmp);

    // ipset 7.17 names no line for a port it cannot parse; its words quote the culprit.
    const upd = await ipset.update(clusterIP, ['10.96.0.12,udp'], []).catch((e: unknown) => e);
    expect(upd).toMatchObject({
      code: 'ERR_IPSET_RESTORE',
      message: expect.stringMatching(/cannot parse 'udp' as a tcp port/),
    });
    expect((upd as { line?: string }).line).toBeUndefined();
  });

  it('destroys sets, missing ones included, and names those an iptables rule still matches on', async () => {
    const [a, b, c] = ['SYT-A', 'SYT-B', 'SYT-C'].map((n) => spec(n, 'hash:ip'));
    for (const s of [a!, b!, c!]) await ipset.update(s, ['192.0.2.1'], []);
    iptables('-A', 'INPUT', '-m', 'set', '--match-set', 'SYT-B', 'src', '-j', 'DROP');
    try {
      const err = await ipset.destroy(['SYT-A', 'SYT-B', 'SYT-MISSING', 'SYT-C']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_IPSET_IN_USE', sets: ['SYT-B'] });
      expect((err as Error).message).toMatch(/cannot destroy ipset SYT-B: still referenced .*--match-set SYT-B/);
      // The others went; the one in use stays, with its members.
      const names = await ipset.names();
      expect(names.filter((n) => n.startsWith('SYT-'))).toEqual(['SYT-B']);
      expect(await ipset.members('SYT-B')).toEqual(new Set(['192.0.2.1']));
    } finally {
      iptables('-D', 'INPUT', '-m', 'set', '--match-set', 'SYT-B', 'src', '-j', 'DROP');
    }
    await ipset.destroy(['SYT-B', 'SYT-MISSING']);
    await ipset.destroy([]);
    expect((await ipset.names()).filter((n) => n.startsWith('SYT-'))).toEqual([]);
  });

  it('works as the daemon runs it: a process inside the namespace, no netns option', () => {
    // The build the daemon runs (npm test builds it first).
    const module = pathToFileURL(join(repoRoot, 'dist', 'control', 'proxiers', 'ipvs', 'ipset.js')).href;
    // A name of this run's own, so nothing could be mistaken for it in any other namespace.
    const name = `SYT-${process.pid}`;
    const script = `
      const { Ipset } = await import(${JSON.stringify(module)});
      const ipset = new Ipset();
      await ipset.check();
      const spec = { name: ${JSON.stringify(name)}, type: 'hash:ip,port', family: 'inet', comment: 'daemon path' };
      await ipset.replace(spec, ['10.96.0.10,tcp:80', '10.96.0.11,tcp:80']);
      await ipset.update(spec, ['10.96.0.12,tcp:80'], ['10.96.0.10,tcp:80']);
      const members = [...(await ipset.members(spec.name))].sort();
      const names = await ipset.names();
      await ipset.destroy([spec.name]);
      console.log(JSON.stringify({ members, names, after: await ipset.names() }));`;
    const out = JSON.parse(net.exec(ns, nodeBinary, ['--input-type=module', '-e', script])) as {
      members: string[];
      names: string[];
      after: string[];
    };
    expect(out.members).toEqual(['10.96.0.11,tcp:80', '10.96.0.12,tcp:80']);
    expect(out.names).toContain(name);
    expect(out.after).not.toContain(name);
  });
});
