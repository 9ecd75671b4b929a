// The userspace mode's share of the process's open files. Every proxy socket
// is a file descriptor, and so is every connection it carries (two: the
// client's and the endpoint's), every UDP session, every ops-API request and
// every pipe to iptables-restore. When the proxy sockets alone reach
// RLIMIT_NOFILE, accept() fails, a sync cannot spawn ip6tables-save, and the
// ops API cannot answer: the node is served by no one. So the proxy sockets
// stop short of the limit by a reserve, and a port that would cross it is
// skipped (ERR_PROXY_OPEN_FILES, logged once, retried by the periodic sync
// and whenever a removed service frees sockets).
//
// Node has no getrlimit(); Linux shows the soft limit in /proc/self/limits
// (Node raises it to the hard limit at start-up, so it is read there, not
// assumed) and the open descriptors in /proc/self/fd. Where /proc is not
// readable the budget is unlimited and only a failing socket() says so.
import { readFileSync, readdirSync } from 'node:fs';
import { ProxierErrorCode } from '../errors.js';

/**
 * Descriptors kept free of proxy sockets: a tenth of the soft limit, at
 * least OPEN_FILES_RESERVE_MIN. A sync spawns one tool at a time (three
 * pipes, six descriptors while it starts, and libuv's exec pipe); the rest is
 * for connections in flight (two each) and the ops API. A tenth grows with
 * limits raised for large nodes, whose connections grow with them too.
 */
export const OPEN_FILES_RESERVE_MIN = 128;
export const openFilesReserve = (limit: number): number => Math.max(OPEN_FILES_RESERVE_MIN, Math.ceil(limit / 10));

/** The soft "Max open files" of /proc/<pid>/limits text; undefined for "unlimited" or a text without it. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
}

export class OpenFilesError extends Error {
  readonly code = ProxierErrorCode.ProxyOpenFiles;
}

/** socket()/accept() failed for want of descriptors: this process's (EMFILE) or the system's (ENFILE). */
export const isOutOfFiles = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
};

export interface OpenFilesProbe {
  /** The soft RLIMIT_NOFILE, undefined when unknown or unlimited. */
  limit(): number | undefined;
  /** Descriptors open now, undefined when unknown. */
  open(): number | undefined;
}

export const procOpenFiles: OpenFilesProbe = {
  limit: () => {
    try {
      return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
    } catch {
      return undefined;
    }
  },
  // readdir holds one descriptor of its own while it lists: not counted.
  open: () => {
    try {
      return readdirSync('/proc/self/fd').length - 1;
    } catch {
      return undefined;
    }
  },
};

/** Counted again after this many sockets, so connections opened meanwhile are seen. */
const RECOUNT_EVERY = 64;

/**
 * Whether another proxy socket fits. Counting /proc/self/fd per socket would
 * cost a listing of thousands per socket at thousands of services, so the
 * count is taken at the start of each sync (begin()) and every RECOUNT_EVERY
 * sockets, and the sockets taken in between are added to it.
 */
export class OpenFilesBudget {
  readonly #probe: OpenFilesProbe;
  #limit: number | undefined;
  #counted: number | undefined;
  #since = 0;

  constructor(probe: OpenFilesProbe = procOpenFiles) {
    this.#probe = probe;
  }

  /** A sync starts: count afresh (sockets closed since, by this or another family's proxier, are free again). */
  begin(): void {
    this.#counted = undefined;
  }

  /** Throws OpenFilesError when one more socket would eat into the reserve; else counts it as taken. */
  take(): void {
    if (this.#counted === undefined || this.#since >= RECOUNT_EVERY) {
      this.#limit = this.#probe.limit();
      this.#counted = this.#probe.open();
      this.#since = 0;
    }
    const limit = this.#limit;
    if (limit === undefined || this.#counted === undefined) return;
    const reserve = openFilesReserve(limit);
    if (this.#counted + 1 > limit - reserve)
      throw new OpenFilesError(
        `the open-file limit (${limit}, less ${reserve} kept for connections, iptables and the ops API) leaves no descriptor for another proxy socket; raise the pod's RLIMIT_NOFILE`,
      );
    this.#counted++;
    this.#since++;
  }
}
