import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing; privileged tests need root, network
// namespaces and a kernel with BPF. CI runs both (scripts/test.sh).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'privileged',
          include: ['test/privileged/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          // Namespaces, links and pins are machine-wide: one file at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
