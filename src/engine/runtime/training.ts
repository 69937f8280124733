/**
 * A training step as ONE ONNX Runtime run.
 *
 * The step graph takes the trainable parameters and the optimizer state as inputs ("carried"
 * tensors) and returns their next values as outputs. The session keeps the carried tensors on
 * the host, feeds them with the batch and the step scalars, and swaps in the outputs after each
 * run. Nothing is copied on the way: the arrays ORT returns become the next step's feeds.
 */
import type { FloatPrecision } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { numel } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import type { OrtSession, OrtTensor } from './ort.js';
import { type RuntimeOptions, type SessionOrigin, convertFeeds, inputTypes, modelSource, openSession, parkSession, reuseKey, sessionCacheKey, takeIdleSession } from './session.js';
import { type Feed, type FloatArray, type OrtType, floatTensor, scalarOf, scalarTensor } from './tensors.js';

/** One tensor carried from step to step: read from `input`, replaced by `output`. */
export interface CarriedSpec {
  readonly input: string;
  readonly output: string;
  readonly shape: readonly number[];
  /** Parameters must be initialised by the caller; optimizer state defaults to zeros. */
  readonly kind: 'param' | 'state';
}

/** How a training graph is driven; produced by `buildTrainingGraph` (engine/optim). */
export interface TrainingSpec {
  readonly carried: readonly CarriedSpec[];
  /** Name of the scalar loss output. */
  readonly loss: string;
  /** Scalar float input for the learning rate, fed every step (absent if the graph has none). */
  readonly lr?: string;
  /** Scalar float input for the 1-based step number t (PyTorch's `state['step']` after its increment). */
  readonly step?: string;
}

export interface TrainingSessionOptions extends RuntimeOptions {
  /** Precision when the model is given as a graph (default float32). */
  precision?: FloatPrecision;
  metadata?: Readonly<Record<string, string>>;
}

export interface StepOptions {
  /** Learning rate of this step (required when the spec has an lr input). */
  lr?: number;
  /** Extra outputs to return (e.g. 'logits'). */
  fetch?: readonly string[];
}

export interface StepResult {
  loss: number;
  /** The extra outputs requested with `fetch`. */
  outputs: Record<string, OrtTensor>;
}

export type InitValue = FloatArray | HostTensor | readonly number[];

const isHostTensor = (v: InitValue): v is HostTensor => !ArrayBuffer.isView(v) && !Array.isArray(v);

export class TrainingSession {
  private readonly values = new Map<string, FloatArray>();
  private readonly byName = new Map<string, CarriedSpec>();
  private floatType: 'float32' | 'float64' = 'float32';
  private done = 0;
  private released = false;

  private constructor(
    readonly session: OrtSession,
    readonly spec: TrainingSpec,
    private readonly types: Map<string, OrtType>,
    /** Where the compiled graph came from (compiled, the disk cache, an idle session of this process). */
    readonly origin: SessionOrigin,
    private readonly reuse: string | undefined,
  ) {}

  /**
   * Opens a session over the step graph. `init` gives every parameter's initial value and may
   * give optimizer state (e.g. when resuming); state not given starts at zero. With
   * `opts.cache` the graph comes from the graph cache or an idle session of the same graph
   * (everything a run carries is fed at each step, so a reused session starts clean).
   */
  static async create(
    model: Uint8Array | string | Graph,
    spec: TrainingSpec,
    init: Readonly<Record<string, InitValue>>,
    opts: TrainingSessionOptions = {},
  ): Promise<TrainingSession> {
    // The lowering depends on the thread count (sums as MatMul only with more than one thread).
    const src = modelSource(model, { precision: opts.precision ?? 'float32', metadata: opts.metadata, intraOpThreads: opts.threads ?? 1 });
    const cacheKey = sessionCacheKey(src, opts);
    const reuse = reuseKey(cacheKey, opts);
    const parked = reuse ? takeIdleSession(reuse) : undefined;
    const { session, origin } = parked ? { session: parked, origin: 'reused' as const } : await openSession(src, opts, cacheKey);
    const ts = new TrainingSession(session, spec, inputTypes(session), origin, reuse);
    ts.validate();
    for (const c of spec.carried) {
      const v = init[c.input];
      if (v !== undefined) ts.set(c.input, v);
      else if (c.kind === 'state') ts.values.set(c.input, ts.alloc(numel(c.shape)));
      else throw new Error(`TrainingSession: no initial value for parameter '${c.input}'`);
    }
    for (const name of Object.keys(init)) {
      if (!ts.byName.has(name)) throw new Error(`TrainingSession: initial value for '${name}', which is not a carried tensor`);
    }
    return ts;
  }

  private validate(): void {
    const { spec, session, types } = this;
    const outs = new Set(session.outputNames);
    let floatType: 'float32' | 'float64' | undefined;
    for (const c of spec.carried) {
      if (this.byName.has(c.input)) throw new Error(`TrainingSession: '${c.input}' is carried twice`);
      this.byName.set(c.input, c);
      const t = types.get(c.input);
      if (t !== 'float32' && t !== 'float64') throw new Error(`TrainingSession: carried '${c.input}' is not a float input of the model (${t ?? 'missing'})`);
      if (floatType && t !== floatType) throw new Error(`TrainingSession: carried tensors mix float32 and float64`);
      floatType = t;
      if (!outs.has(c.output)) throw new Error(`TrainingSession: carried '${c.input}' maps to '${c.output}', which is not an output of the model`);
    }
    if (floatType) this.floatType = floatType;
    if (!outs.has(spec.loss)) throw new Error(`TrainingSession: loss output '${spec.loss}' is not an output of the model`);
    for (const s of [spec.lr, spec.step]) {
      if (s !== undefined && !types.has(s)) throw new Error(`TrainingSession: scalar input '${s}' is not an input of the model`);
    }
  }

  private alloc(n: number): FloatArray {
    return this.floatType === 'float64' ? new Float64Array(n) : new Float32Array(n);
  }

  /** Number of steps run so far; the next step is fed step = steps + 1. Settable when resuming. */
  get steps(): number {
    return this.done;
  }

  set steps(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`TrainingSession: steps must be a non-negative integer, got ${n}`);
    this.done = n;
  }

  /** Names of the carried tensors, optionally only parameters or only optimizer state. */
  names(kind?: 'param' | 'state'): string[] {
    return this.spec.carried.filter((c) => !kind || c.kind === kind).map((c) => c.input);
  }

  /** One optimisation step: a single ORT run. Returns the loss (before the update) and any fetched outputs. */
  async step(feeds: Readonly<Record<string, Feed>>, opts: StepOptions = {}): Promise<StepResult> {
    const { spec } = this;
    for (const name of Object.keys(feeds)) {
      if (this.byName.has(name) || name === spec.lr || name === spec.step) {
        throw new Error(`TrainingSession.step: '${name}' is managed by the session; feed only the batch`);
      }
    }
    const all: Record<string, Feed> = { ...feeds };
    for (const c of spec.carried) all[c.input] = floatTensor(this.values.get(c.input)!, c.shape);
    if (spec.lr !== undefined) {
      if (opts.lr === undefined || !Number.isFinite(opts.lr)) throw new Error(`TrainingSession.step: a finite lr is required, got ${opts.lr}`);
      all[spec.lr] = scalarTensor(opts.lr, this.floatType);
    }
    if (spec.step !== undefined) all[spec.step] = scalarTensor(this.done + 1, this.floatType);

    const fetch = new Set<string>([spec.loss, ...spec.carried.map((c) => c.output), ...(opts.fetch ?? [])]);
    const res = (await this.session.run(convertFeeds(this.session, this.types, all), [...fetch])) as Record<string, OrtTensor>;
    for (const c of spec.carried) {
      const t = res[c.output]!;
      this.values.set(c.input, t.data as FloatArray);
    }
    this.done++;
    const outputs: Record<string, OrtTensor> = {};
    for (const name of opts.fetch ?? []) outputs[name] = res[name]!;
    return { loss: scalarOf(res[spec.loss]!), outputs };
  }

  /** A copy of a carried tensor's current value. */
  get(name: string): FloatArray {
    const v = this.values.get(name);
    if (!v) throw new Error(`TrainingSession.get: '${name}' is not a carried tensor (have: ${this.names().join(', ')})`);
    return v.slice();
  }

  /** Replaces a carried tensor's value (copied; length must match). */
  set(name: string, value: InitValue): void {
    const c = this.byName.get(name);
    if (!c) throw new Error(`TrainingSession.set: '${name}' is not a carried tensor`);
    const data: ArrayLike<number> = isHostTensor(value) ? value.data : value;
    const n = numel(c.shape);
    if (data.length !== n) throw new Error(`TrainingSession.set: '${name}' has shape [${c.shape.join(',')}] (${n} values), got ${data.length}`);
    const arr = this.alloc(n);
    arr.set(data);
    this.values.set(name, arr);
  }

  /** Copies of all (or all parameter / all state) carried tensors, for checkpoints. */
  snapshot(kind?: 'param' | 'state'): Record<string, FloatArray> {
    return Object.fromEntries(this.names(kind).map((n) => [n, this.get(n)]));
  }

  /** Sets several carried tensors at once (e.g. from a checkpoint). */
  load(values: Readonly<Record<string, InitValue>>): void {
    for (const [k, v] of Object.entries(values)) this.set(k, v);
  }

  endProfiling(): void {
    this.session.endProfiling();
  }

  /** Ends the session; one of a cached graph stays idle for the next run of the same graph in this process. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.reuse) await parkSession(this.reuse, this.session);
    else await this.session.release();
  }
}
