// The IPVS client against a real IPVS kernel: every call through the addon's
// generic netlink socket, checked against what ipvsadm reads from the same
// kernel, and real TCP through a virtual server. Everything happens inside a
// network namespace this file creates (IPVS state is per namespace), so the
// host's own IPVS, if any, is never touched. On a kernel without IPVS (after
// trying modprobe ip_vs) the whole file is skipped and says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Ipvs,
  IpvsErrorCode,
  realServerId,
  virtualServerId,
  type IpvsError,
  type RealServer,
  type VirtualServer,
} from '../../../control/netlink/index.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary } from '../../harness/paths.js';
import { kernelHasIpvs } from '../../harness/ipvs.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { ipvsadmList, type IpvsadmService } from './ipvsadm.js';

const runnable = requirePrivileges() && kernelHasIpvs();
if (!runnable && process.getuid?.() === 0)
  console.warn('\n!!! IPVS netlink tests SKIPPED: kernel has no IPVS (no /proc/net/ip_vs after modprobe ip_vs) !!!\n');

const VIP = '10.96.0.10';
const web: VirtualServer = { address: VIP, protocol: 'TCP', port: 80, scheduler: 'rr' };
const backends = ['10.1.0.2', '10.1.0.3', '10.1.0.4'];
const rs = (address: string, weight = 1): RealServer => ({ address, port: 8080, weight });

describe.skipIf(!runnable)(
  runnable ? 'IPVS over generic netlink' : 'IPVS over generic netlink (SKIPPED: kernel has no IPVS)',
  () => {
    const net = new TestNet();
    let node: string;
    let ipvs: Ipvs;

    beforeAll(() => {
      node = net.namespace('ipvs');
      ipvs = Ipvs.open({ netns: net.netnsPath(node) });
    });
    afterAll(async () => {
      ipvs?.close();
      await net.teardown(); // the namespace's IPVS state goes with it
    });

    /** Our read-back in ipvsadm's terms, to compare with `ipvsadm -Ln`. */
    async function ours(): Promise<IpvsadmService[]> {
      const dotted = (prefix: number) => {
        const m = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
        return [24, 16, 8, 0].map((shift) => (m >>> shift) & 255).join('.');
      };
      return (await ipvs.readAll())
        .map(({ virtualServer: vs, realServers }) => ({
          id: virtualServerId(vs),
          scheduler: vs.scheduler,
          persistent: vs.persistence?.timeoutSeconds,
          mask:
            vs.persistence && !('fwmark' in vs) && !vs.address.includes(':') && vs.persistence.netmask !== 32
              ? dotted(vs.persistence.netmask!)
              : undefined,
          realServers: realServers
            .map((r) => ({
              id: realServerId(r),
              forward: { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route' }[r.forwarding],
              weight: r.weight,
              active: r.activeConnections,
              inactive: r.inactiveConnections,
            }))
            .sort((a, b) => a.id.localeCompare(b.id)),
        }))
        .sort((a, b) => a.id.localeCompare(b.id));
    }

    async function expectIpvsadmAgrees(): Promise<void> {
      expect(await ours()).toEqual(ipvsadmList(net, node));
    }

    it("reports the kernel's IPVS version and connection table size", () => {
      const info = ipvs.info();
      expect(info.version).toMatch(/^1\.2\.\d+$/);
      expect(info.connectionTableSize).toBeGreaterThan(0);
    });

    it('adds a round-robin virtual server with 3 real servers, and reads them back', async () => {
      ipvs.addVirtualServer(web);
      for (const b of backends) ipvs.addRealServer(web, rs(b));
      expect(ipvs.virtualServers()).toEqual([expect.objectContaining({ ...web, stats: expect.any(Object) })]);
      expect(
        ipvs
          .realServers(web)
          .map((r) => [r.address, r.port, r.weight, r.forwarding])
          .sort(),
      ).toEqual(backends.map((b) => [b, 8080, 1, 'masq']));
      await expectIpvsadmAgrees();
    });

    it('edits weights and the scheduler in place', async () => {
      ipvs.editVirtualServer({ ...web, scheduler: 'wrr' });
      ipvs.editRealServer(web, rs(backends[0]!, 3));
      ipvs.editRealServer(web, rs(backends[1]!, 2));
      expect(ipvs.virtualServers()[0]!.scheduler).toBe('wrr');
      expect(Object.fromEntries(ipvs.realServers(web).map((r) => [r.address, r.weight]))).toEqual({
        [backends[0]!]: 3,
        [backends[1]!]: 2,
        [backends[2]!]: 1,
      });
      await expectIpvsadmAgrees();
    });

    it('sets persistence with a timeout (ClientIP affinity) and a netmask', async () => {
      ipvs.editVirtualServer({ ...web, scheduler: 'wrr', persistence: { timeoutSeconds: 10800 } });
      expect(ipvs.virtualServers()[0]).toMatchObject({ persistence: { timeoutSeconds: 10800, netmask: 32 } });
      await expectIpvsadmAgrees();
      ipvs.editVirtualServer({ ...web, scheduler: 'wrr', persistence: { timeoutSeconds: 600, netmask: 24 } });
      expect(ipvs.virtualServers()[0]).toMatchObject({ persistence: { timeoutSeconds: 600, netmask: 24 } });
      await expectIpvsadmAgrees();
      ipvs.editVirtualServer(web); // back to rr, no persistence, for the traffic below
      expect(ipvs.virtualServers()[0]!.persistence).toBeUndefined();
    });

    it('sets and reads the tcp, tcpfin and udp timeouts; 0 leaves one as it is', () => {
      ipvs.setTimeouts({ tcp: 1000, tcpFin: 130, udp: 310 });
      expect(ipvs.timeouts()).toEqual({ tcp: 1000, tcpFin: 130, udp: 310 });
      ipvs.setTimeouts({ udp: 45 });
      expect(ipvs.timeouts()).toEqual({ tcp: 1000, tcpFin: 130, udp: 45 });
      expect(net.exec(node, 'ipvsadm', ['-L', '--timeout'])).toMatch(/Timeout \(tcp tcpfin udp\): 1000 130 45/);
    });

    it('deletes a real server', async () => {
      ipvs.addRealServer(web, rs('10.1.0.9'));
      ipvs.deleteRealServer(web, { address: '10.1.0.9', port: 8080 });
      expect(
        ipvs
          .realServers(web)
          .map((r) => r.address)
          .sort(),
      ).toEqual(backends);
      await expectIpvsadmAgrees();
    });

    it('says what went wrong, with a stable code', () => {
      const thrown = (fn: () => void) => {
        try {
          fn();
        } catch (e) {
          return e as IpvsError;
        }
        throw new Error('did not throw');
      };
      expect(thrown(() => ipvs.addVirtualServer(web))).toMatchObject({
        code: IpvsErrorCode.Exists,
        errno: 17,
        target: 'TCP 10.96.0.10:80',
      });
      expect(thrown(() => ipvs.deleteRealServer(web, { address: '10.1.0.99', port: 8080 }))).toMatchObject({
        code: IpvsErrorCode.NoSuchRealServer,
      });
      expect(thrown(() => ipvs.editVirtualServer({ ...web, port: 81 }))).toMatchObject({
        code: IpvsErrorCode.NoSuchVirtualServer,
        errno: 3,
      });
      expect(thrown(() => ipvs.addRealServer({ ...web, port: 81 }, rs('10.1.0.2')))).toMatchObject({
        code: IpvsErrorCode.NoSuchVirtualServer,
      });
      const sched = thrown(() => ipvs.addVirtualServer({ ...web, port: 82, scheduler: 'nosuch' }));
      expect(sched).toMatchObject({
        code: IpvsErrorCode.NoSuchScheduler,
        hint: expect.stringMatching(/modprobe ip_vs_nosuch/),
      });
      expect(ipvs.virtualServers()).toHaveLength(1);
    });

    it('round-trips IPv6 and firewall-mark virtual servers, with scheduler flags', async () => {
      const dns: VirtualServer = {
        address: 'fd00::10',
        protocol: 'UDP',
        port: 53,
        scheduler: 'sh',
        schedulerFlags: [true, true, false],
        persistence: { timeoutSeconds: 60 },
      };
      const marked: VirtualServer = { fwmark: 7, family: 4, scheduler: 'lc' };
      ipvs.addVirtualServer(dns);
      ipvs.addRealServer(dns, { address: 'fd00::1:2', port: 5353, weight: 2 });
      ipvs.addVirtualServer(marked);
      ipvs.addRealServer(marked, { address: '10.1.0.2', port: 0, weight: 1, upperThreshold: 100, lowerThreshold: 10 });
      const back = await ipvs.readAll();
      expect(back.find((e) => virtualServerId(e.virtualServer) === 'UDP [fd00::10]:53')).toMatchObject({
        virtualServer: { ...dns, persistence: { timeoutSeconds: 60, netmask: 128 } },
        realServers: [{ address: 'fd00::1:2', port: 5353, weight: 2 }],
      });
      expect(back.find((e) => virtualServerId(e.virtualServer) === 'FWM 7')).toMatchObject({
        virtualServer: marked,
        realServers: [{ address: '10.1.0.2', port: 0, upperThreshold: 100, lowerThreshold: 10 }],
      });
      await expectIpvsadmAgrees();
      await ipvs.apply([
        { op: 'deleteVirtualServer', virtualServer: dns },
        { op: 'deleteVirtualServer', virtualServer: marked },
      ]);
    });

    it('applies a batch on the pool, reporting each refused change and going on', async () => {
      const extra: VirtualServer = { address: '10.96.0.11', protocol: 'TCP', port: 443, scheduler: 'rr' };
      const report = await ipvs.apply([
        { op: 'addVirtualServer', virtualServer: extra },
        { op: 'addRealServer', virtualServer: extra, realServer: rs('10.1.0.2') },
        { op: 'addRealServer', virtualServer: extra, realServer: rs('10.1.0.2') }, // twice
        { op: 'deleteRealServer', virtualServer: { ...extra, port: 444 }, realServer: rs('10.1.0.2') }, // no such service
        { op: 'addRealServer', virtualServer: extra, realServer: rs('10.1.0.3') },
        { op: 'deleteVirtualServer', virtualServer: extra },
      ]);
      expect(report.applied).toBe(4);
      expect(report.failures.map((f) => [f.change.op, f.error.code, f.error.target])).toEqual([
        ['addRealServer', IpvsErrorCode.Exists, 'TCP 10.96.0.11:443 -> 10.1.0.2:8080'],
        ['deleteRealServer', IpvsErrorCode.NoSuchVirtualServer, 'TCP 10.96.0.11:444 -> 10.1.0.2:8080'],
      ]);
      expect(report.failures[0]!.error.message).toMatch(
        /^ipvs\.addRealServer TCP 10\.96\.0\.11:443 -> 10\.1\.0\.2:8080: EEXIST/,
      );
      expect(ipvs.virtualServers().map(virtualServerId)).toEqual(['TCP 10.96.0.10:80']);
    });

    it('applies and reads back a thousand virtual servers with three real servers each', async () => {
      const many = Array.from(
        { length: 1000 },
        (_, i): VirtualServer => ({
          address: `10.97.${i >> 8}.${i & 255}`,
          protocol: i % 2 ? 'UDP' : 'TCP',
          port: 1000 + i,
          scheduler: 'rr',
        }),
      );
      const report = await ipvs.apply(
        many.flatMap((vs) => [
          { op: 'addVirtualServer' as const, virtualServer: vs },
          ...backends.map((b) => ({ op: 'addRealServer' as const, virtualServer: vs, realServer: rs(b) })),
        ]),
      );
      expect(report).toEqual({ applied: 4000, failures: [] });
      const back = await ipvs.readAll();
      expect(back).toHaveLength(1001);
      expect(back.reduce((n, e) => n + e.realServers.length, 0)).toBe(3003);
      expect(await ipvs.apply(many.map((vs) => ({ op: 'deleteVirtualServer' as const, virtualServer: vs })))).toEqual({
        applied: 1000,
        failures: [],
      });
      expect(ipvs.virtualServers()).toHaveLength(1);
    });

    describe('traffic through a virtual server: client → VIP → backends', () => {
      let client: string;
      let backend: string;
      const SERVER = `
      const net = require('node:net');
      let n = 0;
      for (const ip of process.argv.slice(1))
        net.createServer((s) => { s.on('error', () => {}); s.write(s.localAddress + '\\n'); s.on('end', () => s.end()); })
          .listen(8080, ip, () => { if (++n === process.argv.length - 1) console.log('listening'); });`;
      // Connects `count` times, one after the other; prints who answered. With
      // "hold", keeps the last connection open until killed.
      const CLIENT = `
      const net = require('node:net');
      const [host, port, count, hold] = process.argv.slice(1);
      const once = (keep) => new Promise((resolve, reject) => {
        const s = net.connect(+port, host);
        s.setEncoding('utf8');
        let buf = '';
        s.on('data', (d) => { buf += d; if (buf.includes('\\n')) { if (!keep) s.end(); resolve(buf.trim()); } });
        s.on('error', reject);
      });
      (async () => {
        const got = [];
        for (let i = 0; i < +count; i++) got.push(await once(hold === 'hold' && i === +count - 1));
        console.log(JSON.stringify(got));
        if (hold !== 'hold') setTimeout(() => process.exit(0), 200);
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
      const connect = (count: number): string[] =>
        JSON.parse(net.exec(client, nodeBinary, ['-e', CLIENT, VIP, '80', String(count)])) as string[];
      const tally = (answers: string[]) =>
        answers.reduce<Record<string, number>>((t, a) => {
          t[a] = (t[a] ?? 0) + 1;
          return t;
        }, {});

      beforeAll(async () => {
        client = net.namespace('client');
        backend = net.namespace('backend');
        net.veth({ ns: client, name: 'eth0' }, { ns: node, name: 'to-client' });
        net.veth({ ns: backend, name: 'eth0' }, { ns: node, name: 'to-backend' });
        net.ip(client, 'addr', 'add', '10.0.0.2/24', 'dev', 'eth0');
        net.ip(client, 'route', 'add', 'default', 'via', '10.0.0.1');
        for (const b of backends) net.ip(backend, 'addr', 'add', `${b}/24`, 'dev', 'eth0');
        net.ip(backend, 'route', 'add', 'default', 'via', '10.1.0.1');
        net.ip(node, 'addr', 'add', '10.0.0.1/24', 'dev', 'to-client');
        net.ip(node, 'addr', 'add', '10.1.0.1/24', 'dev', 'to-backend');
        // kube-proxy's layout: the VIP on a dummy interface, so IPVS sees it as local.
        net.ip(node, 'link', 'add', 'kube-ipvs0', 'type', 'dummy');
        net.ip(node, 'addr', 'add', `${VIP}/32`, 'dev', 'kube-ipvs0');
        net.sysctl(node, 'net.ipv4.ip_forward', 1);
        await net.spawn(backend, nodeBinary, ['-e', SERVER, ...backends]).waitFor(/listening/, 30_000);
      });

      it('round-robins new connections over the 3 real servers', async () => {
        expect(tally(connect(6))).toEqual(Object.fromEntries(backends.map((b) => [b, 2])));
        const counts = Object.fromEntries(
          (await ipvs.readAll())[0]!.realServers.map((r) => [r.address, [r.activeConnections, r.inactiveConnections]]),
        );
        expect(counts).toEqual(Object.fromEntries(backends.map((b) => [b, [0, 2]]))); // closed: TIME_WAIT, inactive
        await expectIpvsadmAgrees();
      });

      it('counts the traffic (the kernel estimates every 2 s)', async () => {
        let stats;
        // The per-CPU counters are summed by the estimator: a read between two runs may see part of them.
        for (let i = 0; i < 40 && stats?.connections !== 6; i++) {
          await new Promise((r) => setTimeout(r, 250));
          stats = ipvs.virtualServers()[0]!.stats;
        }
        expect(stats!.connections).toBe(6);
        expect(stats!.packetsIn).toBeGreaterThan(6);
      });

      it('drains a real server at weight 0: no new connections, the open one stays active', async () => {
        const holder = net.spawn(client, nodeBinary, ['-e', CLIENT, VIP, '80', '1', 'hold']);
        await holder.waitFor(/\]/, 30_000);
        const [held] = JSON.parse(holder.stdout) as [string];
        ipvs.editRealServer(web, rs(held, 0));
        const after = connect(4);
        expect(after).not.toContain(held);
        const drained = ipvs.realServers(web).find((r) => r.address === held)!;
        expect(drained).toMatchObject({ weight: 0, activeConnections: 1 });
        await expectIpvsadmAgrees();
        expect(net.exec(node, 'ipvsadm', ['-Lnc'])).toMatch(
          new RegExp(`ESTABLISHED\\s+10\\.0\\.0\\.2:\\d+\\s+${VIP}:80\\s+${held}:8080`),
        );
        await holder.kill();
      });
    });

    it('flushes every virtual server of the namespace', () => {
      ipvs.flush();
      expect(ipvs.virtualServers()).toEqual([]);
      expect(net.exec(node, 'ipvsadm', ['-Ln'])).not.toMatch(/^(TCP|UDP|FWM)/m);
    });
  },
);
