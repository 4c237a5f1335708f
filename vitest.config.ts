import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers (nginx, the simulator, chromium); two workers suit 2 cores.
    maxWorkers: 2,
  },
})
