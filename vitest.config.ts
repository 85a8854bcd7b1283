import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/leak-check.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits for work done by workers and timers: on a loaded
    // machine that takes seconds, not the default one.
    expect: { poll: { timeout: 10_000 } },
    // Two cores: integration files share one Redis server; each owns a namespace.
    maxWorkers: 2,
    pool: 'forks',
  },
});
