#!/usr/bin/env node
// The switchyard command. V8 sizes its young generation by the machine's
// memory, up to 64 MB semi-spaces: a proxy that allocates in bursts (a
// relist, a full sync of 10,000 services) and then idles kept 134 MB of it
// committed, and resident. With 8 MB semi-spaces the load test's daemon
// holds 306 instead of 430 MB at 10,000 services (npm run bench). The flag
// must be on node's command line, so the process replaces itself with
// node started with it, once, keeping its PID, before anything else loads,
// unless the command line or NODE_OPTIONS already sets it.
const V8_FLAGS = ['--max-semi-space-size=8'];

const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) =>
  a.startsWith('--max-semi-space-size'),
);
if (!given && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [process.execPath, ...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  );
}

const { main } = await import('./switchyard.js');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`switchyard: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
