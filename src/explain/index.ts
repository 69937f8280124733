/** Saliency maps for predictions: Grad-CAM on the token map, run by ONNX Runtime, drawn as PNG overlays. */
export * from './gradcam.js';
export * from './saliency.js';
export * from './overlay.js';
export * from './target.js';
