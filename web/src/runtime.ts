/**
 * Registers onnxruntime-web (wasm) as the engine's ONNX Runtime: the same ForwardSession,
 * TrainingSession and Predictor the CLI runs on onnxruntime-node then run in the page.
 */
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { type OrtModule, useOrt } from '../../src/engine/runtime/ort.js';

export interface RuntimeInfo {
  threads: number;
  /** Why the page runs on one thread, when it does. */
  note?: string;
  version: string;
}

/** Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages. */
export async function setUpRuntime(requested?: number): Promise<RuntimeInfo> {
  // Its own chunk: ORT's thread workers load the module they came from, which must not be the page's code.
  const ort = await import('onnxruntime-web/wasm');
  // The .wasm ships with the app (no CDN); the glue code is in the bundle.
  ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, document.baseURI).href };
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
  const cores = navigator.hardwareConcurrency || 1;
  let threads = requested ?? Math.min(4, cores);
  let note: string | undefined;
  if (!isolated && threads > 1) {
    note =
      'WebAssembly threads are not available (the page is not cross-origin isolated: the server must send ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); running on 1 thread.';
    threads = 1;
  }
  ort.env.wasm.numThreads = threads;
  // Sessions run in ORT's proxy worker: each run is a message round trip, so the page paints
  // between training steps (a live loss curve) and stays responsive while a step runs.
  ort.env.wasm.proxy = true;
  ort.env.logLevel = 'error';
  useOrt(ort as unknown as OrtModule);
  return { threads, note, version: ort.env.versions?.web ?? 'unknown' };
}
