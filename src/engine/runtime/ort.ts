/**
 * The ONNX Runtime module the engine runs on. onnxruntime-node (CLI, library, tests) and
 * onnxruntime-web (the browser app) implement the same onnxruntime-common API, so the runtime
 * takes whichever module its entry point registers; nothing here imports a platform binding,
 * which keeps the engine loadable in a browser bundle.
 */
import type * as OrtCommon from 'onnxruntime-common';

/** The part of an ONNX Runtime package the engine uses. */
export interface OrtModule {
  readonly InferenceSession: typeof OrtCommon.InferenceSession;
  readonly Tensor: typeof OrtCommon.Tensor;
  readonly env: typeof OrtCommon.env;
}

export type OrtTensor = OrtCommon.Tensor;
export type OrtSession = OrtCommon.InferenceSession;
export type OrtSessionOptions = OrtCommon.InferenceSession.SessionOptions;

/** Platform services the runtime needs only for optional output files (profiles, optimised models). */
export interface OrtPlatform {
  /** Creates the folder a file will be written to (ORT does not). */
  prepareOutputFile?(path: string): void;
}

let current: { ort: OrtModule; platform: OrtPlatform } | undefined;

/** Registers the ONNX Runtime module every session and tensor is made with from now on. */
export function useOrt(ort: OrtModule, platform: OrtPlatform = {}): void {
  current = { ort, platform };
}

/** The registered ONNX Runtime module. */
export function ortModule(): OrtModule {
  if (!current) {
    throw new Error(
      "no ONNX Runtime registered: import 'src/engine/runtime/node.js' (Node) or call useOrt(await import('onnxruntime-web')) (browser) first",
    );
  }
  return current.ort;
}

export function ortPlatform(): OrtPlatform {
  return current?.platform ?? {};
}
