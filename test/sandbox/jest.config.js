/**
 * The sandbox provider's tests, on their own: `npx jest -c test/sandbox/jest.config.js`.
 * The root config's projects do not match test/sandbox, and its global setup starts PostgreSQL,
 * which these tests do not need.
 */
module.exports = {
  rootDir: '../..',
  displayName: 'sandbox',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/sandbox/**/*.test.ts'],
  testTimeout: 60000,
};
