/**
 * STMedFM: modality-specific conv stems (2D, 3D) feeding a shared pre-norm transformer encoder,
 * one linear head per task. Reads top to bottom: parameter layout, then the forward pass.
 * Parameter names are PyTorch state-dict names (see SPEC section 3).
 */
import { ModelError } from './errors.js';
import type { Value } from '../engine/ir/graph.js';
import * as op from '../engine/ops/index.js';
import { type ModelConfig, type Modality, type TaskHead, tokensPerSample, validateConfig } from './config.js';
import { type BuildContext, conv, convSpecs, inChunks, layerNorm, layerNormSpecs, linear, linearSpecs } from './layers.js';
import { type ParamSpec, numelOf } from './params.js';
import { type PeftConfig, adapterSlots, loraScale, validatePeft } from './peft.js';

export type Method = 'scratch' | 'scratch-weighted' | 'full' | 'lora' | 'adapter';
export const METHODS: readonly Method[] = ['scratch', 'scratch-weighted', 'full', 'lora', 'adapter'];

const stemName = (m: Modality) => (m === '2d' ? 'stem2d' : 'stem3d');

export class STMedFM {
  readonly headsByName: ReadonlyMap<string, TaskHead>;

  constructor(
    readonly config: ModelConfig,
    readonly heads: readonly TaskHead[],
    readonly peft?: PeftConfig,
  ) {
    validateConfig(config);
    if (peft) validatePeft(peft);
    const m = new Map<string, TaskHead>();
    for (const h of heads) {
      if (m.has(h.name)) throw new ModelError(`task '${h.name}' is listed twice`);
      const least = h.multiLabel ? 1 : 2;
      if (!Number.isInteger(h.numClasses) || h.numClasses < least) throw new ModelError(`task '${h.name}': numClasses must be an integer >= ${least}, got ${h.numClasses}`);
      m.set(h.name, h);
    }
    this.headsByName = m;
  }

  head(task: string): TaskHead {
    const h = this.headsByName.get(task);
    if (!h) throw new ModelError(`unknown task '${task}' for this model; its heads are: ${[...this.headsByName.keys()].join(', ') || '(none)'}`);
    return h;
  }

  // ---- parameter layout ----

  stemSpecs(m: Modality): ParamSpec[] {
    const c = this.config;
    const s = m === '2d' ? c.stem2d : c.stem3d;
    const rank = m === '2d' ? 2 : 3;
    const p = stemName(m);
    return [
      ...convSpecs(`${p}.c1`, s.inChannels, s.hidden, 3, rank),
      ...convSpecs(`${p}.c2`, s.hidden, c.dim, s.patch, rank),
      { name: `${p}.pos`, shape: [1, tokensPerSample(c, m), c.dim], init: { kind: 'normal', std: 0.02 }, decay: false },
      ...layerNormSpecs(`${p}.ln`, c.dim),
    ];
  }

  encoderSpecs(): ParamSpec[] {
    const { dim, mlpHidden, depth } = this.config;
    const specs: ParamSpec[] = [];
    for (let i = 0; i < depth; i++) {
      const b = `blocks.${i}`;
      specs.push(
        ...layerNormSpecs(`${b}.ln1`, dim),
        ...linearSpecs(`${b}.qkv`, dim, 3 * dim),
        ...linearSpecs(`${b}.proj`, dim, dim),
        ...layerNormSpecs(`${b}.ln2`, dim),
        ...linearSpecs(`${b}.fc1`, dim, mlpHidden),
        ...linearSpecs(`${b}.fc2`, mlpHidden, dim),
      );
    }
    specs.push(...layerNormSpecs('norm', dim));
    return specs;
  }

  headSpecs(task: string): ParamSpec[] {
    return linearSpecs(`heads.${task}`, this.config.dim, this.head(task).numClasses);
  }

  /** LoRA / adapter parameters (empty without a PEFT config). */
  peftSpecs(): ParamSpec[] {
    const p = this.peft;
    if (!p) return [];
    const { dim, mlpHidden, depth } = this.config;
    const dims: Record<string, [number, number]> = { qkv: [dim, 3 * dim], proj: [dim, dim], fc1: [dim, mlpHidden], fc2: [mlpHidden, dim] };
    const specs: ParamSpec[] = [];
    for (let i = 0; i < depth; i++) {
      if (p.kind === 'lora') {
        for (const t of p.targets) {
          const [inF, outF] = dims[t]!;
          specs.push(
            // peft's init: A kaiming-uniform, B zero, so the update starts at exactly 0.
            { name: `blocks.${i}.${t}.lora_A.weight`, shape: [p.r, inF], init: { kind: 'fanInUniform', fanIn: inF }, decay: true },
            { name: `blocks.${i}.${t}.lora_B.weight`, shape: [outF, p.r], init: { kind: 'const', value: 0 }, decay: true },
          );
        }
      } else {
        for (const slot of adapterSlots(p)) {
          specs.push(
            ...linearSpecs(`blocks.${i}.${slot}.down`, dim, p.bottleneck),
            ...linearSpecs(`blocks.${i}.${slot}.up`, p.bottleneck, dim, { zero: true }),
          );
        }
      }
    }
    return specs;
  }

  /** Every parameter of the model: both stems, the encoder, all heads and any PEFT parameters. */
  specs(): ParamSpec[] {
    return [
      ...this.stemSpecs('2d'),
      ...this.stemSpecs('3d'),
      ...this.encoderSpecs(),
      ...this.heads.flatMap((h) => this.headSpecs(h.name)),
      ...this.peftSpecs(),
    ];
  }

  /** Names trained when fine-tuning `task` with `method`. */
  trainableSpecs(task: string, method: Method): ParamSpec[] {
    const head = this.headSpecs(task);
    switch (method) {
      case 'scratch':
      case 'scratch-weighted':
      case 'full':
        return [...this.stemSpecs(this.head(task).modality), ...this.encoderSpecs(), ...head];
      case 'lora':
      case 'adapter':
        if (this.peft?.kind !== method) throw new ModelError(`method '${method}' needs a model built with a ${method} config`);
        return [...this.peftSpecs(), ...head];
    }
  }

  /** Parameters trained by multi-task pretraining on `tasks`. */
  pretrainSpecs(tasks: readonly string[]): ParamSpec[] {
    const mods = new Set(tasks.map((t) => this.head(t).modality));
    return [
      ...(mods.has('2d') ? this.stemSpecs('2d') : []),
      ...(mods.has('3d') ? this.stemSpecs('3d') : []),
      ...this.encoderSpecs(),
      ...tasks.flatMap((t) => this.headSpecs(t)),
    ];
  }

  // ---- forward ----

  /** Stem: image/volume batch -> tokens [B, T, dim]. */
  stem(ctx: BuildContext, x: Value, m: Modality): Value {
    const p = stemName(m);
    const c = this.config;
    const s = m === '2d' ? c.stem2d : c.stem3d;
    const rank = m === '2d' ? 2 : 3;
    const expected = [s.inChannels, ...Array<number>(rank).fill(m === '2d' ? c.stem2d.imageSize : c.stem3d.volumeSize)];
    if (x.rank !== rank + 2 || expected.some((d, i) => x.shape[i + 1] !== d)) {
      throw new ModelError(`${p}: expected input [batch,${expected.join(',')}], got [${x.shape.join(',')}]`);
    }
    // The stem's first activation is its largest: [B, hidden, ...spatial].
    const perSample = s.hidden * expected.slice(1).reduce((a, b) => a * b, 1);
    return ctx.graph.scope(p, () => {
      let h = inChunks('stem', [x], perSample, ([xc]) => {
        const h1 = op.gelu(conv(ctx, `${p}.c1`, xc!, { stride: 1, pad: 1 }));
        const h2 = conv(ctx, `${p}.c2`, h1, { stride: s.patch, pad: 0 }); // [B, dim, t, t(, t)]
        return op.transpose(op.reshape(h2, [0, c.dim, -1]), [0, 2, 1]); // flatten(2).transpose(1, 2)
      });
      h = op.add(h, ctx.param(`${p}.pos`));
      return layerNorm(ctx, `${p}.ln`, h, c.lnEps);
    });
  }

  /** A Linear layer with its LoRA update when one is attached: x W^T + b + scale * x A^T B^T. */
  peftLinear(ctx: BuildContext, name: string, x: Value): Value {
    const y = linear(ctx, name, x);
    const a = `${name}.lora_A.weight`;
    if (!ctx.has(a) || this.peft?.kind !== 'lora') return y;
    const down = op.matmul(x, op.transpose(ctx.param(a), [1, 0]));
    const up = op.matmul(down, op.transpose(ctx.param(`${name}.lora_B.weight`), [1, 0]));
    return op.add(y, op.mul(up, loraScale(this.peft)));
  }

  /** Bottleneck adapter x + up(GELU(down(x))) when attached at this slot. */
  private adapter(ctx: BuildContext, prefix: string, x: Value): Value {
    if (!ctx.has(`${prefix}.down.weight`)) return x;
    return op.add(x, linear(ctx, `${prefix}.up`, op.gelu(linear(ctx, `${prefix}.down`, x))));
  }

  private attention(ctx: BuildContext, b: string, x: Value): Value {
    const { dim, heads } = this.config;
    const dh = dim / heads;
    const qkv = this.peftLinear(ctx, `${b}.qkv`, x); // [B, T, 3*dim]
    const toHeads = (t: Value) => op.transpose(op.reshape(t, [0, 0, heads, dh]), [0, 2, 1, 3]); // [B, H, T, dh]
    const [q, k, v] = op.split(qkv, [dim, dim, dim], -1).map(toHeads) as [Value, Value, Value];
    const ctxv = op.attention(q, k, v, 1 / Math.sqrt(dh)); // softmax(q k^T / sqrt(dh)) v: [B, H, T, dh]
    const merged = op.reshape(op.transpose(ctxv, [0, 2, 1, 3]), [0, 0, dim]);
    return this.peftLinear(ctx, `${b}.proj`, merged);
  }

  block(ctx: BuildContext, i: number, x: Value): Value {
    const b = `blocks.${i}`;
    const { heads, mlpHidden } = this.config;
    const T = x.shape[1] as number;
    // The largest per-sample activations of a block: attention weights [H, T, T], MLP hidden [T, mlp].
    return ctx.graph.scope(b, () => inChunks('block', [x], Math.max(heads * T * T, T * mlpHidden), ([xc]) => this.blockBody(ctx, b, xc!)));
  }

  private blockBody(ctx: BuildContext, b: string, x: Value): Value {
    const eps = this.config.lnEps;
    const a = this.adapter(ctx, `${b}.ad1`, this.attention(ctx, b, layerNorm(ctx, `${b}.ln1`, x, eps)));
    const h = op.add(x, a);
    const mlp = this.peftLinear(ctx, `${b}.fc2`, op.gelu(this.peftLinear(ctx, `${b}.fc1`, layerNorm(ctx, `${b}.ln2`, h, eps))));
    return op.add(h, this.adapter(ctx, `${b}.ad2`, mlp));
  }

  /** Tokens [B, T, dim] -> pooled features [B, dim]. */
  encode(ctx: BuildContext, tokens: Value): Value {
    let h = tokens;
    for (let i = 0; i < this.config.depth; i++) h = this.block(ctx, i, h);
    return op.reduceMean(layerNorm(ctx, 'norm', h, this.config.lnEps), [1]);
  }

  classify(ctx: BuildContext, features: Value, task: string): Value {
    this.head(task);
    return linear(ctx, `heads.${task}`, features);
  }

  /** Images/volumes of one task -> logits [B, classes]. */
  logits(ctx: BuildContext, x: Value, task: string): Value {
    return this.classify(ctx, this.encode(ctx, this.stem(ctx, x, this.head(task).modality)), task);
  }
}

export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((n, s) => n + numelOf(s.shape), 0);
}
