/** Three tiers (DESIGN.md): unit (no database), integration (real PostgreSQL), e2e (the built server). */
// Diagnostics on. tsconfig.json sets isolatedModules, so ts-jest transpiles each file on its own
// (no type program: measured no slower than diagnostics off) and reports what a single file can
// show; the whole-program type check of src/ and test/ is `npm run check` (tsc), which `.ci/run`
// runs before the tests. See docs/testing.md.
const tsJest = ['ts-jest', { diagnostics: true }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  // Two files at a time: most files wait on servers, PostgreSQL and Redis rather than the CPU, and
  // each file has a database of its own (docs/testing.md). Measured on the 2-core machine: 921 s
  // serially, 495 s with two workers, same 1,764 tests green.
  maxWorkers: 2,
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/sandbox/**/*.test.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
