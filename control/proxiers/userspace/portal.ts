// The userspace mode's proxy sockets: per service port and frontend class, a
// TCP listener that accepts each redirected connection and dials an
// endpoint, or a UDP socket that relays datagrams through a session per
// client. Bytes are copied both ways with back-pressure and half-close kept;
// a connection outlives its endpoint's removal, only new ones go elsewhere.
import { connect, type Server, type Socket as TcpSocket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { Balancer, backendKey, type Backend } from './balancer.js';
import { isOutOfFiles } from './open-files.js';

/**
 * kube-proxy's userspace endpointDialTimeouts: each failed dial tries the
 * next endpoint with a longer timeout, four tries in all.
 */
export const DIAL_TIMEOUTS_MS = [250, 500, 1000, 2000] as const;

export interface PortalCounters {
  accepted: number;
  failed: number;
  active: number;
}

export interface PortalEvents {
  accepted(): void;
  failed(): void;
  opened(): void;
  closed(): void;
}

export class TcpPortal {
  readonly port: number;
  readonly balancer = new Balancer();
  readonly counters: PortalCounters = { accepted: 0, failed: 0, active: 0 };
  readonly #server: Server;
  readonly #log: Logger;
  readonly #events: PortalEvents;
  readonly #dialTimeouts: readonly number[];
  readonly #open = new Set<TcpSocket>();

  constructor(
    server: Server,
    port: number,
    o: { logger: Logger; events: PortalEvents; dialTimeoutsMs?: readonly number[] },
  ) {
    this.#server = server;
    this.port = port;
    this.#log = o.logger;
    this.#events = o.events;
    this.#dialTimeouts = o.dialTimeoutsMs ?? DIAL_TIMEOUTS_MS;
    // accept() without a descriptor left: libuv accepts and closes what waits
    // (those clients see the connection end) and Node emits 'error' here,
    // which must not end the process. Said once until a connection is accepted again.
    let outOfFiles = false;
    server.on('connection', (client) => {
      outOfFiles = false;
      this.#accept(client);
    });
    server.on('error', (err) => {
      if (!isOutOfFiles(err)) this.#log.warn({ err, port }, 'proxy listener error');
      else if (!outOfFiles) {
        outOfFiles = true;
        this.#log.warn(
          { err, port },
          'proxy listener cannot accept: no file descriptor left (see the open-file limit)',
        );
      }
    });
  }

  #accept(client: TcpSocket): void {
    client.pause();
    client.setNoDelay(true);
    this.counters.accepted++;
    this.#events.accepted();
    // Until an endpoint answers, an error of the client's (it gave up) ends the attempt.
    let gone = false;
    const early = () => (gone = true);
    client.on('error', early);
    client.on('close', early);
    const clientIp = client.remoteAddress ?? '';
    const tryDial = (attempt: number) => {
      if (gone) return;
      const b = attempt < this.#dialTimeouts.length ? this.balancer.pick(clientIp) : undefined;
      if (!b) {
        this.counters.failed++;
        this.#events.failed();
        if (attempt > 0)
          this.#log.info({ port: this.port, attempts: attempt }, 'no endpoint answered; connection reset');
        client.resetAndDestroy();
        return;
      }
      const backend = connect({ host: b.ip, port: b.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(
        () => backend.destroy(new Error(`dial timeout after ${this.#dialTimeouts[attempt]} ms`)),
        this.#dialTimeouts[attempt],
      );
      const failedDial = (err: Error) => {
        clearTimeout(timer);
        backend.destroy();
        this.balancer.failed(clientIp, b);
        this.#log.debug(
          { err: err.message, endpoint: backendKey(b), attempt },
          'dial failed; trying the next endpoint',
        );
        tryDial(attempt + 1);
      };
      backend.once('error', failedDial);
      backend.once('connect', () => {
        clearTimeout(timer);
        backend.removeListener('error', failedDial);
        if (gone) {
          backend.destroy();
          return;
        }
        client.removeListener('error', early);
        client.removeListener('close', early);
        this.#splice(client, backend);
      });
    };
    tryDial(0);
  }

  /** Both ways, with back-pressure (pipe) and half-close (each end ends the other's writing side); a reset resets the other. */
  #splice(client: TcpSocket, backend: TcpSocket): void {
    this.counters.active++;
    this.#events.opened();
    this.#open.add(client);
    let closed = 0;
    const onClose = () => {
      if (++closed < 2) return;
      this.#open.delete(client);
      this.counters.active--;
      this.#events.closed();
    };
    client.on('close', onClose);
    backend.on('close', onClose);
    client.on('error', () => backend.resetAndDestroy());
    backend.on('error', () => client.resetAndDestroy());
    client.pipe(backend);
    backend.pipe(client);
    client.resume();
  }

  /** Stops accepting; connections open stay until they end (or the process does). */
  close(): void {
    this.#server.close();
  }

  /** Ends every open connection too (clean-up). */
  destroy(): void {
    this.close();
    for (const c of this.#open) c.destroy();
  }
}

interface Session {
  backend: Backend;
  socket: UdpSocket;
  timer: NodeJS.Timeout;
}

export class UdpPortal {
  readonly port: number;
  /** The address the socket is bound to (the node's IP), so replies leave from it. */
  readonly address: string;
  readonly balancer = new Balancer();
  readonly counters: PortalCounters = { accepted: 0, failed: 0, active: 0 };
  readonly #socket: UdpSocket;
  readonly #sessions = new Map<string, Session>();
  readonly #timeoutMs: number;
  readonly #events: PortalEvents;
  readonly #log: Logger;

  constructor(
    socket: UdpSocket,
    port: number,
    o: { logger: Logger; events: PortalEvents; timeoutMs: number; address: string },
  ) {
    this.#socket = socket;
    this.port = port;
    this.address = o.address;
    this.#timeoutMs = o.timeoutMs;
    this.#events = o.events;
    this.#log = o.logger;
    socket.on('message', (msg, from) => this.#fromClient(msg, from));
    socket.on('error', (err) => this.#log.warn({ err, port }, 'proxy UDP socket error'));
  }

  #fromClient(msg: Buffer, from: RemoteInfo): void {
    const key = `${from.address}:${from.port}`;
    let s = this.#sessions.get(key);
    if (!s) {
      const b = this.balancer.pick(from.address);
      if (!b) {
        this.counters.failed++;
        this.#events.failed();
        return;
      }
      s = this.#open(key, from, b);
    }
    s.timer.refresh();
    s.socket.send(msg, s.backend.port, s.backend.ip);
  }

  #open(key: string, client: RemoteInfo, backend: Backend): Session {
    const socket = createSocket({ type: backend.ip.includes(':') ? 'udp6' : 'udp4' });
    const s: Session = { backend, socket, timer: setTimeout(() => this.#end(key), this.#timeoutMs) };
    socket.on('message', (reply) => {
      s.timer.refresh();
      this.#socket.send(reply, client.port, client.address);
    });
    // ICMP port unreachable from the endpoint (it went away): the session ends, the next datagram picks again.
    socket.on('error', () => this.#end(key));
    socket.bind(0);
    this.#sessions.set(key, s);
    this.counters.accepted++;
    this.counters.active++;
    this.#events.accepted();
    this.#events.opened();
    return s;
  }

  #end(key: string): void {
    const s = this.#sessions.get(key);
    if (!s) return;
    this.#sessions.delete(key);
    clearTimeout(s.timer);
    s.socket.close();
    this.counters.active--;
    this.#events.closed();
  }

  /** Sessions to endpoints no longer in the balancer end (kube-proxy clears their conntrack entries). */
  dropSessionsOfRemoved(): number {
    let n = 0;
    for (const [key, s] of this.#sessions)
      if (!this.balancer.has(s.backend)) {
        this.#end(key);
        n++;
      }
    return n;
  }

  close(): void {
    for (const key of [...this.#sessions.keys()]) this.#end(key);
    this.#socket.close();
  }

  destroy(): void {
    this.close();
  }
}
