// Running the node's networking tools (iptables-restore, ipset, ip) the way
// the proxiers need: asynchronously, since a restore of 10,000 services takes
// seconds and the ops API must keep answering, with input on stdin, and with
// a missing binary turned into the caller's error (which names the package).
import { spawn } from 'node:child_process';

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
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => stdout.push(b));
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? opts.missing() : err));
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
