/**
 * Model configurations. Sizes are data, not code: `stmedfm-tiny` is the SPEC's default and every
 * field can be overridden. The config is stored in checkpoints so a file always rebuilds its model.
 */
import { ModelError } from './errors.js';
export interface Stem2dConfig {
  /** Channels fed to the stem (grayscale images are repeated to this many). */
  inChannels: number;
  /** Channels of the first 3x3 conv. */
  hidden: number;
  /** Side of the square input image. */
  imageSize: number;
  /** Kernel = stride of the patchify conv. */
  patch: number;
}

export interface Stem3dConfig {
  inChannels: number;
  hidden: number;
  volumeSize: number;
  patch: number;
}

export interface ModelConfig {
  name: string;
  dim: number;
  heads: number;
  depth: number;
  mlpHidden: number;
  lnEps: number;
  stem2d: Stem2dConfig;
  stem3d: Stem3dConfig;
}

export const STMEDFM_TINY: ModelConfig = {
  name: 'stmedfm-tiny',
  dim: 64,
  heads: 4,
  depth: 2,
  mlpHidden: 256,
  lnEps: 1e-5,
  stem2d: { inChannels: 3, hidden: 32, imageSize: 28, patch: 4 },
  stem3d: { inChannels: 1, hidden: 16, volumeSize: 28, patch: 4 },
};

export const MODEL_CONFIGS: Readonly<Record<string, ModelConfig>> = {
  'stmedfm-tiny': STMEDFM_TINY,
  'stmedfm-small': {
    ...STMEDFM_TINY,
    name: 'stmedfm-small',
    dim: 128,
    depth: 4,
    mlpHidden: 512,
    stem2d: { ...STMEDFM_TINY.stem2d, hidden: 64 },
    stem3d: { ...STMEDFM_TINY.stem3d, hidden: 32 },
  },
};

export type Modality = '2d' | '3d';

/** What the model needs to know of a task: its head size, which stem feeds it, and its output kind. */
export interface TaskHead {
  name: string;
  /** Classes (softmax head), or labels for a multi-label head. */
  numClasses: number;
  modality: Modality;
  /** Independent binary labels (ChestMNIST): sigmoid outputs and binary cross-entropy. */
  multiLabel?: boolean;
  /**
   * Class (or label) names of a task defined by its own data file rather than the MedMNIST
   * registry, so a checkpoint alone can name its predictions.
   */
  classNames?: string[];
  /** Input colour of such a 2D task (1 grayscale, 3 RGB), so a checkpoint alone can preprocess images. */
  channels?: 1 | 3;
}

export function tokensPerSample(cfg: ModelConfig, modality: Modality): number {
  if (modality === '2d') return (cfg.stem2d.imageSize / cfg.stem2d.patch) ** 2;
  return (cfg.stem3d.volumeSize / cfg.stem3d.patch) ** 3;
}

/** The 2D image sizes STMedFM takes: MedMNIST (28 px) and the MedMNIST+ sizes. */
export const IMAGE_SIZES: readonly number[] = [28, 64, 128, 224];

/**
 * 3D data is 28^3 only: MedMNIST+'s 64^3 volumes would need patch 8 (512 tokens, 10x the 343 of
 * 28^3 in attention) and a first conv over 8x the voxels; the data layer refuses them.
 */
export const VOLUME_SIZES: readonly number[] = [28];

/**
 * Kernel = stride of the 2D patchify conv for images of side `size`: the token grid stays 7 a side
 * (or 8, for a side that is not a multiple of 7), i.e. 28 -> 4 (7x7 tokens, the SPEC default),
 * 64 -> 8, 128 -> 16, 224 -> 32.
 *
 * Why fixed tokens rather than a fixed patch: attention cost grows with the square of the token
 * count, and at the SPEC's width every other part of a block is per token. 64 px with patch 4
 * would be 256 tokens (5.2x the 49 of 28 px), so each training step would cost about 5x more and
 * the attention weights alone 27x; keeping the grid at 7-8 a side keeps the encoder's cost that
 * of 28 px, and a larger image costs only in the stem (its convs and a larger `c2` kernel).
 */
export function patchForImageSize(size: number): number {
  if (!IMAGE_SIZES.includes(size)) {
    throw new ModelError(`image size ${size} px is not supported; use one of ${IMAGE_SIZES.join(', ')} (MedMNIST 28, MedMNIST+ 64/128/224)`);
  }
  const grid = size % 7 === 0 ? 7 : 8;
  return size / grid;
}

/** `base` at 2D image size `size` (patch from patchForImageSize); the same config object at `base`'s own size. */
export function withImageSize(base: ModelConfig, size: number): ModelConfig {
  if (base.stem2d.imageSize === size) return base;
  return { ...base, stem2d: { ...base.stem2d, imageSize: size, patch: patchForImageSize(size) } };
}

export function validateConfig(cfg: ModelConfig): void {
  const problems: string[] = [];
  if (cfg.dim % cfg.heads !== 0) problems.push(`dim ${cfg.dim} is not divisible by heads ${cfg.heads}`);
  if (cfg.stem2d.imageSize % cfg.stem2d.patch !== 0) problems.push(`2D image size ${cfg.stem2d.imageSize} is not a multiple of patch ${cfg.stem2d.patch}`);
  if (cfg.stem3d.volumeSize % cfg.stem3d.patch !== 0) problems.push(`3D volume size ${cfg.stem3d.volumeSize} is not a multiple of patch ${cfg.stem3d.patch}`);
  for (const [k, v] of Object.entries({ dim: cfg.dim, heads: cfg.heads, depth: cfg.depth, mlpHidden: cfg.mlpHidden })) {
    if (!Number.isInteger(v) || v <= 0) problems.push(`${k} must be a positive integer, got ${v}`);
  }
  if (problems.length) throw new ModelError(`invalid model config '${cfg.name}': ${problems.join('; ')}`);
}
