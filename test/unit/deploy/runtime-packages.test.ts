// The image's runtime stage installs RUNTIME_PACKAGES (scripts/packages.sh)
// and nothing else, so that list must be exactly what the daemon needs: the
// Debian packages owning the libraries Node and the addon link, and the
// commands the control plane runs. Asked of this Debian machine (ldd, dpkg),
// which is what the image is built from. A mode that starts running a new
// command fails this until its package is on the list; a package nothing
// needs any more fails it too.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IPTABLES_BINARIES } from '../../../control/netfilter/iptables.js';
import { nodeBinary, repoRoot } from '../../harness/paths.js';

const sh = (script: string) => execFileSync('bash', ['-c', script], { encoding: 'utf8', cwd: repoRoot });

const packageGroup = (name: string) =>
  sh(`. scripts/packages.sh; printf '%s\\n' "\${${name}[@]}"`).split('\n').filter(Boolean);

/** The Debian package that installed `path` (as dpkg knows it: with or without /usr, before or after symlinks). */
function owner(path: string): string {
  const real = realpathSync(path);
  const candidates = [
    ...new Set([path, real].flatMap((p) => [p, p.replace(/^\/usr\//, '/'), p.startsWith('/usr/') ? p : `/usr${p}`])),
  ];
  for (const p of candidates) {
    try {
      return execFileSync('dpkg-query', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(
        ':',
      )[0]!;
    } catch {
      // not this spelling
    }
  }
  throw new Error(`no Debian package owns ${path} (${real})`);
}

/** Shared libraries a binary links (ldd's "name => path" lines). */
const linkedLibraries = (binary: string) => [...sh(`ldd '${binary}'`).matchAll(/=> (\/\S+)/g)].map((m) => m[1]!);

/**
 * Commands the control plane starts: the literal first argument of
 * spawn/execFile/exec calls under control/, and the iptables binaries of
 * each family (run by name from a table).
 */
function commandsRun(): string[] {
  const files = readdirSync(join(repoRoot, 'control'), { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.ts'),
  );
  const found = new Set<string>(Object.values(IPTABLES_BINARIES).flatMap((b) => [b.cmd, b.restore, b.save]));
  for (const f of files) {
    const text = readFileSync(join(repoRoot, 'control', f), 'utf8');
    for (const m of text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|exec)\(\s*'([\w.-]+)'/g))
      found.add(m[1]!);
  }
  return [...found].sort();
}

describe('the runtime packages are what the daemon links and runs', () => {
  const addon = join(repoRoot, 'build', 'Release', 'switchyard.node');

  it('finds the commands the modes run', () => {
    // Guards the scan itself: these are known to be run (ebpf: ip; iptables: the rest).
    expect(commandsRun()).toEqual(
      expect.arrayContaining(['conntrack', 'ip', 'ip6tables-restore', 'iptables', 'iptables-restore', 'iptables-save']),
    );
  });

  it('RUNTIME_PACKAGES = the owners of those commands and of the libraries Node and the addon link', () => {
    const needs = new Map<string, string[]>();
    const need = (pkg: string, why: string) => needs.set(pkg, [...(needs.get(pkg) ?? []), why]);
    for (const lib of [...linkedLibraries(nodeBinary), ...linkedLibraries(addon)]) need(owner(lib), lib);
    for (const cmd of commandsRun()) need(owner(sh(`command -v '${cmd}'`).trim()), cmd);
    const runtime = packageGroup('RUNTIME_PACKAGES');
    const why = Object.fromEntries([...needs].map(([pkg, what]) => [pkg, [...new Set(what)].join(', ')]));
    expect(
      {
        missing: [...needs.keys()].filter((p) => !runtime.includes(p)).sort(),
        unneeded: runtime.filter((p) => !needs.has(p)),
      },
      JSON.stringify(why, null, 1),
    ).toEqual({
      missing: [],
      unneeded: [],
    });
  }, 30_000); // a dpkg-query per command and library: ~2 s here, more on a loaded machine

  it('the image build needs no test package', () => {
    const build = packageGroup('BUILD_PACKAGES');
    expect(build.filter((p) => packageGroup('TEST_PACKAGES').includes(p))).toEqual([]);
  });
});
