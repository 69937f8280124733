/**
 * imaging: decoding and resampling of medical images, from bytes to MedMNIST-layout uint8 arrays.
 *
 * PURE: no `fs`, `path` or other Node-only import anywhere in this folder (a test scans the
 * imports), so the browser app runs exactly the code `data import` and `predict` run.
 *
 * Stable API (the browser app depends on it; extend, do not change):
 * - 2D decode: `decodeImage(bytes, name)` -> `DecodedImage` {width, height, channels 1|3, data
 *   (interleaved uint8), format, bitDepth, note?}; PNG 1-16 bit (fast-png), JPEG (jpeg-js);
 *   format sniffed from the bytes. `rgbToGray`, `grayToRgb` (PIL's convert rules),
 *   `centerCropImage`, `cropImage`, `padImage`.
 * - Resampling: `resizeImageU8(data, h, w, channels, outH, outW)` equals PIL
 *   `Image.resize((outW, outH), BICUBIC)` byte for byte; `resampleAxis`, `axisCoefficients`,
 *   `resizeVolume` (antialiased, float, any rank).
 * - 3D decode: `decodeNifti(bytes, name)`, `decodeDicomSeries([{name, bytes}], seriesName)`
 *   -> `Volume` {shape, data (C order float32), affine (voxel -> RAS+ mm)}; `looksLikeNifti`,
 *   `looksLikeDicom`; `setJpeg2000Codec(factory)` to use OpenJPEG's WebAssembly build (default:
 *   its asm.js build, which needs no file to locate).
 * - Geometry: `axisCodes(affine)`, `reorient(volume, 'RAS')`, `maskBoundingBox`, `cropVolume`,
 *   `sameGrid`, `windowIntensity`, `toUint8`.
 * - Pipelines (recorded preprocessing): `pipeline2d(opts)`, `pipeline3d(opts)`, `apply2d`,
 *   `apply3d`, `preprocessImageBytes`, `outputShape`, `parsePipeline`; constants
 *   `ORGANMNIST3D_AXES`, `DEFAULT_HU_WINDOW`.
 * Errors are `DataError`s whose message names the input and says what is wrong.
 */
export * from './image2d.js';
export * from './resample.js';
export * from './volume.js';
export * from './nifti.js';
export * from './dicom.js';
export * from './pipeline.js';
