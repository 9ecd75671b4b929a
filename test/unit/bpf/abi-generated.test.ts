// CI's regenerate-and-diff: control/proxiers/ebpf/abi.generated.ts must be
// exactly what scripts/gen-abi.ts makes of the BTF of the objects the build
// compiled from abi.h. Reading an object's BTF needs no privileges, but it
// needs the objects: without them this fails, it does not skip.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ABI_GENERATED, ABI_OBJECTS, generateAbi, lineDiff, renderAbi, type Abi } from '../../../scripts/gen-abi.js';
import { repoRoot } from '../../harness/paths.js';

const objectDir = join(repoRoot, 'build', 'bpf');

describe('abi.generated.ts', () => {
  it('is what the built BPF objects say (npm run gen:abi rewrites it)', () => {
    const missing = ABI_OBJECTS.filter((f) => !existsSync(join(objectDir, f)));
    if (missing.length) {
      throw new Error(`${missing.join(', ')} missing from ${objectDir}: run npm run build (or scripts/setup.sh) first`);
    }
    const want = generateAbi(objectDir);
    const have = readFileSync(join(repoRoot, ABI_GENERATED), 'utf8');
    if (want !== have) {
      expect.fail(
        `${ABI_GENERATED} differs from what the objects say; run npm run gen:abi and commit it.\n` +
          `(- generated, + committed)\n${lineDiff(want, have)}`,
      );
    }
  });

  it('refuses an enum constant that does not carry its prefix, and two of one value', () => {
    const abi = (values: Array<{ name: string; value: number }>): Abi => ({
      maps: [],
      enums: [{ name: 'sy_drop_reason', values }],
    });
    expect(() => renderAbi(abi([{ name: 'DROP_X', value: 1 }]))).toThrow(/does not start with SY_DROP_/);
    expect(() =>
      renderAbi(
        abi([
          { name: 'SY_DROP_A', value: 1 },
          { name: 'SY_DROP_B', value: 1 },
        ]),
      ),
    ).toThrow(/two constants have the value 1/);
    expect(
      renderAbi(
        abi([
          { name: 'SY_DROP_A_B', value: 1 },
          { name: '__SY_DROP_MAX', value: 2 },
        ]),
      ),
    ).toMatch(/A_B: 1,[\s\S]*1: 'a_b',[\s\S]*export const SY_DROP_MAX = 2;/);
  });
});
