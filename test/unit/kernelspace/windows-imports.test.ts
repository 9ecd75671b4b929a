// What a Windows node loads: the command, the daemon, the API and the
// kernelspace mode, following static imports (what Node loads with a module),
// must not reach the Linux-only parts (the libbpf addon, BPF, iptables,
// netlink, the Linux modes), nor koffi, which the mode imports when it starts
// on Windows. The registry keeps the Linux modes' own imports away (modes.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/paths.js';

/** Static value imports and re-exports (not `import type`, not `import()`), resolved to .ts files. */
function staticImports(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^;]*?\sfrom\s+)?['"]([^'"]+)['"]/gms)) {
    const spec = m[1]!;
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) local.push(target);
    } else packages.push(spec);
  }
  return { local, packages };
}

function closure(entries: string[]): { files: Map<string, string | undefined>; packages: Set<string> } {
  const files = new Map<string, string | undefined>();
  const packages = new Set<string>();
  const walk = (file: string, from?: string) => {
    if (files.has(file)) return;
    files.set(file, from);
    const { local, packages: p } = staticImports(file);
    for (const pkg of p) packages.add(pkg);
    for (const next of local) walk(next, file);
  };
  for (const e of entries) walk(resolve(repoRoot, e));
  return { files, packages };
}

const LINUX_ONLY = /^control\/(native|bpf|netfilter|netlink)\/|^control\/proxiers\/(ebpf|iptables|ipvs)\//;
/** Pure tables the configuration reads (map names, Maglev sizes): no native code, no tool. */
const PURE = new Set(['control/proxiers/ebpf/abi.generated.ts', 'control/proxiers/ebpf/maglev.ts']);

describe('a Windows node', () => {
  const { files, packages } = closure([
    'control/switchyard.ts',
    'control/daemon.ts',
    'control/proxiers/kernelspace/mode.ts',
    'control/sources/kubernetes.ts',
    'control/sources/manifests.ts',
  ]);
  const rel = (f: string) => relative(repoRoot, f);

  it('loads none of the Linux-only modules', () => {
    expect(files.size).toBeGreaterThan(30);
    const linux = [...files.keys()].map(rel).filter((f) => LINUX_ONLY.test(f) && !PURE.has(f));
    const chains = linux.map((f) => {
      const chain = [f];
      for (let at = files.get(resolve(repoRoot, f)); at; at = files.get(at)) chain.push(rel(at));
      return chain.reverse().join(' → ');
    });
    expect(chains).toEqual([]);
  });

  it('loads koffi only when the mode starts (a dynamic import)', () => {
    expect(packages.has('koffi')).toBe(false);
    expect(files.has(resolve(repoRoot, 'control/proxiers/kernelspace/hcn/koffi.ts'))).toBe(false);
    expect(readFileSync(resolve(repoRoot, 'control/proxiers/kernelspace/mode.ts'), 'utf8')).toContain(
      "import('./hcn/koffi.js')",
    );
  });

  it('the walk sees through a chain: the ebpf mode does reach the addon', () => {
    const ebpf = closure(['control/proxiers/ebpf/mode.ts']);
    expect([...ebpf.files.keys()].map(rel)).toContain('control/native/addon.ts');
  });
});
