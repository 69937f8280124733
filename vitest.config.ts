import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests (and the CLI processes they start) keep ORT's optimised graphs in a throw-away folder,
// never in the user's ~/.cache; test/setup/graph_cache_dir.ts removes it after the run.
const graphCacheDir = join(tmpdir(), `stmedfm-test-graph-cache-${process.pid}`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/ort_node.ts'],
    globalSetup: ['test/setup/graph_cache_dir.ts'],
    env: { STMEDFM_CACHE_DIR: graphCacheDir },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
