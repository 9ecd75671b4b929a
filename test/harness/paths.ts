import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bpfObject = (name: string) => join(repoRoot, 'build', 'bpf', `${name}.bpf.o`);
export const testBpfObject = (name: string) => join(repoRoot, 'build', 'bpf', 'test', `${name}.bpf.o`);
/** The project's Node 24, for tests that start a second process. */
export const nodeBinary = process.execPath;
