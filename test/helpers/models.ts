/** STMedFM's layout at sizes that train in milliseconds on 28-px data (shared by the training tests). */
import type { ModelConfig } from '../../src/model/config.js';

/** dim 8: the smallest that still learns the synthetic tasks. */
export const SMALL_28: ModelConfig = {
  name: 'small-test',
  dim: 8,
  heads: 2,
  depth: 1,
  mlpHidden: 16,
  lnEps: 1e-5,
  stem2d: { inChannels: 3, hidden: 4, imageSize: 28, patch: 7 },
  stem3d: { inChannels: 1, hidden: 2, volumeSize: 28, patch: 7 },
};

/** dim 16, for tests whose metrics need a model that separates the classes better. */
export const SMALL_28_WIDE: ModelConfig = {
  ...SMALL_28,
  dim: 16,
  mlpHidden: 32,
  stem2d: { ...SMALL_28.stem2d, hidden: 8 },
};
