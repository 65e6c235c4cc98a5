import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources, not dist, so a test run never depends on a stale build.
    alias: [
      { find: /^@tributary\/core$/, replacement: src('core') },
      { find: /^@tributary\/core\/testing$/, replacement: fileURLToPath(new URL('./packages/core/src/testing.ts', import.meta.url)) },
      { find: /^@tributary\/core\/node$/, replacement: fileURLToPath(new URL('./packages/core/src/node.ts', import.meta.url)) },
      { find: /^@tributary\/connectors$/, replacement: src('connectors') },
      {
        find: /^@tributary\/connectors\/(kafka|debezium|redis|s3)$/,
        replacement: fileURLToPath(new URL('./packages/connectors/src/$1.ts', import.meta.url)),
      },
      { find: /^@tributary\/lakehouse$/, replacement: src('lakehouse') },
      { find: /^@tributary\/sql$/, replacement: src('sql') },
      { find: /^@tributary\/mcp$/, replacement: src('mcp') },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['packages/*/src/**/*.test-d.ts'] },
    // Test files run one at a time: the integration tests share one Kafka broker, one Connect worker and one Redis,
    // and on a 2-core machine parallel files made consumer-group tests starve each other (seen in a fresh-clone run).
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
