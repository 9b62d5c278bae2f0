import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // a private TMPDIR per run, checked empty at the end; scratch dirs removed after each file
    globalSetup: ['test/support/tmp-hygiene.ts'],
    setupFiles: ['test/support/setup.ts'],
  },
});
