/**
 * The engine runs on whichever ONNX Runtime module is registered: the same TrainingSession runs a
 * training step of STMedFM-Tiny on onnxruntime-node and on onnxruntime-web (its wasm backend, in
 * Node), with equal losses, and the registered module is the one used.
 */
import * as ortNode from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { trainStepRunner } from '../../src/bench/bench.js';
import { type OrtModule, ortModule, useOrt } from '../../src/engine/runtime/ort.js';
import { floatTensor } from '../../src/engine/runtime/tensors.js';

async function threeLosses(): Promise<number[]> {
  const r = await trainStepRunner('pathmnist', 4, { threads: 1 });
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) losses.push((await r.run()).loss);
  await r.release();
  return losses;
}

describe('runtime injection', () => {
  afterEach(() => useOrt(ortNode));

  it('runs the same training steps on onnxruntime-web as on onnxruntime-node', async () => {
    const onNode = await threeLosses();
    const ortWeb = (await import('onnxruntime-web')) as unknown as OrtModule;
    ortWeb.env.wasm.numThreads = 1;
    useOrt(ortWeb);
    expect(ortModule()).toBe(ortWeb);
    expect(floatTensor(new Float32Array(2), [2])).toBeInstanceOf(ortWeb.Tensor);
    const onWeb = await threeLosses();
    expect(onNode[2]).toBeLessThan(onNode[0]!);
    for (let i = 0; i < 3; i++) expect(Math.abs(onWeb[i]! - onNode[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(onNode[i]!)));
  });

});
