// The gate every privileged test file passes first. A privileged test that
// cannot run must never pass silently: it fails, unless a developer asked to
// skip them outside CI (SWITCHYARD_SKIP_PRIVILEGED=1), and then it says so.
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';

const BPF_FS_MAGIC = 0xcafe4a11;

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'they must run as root';
  try {
    if (statfsSync('/sys/fs/bpf').type !== BPF_FS_MAGIC)
      return 'bpffs is not mounted at /sys/fs/bpf (scripts/setup.sh mounts it)';
  } catch {
    return 'there is no /sys/fs/bpf';
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed: run scripts/setup.sh';
  }
  return undefined;
}

/** True when privileged tests can run here; throws when they must but cannot. */
export function requirePrivileges(): boolean {
  const why = missing();
  if (!why) return true;
  const skipAsked = process.env.SWITCHYARD_SKIP_PRIVILEGED === '1' && !process.env.CI;
  const message = `PRIVILEGED TESTS CANNOT RUN: ${why}.`;
  if (!skipAsked)
    throw new Error(
      `${message} Run them as root (npm test), or set SWITCHYARD_SKIP_PRIVILEGED=1 outside CI to skip them.`,
    );
  console.warn(`\n!!! ${message} Skipping them because SWITCHYARD_SKIP_PRIVILEGED=1. !!!\n`);
  return false;
}
