/**
 * Image size as a config value: the patch rule (token grid 7-8 a side) and exact parameter counts
 * at MedMNIST+ sizes, computed by hand from the layer shapes of SPEC section 3.
 */
import { describe, expect, it } from 'vitest';
import { STMEDFM_TINY, parameterCounts, patchForImageSize, tokensPerSample, withImageSize, type TaskHead } from '../../src/model/index.js';
import { runCli } from '../helpers/cli.js';

const heads: TaskHead[] = [
  { name: 'pathmnist', numClasses: 9, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];

/** stem2d by hand: c1 3x3 conv 3->32, c2 patch conv 32->64 (kernel p), pos [1, tokens, 64], LayerNorm. */
function stem2dByHand(size: number, p: number): number {
  const c1 = 3 * 32 * 3 * 3 + 32;
  const c2 = 32 * 64 * p * p + 64;
  const pos = (size / p) ** 2 * 64;
  const ln = 2 * 64;
  return c1 + c2 + pos + ln;
}

describe('image size in the model config', () => {
  it('keeps the token grid at 7-8 a side', () => {
    expect([28, 64, 128, 224].map(patchForImageSize)).toEqual([4, 8, 16, 32]);
    expect([28, 64, 128, 224].map((s) => tokensPerSample(withImageSize(STMEDFM_TINY, s), '2d'))).toEqual([49, 64, 64, 49]);
    expect(() => patchForImageSize(32)).toThrow(/image size 32 px is not supported/);
  });

  it('28 px is the SPEC default config itself', () => {
    expect(withImageSize(STMEDFM_TINY, 28)).toBe(STMEDFM_TINY);
    expect(stem2dByHand(28, 4)).toBe(36_992);
  });

  it('exact counts at 64 px (hand-computed)', () => {
    const c = parameterCounts(withImageSize(STMEDFM_TINY, 64), heads);
    // c1 896 + c2 32*64*8*8+64 = 131,136 + pos 64*64 = 4,096 + ln 128
    expect(c.stem2d).toBe(896 + 131_136 + 4_096 + 128);
    expect(c.stem2d).toBe(stem2dByHand(64, 8));
    expect(c.stem3d).toBe(88_128);
    expect(c.encoder).toBe(100_096);
    expect(c.trainable.pathmnist!.full).toBe(stem2dByHand(64, 8) + 100_096 + 585);
    // PEFT trains only encoder-side matrices and the head: the image size does not change them.
    expect(c.trainable.pathmnist!.lora).toBe(3_657);
    expect(c.trainable.pathmnist!.adapter).toBe(4_969);
  });

  it('exact counts at 128 and 224 px', () => {
    for (const [s, p] of [[128, 16], [224, 32]] as const) {
      expect(parameterCounts(withImageSize(STMEDFM_TINY, s), heads).stem2d).toBe(stem2dByHand(s, p));
    }
  });

  it('`info --image-size 64` prints the counts', () => {
    const r = runCli(['info', '--image-size', '64', '--json', '--tasks', 'pathmnist']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.model.stem2d).toEqual({ inChannels: 3, hidden: 32, imageSize: 64, patch: 8 });
    expect(j.parameters.stem2d).toBe(136_256);
    expect(j.parameters.trainable.pathmnist.full).toBe(136_256 + 100_096 + 585);
    const bad = runCli(['info', '--image-size', '48']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^stmedfm: error: --image-size 48: use one of 28, 64, 128, 224/);
  });
});
