// SCTP traffic for the namespace cluster: Node has no SCTP sockets, so an
// SCTP server and probe run as sctp-agent.py (Python's socket module), with
// the same greeting and result lines as agent.mjs's TCP mode. This host's
// kernel has no SCTP; the VM harness (test/vm) boots Debian's kernels, which
// load it with modprobe.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestNet } from './netns.js';
import { repoRoot } from './paths.js';
import { scaled } from './slow.js';
import type { ProbeOptions, ProbeResult } from './traffic.js';

export const sctpAgentPath = join(repoRoot, 'test', 'harness', 'sctp-agent.py');

let known: boolean | undefined;

/** Whether this kernel opens SCTP sockets (loading the module first, as a node's kubelet would need). */
export function kernelHasSctp(): boolean {
  if (known !== undefined) return known;
  if (!existsSync('/proc/net/sctp')) spawnSync('modprobe', ['sctp'], { stdio: 'ignore' });
  known = spawnSync('python3', [sctpAgentPath, 'check'], { stdio: 'ignore' }).status === 0;
  return known;
}

/** An SCTP server in the pod on `port` (both families), greeting with the pod's name. */
export async function startSctpServer(net: TestNet, pod: { ns: string; name: string }, port: number) {
  const server = net.spawn(pod.ns, 'python3', [sctpAgentPath, 'serve', '--name', pod.name, '--port', String(port)]);
  await server.waitFor(/^ready$/m);
  return server;
}

/** `count` fresh SCTP associations to `target` ("IP:PORT" or "[IP6]:PORT") from a namespace, each reading the greeting. */
export function sctpProbe(_net: TestNet, ns: string, target: string, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
  const { count = 1, timeoutMs = 2000, concurrency = 1 } = opts;
  const args = ['netns', 'exec', ns, 'python3', sctpAgentPath, 'probe', '--target', target];
  args.push('--count', String(count), '--timeout', String(timeoutMs), '--concurrency', String(concurrency));
  const overall = Math.ceil(count / concurrency) * timeoutMs + scaled(10_000);
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: overall, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`sctp probe ${target} from ${ns}: ${stderr.trim() || err.message}`));
      resolve(
        stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as ProbeResult),
      );
    });
  });
}
