/**
 * The model's 2D image size must be the data's: a 64-px file cannot feed a 28-px model's stem (its
 * patch conv and position embedding are shaped for 7x7 tokens of 28 px). Training from scratch
 * takes the data's size; a checkpoint keeps its own, so other data is refused with the fix.
 */
import { basename } from 'node:path';
import { type TaskSplit, howToGetSize } from '../data/index.js';
import { type ModelConfig, withImageSize } from '../model/config.js';
import { UserError } from './errors.js';

/** The one 2D image size of these splits (volumes are always 28^3 and do not count); undefined without 2D data. */
export function dataImageSize(splits: readonly TaskSplit[]): number | undefined {
  const images = splits.filter((s) => s.info.dim === 2);
  const sizes = [...new Set(images.map((s) => s.imageSize))];
  if (sizes.length > 1) {
    const each = images.map((s) => `${s.task} ${s.imageSize} px (${basename(s.file)})`);
    throw new UserError(`the 2D tasks' images have different sizes (${[...new Set(each)].join(', ')}); one model takes one image size: use files of one size (\`stmedfm data import ... --size N\`)`);
  }
  return sizes[0];
}

/** `base` at the data's image size (scratch training and pretraining take the data's size). */
export function configForData(base: ModelConfig, splits: readonly TaskSplit[]): ModelConfig {
  const size = dataImageSize(splits);
  return size === undefined ? base : withImageSize(base, size);
}

/**
 * Refuses a model (from a checkpoint: `what`) whose 2D image size is not the data's, in one line
 * naming both sizes and the two fixes.
 */
export function checkImageSizeFits(config: ModelConfig, split: TaskSplit, what: string): void {
  if (split.info.dim !== 2) return;
  const m = config.stem2d.imageSize;
  const d = split.imageSize;
  if (m === d) return;
  throw new UserError(
    `${what} is a ${m}-px model, but ${basename(split.file)} has ${d}-px images (${split.task}); ` +
      `use ${m}-px data (${howToGetSize(m)}), or a model of ${d} px (\`stmedfm pretrain\` on the ${d}-px files, then start from it)`,
  );
}
