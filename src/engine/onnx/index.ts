/** ONNX serialisation of the graph IR. */
export { BASE_OPSET, MAX_OPSET, type OnnxExportOptions, elemTypeOf, irVersionFor, requiredOpset, saveOnnx, toInt64, toOnnxModel, writeFileAtomic } from './serialize.js';
export { type OnnxInitializer, type OnnxModelInfo, type OnnxNodeInfo, type OnnxTensorInfo, readOnnxMetadata, readOnnxModel } from './inspect.js';
export { ElemType } from './proto.js';
