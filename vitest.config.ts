import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Sockets and child processes: keep each file in its own fork so a leak check sees only its own handles.
    pool: 'forks',
  },
});
