import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/leak-check.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: integration files share one Redis server; each owns a namespace.
    maxWorkers: 2,
    pool: 'forks',
  },
});
