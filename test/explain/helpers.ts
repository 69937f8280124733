/** Small STMedFM models for the saliency tests: random weights, sizes chosen for speed. */
import { type ModelConfig, STMEDFM_TINY, type TaskHead } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';

/** 3x3 tokens for 12-pixel images, 2x2x2 for 8-voxel volumes: small enough for finite differences of every token value. */
export const MICRO: ModelConfig = {
  name: 'micro',
  dim: 8,
  heads: 2,
  depth: 1,
  mlpHidden: 16,
  lnEps: 1e-5,
  stem2d: { inChannels: 3, hidden: 4, imageSize: 12, patch: 4 },
  stem3d: { inChannels: 1, hidden: 2, volumeSize: 8, patch: 4 },
};

/** STMedFM-Tiny's 28-pixel input and 7x7 token grid, with a narrower encoder (trains in seconds). */
export const NARROW: ModelConfig = {
  ...STMEDFM_TINY,
  name: 'narrow',
  dim: 32,
  heads: 2,
  depth: 1,
  mlpHidden: 64,
  stem2d: { ...STMEDFM_TINY.stem2d, hidden: 8 },
  stem3d: { ...STMEDFM_TINY.stem3d, hidden: 4 },
};

export const HEADS: TaskHead[] = [
  { name: 'bloodmnist', numClasses: 8, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];

export function randomModel(config: ModelConfig, seed = 0): { model: STMedFM; store: ParamStore } {
  const model = new STMedFM(config, HEADS);
  const store = ParamStore.init(model.specs(), seed);
  // LayerNorm affine parameters start at 1 / 0; perturb them so their gradient paths are exercised too.
  for (const name of store.names()) {
    if (!/\.(ln\w*|norm)\.(weight|bias)$/.test(name)) continue;
    const t = store.get(name);
    store.set(name, { ...t, data: Float64Array.from(t.data, (v, i) => v + 0.3 * Math.sin(7 * i + name.length)) });
  }
  return { model, store };
}
