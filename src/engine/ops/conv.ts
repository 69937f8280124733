/** Convolutions for 1, 2 and 3 spatial dims: Conv, ConvTranspose and the conv weight gradient. */
export {
  ConvOp,
  ConvTransposeOp,
  ConvWeightGradOp,
  conv,
  convTranspose,
  convWeightGrad,
  convParamGrads,
  type ConvAttrs,
  type ConvTransposeAttrs,
  type ConvWeightGradAttrs,
} from './conv/ops.js';
export type { ConvGeometry, ConvOptions, ConvTransposeOptions } from './conv/geometry.js';
export { convLowering, type ForwardLowering, type WeightGradLowering, type PatchWeightGradLowering, type PatchForwardLowering } from './conv/lower.js';
