/**
 * ONNX Runtime sessions: option defaults, feed conversion and the forward (evaluation) session.
 */
import type { FloatPrecision } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { toOnnxModel, type OnnxExportOptions } from '../onnx/serialize.js';
import { type OrtSession, type OrtSessionOptions, type OrtTensor, ortModule, ortPlatform } from './ort.js';
import { type Feed, type OrtType, fromOrt, isOrtTensor, toOrt } from './tensors.js';

export interface RuntimeOptions {
  /** Intra-op threads (default 1). Inter-op parallelism is off: steps are one sequential graph. */
  threads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Turns on ORT's profiler; the JSON trace goes to `<prefix>_<timestamp>.json` when the session ends profiling. */
  profilePrefix?: string;
  /** Writes the model after ORT's graph optimisations (for inspecting fusions in Netron). */
  optimizedModelPath?: string;
  /** ORT log level: 0 verbose .. 4 fatal (default 3: errors only; ORT warns about harmless things such as unused initializers). */
  logLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Compile once: load ORT's optimised model from the platform's graph cache (on disk, Node) and
   * store it there on a miss; a TrainingSession also reuses an idle session of the same model in
   * this process. Meant for graphs whose weights are inputs (training steps), which many runs
   * share; a graph holding its weights as initializers is unique to one model and would only
   * fill the cache. Ignored for model files and with `optimizedModelPath`.
   */
  cache?: boolean;
}

/** Where a session's compiled graph came from. */
export type SessionOrigin = 'compiled' | 'compiled, cached' | 'disk cache' | 'reused';

const counts = { compiled: 0, cached: 0, loaded: 0, reused: 0, damaged: 0 };

/**
 * Session creations since the process started (or the last reset): compiled (ORT optimised the
 * graph), cached (of those, stored in the graph cache), loaded (from the graph cache), reused
 * (an idle in-process session) and damaged (cache entries ORT could not load, recompiled).
 */
export function sessionCacheCounts(reset = false): Readonly<typeof counts> {
  const c = { ...counts };
  if (reset) for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] = 0;
  return c;
}

export function sessionOptions(opts: RuntimeOptions = {}): OrtSessionOptions {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`session: threads must be a positive integer, got ${threads}`);
  const o: OrtSessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: opts.logLevel ?? 3,
  };
  if (opts.profilePrefix) {
    o.enableProfiling = true;
    o.profileFilePrefix = opts.profilePrefix;
  }
  if (opts.optimizedModelPath) o.optimizedModelFilePath = opts.optimizedModelPath;
  return o;
}

/** An ONNX Runtime session over model bytes or a model file. */
export async function createSession(model: Uint8Array | string, opts: RuntimeOptions = {}): Promise<OrtSession> {
  return (await openSession(model, opts)).session;
}

/** The graph-cache key of model bytes under these options, when caching applies. */
export function sessionCacheKey(model: Uint8Array | string, opts: RuntimeOptions): string | undefined {
  const cache = ortPlatform().graphCache;
  const level = opts.graphOptimization ?? 'all';
  if (!opts.cache || !cache?.enabled() || typeof model === 'string' || opts.optimizedModelPath || level === 'disabled') return undefined;
  return cache.key(model, { ort: JSON.stringify(ortModule().env.versions), level });
}

/**
 * Like `createSession`, also saying where the compiled graph came from. `key` is the model's
 * `sessionCacheKey` when the caller has it already (hashing the model bytes again is wasted work).
 */
export async function openSession(
  model: Uint8Array | string,
  opts: RuntimeOptions = {},
  key: string | undefined = sessionCacheKey(model, opts),
): Promise<{ session: OrtSession; origin: SessionOrigin }> {
  const so = sessionOptions(opts);
  // ORT does not create the folders of its output files.
  for (const p of [opts.profilePrefix, opts.optimizedModelPath]) if (p) ortPlatform().prepareOutputFile?.(p);
  const { InferenceSession } = ortModule();
  const entry = key ? ortPlatform().graphCache!.entry(key) : undefined;
  if (typeof model === 'string' || !entry) {
    counts.compiled++;
    return { session: typeof model === 'string' ? await InferenceSession.create(model, so) : await InferenceSession.create(model, so), origin: 'compiled' };
  }
  const optimised = entry.read();
  if (optimised) {
    try {
      // Already optimised for this ORT, level and CPU: optimising again would only cost time.
      const session = await InferenceSession.create(optimised, { ...so, graphOptimizationLevel: 'disabled' });
      counts.loaded++;
      return { session, origin: 'disk cache' };
    } catch {
      counts.damaged++;
      entry.drop(); // whole (checksum matched) but not loadable: compile and replace it
    }
  }
  const staged = entry.stagingPath();
  let session: OrtSession;
  try {
    session = await InferenceSession.create(model, { ...so, optimizedModelFilePath: staged });
  } catch {
    // Writing the optimised model may be what failed (a full disk): the cache must never fail a run.
    entry.discard(staged);
    counts.compiled++;
    return { session: await InferenceSession.create(model, so), origin: 'compiled' };
  }
  counts.compiled++;
  try {
    entry.commit(staged);
    counts.cached++;
    return { session, origin: 'compiled, cached' };
  } catch {
    entry.discard(staged);
    return { session, origin: 'compiled' };
  }
}

// Idle sessions of cached graphs, for the next run of the same graph in this process. One is
// enough for the runs that share a graph (scratch, scratch-weighted, full of a task run one
// after another), and an idle session holds its memory arena, so no more are kept.
const IDLE_SESSIONS = 1;
const idle = new Map<string, OrtSession>();

/** The in-process reuse key: the graph's cache key (`sessionCacheKey`) and the session options (threads...). */
export function reuseKey(cacheKey: string | undefined, opts: RuntimeOptions): string | undefined {
  if (opts.profilePrefix) return undefined; // a profiled session writes its own trace
  return cacheKey && `${cacheKey}:${JSON.stringify(sessionOptions(opts))}`;
}

/** Takes the idle session parked under `key`, if any. */
export function takeIdleSession(key: string): OrtSession | undefined {
  const s = idle.get(key);
  if (s) {
    idle.delete(key);
    counts.reused++;
  }
  return s;
}

/** Keeps a session that is done for reuse (releasing the oldest idle one beyond the limit), or releases it when reuse is off. */
export async function parkSession(key: string, session: OrtSession): Promise<void> {
  if (!ortPlatform().graphCache?.enabled()) return session.release();
  const old = idle.get(key);
  idle.delete(key);
  if (old) await old.release();
  idle.set(key, session);
  while (idle.size > IDLE_SESSIONS) {
    const [k, s] = idle.entries().next().value!;
    idle.delete(k);
    await s.release();
  }
}

/** Releases every idle session (tests, benchmarks, before exit to free memory early). */
export async function releaseIdleSessions(): Promise<void> {
  const all = [...idle.values()];
  idle.clear();
  for (const s of all) await s.release();
}

/** Model bytes from bytes, a file path, or a graph (serialised with `exportOpts`). */
export function modelSource(model: Uint8Array | string | Graph, exportOpts: OnnxExportOptions = {}): Uint8Array | string {
  if (typeof model === 'string' || model instanceof Uint8Array) return model;
  return toOnnxModel(model, exportOpts);
}

/** Declared element types of a session's tensor inputs, by name. */
export function inputTypes(session: OrtSession): Map<string, OrtType> {
  const types = new Map<string, OrtType>();
  for (const m of session.inputMetadata) {
    if (!m.isTensor) continue;
    const t = m.type;
    if (t === 'float32' || t === 'float64' || t === 'int64' || t === 'bool') types.set(m.name, t);
  }
  return types;
}

/** Converts host feeds by the session's declared input types; rejects unknown names and type mismatches. */
export function convertFeeds(
  session: OrtSession,
  types: ReadonlyMap<string, OrtType>,
  feeds: Readonly<Record<string, Feed>>,
): Record<string, OrtTensor> {
  const out: Record<string, OrtTensor> = {};
  for (const [name, v] of Object.entries(feeds)) {
    const type = types.get(name);
    if (!type) throw new Error(`session: '${name}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
    if (isOrtTensor(v)) {
      if (v.type !== type) throw new Error(`session: input '${name}' is ${type}, fed a ${v.type} tensor`);
      out[name] = v;
    } else {
      out[name] = toOrt(v, type, `input '${name}'`);
    }
  }
  for (const name of session.inputNames) {
    if (!(name in out)) throw new Error(`session: input '${name}' was not fed`);
  }
  return out;
}

export interface ForwardSessionOptions extends RuntimeOptions {
  /** Precision used when the model is given as a graph (default float32). */
  precision?: FloatPrecision;
  /** Metadata written when the model is given as a graph. */
  metadata?: Readonly<Record<string, string>>;
}

/** A forward/evaluation graph (typically with a symbolic batch dim): feeds in, named outputs out. */
export class ForwardSession {
  private constructor(
    readonly session: OrtSession,
    private readonly types: Map<string, OrtType>,
  ) {}

  static async create(model: Uint8Array | string | Graph, opts: ForwardSessionOptions = {}): Promise<ForwardSession> {
    const src = modelSource(model, { precision: opts.precision ?? 'float32', metadata: opts.metadata });
    const session = await createSession(src, opts);
    return new ForwardSession(session, inputTypes(session));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** One run; `outputs` limits what is fetched (default: every output). */
  async run(feeds: Readonly<Record<string, Feed>>, outputs?: readonly string[]): Promise<Record<string, OrtTensor>> {
    const f = convertFeeds(this.session, this.types, feeds);
    const res = outputs ? await this.session.run(f, [...outputs]) : await this.session.run(f);
    return res as Record<string, OrtTensor>;
  }

  /** Like `run`, with outputs converted to HostTensors (float64 data). */
  async runHost(feeds: Readonly<Record<string, Feed>>, outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    const res = await this.run(feeds, outputs);
    return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, fromOrt(v)]));
  }

  /** Ends ORT profiling (when enabled) and writes the trace file. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
