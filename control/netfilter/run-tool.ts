// Running the node's networking tools (iptables-restore, ipset, ip) the way
// the proxiers need: asynchronously, since a restore of 10,000 services takes
// seconds and the ops API must keep answering, with input on stdin, and with
// a missing binary turned into the caller's error (which names the package).
// A spawn that fails is the caller's rejected promise, never an exception of
// the process: out of descriptors (EMFILE, ENFILE; the userspace mode's
// sockets can take them all) spawn() returns a child without stdio and emits
// 'error' on the next tick, which with no listener yet would end the daemon.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ToolOutput {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv`; `missing` makes the error for an argv[0] that is not installed. */
export function runTool(
  argv: string[],
  opts: { input?: string | undefined; missing: () => Error },
): Promise<ToolOutput> {
  const { input } = opts;
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? opts.missing() : cannotStart(argv, err));
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    } catch (err) {
      failed(err as NodeJS.ErrnoException);
      return;
    }
    // First of all: spawn reports most failures through this event.
    child.on('error', failed);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    // No pipes: the child never started, and 'error' follows.
    if (!child.stdout || !child.stderr) return;
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('close', (status) =>
      resolve({ status, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }),
    );
    if (input !== undefined) {
      // A tool that dies early closes its stdin; the exit status tells why.
      child.stdin?.on('error', () => {});
      child.stdin?.end(input);
    }
  });
}

/** The spawn error with what could not be started; its errno code kept (EMFILE: the caller's sync is retried). */
function cannotStart(argv: string[], err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  const out =
    err.code === 'EMFILE' || err.code === 'ENFILE'
      ? `${argv[0]} could not be started: no file descriptor left (${err.code}; see the open-file limit)`
      : `${argv[0]} could not be started: ${err.message}`;
  return Object.assign(new Error(out, { cause: err }), { code: err.code, errno: err.errno, syscall: err.syscall });
}
