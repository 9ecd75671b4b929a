// A mode this machine's kernel cannot run (ipvs without the ip_vs module)
// measured in the project's test VM instead: bench/run.ts again, inside
// `test/vm/run.sh --kernel 6.12`, with only that mode and the same sizes,
// its JSON written to a temporary directory under build/ (the project
// directory is the guest's one writable share) and its ModeReport taken
// back, marked emulated, with the VM run's own direct-to-pod baselines (IPv4
// and, dual-stack, IPv6; and its own routed-direct one for north-south).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { kernelHasIpvs } from '../test/harness/ipvs.js';
import { repoRoot } from '../test/harness/paths.js';
import { readReport } from './report.js';
import type { BenchMode, ModeReport } from './types.js';

/** Modes that need the VM here: ipvs when the kernel has no IPVS, never when already in the VM. */
export function needsVm(mode: BenchMode): boolean {
  return mode === 'ipvs' && !process.env.SWITCHYARD_IN_VM && !kernelHasIpvs();
}

export interface VmOptions {
  kernel: string;
  cpus: number;
  memory: string;
  timeoutSec: number;
  /** bench/run.ts's arguments for the run inside (--out is added). */
  args: string[];
}

/** The line of the VM run's stderr that says best why it failed: a guest kernel's panic or oops, run.sh's own message, or the last line. */
export function failureLine(lines: string[]): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour codes (ESC [ … m) of run.sh's log lines
  const text = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).filter((l) => l && !l.startsWith('[bench]'));
  const kernel = text
    .map((l) => /\] (Kernel panic - .*|BUG: .*|Oops: .*|general protection fault.*|invalid opcode.*)$/.exec(l)?.[1])
    .find(Boolean);
  const ours = text.find((l) => l.startsWith('[switchyard] vm:'))?.replace('[switchyard] vm: ', '');
  return (kernel ? `guest kernel: ${kernel}` : (ours ?? text.at(-1) ?? '')).slice(0, 200);
}

/** How a ModeReport's `failed` starts when the VM, not the run in it, failed (run.sh's status 125). */
export const VM_FAILED = 'VM run: the VM failed';
const EXIT_WHY: Record<number, string> = {
  124: 'the VM timed out (--vm-timeout)',
  125: 'the VM failed to boot or run',
};

/**
 * The ModeReport of `mode` measured in the VM; a failed one (`failed` set,
 * figures NaN) if the run did not produce it. While it runs, `aborts` holds
 * what stops it (SIGTERM to run.sh, which kills its qemu) and removes its
 * directory, for our own signal handler.
 */
export async function runModeInVm(
  mode: BenchMode,
  vm: VmOptions,
  progress: (msg: string) => void,
  aborts: Set<() => void>,
): Promise<ModeReport> {
  const started = Date.now();
  mkdirSync(join(repoRoot, 'build'), { recursive: true });
  const out = mkdtempSync(join(repoRoot, 'build', 'bench-vm.'));
  let child: ChildProcess | undefined;
  const abort = () => {
    child?.kill('SIGTERM');
    rmSync(out, { recursive: true, force: true });
  };
  aborts.add(abort);
  const argv = [
    join(repoRoot, 'test', 'vm', 'run.sh'),
    '--kernel',
    vm.kernel,
    '--cpus',
    String(vm.cpus),
    '--memory',
    vm.memory,
    '--timeout',
    String(vm.timeoutSec),
    '--',
    'bash',
    'scripts/with-node.sh',
    'node',
    'dist/bench/run.js',
    '--modes',
    mode,
    ...vm.args,
    '--out',
    out,
  ];
  progress(
    `${mode}: in a VM (qemu, Debian's ${vm.kernel} kernel, ${vm.cpus} vCPUs, ${vm.memory}): ${argv.slice(1).join(' ')}`,
  );
  const tail: string[] = [];
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const c = spawn('bash', argv, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      let partial = '';
      c.stderr.on('data', (b: Buffer) => {
        const lines = (partial + b.toString()).split('\n');
        partial = lines.pop()!;
        for (const l of lines) {
          process.stderr.write(`  [vm] ${l}\n`);
          tail.push(l);
          if (tail.length > 200) tail.shift();
        }
      });
      c.on('error', reject);
      c.on('close', (code) => resolve(code));
    });
    const json = join(out, 'latest.json');
    const wallSec = Math.round((Date.now() - started) / 1000);
    if (code !== 0 || !existsSync(json)) {
      const line = failureLine(tail);
      const exit = EXIT_WHY[code ?? -1] ?? `exit status ${code}`;
      return failedMode(mode, `VM run: ${exit}${line ? `; ${line}` : ''}`, wallSec);
    }
    // Its unmeasured figures are null in JSON: read back as NaN, as ours are.
    const inner = readReport(json);
    const m = inner.modes.find((x) => x.mode === mode);
    if (!m) return failedMode(mode, `VM run: its report has no ${mode} column`, wallSec);
    return {
      ...m,
      emulated: true,
      direct: inner.direct,
      ...(inner.directIPv6 ? { directIPv6: inner.directIPv6 } : {}),
      ...(inner.northSouthDirect ? { northSouthDirect: inner.northSouthDirect } : {}),
      machine: inner.machine,
      services: inner.params.services,
      phaseSec: { ...m.phaseSec, 'VM run (boot to power-off)': wallSec },
    };
  } finally {
    aborts.delete(abort);
    rmSync(out, { recursive: true, force: true });
  }
}

export function failedMode(mode: BenchMode, failed: string, wallSec?: number): ModeReport {
  const nan = { n: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  return {
    mode,
    emulated: true,
    args: [],
    fullSync: { servicePorts: NaN, startToProgrammedMs: NaN, syncMs: NaN, startToReadyMs: NaN },
    incremental: { addEndpoint: nan, removeEndpoint: nan, addService: nan, removeService: nan },
    steady: { rssMB: NaN, cpuPercent: NaN, windowSec: 0 },
    connections: [],
    failed,
    ...(wallSec !== undefined ? { phaseSec: { 'VM run (boot to power-off)': wallSec } } : {}),
  };
}
