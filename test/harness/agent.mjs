#!/usr/bin/env node
// Traffic agent for tests, run inside a network namespace:
//   ip netns exec NS node test/harness/agent.mjs <mode> [--flags]
// Plain ES module, no dependencies. Every client attempt has a timeout and the
// process exits by itself.
//
// Targets are "IP:PORT" for IPv4 and "[IP]:PORT" for IPv6; a peer's address
// is printed the same way.
//
//   serve --name NAME [--tcp P[,P...]] [--udp P[,P...]]
//       Listens on 0.0.0.0 and on :: (IPv6 only, so an IPv4 client never
//       shows up as ::ffff:a.b.c.d) for every port. TCP: greets each
//       connection with "NAME <peer>\n", then answers each line with
//       "NAME <line>\n". UDP: answers each datagram with "NAME <peer>".
//       Prints "ready" once everything listens.
//   tcp  --target IP:PORT --count N --timeout MS [--concurrency C] [--source IP]
//   udp  --target IP:PORT --count N --timeout MS [--concurrency C] [--sport P] [--source IP]
//       N fresh connections / sockets (a new source port each); one JSON line
//       per attempt: {"ok":true,"name":..,"peer":..,"ms":..} or {"ok":false,"error":..,"ms":..}.
//       UDP with --sport: every socket binds source port P, so every attempt
//       is the same flow to conntrack (run them one at a time). --source: every
//       socket binds that local address (one the namespace holds) instead of
//       the one the route picks, to test from a second address (of the
//       target's family).
//   http --target IP:PORT [--path /P] --timeout MS
//       One HTTP GET: prints {"ok":true,"status":..,"body":..,"ms":..} or
//       {"ok":false,"error":..,"ms":..} (a health-check node port, probed as a
//       cloud load balancer probes it).
//   hold --target IP:PORT --timeout MS [--close fin|reset]
//       One connection: prints the greeting as JSON, then sends each stdin line
//       and prints {"ok":true,"reply":".."}; errors print {"ok":false,"error":..}.
//       At the end of stdin it closes the connection with a FIN (default) or
//       a RST (--close reset), which ends it at once for conntrack and IPVS.
//   forward --listen IP:PORT --unix PATH
//       Accepts TCP inside the namespace and pipes each connection to a Unix
//       socket (a test's API server in the root namespace: Unix sockets are
//       files, not bound to a network namespace). Prints "ready".
import dgram from 'node:dgram';
import http from 'node:http';
import net, { isIPv6 } from 'node:net';
import readline from 'node:readline';

function parseArgs(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith('--')) fail(`unexpected argument ${key}`);
    flags[key.slice(2)] = argv[i + 1] ?? '';
    i++;
  }
  return flags;
}

function fail(message) {
  process.stderr.write(`agent: ${message}\n`);
  process.exit(2);
}

const ports = (s) => (s ? s.split(',').filter(Boolean).map(Number) : []);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const since = (t0) => Math.round((performance.now() - t0) * 1000) / 1000;

/** "IP:PORT" or "[IP]:PORT" into its parts, or undefined. */
function splitTarget(s) {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  return m ? { host: m[1], port: Number(m[2]) } : undefined;
}

function target(flags) {
  return splitTarget(flags.target ?? '') ?? fail('--target IP:PORT (or [IPv6]:PORT) is required');
}

/** How a peer is printed: "addr:port", "[addr]:port" for IPv6. */
const peerOf = (address, port) => (isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`);

/** Splits "NAME rest" into its parts. */
function named(line) {
  const i = line.indexOf(' ');
  return i < 0 ? { name: line, rest: '' } : { name: line.slice(0, i), rest: line.slice(i + 1) };
}

/** Every port is served on each family's wildcard address, by its own socket. */
const WILDCARDS = [
  { host: '0.0.0.0', udp: 'udp4', ipv6Only: false },
  { host: '::', udp: 'udp6', ipv6Only: true },
];

async function serve(flags) {
  const name = flags.name || fail('--name is required');
  const greet = (sock) => {
    sock.on('error', () => {}); // resets from clients are normal
    sock.setNoDelay(true);
    sock.write(`${name} ${peerOf(sock.remoteAddress, sock.remotePort)}\n`);
    readline
      .createInterface({ input: sock })
      .on('line', (line) => {
        if (!sock.destroyed) sock.write(`${name} ${line}\n`);
      })
      // readline re-emits the socket's errors: without a listener a client's RST would end the server.
      .on('error', () => {});
  };
  const listening = [];
  for (const port of ports(flags.tcp)) {
    for (const { host, ipv6Only } of WILDCARDS) {
      const server = net.createServer(greet);
      listening.push(
        new Promise((resolve, reject) => server.once('error', reject).listen({ port, host, ipv6Only }, resolve)),
      );
    }
  }
  for (const port of ports(flags.udp)) {
    for (const { host, udp, ipv6Only } of WILDCARDS) {
      const sock = dgram.createSocket({ type: udp, ipv6Only });
      sock.on('message', (_msg, rinfo) =>
        sock.send(`${name} ${peerOf(rinfo.address, rinfo.port)}`, rinfo.port, rinfo.address),
      );
      listening.push(new Promise((resolve, reject) => sock.once('error', reject).bind(port, host, resolve)));
    }
  }
  if (!listening.length) fail('serve needs --tcp or --udp ports');
  await Promise.all(listening);
  process.stdout.write('ready\n');
}

/** One TCP attempt: connect, read the greeting line, close. */
function tcpOnce({ host, port }, timeoutMs, { source } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect({ host, port, ...(source ? { localAddress: source } : {}) });
    let buf = '';
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...result, ms: since(t0) });
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'ETIMEDOUT' }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const { name, rest } = named(buf.slice(0, nl));
        finish({ ok: true, name, peer: rest });
      }
    });
    sock.on('error', (e) => finish({ ok: false, error: e.code ?? e.message }));
    sock.on('close', () => finish({ ok: false, error: 'ECLOSED' }));
  });
}

/** One UDP attempt from a fresh socket (so a fresh source port, unless `sport` is given). */
function udpOnce({ host, port }, timeoutMs, { sport, source } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve({ ...result, ms: since(t0) });
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'ETIMEDOUT' }), timeoutMs);
    // Connected, so an ICMP port unreachable comes back as ECONNREFUSED.
    sock.on('error', (e) => finish({ ok: false, error: e.code ?? e.message }));
    sock.on('message', (msg) => {
      const { name, rest } = named(msg.toString('utf8'));
      finish({ ok: true, name, peer: rest });
    });
    const connect = () =>
      sock.connect(port, host, (err) => {
        if (err) return finish({ ok: false, error: err.code ?? err.message });
        sock.send('probe', (e) => e && finish({ ok: false, error: e.code ?? e.message }));
      });
    if (sport || source) sock.bind(sport ?? 0, source, connect);
    else connect();
  });
}

/** Runs `count` attempts, at most `concurrency` at a time, printing each. */
async function probe(once, flags) {
  const dest = target(flags);
  const count = Number(flags.count ?? 1);
  const timeoutMs = Number(flags.timeout ?? 2000);
  const concurrency = Math.max(1, Number(flags.concurrency ?? 1));
  const from = {
    ...(flags.sport ? { sport: Number(flags.sport) } : {}),
    ...(flags.source ? { source: flags.source } : {}),
  };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      out(await once(dest, timeoutMs, from));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** One HTTP GET, whatever the status; the body read to its end. */
function httpGet(flags) {
  const { host, port } = target(flags);
  const timeoutMs = Number(flags.timeout ?? 2000);
  return new Promise((resolve) => {
    const t0 = performance.now();
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, ms: since(t0) });
    };
    const timer = setTimeout(() => finish({ ok: false, error: 'ETIMEDOUT' }), timeoutMs);
    // No keep-alive agent: one request, one connection, closed after.
    const req = http.get({ host, port, path: flags.path || '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => finish({ ok: true, status: res.statusCode, body }));
      res.on('error', (e) => finish({ ok: false, error: e.code ?? e.message }));
    });
    req.on('error', (e) => finish({ ok: false, error: e.code ?? e.message }));
  });
}

/** One long-lived connection driven by stdin lines. */
async function hold(flags) {
  const dest = target(flags);
  const timeoutMs = Number(flags.timeout ?? 2000);
  const sock = net.connect(dest);
  sock.setNoDelay(true);
  const lines = [];
  const waiters = [];
  let ended;
  const take = () =>
    new Promise((resolve) => {
      if (lines.length) return resolve({ line: lines.shift() });
      if (ended) return resolve({ error: ended });
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        resolve({ error: 'ETIMEDOUT' });
      }, timeoutMs);
      const waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      waiters.push(waiter);
    });
  const endWith = (error) => {
    ended ??= error;
    for (const w of waiters.splice(0)) w({ error: ended });
  };
  readline
    .createInterface({ input: sock })
    .on('line', (line) => {
      const w = waiters.shift();
      if (w) w({ line });
      else lines.push(line);
    })
    .on('error', () => {}); // reported by sock's own 'error' listener
  sock.on('error', (e) => endWith(e.code ?? e.message));
  sock.on('close', () => endWith('ECLOSED'));

  const greeting = await take();
  if (greeting.error) {
    out({ ok: false, error: greeting.error });
    process.exit(1);
  }
  const { name, rest: peer } = named(greeting.line);
  out({ ok: true, name, peer });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (ended) {
      out({ ok: false, error: ended });
      continue;
    }
    sock.write(line + '\n');
    const r = await take();
    out(r.error ? { ok: false, error: r.error } : { ok: true, reply: r.line });
  }
  if (flags.close === 'reset') sock.resetAndDestroy();
  else sock.destroy();
  // Let the FIN or RST leave before the process does.
  setTimeout(() => process.exit(0), 50);
}

async function forward(flags) {
  const listen = splitTarget(flags.listen ?? '');
  if (!listen || !flags.unix) fail('forward needs --listen IP:PORT (or [IPv6]:PORT) and --unix PATH');
  const { host, port } = listen;
  const server = net.createServer((conn) => {
    const upstream = net.connect({ path: flags.unix });
    conn.pipe(upstream).pipe(conn);
    const end = () => {
      conn.destroy();
      upstream.destroy();
    };
    conn.on('error', end);
    upstream.on('error', end);
    conn.on('close', end);
    upstream.on('close', end);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  process.stdout.write('ready\n');
}

const [mode, ...rest] = process.argv.slice(2);
const flags = parseArgs(rest);
switch (mode) {
  case 'serve':
    await serve(flags);
    break;
  case 'tcp':
    await probe(tcpOnce, flags);
    process.exit(0);
    break;
  case 'udp':
    await probe(udpOnce, flags);
    process.exit(0);
    break;
  case 'http':
    out(await httpGet(flags));
    process.exit(0);
    break;
  case 'hold':
    await hold(flags);
    break;
  case 'forward':
    await forward(flags);
    break;
  default:
    fail(`unknown mode ${mode}; use serve, tcp, udp, http, hold or forward`);
}
