// switchyard: the daemon (kube-proxy's flags), --cleanup, and the
// `switchyard get …` client of the ops API. main.ts starts it.
import { runGet } from './cli/get.js';
import { ConfigError, loadOptions } from './config/load.js';
import { Daemon, cleanupAll } from './daemon.js';
import { createLogger } from './log.js';

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'get') {
    return runGet(argv.slice(1), {
      fetch,
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
    });
  }
  let loaded;
  try {
    loaded = loadOptions(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if ('exit' in loaded) {
    process.stdout.write(loaded.output);
    return loaded.exit;
  }
  const { options, notes } = loaded;
  const logger = createLogger({ level: options.logLevel, format: options.logFormat });
  for (const note of notes) logger.warn(note);

  if (options.cleanup) {
    await cleanupAll(options, logger);
    return 0;
  }

  let daemon: Daemon;
  try {
    daemon = await Daemon.create(options, logger);
    await daemon.start();
  } catch (err) {
    // Errors with a code are ours and say what to do; others keep their stack.
    const code = (err as { code?: unknown } | undefined)?.code;
    const known = err instanceof Error && typeof code === 'string';
    logger.fatal(known ? { code, err: err.message } : { err }, 'cannot start');
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      daemon.stop().then(
        () => resolve(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
