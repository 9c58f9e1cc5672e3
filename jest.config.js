// Two projects: unit tests need nothing; integration tests (test/) need root and a built tree, and say so when they skip.
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', isolatedModules: true }] };
module.exports = {
  projects: [
    { displayName: 'unit', testEnvironment: 'node', transform: tsJest, testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'] },
    { displayName: 'integration', testEnvironment: 'node', transform: tsJest, testMatch: ['<rootDir>/test/**/*.test.ts'] },
  ],
};
