// The kernel's IPVS, through the addon's generic netlink socket. One call is
// one netlink round trip and synchronous; a sync's changes go through apply(),
// which runs on libuv's pool, and the read-back of everything programmed
// through readAll(). Every failure is an IpvsError (errors.ts).
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';
import { addon, type NativeIpvsSocket } from '../native/addon.js';
import { IpvsCodec } from './codec.js';
import { fromNative, ipvsError, native, type IpvsError } from './errors.js';
import {
  realServerId,
  virtualServerId,
  type IpvsChange,
  type IpvsInfo,
  type IpvsTimeouts,
  type ProgrammedRealServer,
  type ProgrammedVirtualServer,
  type RealServer,
  type RealServerKey,
  type VirtualServer,
  type VirtualServerKey,
} from './types.js';

export interface OpenOptions {
  /** A network namespace path (/run/netns/NAME); default: the process's own. */
  netns?: string;
}

export interface ApplyReport {
  applied: number;
  /** The changes the kernel refused, in order, each with its error. */
  failures: Array<{ change: IpvsChange; error: IpvsError }>;
}

/**
 * Changes per native call. The addon converts a call's changes on the main
 * thread before its worker runs; slices keep each such pause short.
 */
const APPLY_SLICE = 2048;

export class Ipvs {
  readonly #socket: NativeIpvsSocket;
  readonly #codec: IpvsCodec;

  private constructor(socket: NativeIpvsSocket, codec: IpvsCodec) {
    this.#socket = socket;
    this.#codec = codec;
  }

  /** Opens IPVS in a network namespace; ERR_IPVS_UNAVAILABLE when the kernel has none. */
  static open(opts: OpenOptions = {}): Ipvs {
    const a = addon();
    const socket = native(() => new a.IpvsSocket(opts.netns ? { netns: opts.netns } : {}));
    return new Ipvs(socket, new IpvsCodec(a.ipvsConstants));
  }

  info(): IpvsInfo {
    const { version, connTableSize } = native(() => this.#socket.info());
    return {
      version: `${(version >> 16) & 0xff}.${(version >> 8) & 0xff}.${version & 0xff}`,
      connectionTableSize: connTableSize,
    };
  }

  timeouts(): IpvsTimeouts {
    return native(() => this.#socket.timeouts());
  }

  /** Seconds; a 0 leaves that timeout as it is. */
  setTimeouts(t: Partial<IpvsTimeouts>): void {
    native(() => this.#socket.setTimeouts({ tcp: t.tcp ?? 0, tcpFin: t.tcpFin ?? 0, udp: t.udp ?? 0 }));
  }

  virtualServers(): ProgrammedVirtualServer[] {
    return native(() => this.#socket.services()).map((s) => this.#codec.virtualServer(s));
  }

  /** The real servers of one virtual server; none if it is not there. */
  realServers(vs: VirtualServerKey): ProgrammedRealServer[] {
    const key = this.#codec.serviceKey(vs);
    return native(() => this.#socket.destinations(key)).map((d) => this.#codec.realServer(d));
  }

  /** Everything programmed, read on the pool (one dump per virtual server). */
  async readAll(): Promise<Array<{ virtualServer: ProgrammedVirtualServer; realServers: ProgrammedRealServer[] }>> {
    let all;
    try {
      all = await this.#socket.readAll();
    } catch (e) {
      throw fromNative(e);
    }
    return all.map(({ service, dests }) => ({
      virtualServer: this.#codec.virtualServer(service),
      realServers: dests.map((d) => this.#codec.realServer(d)),
    }));
  }

  addVirtualServer(vs: VirtualServer): void {
    this.#one({ op: 'addVirtualServer', virtualServer: vs });
  }

  /** Changes scheduler, persistence and flags of a virtual server in place. */
  editVirtualServer(vs: VirtualServer): void {
    this.#one({ op: 'editVirtualServer', virtualServer: vs });
  }

  deleteVirtualServer(vs: VirtualServerKey): void {
    this.#one({ op: 'deleteVirtualServer', virtualServer: vs });
  }

  addRealServer(vs: VirtualServerKey, rs: RealServer): void {
    this.#one({ op: 'addRealServer', virtualServer: vs, realServer: rs });
  }

  editRealServer(vs: VirtualServerKey, rs: RealServer): void {
    this.#one({ op: 'editRealServer', virtualServer: vs, realServer: rs });
  }

  deleteRealServer(vs: VirtualServerKey, rs: RealServerKey): void {
    this.#one({ op: 'deleteRealServer', virtualServer: vs, realServer: rs });
  }

  /** Removes every virtual server of the namespace. */
  flush(): void {
    this.#one({ op: 'flush' });
  }

  /**
   * Applies changes in order, on the pool. A refused change does not stop the
   * ones after it; each refusal is reported with its own error. Changes that
   * depend on each other (a virtual server, then its real servers) keep their
   * order.
   */
  async apply(changes: readonly IpvsChange[]): Promise<ApplyReport> {
    const report: ApplyReport = { applied: 0, failures: [] };
    for (let at = 0; at < changes.length; at += APPLY_SLICE) {
      const slice = changes.slice(at, at + APPLY_SLICE);
      const ops = slice.map((ch) => this.#codec.change(ch));
      let results;
      try {
        results = await this.#socket.applyBatch(ops);
      } catch (e) {
        throw fromNative(e);
      }
      results.forEach((r, i) => {
        const change = slice[i]!;
        if (r.errno === 0) report.applied++;
        else report.failures.push({ change, error: changeError(change, r.errno, r.detail) });
      });
    }
    return report;
  }

  /** Closes the socket; safe to call twice. What is programmed stays. */
  close(): void {
    this.#socket.close();
  }

  #one(change: IpvsChange): void {
    const op = this.#codec.change(change);
    native(() => this.#socket.apply(op), schedulerOf(change));
  }
}

function schedulerOf(ch: IpvsChange): { scheduler?: string } {
  return ch.op === 'addVirtualServer' || ch.op === 'editVirtualServer'
    ? { scheduler: ch.virtualServer.scheduler || 'rr' }
    : {};
}

function changeError(ch: IpvsChange, errno: number, detail: string | undefined): IpvsError {
  const target = describeChange(ch);
  const reason = errnoText(errno) + (detail ? ` (${detail})` : '');
  return ipvsError(`ipvs.${ch.op}`, errno, `ipvs.${ch.op}${target ? ` ${target}` : ''}: ${reason}`, {
    ...schedulerOf(ch),
    ...(target ? { target } : {}),
    ...(detail ? { detail } : {}),
  });
}

function describeChange(ch: IpvsChange): string {
  if (ch.op === 'flush') return '';
  const vs = virtualServerId(ch.virtualServer);
  return 'realServer' in ch ? `${vs} -> ${realServerId(ch.realServer)}` : vs;
}

/** "ESRCH: no such process": libuv's words, with the name to search for. */
function errnoText(errno: number): string {
  try {
    return `${getSystemErrorName(-errno)}: ${getSystemErrorMessage(-errno)}`;
  } catch {
    return `errno ${errno}`;
  }
}
