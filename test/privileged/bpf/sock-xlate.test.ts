// The socket programs (bpf/sock.bpf.c) on a cgroup the test created: a process
// in it that dials a service address reaches the backend (connect4/6,
// sendmsg4/6) yet sees the service address as its peer (getpeername4/6,
// recvmsg4/6); a service without endpoints refuses at once; other addresses
// pass untouched. Both families, and an AF_INET6 socket dialling an IPv4
// service IPv4-mapped (::ffff:10.96.0.10), translated as the IPv4 traffic it is. Packets
// through tc are tc-xlate's; the daemon with --cgroup-root is the e2e suite's.
// One client process makes every check: in the VM harness (test/vm, TCG) each
// start of node costs seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EbpfDataplane } from '../../../control/proxiers/ebpf/dataplane.js';
import { TestNet } from '../../harness/netns.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';
import { startServers } from '../../harness/traffic.js';

const objectDir = `${repoRoot}/build/bpf`;
const BACKEND = '10.244.1.11';
const WEB = { address: '10.96.0.10', port: 80, protocol: 'TCP' as const, backends: [{ address: BACKEND, port: 8080 }] };
const EMPTY = { address: '10.96.0.11', port: 80, protocol: 'TCP' as const, backends: [] };
const DNS = { address: '10.96.0.12', port: 53, protocol: 'UDP' as const, backends: [{ address: BACKEND, port: 5353 }] };
const BACKEND6 = 'fd00:10:244:1::b';
const WEB6 = {
  address: 'fd00:10:96::a',
  port: 80,
  protocol: 'TCP' as const,
  backends: [{ address: BACKEND6, port: 8080 }],
};
const EMPTY6 = { address: 'fd00:10:96::b', port: 80, protocol: 'TCP' as const, backends: [] };
const DNS6 = {
  address: 'fd00:10:96::c',
  port: 53,
  protocol: 'UDP' as const,
  backends: [{ address: BACKEND6, port: 5353 }],
};
/** How the client's socket reports an IPv6 peer: "[addr]:port". */
const peer6 = (a: string, p: number) => `[${a}]:${p}`;

interface Seen {
  ok: boolean;
  /** The peer as the client's socket reports it: getpeername() for TCP, the sender of the reply for UDP. */
  peer?: string;
  /** The server's first line: "NAME <the address it saw us as>". */
  reply?: string;
  error?: string;
}

/** Dials each target once (tcp|IP|PORT or udp|IP|PORT, UDP unconnected; an IP with ':' over AF_INET6) and prints what it saw, one JSON line each. */
const CLIENT = `
import dgram from 'node:dgram';
import net from 'node:net';
const tcp = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, error: 'ETIMEDOUT' }); }, 5000);
  s.setEncoding('utf8');
  const at = (a, p) => (a.includes(':') ? '[' + a + ']' : a) + ':' + p;
  s.once('data', (d) => { clearTimeout(timer); resolve({ ok: true, peer: at(s.remoteAddress, s.remotePort), reply: d.trim() }); s.destroy(); });
  s.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, error: e.code }); });
});
const udp = (host, port) => new Promise((resolve) => {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const at = (a, p) => (a.includes(':') ? '[' + a + ']' : a) + ':' + p;
  const timer = setTimeout(() => { s.close(); resolve({ ok: false, error: 'ETIMEDOUT' }); }, 5000);
  s.once('message', (m, from) => { clearTimeout(timer); s.close(); resolve({ ok: true, peer: at(from.address, from.port), reply: String(m) }); });
  s.once('error', (e) => { clearTimeout(timer); s.close(); resolve({ ok: false, error: e.code }); });
  s.send('probe', port, host);
});
for (const t of process.argv.slice(1)) {
  const [proto, host, port] = t.split('|');
  console.log(JSON.stringify(await (proto === 'tcp' ? tcp : udp)(host, Number(port))));
}`;

describe.runIf(requirePrivileges())('socket hooks (cgroup connect, sendmsg, recvmsg, getpeername; 4 and 6)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let ns: string;
  let cgroup: string;
  const seen = new Map<string, Seen>();

  beforeAll(async () => {
    // The "node": one namespace whose loopback carries the backend's address.
    ns = net.namespace('node');
    net.ip(ns, 'addr', 'add', `${BACKEND}/32`, 'dev', 'lo');
    net.ip(ns, '-6', 'addr', 'add', `${BACKEND6}/128`, 'dev', 'lo');
    await startServers(net, { ns, name: 'backend' }, { tcp: [8080], udp: [5353] });
    dp = await EbpfDataplane.open({ objectDir, pinRoot: net.pinDir('sock') });
    for (const s of [WEB, EMPTY, DNS, WEB6, EMPTY6, DNS6]) dp.upsertService(s);
    cgroup = net.cgroup('node');
    dp.attachCgroup(cgroup);

    const targets = [
      `tcp|${WEB.address}|80`,
      `tcp|${EMPTY.address}|80`,
      `udp|${DNS.address}|53`,
      `tcp|${BACKEND}|8080`,
      `tcp|${WEB6.address}|80`,
      `tcp|${EMPTY6.address}|80`,
      `udp|${DNS6.address}|53`,
      `tcp|${BACKEND6}|8080`,
      `tcp|::ffff:${WEB.address}|80`,
      `tcp|::ffff:${EMPTY.address}|80`,
      `udp|::ffff:${DNS.address}|53`,
    ];
    const client = net.spawnInCgroup(cgroup, ns, nodeBinary, ['--input-type=module', '-e', CLIENT, ...targets]);
    expect(await client.exited, client.stderr).toBe(0);
    const lines = client.stdout.trim().split('\n');
    targets.forEach((t, i) => seen.set(t, JSON.parse(lines[i] ?? '{}') as Seen));
  });
  afterAll(async () => {
    dp?.close();
    await net.teardown();
  });

  it('connects TCP to the backend, and getpeername() gives the service address', () => {
    expect(seen.get(`tcp|${WEB.address}|80`)).toMatchObject({
      ok: true,
      peer: `${WEB.address}:80`,
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('refuses TCP to a service without endpoints with ECONNREFUSED', () => {
    expect(seen.get(`tcp|${EMPTY.address}|80`)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  });

  it('sends an unconnected UDP datagram to the backend, and the reply comes from the service address', () => {
    expect(seen.get(`udp|${DNS.address}|53`)).toMatchObject({
      ok: true,
      peer: `${DNS.address}:53`,
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('leaves a connection to an address that is not a service alone', () => {
    expect(seen.get(`tcp|${BACKEND}|8080`)).toMatchObject({ ok: true, peer: `${BACKEND}:8080` });
  });

  it('IPv6: connects TCP to the backend, and getpeername6() gives the service address', () => {
    expect(seen.get(`tcp|${WEB6.address}|80`)).toMatchObject({
      ok: true,
      peer: peer6(WEB6.address, 80),
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('IPv6: refuses TCP to a service without endpoints with ECONNREFUSED', () => {
    expect(seen.get(`tcp|${EMPTY6.address}|80`)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  });

  it('IPv6: sends an unconnected UDP datagram to the backend (sendmsg6), the reply from the service address (recvmsg6)', () => {
    expect(seen.get(`udp|${DNS6.address}|53`)).toMatchObject({
      ok: true,
      peer: peer6(DNS6.address, 53),
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('IPv6: leaves a connection to an address that is not a service alone', () => {
    expect(seen.get(`tcp|${BACKEND6}|8080`)).toMatchObject({ ok: true, peer: peer6(BACKEND6, 8080) });
  });

  it('an AF_INET6 socket dialling an IPv4 ClusterIP IPv4-mapped is translated as IPv4 (as iptables sees it)', () => {
    expect(seen.get(`tcp|::ffff:${WEB.address}|80`)).toMatchObject({
      ok: true,
      peer: peer6(`::ffff:${WEB.address}`, 80),
      // The backend saw an IPv4 client: the connection is IPv4 on the wire.
      reply: expect.stringMatching(/^backend (::ffff:)?10\.244\.1\.11\b/),
    });
    expect(seen.get(`tcp|::ffff:${EMPTY.address}|80`)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(seen.get(`udp|::ffff:${DNS.address}|53`)).toMatchObject({
      ok: true,
      peer: peer6(`::ffff:${DNS.address}`, 53),
      reply: expect.stringMatching(/^backend /),
    });
  });
});
