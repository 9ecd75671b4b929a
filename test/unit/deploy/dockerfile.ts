// Reads a Dockerfile into stages and instructions, and holds it to the rule
// the image is built by: every RUN is one of our scripts, apt-get or npm (so
// the build logic is what CI runs, and nothing is fetched but Debian and npm
// packages), ADD (which can fetch URLs) is not used, and every stage starts
// from Debian, save one from an image the caller names where nothing runs
// (the Windows image's HostProcess base: see windows-dockerfile.test.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Instruction {
  line: number;
  keyword: string;
  /** The instruction's text after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  image: string;
  name?: string;
  /** FROM's --platform, when given. */
  platform?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!;
    if (/^\s*(#|$)/.test(logical)) continue;
    while (logical.endsWith('\\') && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i]!)) continue; // comments inside a continued instruction are dropped
      logical = `${logical.slice(0, -1)} ${lines[i]!.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(logical);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot read "${logical}"`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^((?:--\S+\s+)*)(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: cannot read FROM ${args}`);
      const platform = /--platform=(\S+)/.exec(from[1]!)?.[1];
      stages.push({
        image: from[2]!,
        ...(from[3] ? { name: from[3] } : {}),
        ...(platform ? { platform } : {}),
        instructions: [],
      });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`);
      stage.instructions.push({ line: start + 1, keyword, args });
    }
  }
  return stages;
}

/** A RUN's shell commands, each as words: its --mount/--network flags dropped, split at &&, ||, ; and |. */
export function runCommands(run: Instruction): string[][] {
  const shell = run.args.replace(/^(--\S+\s+)*/, '');
  return shell
    .split(/&&|\|\||;|\|/)
    .map((c) => c.trim().split(/\s+/).filter(Boolean))
    .filter((words) => words.length > 0);
}

/** The command's words without leading VAR=value assignments. */
export function withoutEnv(words: string[]): string[] {
  const first = words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  return first < 0 ? [] : words.slice(first);
}

export interface RuleOptions {
  /**
   * Images a stage may start from besides Debian, in which nothing may run:
   * the Windows image's HostProcess base, whose stage a Linux builder makes
   * by copying alone (it cannot run Windows programs, and the image has none).
   */
  copyOnlyImages?: readonly string[];
}

/** Breaks of the rule, one message each; [] when the Dockerfile keeps it. */
export function ruleBreaks(stages: Stage[], repoRoot: string, options: RuleOptions = {}): string[] {
  const breaks: string[] = [];
  for (const stage of stages) {
    const copyOnly = options.copyOnlyImages?.includes(stage.image) ?? false;
    if (!copyOnly && !/^debian:[a-z]+(-slim)?$/.test(stage.image))
      breaks.push(`FROM ${stage.image}: every stage starts from a Debian image`);
    for (const ins of stage.instructions) {
      if (ins.keyword === 'ADD') breaks.push(`line ${ins.line}: ADD can fetch URLs; use COPY`);
      if (ins.keyword !== 'RUN') continue;
      if (copyOnly) {
        breaks.push(`line ${ins.line}: RUN in the stage FROM ${stage.image}, where nothing runs; run it on Debian`);
        continue;
      }
      for (const words of runCommands(ins)) {
        const [cmd, script] = withoutEnv(words);
        if (cmd === 'apt-get' || cmd === 'npm') continue;
        const ours = cmd === 'bash' && script !== undefined && /(^|\/)scripts\/[\w-]+\.sh$/.test(script);
        const name = ours ? script!.slice(script!.lastIndexOf('scripts/')) : undefined;
        if (!name || !existsSync(join(repoRoot, name))) {
          breaks.push(`line ${ins.line}: "${words.join(' ')}" is not one of our scripts, apt-get or npm`);
        }
      }
    }
  }
  return breaks;
}
