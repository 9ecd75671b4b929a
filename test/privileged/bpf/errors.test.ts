// Failures a user meets: a program the verifier refuses, missing files and
// pins, and running without privileges. Each is a BpfError with a stable code.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfErrorCode, BpfMap, BpfObject } from '../../../control/bpf/index.js';
import { nodeBinary, repoRoot, testBpfObject } from '../../harness/paths.js';
import { requirePrivileges } from '../../harness/privileged.js';

describe.runIf(requirePrivileges())('BPF errors', () => {
  it('carries the verifier log when a program is rejected', () => {
    let err: unknown;
    try {
      BpfObject.load(testBpfObject('reject'));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: BpfErrorCode.Verifier, op: 'object.load' });
    const log = (err as { verifierLog: string }).verifierLog;
    expect(log).toMatch(/invalid access to packet|R\d .*invalid/);
    expect((err as Error).message).toMatch(/the verifier said/);
  });

  it('reports a missing object file', () => {
    expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound }),
    );
  });

  it('reports a missing pin path with a hint', () => {
    expect(() => BpfMap.openPinned('/sys/fs/bpf/switchyard-test-no-such-pin')).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound, hint: expect.stringContaining('nothing is pinned') }),
    );
  });

  it('reports unknown maps and programs by name', () => {
    const obj = BpfObject.open(testBpfObject('selftest'));
    expect(() => obj.map('sy_test_hash')).toThrow(expect.objectContaining({ code: BpfErrorCode.InvalidArgument }));
    obj.close();
    expect(() => BpfObject.open(testBpfObject('selftest'), { maxEntries: { nope: 1 } })).toThrow(
      expect.objectContaining({ code: BpfErrorCode.NotFound, target: expect.stringContaining('nope') }),
    );
  });

  it('says what is missing when run without privileges', () => {
    // A child process as nobody, with no capabilities.
    const script = `
      import { BpfObject } from ${JSON.stringify(`${repoRoot}/dist/control/bpf/index.js`)};
      try { BpfObject.load(${JSON.stringify(testBpfObject('selftest'))}); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, hint: e.hint, message: e.message })); }`;
    const out = execFileSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        nodeBinary,
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8' },
    ).trim();
    const r = JSON.parse(out) as { code: string; hint: string; message: string };
    expect(r.code).toBe(BpfErrorCode.Permission);
    expect(r.hint).toMatch(/CAP_BPF/);
  });
});
