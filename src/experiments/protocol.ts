/**
 * The paper's protocol as a resolved, serialisable config (every value is a flag). Every list is
 * an axis of the experiment grid: tasks x methods x seeds x shots, and for LoRA runs x rank x
 * alpha, for adapter runs x width. How a run executes (threads, jobs, executor) is not part of the
 * protocol: it does not change what a run is, and it is recorded with each result instead.
 */
import { IMAGE_SIZES } from '../model/config.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA } from '../model/peft.js';
import { METHODS, type Method } from '../model/stmedfm.js';
import { UserError } from '../training/errors.js';
import { DEFAULT_LR } from '../training/workflows.js';

export interface ProtocolConfig {
  tasks: string[];
  methods: Method[];
  seeds: number[];
  pretrainSteps: number;
  finetuneSteps2d: number;
  finetuneSteps3d: number;
  batch2d: number;
  batch3d: number;
  pretrainLr: number;
  lr: Record<Method, number>;
  warmup: number;
  weightDecay: number;
  /** Few-shot sizes (k training examples per class); null = the whole train split. */
  shots: (number | null)[];
  loraRank: number[];
  loraAlpha: number[];
  adapterWidth: number[];
  model: string;
  /**
   * 2D image sizes (px), a grid axis: each size has its own pretraining, and its fine-tuning runs
   * start from it. Absent means 28 only (the SPEC protocol), so a default protocol, its
   * config.json and its run keys are exactly what they were before this axis existed.
   * Volumes are 28^3 at every size.
   */
  imageSizes?: number[];
}

/** The protocol's image sizes (28 when it has no image-size axis). */
export const imageSizesOf = (p: ProtocolConfig): number[] => p.imageSizes ?? [28];

export const DEFAULT_PROTOCOL: ProtocolConfig = {
  tasks: ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'],
  methods: [...METHODS],
  seeds: [0, 1, 2],
  pretrainSteps: 200,
  finetuneSteps2d: 120,
  finetuneSteps3d: 50,
  batch2d: 64,
  batch3d: 16,
  pretrainLr: 1e-3,
  lr: { ...DEFAULT_LR },
  warmup: 10,
  weightDecay: 0.05,
  shots: [null],
  loraRank: [DEFAULT_LORA.r],
  loraAlpha: [DEFAULT_LORA.alpha],
  adapterWidth: [DEFAULT_ADAPTER.bottleneck],
  model: 'stmedfm-tiny',
};

function noRepeats(name: string, xs: readonly unknown[]): void {
  if (!xs.length) throw new UserError(`${name} is empty`);
  if (new Set(xs).size !== xs.length) throw new UserError(`${name} lists a value twice`);
}

function positiveInts(name: string, xs: readonly number[]): void {
  noRepeats(name, xs);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new UserError(`${name} must be positive integers, e.g. 4,8`);
}

export function validateProtocol(p: ProtocolConfig): void {
  if (!p.tasks.length) throw new UserError('--tasks is empty');
  if (!p.methods.length) throw new UserError('--methods is empty');
  for (const m of p.methods) if (!METHODS.includes(m)) throw new UserError(`unknown method '${m}' in --methods; choose from ${METHODS.join(', ')}`);
  if (!p.seeds.length || p.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UserError(`--seeds must be non-negative integers, e.g. 0,1,2`);
  if (new Set(p.seeds).size !== p.seeds.length) throw new UserError('--seeds lists a seed twice');
  if (new Set(p.tasks).size !== p.tasks.length) throw new UserError('--tasks lists a task twice');
  if (new Set(p.methods).size !== p.methods.length) throw new UserError('--methods lists a method twice');
  noRepeats('--shots', p.shots);
  if (p.shots.some((k) => k !== null && (!Number.isInteger(k) || k < 1))) throw new UserError('--shots must be positive integers or "all", e.g. 1,5,all');
  positiveInts('--lora-rank', p.loraRank);
  if (p.loraAlpha.some((a) => !(a > 0))) throw new UserError('--lora-alpha must be positive numbers, e.g. 8,16');
  noRepeats('--lora-alpha', p.loraAlpha);
  positiveInts('--adapter-width', p.adapterWidth);
  if (p.imageSizes !== undefined) {
    noRepeats('--image-size', p.imageSizes);
    const bad = p.imageSizes.find((s) => !IMAGE_SIZES.includes(s));
    if (bad !== undefined) throw new UserError(`--image-size ${bad}: use sizes from ${IMAGE_SIZES.join(', ')} (MedMNIST 28, MedMNIST+ 64/128/224), e.g. 28,64`);
  }
}

/** The grid point of one fine-tuning run besides task, method and seed. */
export interface GridPoint {
  shots: number | null;
  loraRank: number | null;
  loraAlpha: number | null;
  adapterWidth: number | null;
}

const same = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A run's name: task-method[-<size>px][-k<shots>][-r<rank>a<alpha>][-w<width>]-s<seed>. An axis appears
 * in the name only when the protocol sets it away from the default, so the default protocol keeps
 * its short names; the full identity (every axis) is in each run's record (run_key).
 */
export function runId(p: ProtocolConfig, task: string, method: Method, seed: number, g: GridPoint, imageSize?: number): string {
  let id = `${task}-${method}`;
  if (p.imageSizes !== undefined && imageSize !== undefined) id += `-${imageSize}px`;
  if (!same(p.shots, DEFAULT_PROTOCOL.shots)) id += `-k${g.shots ?? 'all'}`;
  if (method === 'lora' && !(same(p.loraRank, DEFAULT_PROTOCOL.loraRank) && same(p.loraAlpha, DEFAULT_PROTOCOL.loraAlpha))) id += `-r${g.loraRank}a${g.loraAlpha}`;
  if (method === 'adapter' && !same(p.adapterWidth, DEFAULT_PROTOCOL.adapterWidth)) id += `-w${g.adapterWidth}`;
  return `${id}-s${seed}`;
}
