// Removes the suite's graph cache folder (vitest.config.ts points STMEDFM_CACHE_DIR at it) after the run.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  return () => rmSync(join(tmpdir(), `stmedfm-test-graph-cache-${process.pid}`), { recursive: true, force: true });
}
