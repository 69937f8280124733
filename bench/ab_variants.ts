/** Named engine switches for bench/ab.ts: each applies its settings and returns an undo. */
import { convLowering } from '../src/engine/ops/conv/lower.js';

type Variant = () => () => void;

function withConv(patch: Partial<typeof convLowering>): Variant {
  return () => {
    const saved = { ...convLowering };
    Object.assign(convLowering, patch);
    return () => Object.assign(convLowering, saved);
  };
}

export const VARIANTS: Record<string, Variant> = {
  base: () => () => {},
  rowsFwd: withConv({ patchConv: 'rows' }),
  rowsBwdX: withConv({ patchConvTranspose: 'rows' }),
  rowsW: withConv({ patchWeightGrad: 'rows' }),
  rowsAll: withConv({ patchConv: 'rows', patchConvTranspose: 'rows', patchWeightGrad: 'rows' }),
};
