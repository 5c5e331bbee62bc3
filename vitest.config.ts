import { defineConfig } from 'vitest/config';

// Token tests must run in separate processes: a PKCS#11 library is process-global
// (a second C_Initialize in a worker thread fails, one C_Finalize breaks the others).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
