import { describe, expect, it } from 'vitest';
import { HEAT_ALPHA, montage, normaliseMax, overlayTile, renderOverlay, resizeLinear } from '../../src/explain/overlay.js';

describe('drawing the map', () => {
  it('resamples like PyTorch interpolate(bilinear, align_corners=False)', () => {
    // torch.nn.functional.interpolate(torch.tensor([[[[0.,1],[2,3]]]]), size=(4,4), mode='bilinear', align_corners=False)
    const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
    expect(Array.from(resizeLinear([0, 1, 2, 3], [2, 2], [4, 4]))).toEqual(want);
    // trilinear is the same one axis at a time: a ramp along depth only stays a ramp along depth
    const vol = resizeLinear([0, 0, 0, 0, 1, 1, 1, 1], [2, 2, 2], [4, 2, 2]);
    expect(Array.from(vol.filter((_, i) => i % 4 === 0))).toEqual([0, 0.25, 0.75, 1]);
  });

  it('normalises by the maximum, and an all-zero map stays zero', () => {
    expect(Array.from(normaliseMax([0, 2, 4]))).toEqual([0, 0.5, 1]);
    expect(Array.from(normaliseMax([0, 0]))).toEqual([0, 0]);
  });

  it('blends the heat colour where the map is high and leaves the image where it is zero', () => {
    const grey = { width: 2, height: 2, rgb: new Uint8Array(12).fill(128) };
    const t = overlayTile(grey, [1, 0, 0, 0], [2, 2], 4); // heat in the top-left cell only
    expect([t.width, t.height]).toEqual([8, 8]);
    const px = (x: number, y: number) => Array.from(t.rgb.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    expect(px(7, 7)).toEqual([128, 128, 128]);
    const hot = px(0, 0); // turbo at 1 is dark red: rgb(144, 12, 0)
    expect(hot).toEqual([144, 12, 0].map((c) => Math.round((1 - HEAT_ALPHA) * 128 + HEAT_ALPHA * c)));
  });

  it('lays slices out 7 to a row with gaps, and renders a volume as its 28 depth slices', () => {
    const tile = (v: number) => ({ width: 1, height: 1, rgb: Uint8Array.of(v, v, v) });
    const m = montage([tile(10), tile(20), tile(30)], 2, 1);
    expect([m.width, m.height]).toEqual([3, 3]);
    expect(m.rgb[0]).toBe(10);
    expect(m.rgb[2 * 3]).toBe(20);
    expect(m.rgb[(2 * 3 + 0) * 3]).toBe(30);
    const vol = renderOverlay(new Float32Array(28 ** 3), [1, 28, 28, 28], new Float64Array(343), [7, 7, 7]);
    expect([vol.width, vol.height]).toEqual([7 * 112 + 12, 4 * 112 + 6]);
    // a zero map leaves the (mid-grey: normalised 0) input as it is
    expect(vol.rgb[0]).toBe(128);
  });
});
