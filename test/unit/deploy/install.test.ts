// scripts/install.sh, which fills the image's /opt/switchyard: the tree it
// makes holds the daemon and what it loads at run time, without the
// development dependencies, and starts as bin/switchyard on Node 24.
// test/privileged/deploy runs the daemon from such a tree.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/paths.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

describe('scripts/install.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-install-'));
  const prefix = join(dir, 'opt');
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  beforeAll(() => {
    run('bash', [join(repoRoot, 'scripts', 'install.sh'), prefix]);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts the daemon as bin/switchyard, on the Node 24 it carries', () => {
    expect(run(join(prefix, 'bin', 'node'), ['--version'])).toMatch(/^v24\./);
    expect(run(join(prefix, 'bin', 'switchyard'), ['--version'])).toBe(`switchyard v${pkg.version}\n`);
    expect(run(join(prefix, 'bin', 'switchyard'), ['--help'])).toMatch(/--proxy-mode/);
  }, 30_000); // three process starts: ~2 s here, more on a loaded machine

  it("holds the addon and the BPF objects where the daemon looks, and not the tests' objects", () => {
    expect(existsSync(join(prefix, 'build', 'Release', 'switchyard.node'))).toBe(true);
    expect(readdirSync(join(prefix, 'build', 'bpf')).sort()).toEqual(['sock.bpf.o', 'tc.bpf.o', 'xdp.bpf.o']);
    expect(readdirSync(join(prefix, 'dist')).sort()).toEqual(['control']);
  });

  it('has every package the lock file needs in production and none it needs only for development', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const has = (path: string) => existsSync(join(prefix, path, 'package.json'));
    const production = entries.filter(([, p]) => !p.dev && !p.optional && !p.devOptional).map(([path]) => path);
    const development = entries.filter(([, p]) => p.dev).map(([path]) => path);
    expect(production.length).toBeGreaterThan(Object.keys(pkg.dependencies).length);
    expect(production.filter((p) => !has(p))).toEqual([]);
    expect(development.filter(has)).toEqual([]);
    expect(development).toEqual(
      expect.arrayContaining(['node_modules/typescript', 'node_modules/vitest', 'node_modules/node-gyp']),
    );
  });

  it('refuses a folder that is not empty', () => {
    expect(() => run('bash', [join(repoRoot, 'scripts', 'install.sh'), prefix])).toThrow(/is not empty/);
  });
});
