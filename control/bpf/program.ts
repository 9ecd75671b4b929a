// A loaded BPF program: test runs and attachments. Every attachment is an
// object with detach(), so whoever attached can always undo exactly that.
import { realpathSync, readFileSync } from 'node:fs';
import {
  addon,
  type NativeLink,
  type NativeProgram,
  type NativeProgramInfo,
  type TestRunResult,
} from '../native/addon.js';
import { BpfError, BpfErrorCode, native } from './errors.js';

export type TcDirection = 'ingress' | 'egress';
export type XdpMode = 'driver' | 'generic';

export interface TcAttachOptions {
  ifindex: number;
  direction: TcDirection;
  /** Filter priority and handle: our filter's identity on the hook. */
  priority?: number;
  handle?: number;
  /** A network namespace path (e.g. /run/netns/NAME); the calling thread enters it only for the attach. */
  netns?: string;
}

export interface Attachment {
  /** What is attached where, for logs and the ops API. */
  readonly description: string;
  detach(): void;
}

export class TcAttachment implements Attachment {
  readonly description: string;
  #attached = true;

  constructor(
    readonly opts: Required<Omit<TcAttachOptions, 'netns'>> & { netns?: string },
    readonly hookCreated: boolean,
  ) {
    this.description = `tc ${opts.direction} ifindex ${opts.ifindex} prio ${opts.priority}${opts.netns ? ` in ${opts.netns}` : ''}`;
  }

  /** Removes our filter; the clsact qdisc too, if this attachment created it. */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    native(() => addon().BpfProgram.detachTc({ ...this.opts, destroyHook: this.hookCreated }));
  }
}

export interface XdpAttachOptions {
  ifindex: number;
  mode: XdpMode;
  netns?: string;
}

/** A loaded program by its id (another owner's, or one an earlier run of ours attached). */
export interface ProgramIdentity {
  id: number;
  name: string;
  type: string;
}

export class XdpAttachment implements Attachment {
  readonly description: string;
  #attached = true;

  /** programId: the program attached; detach() removes that one only, never another owner's. */
  constructor(
    readonly opts: XdpAttachOptions,
    readonly programId?: number,
  ) {
    this.description = `xdp ${opts.mode} ifindex ${opts.ifindex}${opts.netns ? ` in ${opts.netns}` : ''}`;
  }

  /** The program attached to an interface's XDP hook in `mode`, or null. */
  static attached(opts: XdpAttachOptions): ProgramIdentity | null {
    const id = native(() => addon().BpfProgram.queryXdp(opts));
    return id === 0 ? null : (native(() => addon().BpfProgram.programById(id)) ?? null);
  }

  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    native(() =>
      addon().BpfProgram.detachXdp({ ...this.opts, ...(this.programId ? { expectedId: this.programId } : {}) }),
    );
  }
}

export class CgroupAttachment implements Attachment {
  readonly description: string;
  #link: NativeLink | undefined;

  constructor(link: NativeLink, cgroup: string, attachType: string) {
    this.#link = link;
    this.description = `cgroup ${attachType} on ${cgroup}`;
  }

  /** A link an earlier process pinned (to detach it, or to keep it). */
  static openPinned(path: string): CgroupAttachment {
    return new CgroupAttachment(
      native(() => addon().BpfLink.openPinned(path)),
      path,
      'pinned link',
    );
  }

  /** Pins the link so the attachment outlives this process. */
  pin(path: string): void {
    native(() => this.#link?.pin(path));
  }

  detach(): void {
    const link = this.#link;
    this.#link = undefined;
    if (link) native(() => link.detach());
  }
}

/** The mount points of cgroup v2 on this machine: the roots we never attach to. */
function cgroup2Roots(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2 /.test(l))
    .map((l) => l.split(' ')[4]!)
    .filter(Boolean);
}

export class BpfProgram {
  readonly name: string;
  #native: NativeProgram;
  #closed = false;

  constructor(handle: NativeProgram) {
    this.#native = handle;
    this.name = native(() => handle.info()).name;
  }

  static openPinned(path: string, attachType?: string): BpfProgram {
    return new BpfProgram(native(() => addon().BpfProgram.openPinned(path, attachType)));
  }

  get fd(): number {
    return this.#native.fd();
  }

  info(): NativeProgramInfo {
    return native(() => this.#native.info());
  }

  /**
   * BPF_PROG_TEST_RUN: the program runs on a copy of `data` in the kernel,
   * in the network namespace `netns` (a path) if given, else this thread's.
   */
  testRun(opts: { data: Buffer; repeat?: number; ctx?: Buffer; dataOutSize?: number; netns?: string }): TestRunResult {
    return native(() => this.#native.testRun(opts));
  }

  attachTc(opts: TcAttachOptions): TcAttachment {
    const full = { priority: 1, handle: 1, ...opts };
    const r = native(() => this.#native.attachTc(full));
    return new TcAttachment({ ...full, priority: r.priority, handle: r.handle }, r.hookCreated);
  }

  /**
   * Attaches to an interface's XDP hook, if nothing is attached there, or in
   * place of exactly the program `replaceId` (an earlier run's): another
   * owner's program is never replaced (EBUSY / EEXIST, ERR_BPF_EXISTS).
   */
  attachXdp(opts: XdpAttachOptions & { replaceId?: number }): XdpAttachment {
    native(() => this.#native.attachXdp(opts));
    const { replaceId: _, ...where } = opts;
    return new XdpAttachment(where, this.info().id);
  }

  /**
   * Attaches to a cgroup v2 directory. The root cgroup holds every process on
   * the machine, so attaching there takes an explicit `allowRootCgroup`.
   */
  attachCgroup(opts: { cgroup: string; attachType?: string; allowRootCgroup?: boolean }): CgroupAttachment {
    let real: string;
    try {
      real = realpathSync(opts.cgroup);
    } catch {
      throw new BpfError(BpfErrorCode.NotFound, `program.attachCgroup ${this.name}: no cgroup at ${opts.cgroup}`, {
        op: 'program.attachCgroup',
        target: opts.cgroup,
      });
    }
    if (!opts.allowRootCgroup && cgroup2Roots().includes(real)) {
      throw new BpfError(BpfErrorCode.InvalidArgument, `program.attachCgroup ${this.name}: ${real} is a root cgroup`, {
        op: 'program.attachCgroup',
        target: real,
        hint: 'attach to a child cgroup, or pass allowRootCgroup when that is really meant',
      });
    }
    const link = native(() => this.#native.attachCgroup({ cgroup: real, attachType: opts.attachType }));
    return new CgroupAttachment(link, real, opts.attachType ?? this.info().attachType ?? '?');
  }

  pin(path: string): void {
    native(() => this.#native.pin(path));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
