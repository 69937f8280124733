/**
 * Runs an ONNX model written by `stmedfm export` on one split of an `.npz` with plain
 * onnxruntime-node (no STMedFM code on the inference path except reading the .npz), and prints its
 * accuracy and the class names from the model's metadata. Measurement helper for docs/any-task.md:
 *   npx tsx scripts/any_task/onnx_accuracy.ts MODEL.onnx FILE.npz [split]
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { NpzFile } from '../../src/data/npz.js';
import { toIntArray } from '../../src/data/npy.js';
import { readOnnxMetadata } from '../../src/engine/onnx/index.js';

const [model, file, split = 'test'] = process.argv.slice(2);
if (!model || !file) throw new Error('usage: onnx_accuracy.ts MODEL.onnx FILE.npz [split]');
const meta = readOnnxMetadata(readFileSync(model));
const npz = NpzFile.open(file);
const images = npz.read(`${split}_images`);
const labels = toIntArray(npz.read(`${split}_labels`), 'labels');
const [n, h, w, c = 1] = images.shape as number[];
const px = images.data as Uint8Array;
// The preprocessing recorded in the model's metadata: x/255, (x-0.5)/0.5, gray -> 3 channels, HWC -> CHW.
const x = new Float32Array(n! * 3 * h! * w!);
for (let i = 0; i < n!; i++) {
  for (let ch = 0; ch < 3; ch++) {
    for (let p = 0; p < h! * w!; p++) {
      const v = px[(i * h! * w! + p) * c + (c === 3 ? ch : 0)]! / 255;
      x[((i * 3 + ch) * h! * w!) + p] = (v - 0.5) / 0.5;
    }
  }
}
const session = await ort.InferenceSession.create(model);
const out = await session.run({ x: new ort.Tensor('float32', x, [n!, 3, h!, w!]) });
const probs = out.probabilities!.data as Float32Array;
const k = probs.length / n!;
let correct = 0;
for (let i = 0; i < n!; i++) {
  let best = 0;
  for (let j = 1; j < k; j++) if (probs[i * k + j]! > probs[i * k + best]!) best = j;
  if (best === labels[i]) correct++;
}
console.log(JSON.stringify({ model, split, n, accuracy: correct / n!, class_names: JSON.parse(meta['stmedfm.labels'] ?? 'null') }));
