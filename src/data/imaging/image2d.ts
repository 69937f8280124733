/**
 * 2D decoding from bytes (PNG 1-16 bit, grayscale/RGB/palette/alpha, via fast-png; baseline and
 * progressive JPEG via jpeg-js) and the colour conversions MedMNIST files need. The format is
 * recognised by its signature, not by the file name, so a JPEG named `.png` still decodes (and
 * the caller is told, see {@link DecodedImage.note}).
 */
import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { DataError } from '../errors.js';

/** An 8-bit interleaved image [height, width, channels], channels 1 (gray) or 3 (RGB). */
export interface Image8 {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

export interface DecodedImage extends Image8 {
  readonly format: 'png' | 'jpeg';
  /** Bits per sample of the source (16 for 16-bit PNG, scaled to 8 bits here). */
  readonly bitDepth: number;
  /** Something the user should know (e.g. the content did not match the file name). */
  readonly note?: string;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_SIG.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

function describeUnknown(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'an empty file (0 bytes)';
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 16));
  if (head.startsWith('GIF8')) return 'a GIF image (convert it to PNG)';
  if (head.startsWith('BM')) return 'a BMP image (convert it to PNG)';
  if (head.startsWith('II*') || head.startsWith('MM\0*')) return 'a TIFF image (convert it to PNG)';
  if (bytes.length > 132 && new TextDecoder('latin1').decode(bytes.subarray(128, 132)) === 'DICM') return 'a DICOM file (use a 3D manifest for DICOM series)';
  if (/^\s*</.test(head)) return 'an HTML/XML text file';
  return `not a PNG or JPEG (first bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`;
}

/** Scales any PNG sample depth to 0..255 (16-bit: round(v * 255 / 65535), as a linear rescale). */
function to8(v: number, depth: number): number {
  if (depth === 8) return v;
  const max = 2 ** depth - 1;
  return Math.round((v * 255) / max);
}

/**
 * Decodes PNG or JPEG bytes to 8-bit gray or RGB. Alpha is dropped (as PIL's `convert('RGB')`
 * does), palettes are expanded. `name` is only used in messages.
 */
export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  const kind = sniffImage(bytes);
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (!kind) throw new DataError(`${name}: cannot decode: ${describeUnknown(bytes)}`);
  const claimed = ext === 'png' ? 'png' : ext === 'jpg' || ext === 'jpeg' ? 'jpeg' : undefined;
  const note = claimed && claimed !== kind ? `${name}: named .${ext} but is a ${kind.toUpperCase()} file; decoded as ${kind.toUpperCase()}` : undefined;
  try {
    if (kind === 'png') {
      const png = decodePng(bytes);
      const { width, height, depth } = png;
      let ch = png.channels;
      let src = png.data as ArrayLike<number>;
      let d: number = depth;
      if (png.palette) {
        // indexed: expand to RGB
        const pal = png.palette;
        const rgb = new Uint8Array(width * height * 3);
        for (let p = 0; p < width * height; p++) {
          const e = pal[src[p]!] ?? [0, 0, 0];
          rgb[p * 3] = e[0]!;
          rgb[p * 3 + 1] = e[1]!;
          rgb[p * 3 + 2] = e[2]!;
        }
        src = rgb;
        ch = 3;
        d = 8;
      }
      const outCh: 1 | 3 = ch >= 3 ? 3 : 1;
      const out = new Uint8Array(width * height * outCh);
      for (let p = 0; p < width * height; p++) for (let c = 0; c < outCh; c++) out[p * outCh + c] = to8(src[p * ch + c]!, d);
      return { width, height, channels: outCh, data: out, format: 'png', bitDepth: depth, ...(note ? { note } : {}) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    const n = img.width * img.height;
    const ch = img.data.length / n;
    if (ch === 3) return { width: img.width, height: img.height, channels: 3, data: img.data, format: 'jpeg', bitDepth: 8, ...(note ? { note } : {}) };
    // jpeg-js writes RGB for colour and gray JPEGs alike when not asked for RGBA; keep the general case
    const out = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = img.data[p * ch + Math.min(c, ch - 1)]!;
    return { width: img.width, height: img.height, channels: 3, data: out, format: 'jpeg', bitDepth: 8, ...(note ? { note } : {}) };
  } catch (e) {
    if (e instanceof DataError) throw e;
    const msg = (e as Error).message ?? String(e);
    throw new DataError(`${name}: corrupt or truncated ${kind.toUpperCase()} (${msg})`);
  }
}

/** PIL's `convert('L')`: ITU-R 601-2 luma in 16-bit fixed point, rounded. */
export function rgbToGray(img: Image8): Image8 {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const d = img.data;
  for (let p = 0; p < n; p++) out[p] = (d[p * 3]! * 19595 + d[p * 3 + 1]! * 38470 + d[p * 3 + 2]! * 7471 + 0x8000) >>> 16;
  return { width: img.width, height: img.height, channels: 1, data: out };
}

/** PIL's `convert('RGB')` from gray: the value copied to all three channels. */
export function grayToRgb(img: Image8): Image8 {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = img.data[p]!;
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Crops the box [left, top, left + w, top + h) (must lie inside the image). */
export function cropImage(img: Image8, left: number, top: number, w: number, h: number): Image8 {
  const out = new Uint8Array(w * h * img.channels);
  const rowBytes = w * img.channels;
  for (let y = 0; y < h; y++) {
    const s = ((top + y) * img.width + left) * img.channels;
    out.set(img.data.subarray(s, s + rowBytes), y * rowBytes);
  }
  return { width: w, height: h, channels: img.channels, data: out };
}

/** Pads to w x h with `fill`, the image centred (extra pixel right/bottom). */
export function padImage(img: Image8, w: number, h: number, fill = 0): Image8 {
  const out = new Uint8Array(w * h * img.channels).fill(fill);
  const left = Math.floor((w - img.width) / 2);
  const top = Math.floor((h - img.height) / 2);
  const rowBytes = img.width * img.channels;
  for (let y = 0; y < img.height; y++) out.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * w + left) * img.channels);
  return { width: w, height: h, channels: img.channels, data: out };
}

/** The centred n x n box (n at most the shorter side); offsets rounded down. */
export function centerCropImage(img: Image8, n: number): Image8 {
  const w = Math.min(n, img.width);
  const h = Math.min(n, img.height);
  return cropImage(img, Math.floor((img.width - w) / 2), Math.floor((img.height - h) / 2), w, h);
}
