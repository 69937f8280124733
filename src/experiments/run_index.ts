/**
 * `stmedfm reproduce --out DIR --run-index I`: one run of the folder's grid, by index, with
 * nothing else to pass (config.json holds the protocol and the data files). This is what the
 * local worker processes, SLURM array tasks and a Kubernetes Indexed Job run. A per-run lock
 * keeps two workers off the same run; a failure leaves failed/<id>.txt naming the reason.
 */
import { writeFileSync } from 'node:fs';
import { UserError } from '../training/errors.js';
import { readFolderConfig } from './folder.js';
import { describeHolder, tryLock } from './lock.js';
import { type PlannedRun, planRuns } from './plan.js';
import { Interrupted, executeRun, isDone, paths, summarize } from './run_one.js';
import type { StepInfo } from './reproduce.js';

export interface RunIndexOptions {
  out: string;
  index: number;
  threads: number;
  onStep?: (log: StepInfo) => void;
  shouldStop?: () => boolean;
  /** How long to wait for a run another process holds (it may be a worker of a killed parent, about to exit). */
  waitMs?: number;
}

export function plannedRun(out: string, index: number): PlannedRun {
  const config = readFolderConfig(out);
  const plan = planRuns(config.protocol);
  const run = plan[index];
  if (!run) throw new UserError(`--run-index ${index} is out of range: ${out} plans ${plan.length} runs (0..${plan.length - 1})`);
  return run;
}

/** Runs one run unless it is done; returns a one-line summary. */
export async function runByIndex(o: RunIndexOptions): Promise<{ id: string; skipped: boolean; summary: string }> {
  const config = readFolderConfig(o.out);
  const run = plannedRun(o.out, o.index);
  const at = paths(o.out, run.id);
  const deadline = Date.now() + (o.waitMs ?? 60_000);
  let lock = tryLock(at.lock, `run ${run.id}`);
  while (!('release' in lock)) {
    if (Date.now() > deadline) throw new UserError(`run ${run.id} is being run by ${describeHolder(lock.holder)}; if that process is gone for good, delete ${at.lock}`);
    await new Promise((r) => setTimeout(r, 200));
    lock = tryLock(at.lock, `run ${run.id}`);
  }
  try {
    if (isDone(o.out, config, run)) return { id: run.id, skipped: true, summary: `${run.id}: done earlier` };
    try {
      await executeRun(run, { out: o.out, config, threads: o.threads, onStep: o.onStep, shouldStop: o.shouldStop });
    } catch (e) {
      const why = e instanceof Interrupted ? 'interrupted (cancelled or Ctrl-C)' : ((e as Error)?.message ?? String(e));
      writeFileSync(at.failed, `${why}\n`);
      throw e;
    }
    return { id: run.id, skipped: false, summary: summarize(run, o.out) };
  } finally {
    lock.release();
  }
}
