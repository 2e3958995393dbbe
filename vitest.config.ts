import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Every API answer of every test is checked against the served OpenAPI document
    // (src/http/openapi/answer-check.ts); servers the tests spawn inherit it.
    env: { VERSTAK_CHECK_ANSWERS: '1' },
  },
});
