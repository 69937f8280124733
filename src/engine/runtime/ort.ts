/**
 * The ONNX Runtime module the engine runs on. onnxruntime-node (CLI, library, tests) and
 * onnxruntime-web (the browser app) implement the same onnxruntime-common API, so the runtime
 * takes whichever module its entry point registers; nothing here imports a platform binding,
 * which keeps the engine loadable in a browser bundle.
 */
import type * as OrtCommon from 'onnxruntime-common';

/** The part of an ONNX Runtime package the engine uses. */
export interface OrtModule {
  readonly InferenceSession: typeof OrtCommon.InferenceSession;
  readonly Tensor: typeof OrtCommon.Tensor;
  readonly env: typeof OrtCommon.env;
}

export type OrtTensor = OrtCommon.Tensor;
export type OrtSession = OrtCommon.InferenceSession;
export type OrtSessionOptions = OrtCommon.InferenceSession.SessionOptions;

/** One entry of a cache of ORT-optimised models (see graph_cache.ts, the Node implementation). */
export interface GraphCacheEntry {
  readonly key: string;
  /** The cached optimised model, checked whole; undefined when absent or damaged (a damaged entry is removed). */
  read(): Uint8Array | undefined;
  /** A fresh file path for ORT's optimizedModelFilePath. */
  stagingPath(): string;
  /** Moves the optimised model ORT wrote to `staged` into the cache (atomically). */
  commit(staged: string): void;
  /** Removes a staged file that will not be committed. */
  discard(staged: string): void;
  /** Removes this entry (ORT could not load it). */
  drop(): void;
}

export interface GraphCache {
  /** Whether caching and in-process session reuse are on (read at every session creation). */
  enabled(): boolean;
  /** The name of a model's entry for these key parts (ORT version, optimisation level). */
  key(model: Uint8Array, parts: Readonly<Record<string, string>>): string;
  /** The entry, or undefined when the cache is off or unusable. */
  entry(key: string): GraphCacheEntry | undefined;
}

/** A tensor as it crosses a thread boundary (structured-clonable). */
export interface PlainTensor {
  readonly type: 'float32' | 'float64' | 'int64' | 'bool';
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

/** An ONNX Runtime session of its own on another thread (a data-parallel replica). */
export interface Replica {
  /** One run; rejects with the replica's error (the replica is unusable after a crash). */
  run(feeds: Readonly<Record<string, PlainTensor>>, fetch: readonly string[]): Promise<Record<string, PlainTensor>>;
  /** Stops the thread (idempotent). */
  terminate(): Promise<void>;
}

/** Starts replicas: a session over `model` with these options, each on its own thread. */
export interface ReplicaHost {
  /** Whether data-parallel training may use replicas (read at every run; Node: STMEDFM_DATA_PARALLEL, default on). */
  enabled(): boolean;
  spawn(model: Uint8Array, options: OrtSessionOptions): Promise<Replica>;
}

/** Platform services the runtime needs only for optional output files (profiles, optimised models). */
export interface OrtPlatform {
  /** Creates the folder a file will be written to (ORT does not). */
  prepareOutputFile?(path: string): void;
  /** A cache of optimised graphs on disk (Node); without it every session is compiled. */
  graphCache?: GraphCache;
  /** Sessions on other threads (Node worker_threads); without it there is no data-parallel training. */
  replicas?: ReplicaHost;
}

let current: { ort: OrtModule; platform: OrtPlatform } | undefined;

/** Registers the ONNX Runtime module every session and tensor is made with from now on. */
export function useOrt(ort: OrtModule, platform: OrtPlatform = {}): void {
  current = { ort, platform };
}

/** The registered ONNX Runtime module. */
export function ortModule(): OrtModule {
  if (!current) {
    throw new Error(
      "no ONNX Runtime registered: import 'src/engine/runtime/node.js' (Node) or call useOrt(await import('onnxruntime-web')) (browser) first",
    );
  }
  return current.ort;
}

export function ortPlatform(): OrtPlatform {
  return current?.platform ?? {};
}
