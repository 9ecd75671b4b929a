// --proxy-port-range: the host ports the userspace mode's proxy sockets may
// take, as kube-proxy parses it (k8s.io/apimachinery's net.PortRange):
// "begin-end", "port", or "begin+offset", inclusive; empty, "0" or "0-0"
// lets the kernel choose a free ephemeral port for each socket.
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { ValueError } from '../../config/errors.js';
import { ProxierErrorCode } from '../errors.js';
import { OpenFilesError, isOutOfFiles } from './open-files.js';

export interface PortRange {
  base: number;
  size: number;
}

/** The range, or undefined for "let the kernel choose"; a ValueError says what was expected. */
export function parsePortRange(raw: string): PortRange | undefined {
  const s = raw.trim();
  if (s === '' || s === '0' || s === '0-0') return undefined;
  const m = /^(\d+)(?:([-+])(\d+))?$/.exec(s);
  if (!m) throw new ValueError(`"${raw}": expected begin-end, a single port, or begin+offset (e.g. 30000-32767)`);
  const base = Number(m[1]);
  const other = m[3] === undefined ? undefined : Number(m[3]);
  const end = other === undefined ? base : m[2] === '+' ? base + other : other;
  if (base < 1 || end > 65535 || end < base)
    throw new ValueError(`"${raw}": the ports must be within 1-65535, the first no greater than the last`);
  return { base, size: end - base + 1 };
}

export const formatPortRange = (r: PortRange | undefined): string =>
  r ? `${r.base}-${r.base + r.size - 1}` : 'any free port';

export class PortRangeExhaustedError extends Error {
  readonly code = ProxierErrorCode.ProxyPortRange;
}

export type Protocol = 'tcp' | 'udp';
export type Bound =
  | { kind: 'tcp'; server: Server; port: number }
  | { kind: 'udp'; socket: Socket; port: number; address: string };

/**
 * Hands out the range's ports, one socket each, per protocol. A port some
 * other process holds is skipped (its bind fails) and tried again on a later
 * allocation; a range with no port left is a PortRangeExhaustedError for that
 * service port alone.
 */
export class PortAllocator {
  readonly range: PortRange | undefined;
  readonly #used: Record<Protocol, Set<number>> = { tcp: new Set(), udp: new Set() };
  readonly #next: Record<Protocol, number> = { tcp: 0, udp: 0 };

  constructor(range: PortRange | undefined) {
    this.range = range;
  }

  /** A socket listening (TCP) or bound (UDP) on `host` (0.0.0.0 by default; an IPv6 host: IPv6 only) at a port of the range. */
  async bind(protocol: Protocol, host = '0.0.0.0'): Promise<Bound> {
    const r = this.range;
    if (!r) {
      const b = await bindOn(protocol, 0, host);
      if (b) return b;
      throw new PortRangeExhaustedError(`no free ${protocol.toUpperCase()} port to proxy on`);
    }
    const used = this.#used[protocol];
    for (let tried = 0; tried < r.size; tried++) {
      const port = r.base + ((this.#next[protocol] + tried) % r.size);
      if (used.has(port)) continue;
      const b = await bindOn(protocol, port, host);
      if (!b) continue;
      used.add(port);
      this.#next[protocol] = (port - r.base + 1) % r.size;
      return b;
    }
    throw new PortRangeExhaustedError(
      `--proxy-port-range ${formatPortRange(r)} has no free ${protocol.toUpperCase()} port left (${used.size} in use by this proxy)`,
    );
  }

  release(protocol: Protocol, port: number): void {
    this.#used[protocol].delete(port);
  }

  inUse(protocol: Protocol): number {
    return this.#used[protocol].size;
  }
}

/**
 * The bound socket, or undefined when the port is taken; no descriptor for
 * the socket is an OpenFilesError (the port is skipped, not the range
 * searched on); other errors throw.
 */
function bindOn(protocol: Protocol, port: number, host: string): Promise<Bound | undefined> {
  return new Promise((resolve, reject) => {
    const taken = (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES'
        ? resolve(undefined)
        : reject(
            isOutOfFiles(err)
              ? new OpenFilesError(`no file descriptor left for a ${protocol.toUpperCase()} proxy socket (${err.code})`)
              : err,
          );
    if (protocol === 'tcp') {
      const server = createServer({ allowHalfOpen: true });
      server.once('error', taken);
      // On '::' the IPv6 proxier's socket only: the IPv4 one holds the same port number on 0.0.0.0.
      server.listen({ port, host, exclusive: true, backlog: 1024, ipv6Only: host.includes(':') }, () => {
        server.removeListener('error', taken);
        resolve({ kind: 'tcp', server, port: (server.address() as { port: number }).port });
      });
    } else {
      const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
      socket.once('error', (err) => {
        socket.close();
        taken(err);
      });
      socket.bind({ port, address: host, exclusive: true }, () => {
        socket.removeAllListeners('error');
        resolve({ kind: 'udp', socket, port: socket.address().port, address: host });
      });
    }
  });
}
