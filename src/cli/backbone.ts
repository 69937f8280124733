/**
 * What `finetune --from` means: by default the packaged pretrained STMedFM-Tiny (so the first
 * fine-tune needs one command), `none` for random weights, or a checkpoint file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Method } from '../model/stmedfm.js';
import { UserError } from '../training/errors.js';
import { packageRoot } from './common.js';

/** The packaged backbone (see data/pretrained/MODEL_CARD.md). */
export function packagedBackbone(): string {
  return join(packageRoot(), 'data', 'pretrained', 'stmedfm-tiny.safetensors');
}

export interface StartingPoint {
  /** The method actually run (`full --from none` is `scratch`). */
  method: Method;
  /** Checkpoint to start from, if any. */
  from?: string;
  /** One line for the user: which weights the run starts from. */
  note: string;
}

export function startingPoint(method: Method, from: string | undefined): StartingPoint {
  const none = from?.toLowerCase() === 'none';
  if (method === 'scratch' || method === 'scratch-weighted') {
    if (from !== undefined && !none) {
      throw new UserError(`--method ${method} trains from random weights and does not use --from; drop --from, or use --method full (or lora/adapter) to start from ${from}`);
    }
    return { method, note: 'starting from random weights' };
  }
  if (none) {
    if (method === 'full') return { method: 'scratch', note: '--from none: every weight trained from random initialisation (the same as --method scratch)' };
    throw new UserError(
      `--method ${method} --from none: ${method === 'lora' ? 'LoRA trains' : 'adapters train'} a few small matrices on top of FROZEN pretrained weights, which from random weights cannot learn the task; ` +
        'use --method full --from none (= --method scratch) to train from random weights, or drop --from to start from the packaged pretrained backbone',
    );
  }
  if (from === undefined) {
    const p = packagedBackbone();
    if (!existsSync(p)) throw new UserError(`the packaged pretrained backbone ${p} is missing (an incomplete install?); pass --from FILE.safetensors, or --from none`);
    return { method, from: p, note: `starting from the packaged pretrained backbone ${p} (STMedFM-Tiny; see data/pretrained/MODEL_CARD.md, non-commercial licence)` };
  }
  return { method, from, note: `starting from ${from}` };
}
