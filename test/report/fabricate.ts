/**
 * Fabricated but internally consistent reproduce outputs for report tests: each run simulates
 * softmax predictions (signal strength and over-confidence per method), and its row's metrics,
 * reliability bins and ROC curves are computed from those same predictions.
 */
import type { ReliabilityBin, ResultRow, RocCurve, RunDetail } from '../../src/experiments/types.js';
import type { Method } from '../../src/model/stmedfm.js';
import type { ReportInput } from '../../src/report/types.js';
import { Rng } from '../../src/util/rng.js';

const TASKS: readonly { task: string; classes: number; params: Record<Method, number>; steps: number }[] = [
  { task: 'pathmnist', classes: 9, steps: 120, params: { scratch: 137_673, 'scratch-weighted': 137_673, full: 137_673, lora: 3_657, adapter: 4_969 } },
  { task: 'dermamnist', classes: 7, steps: 120, params: { scratch: 137_543, 'scratch-weighted': 137_543, full: 137_543, lora: 3_527, adapter: 4_839 } },
  { task: 'organmnist3d', classes: 11, steps: 50, params: { scratch: 188_939, 'scratch-weighted': 188_939, full: 188_939, lora: 3_787, adapter: 5_099 } },
];

const STRENGTH: Record<Method, number> = { scratch: 1.6, 'scratch-weighted': 1.5, full: 2.3, lora: 2.1, adapter: 2.2 };
const SHARPNESS: Record<Method, number> = { scratch: 1.6, 'scratch-weighted': 1.3, full: 1.4, lora: 1.1, adapter: 1.2 };

function simulate(rng: Rng, n: number, c: number, strength: number, sharp: number): { probs: Float64Array[]; labels: number[] } {
  const probs: Float64Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.int(c);
    const z = new Float64Array(c);
    let mx = -Infinity;
    for (let k = 0; k < c; k++) {
      z[k] = sharp * (rng.normal() + (k === y ? strength : 0));
      mx = Math.max(mx, z[k]!);
    }
    let s = 0;
    for (let k = 0; k < c; k++) s += (z[k] = Math.exp(z[k]! - mx));
    for (let k = 0; k < c; k++) z[k]! /= s;
    probs.push(z);
    labels.push(y);
  }
  return { probs, labels };
}

function rocOf(scores: number[], pos: boolean[]): { fpr: number[]; tpr: number[]; auc: number } {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const P = pos.filter(Boolean).length;
  const N = pos.length - P;
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < idx.length; j++) {
    if (pos[idx[j]!]) tp++;
    else fp++;
    if (j === idx.length - 1 || scores[idx[j + 1]!] !== scores[idx[j]!]) {
      fpr.push(fp / N);
      tpr.push(tp / P);
    }
  }
  let auc = 0;
  for (let j = 1; j < fpr.length; j++) auc += ((fpr[j]! - fpr[j - 1]!) * (tpr[j]! + tpr[j - 1]!)) / 2;
  return { fpr, tpr, auc };
}

function metrics(probs: Float64Array[], labels: number[], c: number) {
  const n = labels.length;
  let correct = 0;
  let brier = 0;
  let nll = 0;
  const bins = Array.from({ length: 15 }, (_, m) => ({ lo: m / 15, hi: (m + 1) / 15, count: 0, conf: 0, acc: 0 }));
  for (let i = 0; i < n; i++) {
    const p = probs[i]!;
    let am = 0;
    for (let k = 1; k < c; k++) if (p[k]! > p[am]!) am = k;
    const hit = am === labels[i] ? 1 : 0;
    correct += hit;
    for (let k = 0; k < c; k++) brier += (p[k]! - (k === labels[i] ? 1 : 0)) ** 2;
    nll -= Math.log(Math.max(p[labels[i]!]!, 1e-12));
    const m = Math.min(14, Math.max(0, Math.ceil(p[am]! * 15) - 1));
    bins[m]!.count++;
    bins[m]!.conf += p[am]!;
    bins[m]!.acc += hit;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = bins.map((b) => {
    ece += Math.abs(b.acc - b.conf) / n;
    return b.count > 0 ? { ...b, conf: b.conf / b.count, acc: b.acc / b.count } : { ...b, conf: 0, acc: 0 };
  });
  const roc: RocCurve[] = [];
  for (let k = 0; k < c; k++) {
    const r = rocOf(
      probs.map((p) => p[k]!),
      labels.map((y) => y === k),
    );
    roc.push({ cls: k, label: `class ${k}`, ...r });
  }
  const auroc = roc.reduce((s, r) => s + r.auc, 0) / c;
  return { acc: correct / n, auroc, ece, brier: brier / n, nll: nll / n, reliability, roc };
}

export function fabricate(opts: { seeds?: number[]; tasks?: number; methods?: readonly Method[]; n?: number } = {}): ReportInput {
  const seeds = opts.seeds ?? [0, 1, 2];
  const methods = opts.methods ?? (['scratch', 'scratch-weighted', 'full', 'lora', 'adapter'] as const);
  const tasks = TASKS.slice(0, opts.tasks ?? TASKS.length);
  const n = opts.n ?? 600;
  const rows: ResultRow[] = [];
  const details: RunDetail[] = [];
  for (const seed of seeds) {
    const rng = new Rng(1000 + seed);
    for (const t of tasks) {
      for (const method of methods) {
        const sim = simulate(rng, n, t.classes, STRENGTH[method] + 0.15 * rng.normal(), SHARPNESS[method]);
        const m = metrics(sim.probs, sim.labels, t.classes);
        const start = method === 'full' || method === 'lora' || method === 'adapter' ? 1.2 : Math.log(t.classes);
        const end = 0.9 / STRENGTH[method];
        const loss = Array.from({ length: t.steps }, (_, s) => end + (start - end) * Math.exp(-s / (t.steps / 4)) + 0.08 * rng.normal());
        rows.push({
          task: t.task,
          method,
          seed,
          shots: null,
          lora_rank: method === 'lora' ? 4 : null,
          lora_alpha: method === 'lora' ? 8 : null,
          adapter_width: method === 'adapter' ? 8 : null,
          trainable_params: t.params[method],
          steps: t.steps,
          train_seconds: (t.task.endsWith('3d') ? 40 : 12) * (method === 'lora' || method === 'adapter' ? 0.7 : 1) * (1 + 0.05 * rng.normal()),
          acc: m.acc,
          auroc: m.auroc,
          ece: m.ece,
          classwise_ece: m.ece / 3,
          brier: m.brier,
          nll: m.nll,
          temperature: SHARPNESS[method] * (1 + 0.05 * rng.normal()),
          ece_ts: m.ece * (0.3 + 0.2 * rng.next()),
          brier_ts: m.brier * 0.97,
          nll_ts: m.nll * 0.9,
          val_acc: m.acc + 0.01 * rng.normal(),
          val_auroc: m.auroc + 0.005 * rng.normal(),
          threads: 1,
          data_parallel_replicas: 1,
          run_key: `${t.task}-${method}-s${seed}`,
        });
        details.push({ id: `${t.task}-${method}-s${seed}`, task: t.task, method, seed, loss, reliability: m.reliability, roc: m.roc });
      }
    }
  }
  return {
    rows,
    details,
    config: { seeds, tasks: tasks.map((t) => t.task), pretrainSteps: 200, note: 'fabricated for tests' },
    dataNotes: [
      { task: 'pathmnist', file: 'pathmnist.npz', kind: 'official', note: '' },
      { task: 'dermamnist', file: 'dermamnist.npz', kind: 'official-subset', note: '2,000 of 7,007 training images' },
      { task: 'organmnist3d', file: 'organmnist3d.npz', kind: 're-created', note: 'split re-created from the public volumes' },
    ].filter((d) => tasks.some((t) => t.task === d.task)) as ReportInput['dataNotes'],
    machine: { cpus: 2, threads: 2, node: 'v20.20.2', ort: '1.30.0' },
    totalSeconds: 321.4,
  };
}
