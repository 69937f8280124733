/**
 * Drawing a saliency map: the token-grid map is upsampled (bilinear / trilinear with half-pixel
 * centres, as PyTorch's interpolate(align_corners=False) does) to the display size, coloured with
 * the turbo colour map and blended over the input, whose pixels are enlarged as crisp blocks.
 * Volumes become a montage of their slices along the first axis (depth), left to right, top to
 * bottom. Pure functions of arrays: the caller writes the PNG bytes (atomically).
 */
import { interpolateTurbo } from 'd3-scale-chromatic';
import { PNG } from 'pngjs';

/** Source coordinate of destination index i (half-pixel centres), clamped, as two taps and a weight. */
function taps(i: number, src: number, dst: number): [number, number, number] {
  const f = Math.min(src - 1, Math.max(0, ((i + 0.5) * src) / dst - 0.5));
  const i0 = Math.floor(f);
  return [i0, Math.min(src - 1, i0 + 1), f - i0];
}

/** Linear resampling of a row-major grid of any rank to `to` (one axis after another). */
export function resizeLinear(values: ArrayLike<number>, from: readonly number[], to: readonly number[]): Float64Array {
  if (from.length !== to.length) throw new Error(`resizeLinear: rank ${from.length} -> ${to.length}`);
  let cur = Float64Array.from(values);
  let shape = [...from];
  for (let axis = 0; axis < from.length; axis++) {
    const src = shape[axis]!;
    const dst = to[axis]!;
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const next = new Float64Array(outer * dst * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < dst; i++) {
        const [i0, i1, w] = taps(i, src, dst);
        for (let k = 0; k < inner; k++) {
          next[(o * dst + i) * inner + k] = (1 - w) * cur[(o * src + i0) * inner + k]! + w * cur[(o * src + i1) * inner + k]!;
        }
      }
    }
    cur = next;
    shape[axis] = dst;
  }
  return cur;
}

/** Scales to [0, 1] by the maximum (an all-zero map stays zero: no evidence anywhere). */
export function normaliseMax(values: ArrayLike<number>): Float64Array {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  return Float64Array.from(values, (v) => (max > 0 ? Math.max(0, v) / max : 0));
}

const TURBO: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(interpolateTurbo(i / 255));
    if (!m) throw new Error(`turbo colour map: unexpected colour string at ${i}`);
    lut.set([Number(m[1]), Number(m[2]), Number(m[3])], i * 3);
  }
  return lut;
})();

/** Largest weight of the heat colour over the image (where the map is 1); cold regions show the image. */
export const HEAT_ALPHA = 0.6;

export interface RgbImage {
  width: number;
  height: number;
  /** Row-major RGB bytes. */
  rgb: Uint8Array;
}

/**
 * One overlay tile: `image` enlarged `scale` times (nearest), with `heat` (values in [0, 1] on
 * the image's grid of `grid` cells) resampled to the tile and blended with weight HEAT_ALPHA * heat.
 */
export function overlayTile(image: RgbImage, heat: ArrayLike<number>, grid: readonly [number, number], scale: number): RgbImage {
  const W = image.width * scale;
  const H = image.height * scale;
  const h = resizeLinear(heat, grid, [H, W]);
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < W; x++) {
      const sx = Math.floor(x / scale);
      const v = Math.min(1, Math.max(0, h[y * W + x]!));
      const a = HEAT_ALPHA * v;
      const lut = Math.round(v * 255) * 3;
      for (let c = 0; c < 3; c++) {
        rgb[(y * W + x) * 3 + c] = Math.round((1 - a) * image.rgb[(sy * image.width + sx) * 3 + c]! + a * TURBO[lut + c]!);
      }
    }
  }
  return { width: W, height: H, rgb };
}

/** Tiles laid out `columns` to a row, separated by `gap` black pixels. All tiles have one size. */
export function montage(tiles: readonly RgbImage[], columns: number, gap = 2): RgbImage {
  const tw = tiles[0]!.width;
  const th = tiles[0]!.height;
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const W = cols * tw + (cols - 1) * gap;
  const H = rows * th + (rows - 1) * gap;
  const rgb = new Uint8Array(W * H * 3);
  tiles.forEach((t, i) => {
    const ox = (i % cols) * (tw + gap);
    const oy = Math.floor(i / cols) * (th + gap);
    for (let y = 0; y < th; y++) rgb.set(t.rgb.subarray(y * tw * 3, (y + 1) * tw * 3), ((oy + y) * W + ox) * 3);
  });
  return { width: W, height: H, rgb };
}

export function encodePng(img: RgbImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.width * img.height; p++) {
    png.data[p * 4] = img.rgb[p * 3]!;
    png.data[p * 4 + 1] = img.rgb[p * 3 + 1]!;
    png.data[p * 4 + 2] = img.rgb[p * 3 + 2]!;
    png.data[p * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** Model input value (normalised with mean 0.5, std 0.5) back to a display byte. */
const toByte = (v: number): number => Math.max(0, Math.min(255, Math.round((v * 0.5 + 0.5) * 255)));

/**
 * The overlay picture of one sample. `x` is the preprocessed sample in model layout: [C, H, W]
 * for images (C = 3; grayscale was repeated), [1, D, H, W] for volumes. `cam` is on `grid`.
 * Images: one tile; volumes: one tile per depth slice, 7 to a row. The map is normalised by its
 * maximum over the whole sample, so slices compare with each other.
 */
export function renderOverlay(x: ArrayLike<number>, sampleShape: readonly number[], cam: ArrayLike<number>, grid: readonly number[], opts: { scale?: number } = {}): RgbImage {
  const heat = normaliseMax(cam);
  if (sampleShape.length === 3) {
    const [C, H, W] = sampleShape as [number, number, number];
    const rgb = new Uint8Array(H * W * 3);
    for (let p = 0; p < H * W; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = toByte(x[Math.min(c, C - 1) * H * W + p]!);
    return overlayTile({ width: W, height: H, rgb }, heat, [grid[0]!, grid[1]!], opts.scale ?? 8);
  }
  const [, D, H, W] = sampleShape as [number, number, number, number];
  // Depth is resampled to the voxel grid first, so each slice gets its own (interpolated) map.
  const perSlice = resizeLinear(heat, grid, [D, grid[1]!, grid[2]!]);
  const cells = grid[1]! * grid[2]!;
  const tiles: RgbImage[] = [];
  for (let d = 0; d < D; d++) {
    const rgb = new Uint8Array(H * W * 3);
    for (let p = 0; p < H * W; p++) rgb.fill(toByte(x[d * H * W + p]!), p * 3, p * 3 + 3);
    tiles.push(overlayTile({ width: W, height: H, rgb }, perSlice.subarray(d * cells, (d + 1) * cells), [grid[1]!, grid[2]!], opts.scale ?? 4));
  }
  return montage(tiles, 7);
}
