/**
 * The loaded model of the page: an `stmedfm export` ONNX file, or a checkpoint (optionally with
 * peft adapter files). Both classify through the engine's ForwardSession / Predictor, the same
 * classes `stmedfm predict` runs, with the same preprocessing (src/inference/input.ts).
 */
import { type DatasetInfo, getDataset, isDatasetName, isMultiLabel } from '../../src/data/index.js';
import { readOnnxMetadata } from '../../src/engine/onnx/inspect.js';
import { labelsAbove } from '../../src/evaluation/multilabel.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { floatTensor } from '../../src/engine/runtime/tensors.js';
import { GradCamExplainer } from '../../src/explain/saliency.js';
import { type RgbImage, renderOverlay } from '../../src/explain/overlay.js';
import { applyAdapter } from '../../src/inference/adapter.js';
import { type ModelInput, inputFromBytes } from '../../src/inference/input.js';
import { Predictor } from '../../src/inference/predictor.js';
import { checkpointOf } from '../../src/io/checkpoint.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, peftAdapterOf } from '../../src/io/peft_files.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import type { ParamStore } from '../../src/model/params.js';
import type { STMedFM } from '../../src/model/stmedfm.js';
import { type LoadedModel, modelOf } from '../../src/training/checkpoint.js';
import { type Calibration, calibratedProbs, onnxCalibration, storedCalibration } from './calibration.js';

export class PageError extends Error {}

export interface Classification {
  input: ModelInput & { warnings: string[] };
  /** Shown probabilities: softmax(logits / T) when the model carries a temperature T. */
  probs: Float32Array;
  calibration?: Calibration;
  labels: readonly string[];
  top: number;
  /** Multi-label tasks: every label whose probability is above evaluate's threshold (0.5). */
  present?: number[];
  ms: number;
}

/** For a multi-label task, the labels predicted present (as `stmedfm predict` names them). */
function presentLabels(info: DatasetInfo, probs: Float32Array): { present?: number[] } {
  return isMultiLabel(info) ? { present: labelsAbove(probs) } : {};
}

/** Grad-CAM of the predicted class (src/explain, as `stmedfm explain`), drawn over the input. */
export interface PageSaliency {
  classIndex: number;
  grid: number[];
  cam: Float64Array;
  /** The overlay picture: one tile for an image, a montage of depth slices (7 to a row) for a volume. */
  overlay: RgbImage;
  ms: number;
}

export interface PageModel {
  readonly description: string;
  readonly tasks: readonly string[];
  task: string;
  /** The trainable form (checkpoint-based models); ONNX files are inference-only. */
  readonly trainable?: { model: STMedFM; store: ParamStore; base: LoadedModel };
  info(): DatasetInfo;
  classify(name: string, bytes: Uint8Array): Promise<Classification>;
  /** Checkpoint models only: an ONNX export has no gradient graph. */
  explain?(input: Classification['input'], classIndex: number): Promise<PageSaliency>;
  release(): Promise<void>;
}

const INPUT_TYPES = ['.png', '.jpg', '.jpeg', '.npy', '.nii', '.nii.gz'];
const isNifti = (name: string): boolean => /\.nii(\.gz)?$/i.test(name);

/** Refuses file types the page cannot read, before any decoding. */
export function checkInputType(name: string, info: DatasetInfo): void {
  const lower = name.toLowerCase();
  if (!INPUT_TYPES.some((e) => lower.endsWith(e))) {
    const want = info.dim === 3 ? 'a NIfTI (.nii, .nii.gz) or .npy volume' : 'a PNG or JPEG image (or a .npy array)';
    throw new PageError(`${name}: not a file type this page reads; ${info.name} takes ${want}`);
  }
  if (isNifti(name) && info.dim !== 3) throw new PageError(`${name}: a volume, but ${info.name} is a 2D task; give it a PNG or JPEG image`);
}

function labelsOf(info: DatasetInfo, n: number): string[] {
  return info.labels.length === n ? [...info.labels] : Array.from({ length: n }, (_, i) => `class ${i}`);
}

function argmax(p: Float32Array): number {
  let k = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[k]!) k = i;
  return k;
}

/** `imageSize`: the model's 2D input side (28, or the MedMNIST+ size it was trained at); images are resized to it. */
function preprocess(name: string, bytes: Uint8Array, info: DatasetInfo, imageSize: number): ModelInput & { warnings: string[] } {
  checkInputType(name, info);
  const input = inputFromBytes(name, bytes, info, imageSize);
  if (input.n !== 1) throw new PageError(`${name}: holds ${input.n} samples; drop one image or volume at a time`);
  return input;
}

/** A model from `stmedfm export`: metadata names the task and classes; weights are initializers. */
export async function loadOnnx(name: string, bytes: Uint8Array, threads: number): Promise<PageModel> {
  let meta: Record<string, string>;
  try {
    meta = readOnnxMetadata(bytes);
  } catch (e) {
    throw new PageError(`${name}: not an ONNX model (${(e as Error).message})`);
  }
  const task = meta['stmedfm.task'];
  if (!task) throw new PageError(`${name}: an ONNX file without STMedFM metadata; export it with \`stmedfm export\``);
  if (!isDatasetName(task)) throw new PageError(`${name}: task '${task}' is not one this build knows`);
  const info = getDataset(task);
  const labels: string[] = JSON.parse(meta['stmedfm.labels'] ?? '[]');
  const calibration = onnxCalibration(meta);
  const imageSize = (JSON.parse(meta['stmedfm.model'] ?? '{}') as { stem2d?: { imageSize?: number } }).stem2d?.imageSize ?? 28;
  const session = await ForwardSession.create(bytes, { threads });
  return {
    description: `${name}: exported ${task} model (${labels.length} classes)`,
    tasks: [task],
    task,
    info: () => info,
    async classify(file, data) {
      const input = preprocess(file, data, info, imageSize);
      const t0 = performance.now();
      const out = await session.run({ x: floatTensor(input.data.slice(), input.shape) }, ['probabilities']);
      const probs = Float32Array.from(out.probabilities!.data as Float32Array);
      // the exported `probabilities` output is already calibrated when the metadata names a temperature
      return { input, probs, ...(calibration ? { calibration } : {}), labels: labelsOf(info, probs.length).map((l, i) => labels[i] ?? l), top: argmax(probs), ...presentLabels(info, probs), ms: performance.now() - t0 };
    },
    release: () => session.release(),
  };
}

/**
 * The page's view of a checkpoint (+ adapter): one Predictor per task, made when first used.
 * `calibrationOf` gives the stored temperature of a task, if any.
 */
export function checkpointModel(
  description: string,
  loaded: { model: STMedFM; store: ParamStore },
  base: LoadedModel,
  threads: number,
  task?: string,
  calibrationOf: (task: string) => Calibration | undefined = () => undefined,
): PageModel {
  const tasks = loaded.model.heads.map((h) => h.name);
  const predictors = new Map<string, Predictor>();
  const explainers = new Map<string, GradCamExplainer>();
  const m: PageModel = {
    description,
    tasks,
    task: task ?? tasks[0]!,
    trainable: { ...loaded, base },
    info: () => getDataset(m.task),
    async classify(file, data) {
      const info = m.info();
      const input = preprocess(file, data, info, loaded.model.config.stem2d.imageSize);
      let p = predictors.get(m.task);
      if (!p) {
        p = await Predictor.create(loaded.model, loaded.store, m.task, { threads, batch: 1 });
        predictors.set(m.task, p);
      }
      const t0 = performance.now();
      // a copy: ORT's proxy worker takes over (detaches) the buffers it is given, and the page
      // still draws the input and explains it
      const out = await p.run(input.data.slice(), 1);
      const calibration = isMultiLabel(info) ? undefined : calibrationOf(m.task);
      const probs = calibration ? calibratedProbs(out.logits, calibration.temperature) : out.probs;
      return { input, probs, ...(calibration ? { calibration } : {}), labels: labelsOf(info, out.classes), top: argmax(probs), ...presentLabels(info, probs), ms: performance.now() - t0 };
    },
    async explain(input, classIndex) {
      let e = explainers.get(m.task);
      if (!e) {
        e = await GradCamExplainer.create(loaded.model, loaded.store, m.task, { threads });
        explainers.set(m.task, e);
      }
      const t0 = performance.now();
      // one run for the given class (explain() runs twice to find the predicted class itself, and
      // ORT's proxy worker detaches the input buffer on the first run)
      const s = await e.explain(input.data.slice(), classIndex);
      const overlay = renderOverlay(input.data, input.shape.slice(1), s.cam, s.grid);
      return { classIndex: s.classIndex, grid: s.grid, cam: s.cam, overlay, ms: performance.now() - t0 };
    },
    async release() {
      for (const p of predictors.values()) await p.release();
      for (const e of explainers.values()) await e.release();
    },
  };
  return m;
}

export interface ModelFiles {
  checkpoint?: File;
  onnx?: File;
  adapterWeights?: File;
  adapterConfig?: File;
}

/** Sorts dropped files into model roles by name; anything else is a clear error. */
export function sortModelFiles(files: readonly File[]): ModelFiles {
  const out: ModelFiles = {};
  for (const f of files) {
    const n = f.name.toLowerCase();
    if (n.endsWith('.onnx')) out.onnx = f;
    else if (n === ADAPTER_WEIGHTS_NAME) out.adapterWeights = f;
    else if (n === ADAPTER_CONFIG_NAME) out.adapterConfig = f;
    else if (n.endsWith('.safetensors')) out.checkpoint = f;
    else throw new PageError(`${f.name}: not a model file; drop an .onnx export, a checkpoint .safetensors, or ${ADAPTER_WEIGHTS_NAME} + ${ADAPTER_CONFIG_NAME}`);
  }
  if ((out.adapterWeights === undefined) !== (out.adapterConfig === undefined)) {
    throw new PageError(`an adapter needs both ${ADAPTER_WEIGHTS_NAME} and ${ADAPTER_CONFIG_NAME}; drop them together`);
  }
  return out;
}

const bytesOf = async (f: File): Promise<Uint8Array> => new Uint8Array(await f.arrayBuffer());

export function parseCheckpoint(name: string, bytes: Uint8Array): LoadedModel {
  try {
    return modelOf(checkpointOf(parseSafetensors(bytes, name), name), name);
  } catch (e) {
    throw new PageError((e as Error).message);
  }
}

/** Loads what was dropped; an adapter alone goes onto the checkpoint already loaded (`base`). */
export async function loadModelFiles(files: ModelFiles, base: LoadedModel | undefined, threads: number): Promise<{ model: PageModel; base?: LoadedModel }> {
  if (files.onnx) return { model: await loadOnnx(files.onnx.name, await bytesOf(files.onnx), threads) };
  const ck = files.checkpoint ? parseCheckpoint(files.checkpoint.name, await bytesOf(files.checkpoint)) : base;
  const ckName = files.checkpoint?.name ?? 'the loaded checkpoint';
  if (!files.adapterWeights || !files.adapterConfig) {
    if (!ck) throw new PageError('no model file in the drop');
    return { model: checkpointModel(`${ckName}: ${ck.model.heads.map((h) => `${h.name} (${h.numClasses} classes)`).join(', ')}`, ck, ck, threads, undefined, (t) => storedCalibration(ck.config, t, 'checkpoint')), base: ck };
  }
  if (!ck) throw new PageError(`an adapter needs its base checkpoint: drop the checkpoint .safetensors with the adapter files`);
  let applied;
  try {
    const adapter = peftAdapterOf(await files.adapterConfig.text(), ADAPTER_CONFIG_NAME, parseSafetensors(await bytesOf(files.adapterWeights), ADAPTER_WEIGHTS_NAME), ADAPTER_WEIGHTS_NAME);
    applied = applyAdapter(ck, adapter);
  } catch (e) {
    throw new PageError(`${ckName} + adapter: ${(e as Error).message}`);
  }
  const kind = applied.model.peft?.kind === 'lora' ? 'LoRA' : 'bottleneck';
  // The adapter changes the backbone: the checkpoint's temperatures no longer apply, only the adapter's own.
  return { model: checkpointModel(`${ckName} + ${kind} adapter for ${applied.task}`, applied, ck, threads, applied.task, (t) => storedCalibration(applied, t, 'adapter')), base: ck };
}
