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
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/**/*.test.ts'] },
  ],
};
