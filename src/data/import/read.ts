/** File-system readers feeding the pure imaging module (bytes in, arrays out). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../errors.js';
import openjpegWasm from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import { decodeDicomSeries, decodeNifti, setJpeg2000Codec, type Volume } from '../imaging/index.js';
import { isJunkFile } from './sources.js';

export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`${path}: cannot read (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (code ?? (e as Error).message)})`);
  }
}

// In Node the WebAssembly OpenJPEG build finds its .wasm beside itself: ~4x faster than asm.js.
setJpeg2000Codec(openjpegWasm);

/** A NIfTI file, or a folder holding one DICOM series. */
export async function readVolume(path: string): Promise<Volume> {
  if (statSync(path).isDirectory()) {
    const names = readdirSync(path).filter((n) => !isJunkFile(n)).sort();
    const files = names.filter((n) => statSync(join(path, n)).isFile()).map((n) => ({ name: n, bytes: readBytes(join(path, n)) }));
    return decodeDicomSeries(files, path);
  }
  if (!/\.nii(\.gz)?$/i.test(path)) throw new DataError(`${path}: not a NIfTI file (.nii, .nii.gz) or a DICOM series folder`);
  return decodeNifti(readBytes(path), basename(path) === path ? path : path);
}
