// The socket programs (bpf/sock.bpf.c) on a cgroup the test created: a process
// in it that dials a service address reaches the backend (connect4, sendmsg4)
// yet sees the service address as its peer (getpeername4, recvmsg4); a service
// without endpoints refuses at once; other addresses pass untouched. Packets
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

interface Seen {
  ok: boolean;
  /** The peer as the client's socket reports it: getpeername() for TCP, the sender of the reply for UDP. */
  peer?: string;
  /** The server's first line: "NAME <the address it saw us as>". */
  reply?: string;
  error?: string;
}

/** Dials each target once (tcp:IP:PORT or udp:IP:PORT, UDP unconnected) and prints what it saw, one JSON line each. */
const CLIENT = `
import dgram from 'node:dgram';
import net from 'node:net';
const tcp = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, error: 'ETIMEDOUT' }); }, 5000);
  s.setEncoding('utf8');
  s.once('data', (d) => { clearTimeout(timer); resolve({ ok: true, peer: s.remoteAddress + ':' + s.remotePort, reply: d.trim() }); s.destroy(); });
  s.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, error: e.code }); });
});
const udp = (host, port) => new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  const timer = setTimeout(() => { s.close(); resolve({ ok: false, error: 'ETIMEDOUT' }); }, 5000);
  s.once('message', (m, from) => { clearTimeout(timer); s.close(); resolve({ ok: true, peer: from.address + ':' + from.port, reply: String(m) }); });
  s.once('error', (e) => { clearTimeout(timer); s.close(); resolve({ ok: false, error: e.code }); });
  s.send('probe', port, host);
});
for (const t of process.argv.slice(1)) {
  const [proto, host, port] = t.split(':');
  console.log(JSON.stringify(await (proto === 'tcp' ? tcp : udp)(host, Number(port))));
}`;

describe.runIf(requirePrivileges())('socket hooks (cgroup connect4, sendmsg4, recvmsg4, getpeername4)', () => {
  const net = new TestNet();
  let dp: EbpfDataplane;
  let ns: string;
  let cgroup: string;
  const seen = new Map<string, Seen>();

  beforeAll(async () => {
    // The "node": one namespace whose loopback carries the backend's address.
    ns = net.namespace('node');
    net.ip(ns, 'addr', 'add', `${BACKEND}/32`, 'dev', 'lo');
    await startServers(net, { ns, name: 'backend' }, { tcp: [8080], udp: [5353] });
    dp = await EbpfDataplane.open({ objectDir, pinRoot: net.pinDir('sock') });
    for (const s of [WEB, EMPTY, DNS]) dp.upsertService(s);
    cgroup = net.cgroup('node');
    dp.attachCgroup(cgroup);

    const targets = [
      `tcp:${WEB.address}:80`,
      `tcp:${EMPTY.address}:80`,
      `udp:${DNS.address}:53`,
      `tcp:${BACKEND}:8080`,
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
    expect(seen.get(`tcp:${WEB.address}:80`)).toMatchObject({
      ok: true,
      peer: `${WEB.address}:80`,
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('refuses TCP to a service without endpoints with ECONNREFUSED', () => {
    expect(seen.get(`tcp:${EMPTY.address}:80`)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
  });

  it('sends an unconnected UDP datagram to the backend, and the reply comes from the service address', () => {
    expect(seen.get(`udp:${DNS.address}:53`)).toMatchObject({
      ok: true,
      peer: `${DNS.address}:53`,
      reply: expect.stringMatching(/^backend /),
    });
  });

  it('leaves a connection to an address that is not a service alone', () => {
    expect(seen.get(`tcp:${BACKEND}:8080`)).toMatchObject({ ok: true, peer: `${BACKEND}:8080` });
  });
});
