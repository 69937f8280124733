/** Inputs of the report that are not result rows (those are in src/experiments/types.ts). */
import type { ResultRow, RunDetail } from '../experiments/types.js';

/** Where one task's data came from, so the report can state how far its numbers carry. */
export interface DataNote {
  task: string;
  file: string;
  kind: 'official' | 'official-subset' | 're-created' | 'synthetic' | 'user-supplied';
  note: string;
  /** The file's SHA-256: what the note is based on (never the file's name). */
  sha256?: string;
}

export interface MachineInfo {
  /** Logical CPU count (or a description of the CPU). */
  cpus: number | string;
  /** Intra-op threads ONNX Runtime used. */
  threads: number;
  /** Node.js version. */
  node: string;
  /** onnxruntime-node version. */
  ort: string;
}

export interface ReportInput {
  rows: ResultRow[];
  details: RunDetail[];
  /** The resolved `reproduce` config, printed verbatim at the end of the report. */
  config: object;
  dataNotes: DataNote[];
  machine: MachineInfo;
  /** Wall time of the whole `reproduce` (all runs, including pretraining). */
  totalSeconds: number;
  /** Optional heading; defaults to "STMedFM reproduce report". */
  title?: string;
}
