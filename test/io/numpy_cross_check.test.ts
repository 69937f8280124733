/**
 * Our safetensors files against an independent numpy reader and writer
 * (test/io/fixtures/numpy_safetensors.py, run once with /usr/bin/python3; results committed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bfloat16, float16, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { CROSS_CHECK_METADATA, CROSS_CHECK_TENSORS, FIXTURE_PATH } from './fixtures/cross_check.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

interface NumpyView {
  metadata: Record<string, string> | null;
  order: string[];
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
}

describe('numpy cross-check', () => {
  it('our writer still produces the exact bytes numpy checked', () => {
    const bytes = serializeSafetensors(CROSS_CHECK_TENSORS, CROSS_CHECK_METADATA);
    expect(Buffer.from(bytes).equals(readFileSync(FIXTURE_PATH))).toBe(true);
  });

  it('numpy decoded the values we meant to write', () => {
    const seen = JSON.parse(fixture('ts_written.numpy.json').toString('utf8')) as NumpyView;
    expect(seen.metadata).toEqual(CROSS_CHECK_METADATA);
    expect(seen.order).toEqual(['labels', 'step', 'stem2d.pos', 'blocks.0.qkv.lora_A.weight', 'brain', 'half', 'mask']);
    for (const [name, t] of Object.entries(CROSS_CHECK_TENSORS)) {
      const got = seen.tensors[name]!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      const data = Array.from(t.data as ArrayLike<number>);
      const want =
        t.dtype === 'F32' ? data.map(Math.fround)
        : t.dtype === 'F16' ? data.map((v) => float16.decode(float16.encode(v)))
        : t.dtype === 'BF16' ? data.map((v) => bfloat16.decode(bfloat16.encode(v)))
        : data;
      expect(got.values).toEqual(want);
    }
  });

  it('our reader accepts a file laid out differently by numpy (name order, unpadded header)', () => {
    const expected = JSON.parse(fixture('numpy_written.json').toString('utf8')) as {
      metadata: Record<string, string>;
      tensors: Record<string, { shape: number[]; values: number[] }>;
    };
    const file = parseSafetensors(fixture('numpy_written.safetensors'), 'numpy_written.safetensors');
    expect(file.metadata).toEqual(expected.metadata);
    expect([...file.tensors.keys()]).toEqual(['a.weight', 'b.count', 'c.scale', 'd.flags']);
    for (const [name, t] of Object.entries(expected.tensors)) {
      expect(file.tensors.get(name)!.shape).toEqual(t.shape);
      expect([...file.tensors.get(name)!.data]).toEqual(t.values);
    }
  });
});
