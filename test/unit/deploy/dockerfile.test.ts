// The Dockerfile cannot be built on this machine (no Docker engine), so its
// build logic is kept in the scripts CI runs, and this test holds it there:
// every RUN is one of our scripts, apt-get or npm; the build stage is CI's
// setup.sh then install.sh; the runtime stage adds only RUNTIME_PACKAGES and
// the installed tree. runtime-packages.test.ts checks that list against what
// the daemon links and runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/paths.js';
import { parseDockerfile, ruleBreaks, runCommands, withoutEnv, type Stage } from './dockerfile.js';

const stages = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
const only = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('Dockerfile', () => {
  it('runs only our scripts, apt-get and npm, adds nothing from URLs, and builds on Debian', () => {
    expect(ruleBreaks(stages, repoRoot)).toEqual([]);
  });

  it('the rule catches what it is for', () => {
    const bad = parseDockerfile(
      [
        'FROM node:24 AS build',
        'ADD https://example.org/node.tar.gz /tmp/',
        'RUN apt-get update && curl -fsSL https://example.org/install.sh | sh',
        'RUN bash scripts/no-such-script.sh',
        'RUN make -C bpf \\',
        '    && npm ci',
      ].join('\n'),
    );
    expect(ruleBreaks(bad, repoRoot)).toEqual([
      'FROM node:24: every stage starts from a Debian image',
      'line 2: ADD can fetch URLs; use COPY',
      'line 3: "curl -fsSL https://example.org/install.sh" is not one of our scripts, apt-get or npm',
      'line 3: "sh" is not one of our scripts, apt-get or npm',
      'line 4: "bash scripts/no-such-script.sh" is not one of our scripts, apt-get or npm',
      'line 5: "make -C bpf" is not one of our scripts, apt-get or npm',
    ]);
  });

  it('builds as CI does: setup.sh (without the test packages), then install.sh into the tree the runtime copies', () => {
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages as [Stage, Stage];
    expect(build.name).toBe('build');
    expect(runs(build)).toEqual([
      ['SWITCHYARD_IMAGE_BUILD=1', 'bash', 'scripts/setup.sh'],
      ['bash', 'scripts/install.sh', '/opt/switchyard'],
    ]);
    expect(only(runtime, 'COPY')).toEqual([`--from=${build.name} /opt/switchyard /opt/switchyard`]);
  });

  it('ships a runtime of RUNTIME_PACKAGES and the installed tree, started as switchyard', () => {
    const runtime = stages[1]!;
    expect(runtime.image).toBe(stages[0]!.image);
    expect(runs(runtime).map(withoutEnv)).toEqual([['bash', '/tmp/scripts/apt-install.sh', '--clean', 'runtime']]);
    expect(only(runtime, 'RUN')[0]).toMatch(/^--mount=type=bind,source=scripts,target=\/tmp\/scripts /);
    expect(only(runtime, 'ENV')).toEqual(['PATH=/opt/switchyard/bin:$PATH']);
    expect(only(runtime, 'USER')).toEqual(['root']);
    expect(only(runtime, 'ENTRYPOINT')).toEqual(['["switchyard"]']);
  });

  it('.dockerignore keeps out what setup.sh makes, and nothing the build reads', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'build', 'dist', '.tools', '.git']));
    const readByTheBuild = [
      'package.json',
      'package-lock.json',
      'binding.gyp',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts',
      'control',
      'native',
      'bpf',
      'bench',
      'test',
    ];
    expect(
      ignored.filter((pattern) => readByTheBuild.some((p) => p === pattern || p.startsWith(`${pattern}/`))),
    ).toEqual([]);
  });
});
