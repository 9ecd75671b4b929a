// Builds test/native/hcn-shim.c, the Linux stand-in for computenetwork.dll and
// vmcompute.dll, into build/test/hcn-shim.so for the tests that load the koffi
// binding through it. The compiler is `cc` (gcc or clang: BUILD_PACKAGES in
// scripts/packages.sh installs both), or $CC.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './paths.js';

export const hcnShimSource = join(repoRoot, 'test', 'native', 'hcn-shim.c');
export const hcnShimLibrary = join(repoRoot, 'build', 'test', 'hcn-shim.so');

/** The shim's path, compiled first when the .so is missing or older than its source. */
export function buildHcnShim(): string {
  if (existsSync(hcnShimLibrary) && statSync(hcnShimLibrary).mtimeMs >= statSync(hcnShimSource).mtimeMs) {
    return hcnShimLibrary;
  }
  mkdirSync(dirname(hcnShimLibrary), { recursive: true });
  // Written aside and renamed: test files run in parallel workers, and none
  // may dlopen a half-written library (a loaded one keeps its old inode).
  const partial = `${hcnShimLibrary}.${process.pid}.tmp`;
  const flags = ['-shared', '-fPIC', '-O1', '-std=c11', '-pthread', '-Wall', '-Wextra', '-Werror'];
  try {
    execFileSync(process.env.CC || 'cc', [...flags, '-o', partial, hcnShimSource], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`cannot compile ${hcnShimSource}: ${stderr || (err as Error).message}`);
  }
  renameSync(partial, hcnShimLibrary);
  return hcnShimLibrary;
}
