/**
 * `reproduce --executor slurm`: the folder's unfinished runs as SLURM jobs on the shared --out:
 * a job array of the pretraining runs, a job array of the fine-tuning runs that start from it
 * (after it succeeded: afterok), a job array of the runs that do not (scratch; no dependency, so
 * they run beside the pretraining), and a final job that writes results and report and names any
 * run that did not finish. Each array task is `stmedfm reproduce --out DIR --run-index $SLURM_ARRAY_TASK_ID`,
 * the same single-run command the local workers use, so records are the same and resubmitting
 * submits only what is not done.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../training/errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { readFolderConfig } from './folder.js';
import { planRuns } from './plan.js';
import { isDone } from './run_one.js';
import { thisCli } from './reproduce.js';

export interface SlurmSubmission {
  pretrain: { job: string; runs: number[] } | null;
  /** Fine-tuning runs that start from a pretraining (full, LoRA, adapter). */
  finetune: { job: string; runs: number[] } | null;
  /** Fine-tuning runs that do not (scratch, scratch-weighted): submitted without a dependency. */
  independent: { job: string; runs: number[] } | null;
  report: string;
  message: string;
}

/** "0,1,2,5,7,8" -> "0-2,5,7-8" (SLURM's --array syntax). */
export function arraySpec(xs: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : String(xs[i]));
    i = j + 1;
  }
  return parts.join(',');
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function sbatch(args: string[]): string {
  try {
    return execFileSync('sbatch', ['--parsable', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split(';')[0]!;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('--executor slurm needs `sbatch` on the PATH (run on a SLURM login node)');
    throw new UserError(`sbatch failed: ${String(err.stderr ?? err.message).trim().split('\n').at(-1)}`);
  }
}

export function submitSlurm(o: { out: string; threads: number; pretrainThreads: number; partition?: string; cli?: string[] }): SlurmSubmission {
  const out = resolve(o.out);
  const config = readFolderConfig(out);
  const plan = planRuns(config.protocol);
  const todo = plan.filter((r) => !isDone(out, config, r));
  const pre = todo.filter((r) => r.kind === 'pretrain').map((r) => r.index);
  const fin = todo.filter((r) => r.kind === 'finetune' && r.pretrainId !== null).map((r) => r.index);
  const indep = todo.filter((r) => r.kind === 'finetune' && r.pretrainId === null).map((r) => r.index);
  const logs = join(out, 'slurm');
  mkdirSync(logs, { recursive: true });
  const cli = (o.cli ?? thisCli()).map(q).join(' ');
  const common = ['--chdir', process.cwd(), ...(o.partition ? ['--partition', o.partition] : [])];
  const task = (threads: number) => `${cli} reproduce --out ${q(out)} --run-index $SLURM_ARRAY_TASK_ID --threads ${threads} --quiet`;

  let preJob: string | null = null;
  if (pre.length) {
    preJob = sbatch([...common, '--job-name', 'stmedfm-pretrain', '--array', arraySpec(pre), '--cpus-per-task', String(o.pretrainThreads), '--output', join(logs, 'pretrain-%A_%a.log'), '--wrap', task(o.pretrainThreads)]);
  }
  let finJob: string | null = null;
  if (fin.length) {
    finJob = sbatch([
      ...common, '--job-name', 'stmedfm-finetune', '--array', arraySpec(fin), '--cpus-per-task', String(o.threads), '--output', join(logs, 'finetune-%A_%a.log'),
      ...(preJob ? ['--dependency', `afterok:${preJob}`, '--kill-on-invalid-dep=yes'] : []),
      '--wrap', task(o.threads),
    ]);
  }
  let indepJob: string | null = null;
  if (indep.length) {
    indepJob = sbatch([...common, '--job-name', 'stmedfm-scratch', '--array', arraySpec(indep), '--cpus-per-task', String(o.threads), '--output', join(logs, 'scratch-%A_%a.log'), '--wrap', task(o.threads)]);
  }
  const after = [preJob, finJob, indepJob].filter((j): j is string => j !== null);
  const report = sbatch([
    ...common, '--job-name', 'stmedfm-report', '--cpus-per-task', '1', '--output', join(logs, 'report-%j.log'),
    ...(after.length ? ['--dependency', `afterany:${after.join(':')}`] : []),
    '--wrap', `${cli} reproduce --out ${q(out)} --report-only --quiet`,
  ]);
  const sub: Omit<SlurmSubmission, 'message'> = {
    pretrain: preJob ? { job: preJob, runs: pre } : null,
    finetune: finJob ? { job: finJob, runs: fin } : null,
    independent: indepJob ? { job: indepJob, runs: indep } : null,
    report,
  };
  writeFileAtomicSync(join(out, 'slurm', 'jobs.json'), `${JSON.stringify({ ...sub, submitted: new Date().toISOString() }, null, 2)}\n`);
  const done = plan.length - todo.length;
  const message =
    `reproduce: submitted to SLURM: ${pre.length} pretraining run(s)${preJob ? ` (array job ${preJob})` : ''}, ` +
    `${fin.length} fine-tuning run(s)${finJob ? ` (array job ${finJob}${preJob ? `, after ${preJob} succeeds` : ''})` : ''}, ` +
    `${indep.length} scratch run(s)${indepJob ? ` (array job ${indepJob}, beside the pretraining)` : ''}, ` +
    `report job ${report}; ${done} of ${plan.length} runs were done earlier and are skipped. Logs in ${logs}; ` +
    `the report job names any run that did not finish (resubmit the same command to redo only those)`;
  return { ...sub, message };
}

/** Polls squeue until the folder's last submitted jobs have left the queue. */
export async function waitForSlurm(out: string, pollMs = 2000): Promise<void> {
  const jobs = JSON.parse(readFileSync(join(out, 'slurm', 'jobs.json'), 'utf8')) as Omit<SlurmSubmission, 'message'>;
  const ids = [jobs.pretrain?.job, jobs.finetune?.job, jobs.independent?.job, jobs.report].filter((j): j is string => !!j);
  for (;;) {
    let left: string;
    try {
      left = execFileSync('squeue', ['-h', '-o', '%i', '-j', ids.join(',')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return; // squeue refuses job ids it no longer knows: they are all gone
    }
    if (!left) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
