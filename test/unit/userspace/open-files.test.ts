// The userspace mode's open-file budget (how many proxy sockets the limit
// allows, less the reserve), and runTool when a spawn finds no descriptor
// left: a rejected promise, never the process's unhandled 'error' event.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  OPEN_FILES_RESERVE_MIN,
  OpenFilesBudget,
  openFilesReserve,
  parseOpenFilesLimit,
} from '../../../control/proxiers/userspace/open-files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1500                 4096                 files
Max locked memory         8388608              8388608              bytes
`;

describe('open-file limit', () => {
  it('reads the soft limit of /proc/self/limits', () => {
    expect(parseOpenFilesLimit(LIMITS)).toBe(1500);
    expect(parseOpenFilesLimit(LIMITS.replace('1500 ', 'unlimited'))).toBeUndefined();
    expect(parseOpenFilesLimit('')).toBeUndefined();
  });

  it.each([
    [400, OPEN_FILES_RESERVE_MIN],
    [1500, 150],
    [1_048_576, 104_858],
  ])('a limit of %i keeps %i in reserve', (limit, reserve) => expect(openFilesReserve(limit)).toBe(reserve));

  it('refuses the socket that would eat into the reserve, counts afresh each sync and every 64 sockets', () => {
    // The process: 200 descriptors of its own, and the sockets taken.
    let own = 200;
    let sockets = 0;
    const counted = vi.fn(() => own + sockets);
    const budget = new OpenFilesBudget({ limit: () => 400, open: counted });
    const take = () => {
      budget.take();
      sockets++;
    };
    budget.begin();
    for (let i = 0; i < 72; i++) take(); // 272 = 400 - 128
    expect(take).toThrow(
      expect.objectContaining({
        code: 'ERR_PROXY_OPEN_FILES',
        message: expect.stringMatching(/open-file limit \(400, less 128/),
      }),
    );
    expect(counted).toHaveBeenCalledTimes(2);
    // Descriptors closed meanwhile: the next sync's count sees them free.
    own = 100;
    budget.begin();
    expect(take).not.toThrow();
  });

  it('without /proc, no limit of its own', () => {
    const budget = new OpenFilesBudget({ limit: () => undefined, open: () => undefined });
    for (let i = 0; i < 1000; i++) budget.take();
  });
});

describe('runTool out of descriptors', () => {
  afterEach(() => {
    vi.doUnmock('node:child_process');
    vi.resetModules();
  });

  const emfile = () => Object.assign(new Error('spawn ip6tables-save EMFILE'), { code: 'EMFILE', errno: -24 });

  /** runTool with spawn() behaving as Node's does on EMFILE: no stdio, 'error' on the next tick; or throwing. */
  async function runToolWith(spawn: () => unknown) {
    vi.resetModules();
    vi.doMock('node:child_process', () => ({ spawn }));
    return (await import('../../../control/netfilter/run-tool.js')).runTool;
  }

  it("spawn's 'error' without stdio: the promise rejects with EMFILE, nothing is thrown", async () => {
    const runTool = await runToolWith(() => {
      const child = Object.assign(new EventEmitter(), { stdout: null, stderr: null, stdin: null });
      process.nextTick(() => child.emit('error', emfile()));
      return child;
    });
    await expect(
      runTool(['ip6tables-save', '-t', 'nat'], { missing: () => new Error('missing') }),
    ).rejects.toMatchObject({
      code: 'EMFILE',
      message: expect.stringMatching(/^ip6tables-save could not be started: no file descriptor left \(EMFILE/),
    });
  });

  it('spawn throwing: the promise rejects', async () => {
    const runTool = await runToolWith(() => {
      throw emfile();
    });
    await expect(
      runTool(['iptables-restore'], { input: '', missing: () => new Error('missing') }),
    ).rejects.toMatchObject({
      code: 'EMFILE',
    });
  });
});
