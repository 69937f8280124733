/**
 * What `stmedfm reproduce` records: one flat row per task x method x seed (results.json /
 * results.csv) and, per run, the curves the report plots (runs/<id>.json).
 */
import type { Method } from '../model/stmedfm.js';

export interface ResultRow {
  task: string;
  method: Method;
  seed: number;
  /** Grid axes: k examples per class (null: the whole train split); LoRA rank/alpha (LoRA runs only); adapter width (adapter runs only). */
  shots: number | null;
  lora_rank: number | null;
  lora_alpha: number | null;
  adapter_width: number | null;
  /** 2D image size (px) of the run's data and model: only in grids with an image-size axis (28 px otherwise). */
  image_size?: number;
  trainable_params: number;
  steps: number;
  train_seconds: number;
  /** Test-split metrics (SPEC section 6). */
  acc: number;
  auroc: number;
  ece: number;
  classwise_ece: number;
  brier: number;
  nll: number;
  /**
   * After temperature scaling with the temperature `finetune` fitted on val NLL and stored in the
   * checkpoint; null for a multi-label task (not calibrated).
   */
  temperature: number | null;
  ece_ts: number | null;
  brier_ts: number | null;
  nll_ts: number | null;
  /** Validation-split metrics. */
  val_acc: number;
  val_auroc: number;
  /** ONNX Runtime intra-op threads the run trained and evaluated with. */
  threads: number;
  /** Sessions each training step ran in: 1, or the data-parallel replicas (one intra-op thread each) with 2+ threads. */
  data_parallel_replicas: number;
  /** Hash of everything that defines the run (protocol, grid point, data file contents): see run_record.ts. */
  run_key: string;
  /**
   * Multi-label task (ChestMNIST-style): acc over all labels at p > 0.5, auroc the mean over
   * labels, ece the mean per-label ECE, brier and nll the binary ones over all entries, as
   * medmnist's evaluator. Absent in rows written before these fields existed (read as false).
   */
  multi_label?: boolean;
  /** The temperature lies at its search bound (not a meaningful calibration); null without one. */
  temperature_at_bound?: boolean | null;
  /** Why the test AUROC is NaN (n/a), or null. */
  auroc_why?: string | null;
  /** Degenerate data, calibration and other warnings of the run (training and test evaluation). */
  warnings?: string[];
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence and accuracy of the bin (NaN-free: 0 when empty). */
  conf: number;
  acc: number;
}

export interface RocCurve {
  /** Class index and name. */
  cls: number;
  label: string;
  fpr: number[];
  tpr: number[];
  auc: number;
}

/** Per-run detail for plots: runs/<task>-<method>-s<seed>.json */
export interface RunDetail {
  id: string;
  /** The run's key (as in its row); absent in details not written by reproduce. */
  run_key?: string;
  task: string;
  method: Method;
  seed: number;
  /** Training loss per step. */
  loss: number[];
  reliability: ReliabilityBin[];
  roc: RocCurve[];
}

/** Published single-run numbers the report shows beside ours (SPEC section 1); absent where not given. */
export interface PublishedRow {
  task: string;
  method: Method;
  acc?: number;
  auroc?: number;
  trainable_params?: number;
}

export const PUBLISHED: readonly PublishedRow[] = [
  { task: 'pathmnist', method: 'scratch', acc: 0.568, auroc: 0.886 },
  { task: 'pathmnist', method: 'full', acc: 0.634, auroc: 0.914, trainable_params: 160_105 },
  { task: 'pathmnist', method: 'lora', auroc: 0.909 },
  { task: 'pathmnist', method: 'adapter', auroc: 0.913 },
  { task: 'dermamnist', method: 'scratch-weighted', auroc: 0.746 },
  { task: 'dermamnist', method: 'full', auroc: 0.756 },
  { task: 'dermamnist', method: 'lora', auroc: 0.76 },
  { task: 'dermamnist', method: 'adapter', auroc: 0.763 },
];
