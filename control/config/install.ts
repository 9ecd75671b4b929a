// Where switchyard is installed: the repository root in development, the
// image's app folder in production. Found from this module's own location so
// the same code works from control/config (tests) and dist/control/config.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder above this module with package.json (dist/ has none). */
export function installRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL('../../..', import.meta.url));
    dir = up;
  }
}

/** Where the build puts the BPF objects: <root>/build/bpf. */
export const defaultObjectDir = (): string => join(installRoot(), 'build', 'bpf');

/** The version in package.json, for --version. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(installRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
