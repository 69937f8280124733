/** Canvas views: a slice of the (preprocessed) input and the training-loss curve. */
import type { RgbImage } from '../../src/explain/overlay.js';
import type { ModelInput } from '../../src/inference/input.js';

/** Draws slice `z` of a volume [1,1,D,H,W] or a 2D image [1,C,H,W]; values are in [-1, 1] after normalisation. */
export function drawSlice(canvas: HTMLCanvasElement, input: ModelInput, z: number): void {
  const s = input.shape;
  const volume = s.length === 5;
  const h = s[s.length - 2]!;
  const w = s[s.length - 1]!;
  const c = volume ? 1 : s[1]!;
  const img = new ImageData(w, h);
  const plane = h * w;
  const off = volume ? z * plane : 0;
  for (let p = 0; p < plane; p++) {
    for (let k = 0; k < 3; k++) {
      const v = input.data[(c === 3 ? k * plane : 0) + off + p]!;
      img.data[p * 4 + k] = Math.round((v * 0.5 + 0.5) * 255);
    }
    img.data[p * 4 + 3] = 255;
  }
  const tmp = document.createElement('canvas');
  tmp.width = w;
  tmp.height = h;
  tmp.getContext('2d')!.putImageData(img, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

export function drawLoss(canvas: HTMLCanvasElement, losses: readonly number[], total: number): void {
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(30.5, 5.5, W - 36, H - 26);
  if (!losses.length) return;
  const max = Math.max(...losses);
  const min = Math.min(0, ...losses);
  const x = (i: number): number => 31 + ((W - 38) * i) / Math.max(1, total - 1);
  const y = (v: number): number => 6 + (H - 28) * (1 - (v - min) / (max - min || 1));
  ctx.fillStyle = '#555';
  ctx.font = '11px sans-serif';
  ctx.fillText(max.toFixed(2), 0, 14);
  ctx.fillText(min.toFixed(2), 0, H - 22);
  ctx.fillText('step', W / 2, H - 4);
  ctx.strokeStyle = '#3b82f6';
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
}

/**
 * Draws an overlay picture (from src/explain's renderOverlay) at its own size. For a volume's
 * montage (tiles of `tile` px, 7 to a row, 2 px apart) only the tile of slice `z` is drawn.
 */
export function drawOverlay(canvas: HTMLCanvasElement, img: RgbImage, tile?: { size: number; z: number }): void {
  const w = tile ? tile.size : img.width;
  const h = tile ? tile.size : img.height;
  const ox = tile ? (tile.z % 7) * (tile.size + 2) : 0;
  const oy = tile ? Math.floor(tile.z / 7) * (tile.size + 2) : 0;
  canvas.width = w;
  canvas.height = h;
  const data = new ImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = ((oy + y) * img.width + ox + x) * 3;
      const dst = (y * w + x) * 4;
      data.data[dst] = img.rgb[src]!;
      data.data[dst + 1] = img.rgb[src + 1]!;
      data.data[dst + 2] = img.rgb[src + 2]!;
      data.data[dst + 3] = 255;
    }
  }
  canvas.getContext('2d')!.putImageData(data, 0, 0);
}
