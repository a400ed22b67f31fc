import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the Go interop peer for raft 1.1.2, 1.5.0 and 1.7.3 once, before the test files start.
    globalSetup: ['test/interop/go-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Sockets and child processes: keep each file in its own fork so a leak check sees only its own handles.
    pool: 'forks',
  },
});
