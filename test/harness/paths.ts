import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with package.json (works from dist/ too). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (
    !existsSync(join(dir, 'package.json')) ||
    (existsSync(join(dir, '..', 'package.json')) && dir.endsWith('/dist'))
  ) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
export const bpfObject = (name: string) => join(repoRoot, 'build', 'bpf', `${name}.bpf.o`);
export const testBpfObject = (name: string) => join(repoRoot, 'build', 'bpf', 'test', `${name}.bpf.o`);
/** The project's Node 24, for tests that start a second process. */
export const nodeBinary = process.execPath;
