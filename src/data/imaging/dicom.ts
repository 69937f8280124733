/**
 * A DICOM series (one file per slice) from bytes, via dicom-parser. Slices are sorted by their
 * position along the slice normal; rescale slope/intercept are applied (CT -> Hounsfield units).
 * Refused, each with its reason: files of more than one series, differing orientation or slice
 * size, a gap in the slice positions (a missing file), compressed transfer syntaxes.
 *
 * The affine is built in RAS+ from Image Position/Orientation (Patient), which DICOM gives in
 * LPS+, so its first two rows are negated — the same affine dcm2niix and nibabel produce.
 */
import openjpeg from '@cornerstonejs/codec-openjpeg/decode';
import dicomParser from 'dicom-parser';
import { DataError } from '../errors.js';
import type { Mat4, Volume } from './volume.js';

export interface NamedBytes {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);
const JPEG2000 = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91']);

type J2K = Awaited<ReturnType<typeof openjpeg>>;
/** An Emscripten OpenJPEG module factory (the `decode` or `decodewasmjs` build of @cornerstonejs/codec-openjpeg). */
export type Jpeg2000Factory = typeof openjpeg;
let factory: Jpeg2000Factory = openjpeg;
let j2k: Promise<J2K> | undefined;
/**
 * Chooses the OpenJPEG build. The default is the asm.js build (no .wasm file to locate, so it
 * loads in Node and browsers alike); hosts that can locate the WebAssembly build pass its
 * factory here for ~4x faster JPEG 2000 slices (Node does so in data/import/read.ts; a browser
 * passes one whose `locateFile` finds `openjpegwasm_decode.wasm`).
 */
export function setJpeg2000Codec(f: Jpeg2000Factory): void {
  factory = f;
  j2k = undefined;
}
function jpeg2000(): Promise<J2K> {
  j2k ??= factory({ print: () => {}, printErr: () => {} });
  return j2k;
}

async function decodeJ2k(frame: Uint8Array, name: string, rows: number, cols: number): Promise<{ view: DataView; bits: number; signed: boolean }> {
  const m = await jpeg2000();
  const dec = new m.J2KDecoder();
  try {
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const fi = dec.getFrameInfo();
    if (fi.width !== cols || fi.height !== rows || fi.componentCount !== 1) throw new DataError(`${name}: the JPEG 2000 frame is ${fi.width}x${fi.height}x${fi.componentCount}, the header says ${cols}x${rows}x1`);
    const out = dec.getDecodedBuffer().slice();
    return { view: new DataView(out.buffer), bits: fi.bitsPerSample > 8 ? 16 : 8, signed: fi.isSigned };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${name}: corrupt JPEG 2000 pixel data (${(e as Error).message ?? String(e)})`);
  } finally {
    dec.delete?.();
  }
}

interface Slice {
  readonly name: string;
  readonly series: string;
  readonly rows: number;
  readonly cols: number;
  readonly ipp: number[];
  readonly iop: number[];
  readonly spacing: number[]; // [between rows, between columns]
  readonly pixels: Float32Array; // rows x cols, row-major, rescaled
}

function nums(ds: dicomParser.DataSet, tag: string, n: number, name: string, what: string): number[] {
  const s = ds.string(tag);
  const v = (s ?? '').split('\\').map(Number);
  if (!s || v.length !== n || v.some((x) => !Number.isFinite(x))) throw new DataError(`${name}: missing or malformed ${what} (${tag}); this is not an image slice of a 3D series`);
  return v;
}

async function parseSlice(f: NamedBytes): Promise<Slice> {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(f.bytes);
  } catch (e) {
    const msg = typeof e === 'string' ? e : ((e as { exception?: string }).exception ?? (e as Error).message ?? String(e));
    throw new DataError(`${f.name}: not a readable DICOM file (${msg})`);
  }
  const ts = ds.string('x00020010');
  if (ts && !UNCOMPRESSED.has(ts) && !JPEG2000.has(ts)) throw new DataError(`${f.name}: compressed DICOM (transfer syntax ${ts}) is not supported; decompress the series first (e.g. gdcmconv --raw or dcmdjpeg)`);
  const rows = ds.uint16('x00280010');
  const cols = ds.uint16('x00280011');
  const bits = ds.uint16('x00280100');
  const signed = ds.uint16('x00280103') === 1;
  const spp = ds.uint16('x00280002') ?? 1;
  const px = ds.elements.x7fe00010;
  if (!rows || !cols || !bits || !px) throw new DataError(`${f.name}: no image pixel data (rows/columns/bits allocated/pixel data missing)`);
  if (spp !== 1) throw new DataError(`${f.name}: ${spp} samples per pixel; only grayscale (CT/MR) series are supported`);
  if (bits !== 8 && bits !== 16) throw new DataError(`${f.name}: ${bits} bits allocated; only 8 and 16 are supported`);
  const n = rows * cols;
  const slope = Number(ds.string('x00281053') ?? 1) || 1;
  const inter = Number(ds.string('x00281052') ?? 0) || 0;
  let view: DataView;
  let le = ts !== '1.2.840.10008.1.2.2';
  let b = bits;
  let sgn = signed;
  if (ts && JPEG2000.has(ts)) {
    if (!px.fragments?.length) throw new DataError(`${f.name}: JPEG 2000 transfer syntax but no encapsulated pixel data`);
    let frame: Uint8Array;
    try {
      frame = dicomParser.readEncapsulatedPixelDataFromFragments(ds, px, 0, px.fragments.length) as Uint8Array;
    } catch (e) {
      throw new DataError(`${f.name}: truncated or corrupt encapsulated pixel data (${String((e as Error).message ?? e)})`);
    }
    const d = await decodeJ2k(frame, f.name, rows, cols);
    view = d.view;
    le = true;
    b = d.bits;
    sgn = sgn || d.signed;
  } else {
    if (px.length < n * (bits / 8) || px.dataOffset + n * (bits / 8) > f.bytes.length) throw new DataError(`${f.name}: truncated pixel data`);
    view = new DataView(f.bytes.buffer, f.bytes.byteOffset + px.dataOffset, n * (bits / 8));
  }
  const pixels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const raw = b === 8 ? (sgn ? view.getInt8(i) : view.getUint8(i)) : sgn ? view.getInt16(i * 2, le) : view.getUint16(i * 2, le);
    pixels[i] = raw * slope + inter;
  }
  return {
    name: f.name,
    series: ds.string('x0020000e') ?? '',
    rows,
    cols,
    ipp: nums(ds, 'x00200032', 3, f.name, 'Image Position (Patient)'),
    iop: nums(ds, 'x00200037', 6, f.name, 'Image Orientation (Patient)'),
    spacing: nums(ds, 'x00280030', 2, f.name, 'Pixel Spacing'),
    pixels,
  };
}

const cross = (a: number[], b: number[]): number[] => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const dot = (a: number[], b: number[]): number => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/**
 * Assembles the slices of one series into a volume with array axes (slice, row, column): the
 * C-order layout of stacked 2D slices; the affine says where each axis points.
 */
export async function decodeDicomSeries(files: readonly NamedBytes[], seriesName: string): Promise<Volume> {
  if (files.length === 0) throw new DataError(`${seriesName}: no DICOM files in the series folder`);
  const slices: Slice[] = [];
  for (const f of files) slices.push(await parseSlice(f));
  const first = slices[0]!;
  const series = new Set(slices.map((s) => s.series));
  if (series.size > 1) {
    const other = slices.find((s) => s.series !== first.series)!;
    throw new DataError(`${seriesName}: files of ${series.size} different series are mixed (e.g. ${first.name} and ${other.name}); put each series in its own folder`);
  }
  for (const s of slices) {
    if (s.rows !== first.rows || s.cols !== first.cols) throw new DataError(`${seriesName}: ${s.name} is ${s.cols}x${s.rows}, ${first.name} ${first.cols}x${first.rows}: not one series`);
    if (s.iop.some((v, i) => Math.abs(v - first.iop[i]!) > 1e-4)) throw new DataError(`${seriesName}: ${s.name} has another slice orientation than ${first.name}: not one series`);
  }
  const rowCos = first.iop.slice(0, 3);
  const colCos = first.iop.slice(3, 6);
  const normal = cross(rowCos, colCos);
  const withPos = slices.map((s) => ({ s, z: dot(s.ipp, normal) })).sort((a, b) => a.z - b.z);
  for (let i = 1; i < withPos.length; i++) {
    if (Math.abs(withPos[i]!.z - withPos[i - 1]!.z) < 1e-4) throw new DataError(`${seriesName}: ${withPos[i - 1]!.s.name} and ${withPos[i]!.s.name} are at the same position: duplicate slices or two series mixed`);
  }
  const gaps = withPos.slice(1).map((p, i) => p.z - withPos[i]!.z);
  const step = gaps.length ? [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]! : 1;
  gaps.forEach((g, i) => {
    if (Math.abs(g - step) > 0.1 * step + 1e-3) {
      const missing = Math.round(g / step) - 1;
      throw new DataError(
        `${seriesName}: slice spacing jumps from ${step.toFixed(3)} mm to ${g.toFixed(3)} mm between ${withPos[i]!.s.name} and ${withPos[i + 1]!.s.name}` +
          (missing >= 1 ? ` (${missing} slice${missing > 1 ? 's' : ''} missing?)` : '') + '; give the complete series',
      );
    }
  });
  const { rows, cols } = first;
  const data = new Float32Array(slices.length * rows * cols);
  withPos.forEach((p, k) => data.set(p.s.pixels, k * rows * cols));
  const [dr, dc] = first.spacing as [number, number];
  const o = withPos[0]!.s.ipp;
  // LPS: x = o + k*step*normal + r*dr*colCos + c*dc*rowCos; RAS negates x and y
  const lps: number[][] = [0, 1, 2].map((w) => [normal[w]! * step, colCos[w]! * dr, rowCos[w]! * dc, o[w]!]);
  const affine: Mat4 = [lps[0]!.map((v) => -v), lps[1]!.map((v) => -v), lps[2]!, [0, 0, 0, 1]];
  return { shape: [slices.length, rows, cols], data, affine };
}

export function looksLikeDicom(bytes: Uint8Array): boolean {
  return bytes.length > 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}
