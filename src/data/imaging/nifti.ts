/**
 * NIfTI-1/2 (`.nii`, `.nii.gz`) from bytes, via nifti-reader-js. The affine follows nibabel:
 * the sform when `sform_code > 0`, else the qform when `qform_code > 0`, else the voxel sizes
 * alone. (nifti-reader-js's own `affine` prefers the qform when its code is higher than the
 * sform's, which nibabel does not, so the sform rows are read from the header here.)
 */
import * as nifti from 'nifti-reader-js';
import { DataError } from '../errors.js';
import type { Mat4, Volume } from './volume.js';

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function sformOfNifti1(raw: ArrayBuffer, littleEndian: boolean): Mat4 {
  const v = new DataView(raw);
  const rows: Mat4 = [];
  for (let r = 0; r < 3; r++) rows.push([0, 1, 2, 3].map((c) => v.getFloat32(280 + (r * 4 + c) * 4, littleEndian)));
  rows.push([0, 0, 0, 1]);
  return rows;
}

export function looksLikeNifti(bytes: Uint8Array): boolean {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return true; // gzip: checked when decoded
  try {
    return nifti.isNIFTI(toArrayBuffer(bytes.subarray(0, Math.min(bytes.length, 540))));
  } catch {
    return false;
  }
}

/** Decodes one 3D NIfTI volume; refuses 4D data (a time series or several channels). */
export function decodeNifti(bytes: Uint8Array, name: string): Volume {
  let raw = toArrayBuffer(bytes);
  try {
    if (nifti.isCompressed(raw)) raw = nifti.decompress(raw) as ArrayBuffer;
  } catch (e) {
    throw new DataError(`${name}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  if (!nifti.isNIFTI(raw)) throw new DataError(`${name}: not a NIfTI file (no NIfTI-1/2 magic in the header)`);
  const h = nifti.readHeader(raw);
  const dims = h.dims;
  const rank = dims[0]!;
  const extra = dims.slice(4, rank + 1).filter((d) => d > 1);
  if (extra.length) throw new DataError(`${name}: a ${rank}D NIfTI of shape ${dims.slice(1, rank + 1).join('x')}; give one 3D volume (split the time series or channels first, e.g. with fslsplit)`);
  const shape: [number, number, number] = [dims[1]!, rank >= 2 ? dims[2]! : 1, rank >= 3 ? dims[3]! : 1];
  const n = shape[0] * shape[1] * shape[2];
  let img: ArrayBuffer;
  try {
    img = nifti.readImage(h, raw) as ArrayBuffer;
  } catch (e) {
    throw new DataError(`${name}: cannot read the voxel data (${(e as Error).message})`);
  }
  const bpv = h.numBitsPerVoxel / 8;
  if (img.byteLength < n * bpv) throw new DataError(`${name}: truncated: ${img.byteLength} bytes of voxel data, the header says ${n * bpv}`);
  const v = new DataView(img);
  const le = h.littleEndian;
  const T = nifti.NIFTI1;
  const read: ((o: number) => number) | undefined = {
    [T.TYPE_UINT8]: (o: number) => v.getUint8(o),
    [T.TYPE_INT8]: (o: number) => v.getInt8(o),
    [T.TYPE_INT16]: (o: number) => v.getInt16(o * 2, le),
    [T.TYPE_UINT16]: (o: number) => v.getUint16(o * 2, le),
    [T.TYPE_INT32]: (o: number) => v.getInt32(o * 4, le),
    [T.TYPE_UINT32]: (o: number) => v.getUint32(o * 4, le),
    [T.TYPE_FLOAT32]: (o: number) => v.getFloat32(o * 4, le),
    [T.TYPE_FLOAT64]: (o: number) => v.getFloat64(o * 8, le),
  }[h.datatypeCode];
  if (!read) throw new DataError(`${name}: voxel type ${h.getDatatypeCodeString(h.datatypeCode)} is not supported (use integers or float32/64)`);
  const slope = Number.isFinite(h.scl_slope) && h.scl_slope !== 0 ? h.scl_slope : 1;
  const inter = Number.isFinite(h.scl_inter) && h.scl_slope !== 0 ? h.scl_inter : 0;
  // NIfTI stores i fastest (Fortran order); Volume is C order [i][j][k]
  const data = new Float32Array(n);
  const [ni, nj, nk] = shape;
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++) data[(i * nj + j) * nk + k] = read(i + ni * (j + nj * k)) * slope + inter;
  let affine: Mat4;
  if (h.sform_code > 0) affine = h instanceof nifti.NIFTI1 ? sformOfNifti1(raw, le) : h.affine.map((r) => r.slice());
  else if (h.qform_code > 0 && h instanceof nifti.NIFTI1) affine = h.getQformMat().map((r) => r.slice());
  else affine = [[h.pixDims[1] || 1, 0, 0, 0], [0, h.pixDims[2] || 1, 0, 0], [0, 0, h.pixDims[3] || 1, 0], [0, 0, 0, 1]];
  if (affine.flat().some((x) => !Number.isFinite(x))) throw new DataError(`${name}: the header's orientation (qform/sform) is not finite`);
  return { shape, data, affine };
}
