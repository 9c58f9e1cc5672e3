// Two projects: unit tests need nothing; integration tests (test/) need root and a built tree, and say so when they skip.
// Workspace packages resolve to their sources, so tests never run against a stale dist/.
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleNameMapper: {
    '^@tsrunc/common$': '<rootDir>/packages/common/src',
    '^@tsrunc/runtime$': '<rootDir>/packages/runtime/src',
    '^ttrpc-ts$': '<rootDir>/packages/ttrpc/src',
    '^@tsrunc/shim$': '<rootDir>/packages/shim/src',
  },
};
module.exports = {
  // Real containers: a test of a few CLI calls takes seconds on a loaded 2-core machine, so 5 s (jest's default) is
  // too tight; files with longer scenarios set their own. (A global option: jest ignores it in a project.)
  testTimeout: 60_000,
  // One temp directory for the run's shared fixtures, removed after the last test file.
  globalSetup: '<rootDir>/test/helpers/run-dir-setup.js',
  globalTeardown: '<rootDir>/test/helpers/run-dir-teardown.js',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/**/*.test.ts'] },
  ],
};
