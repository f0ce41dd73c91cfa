/** ts-jest in ESM mode; run with NODE_OPTIONS=--experimental-vm-modules (npm test does). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 600000,
  // a test that fails half-way can leave a Redis connection retrying: never let CI hang on it
  forceExit: true,
  // jest's soft deletion of globals between files crashed the run (stack overflow in its setter) when a
  // suite's Redis client outlived it; the suites close what they open, this keeps one slip from ending all
  testEnvironmentOptions: { globalsCleanup: 'off' },
};
