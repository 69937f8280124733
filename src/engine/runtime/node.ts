/**
 * Node entry point of the runtime: registers onnxruntime-node and the on-disk cache of optimised graphs. Imported for its side effect by
 * the Node entry points (library index, CLI, benches, the test setup); the browser app registers
 * onnxruntime-web instead (web/src/runtime.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { diskGraphCache } from './graph_cache.js';
import { useOrt } from './ort.js';
import { workerReplicas } from './replica_worker.js';

useOrt(ort, { prepareOutputFile: (path) => mkdirSync(dirname(path), { recursive: true }), graphCache: diskGraphCache, replicas: workerReplicas });

export { ort };
