/**
 * `stmedfm reproduce`: the whole protocol grid, resumable, ending in results.{json,csv} and
 * report.{md,html}; locally (`--jobs N` worker processes) or on SLURM (`--executor slurm`).
 * `--run-index I` runs one run of a folder's grid, so any scheduler can drive it.
 */
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { describeData } from '../../experiments/data_notes.js';
import { readFolderConfig } from '../../experiments/folder.js';
import { lockOrFail } from '../../experiments/lock.js';
import { planRuns } from '../../experiments/plan.js';
import { DEFAULT_PROTOCOL, type ProtocolConfig } from '../../experiments/protocol.js';
import { Interrupted, type ReproduceEvents, resultColumns, collectResults, executionDefaults, machineInfo, prepare, reproduce, toCsv } from '../../experiments/reproduce.js';
import { runByIndex } from '../../experiments/run_index.js';
import { submitSlurm, waitForSlurm } from '../../experiments/slurm.js';
import type { ResultRow, RunDetail } from '../../experiments/types.js';
import { writeFileAtomicSync } from '../../io/atomic.js';
import type { Method } from '../../model/stmedfm.js';
import { writeReport } from '../../report/index.js';
import { UserError } from '../../training/errors.js';
import { INTERRUPT_EXIT, type Interrupt, action, collect, dataOptions, int, interruptFlag, list, num, printJson } from '../common.js';

interface Opts {
  dataDir?: string;
  data: string[];
  tasks?: string[];
  methods?: string[];
  seeds?: string[];
  shots?: string[];
  loraRank?: string[];
  loraAlpha?: string[];
  adapterWidth?: string[];
  imageSize?: string[];
  out: string;
  threads?: number;
  jobs?: number;
  runIndex?: number;
  planOnly?: boolean;
  reportOnly?: boolean;
  executor: string;
  partition?: string;
  wait?: boolean;
  pretrainSteps?: number;
  steps2d?: number;
  steps3d?: number;
  batch2d?: number;
  batch3d?: number;
  pretrainLr?: number;
  lr?: number;
  peftLr?: number;
  warmup?: number;
  weightDecay?: number;
  json?: boolean;
  quiet?: boolean;
}

function numbers(flag: string, xs: string[], opts: { int?: boolean; all?: boolean } = {}): (number | null)[] {
  return xs.map((s) => {
    if (opts.all && s === 'all') return null;
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0 || (opts.int && !Number.isInteger(n))) {
      throw new UserError(`${flag}: '${s}' is not a positive ${opts.int ? 'integer' : 'number'}${opts.all ? " (or 'all')" : ''}`);
    }
    return n;
  });
}

function resolveProtocol(o: Opts): ProtocolConfig {
  const p: ProtocolConfig = structuredClone(DEFAULT_PROTOCOL);
  if (o.tasks) p.tasks = o.tasks;
  if (o.methods) p.methods = o.methods as Method[];
  // The built-in demo pack is a quick look (one seed, a few minutes); real data gets the SPEC's three seeds.
  if (!o.seeds && !o.dataDir && o.data.length === 0) p.seeds = [0];
  if (o.seeds) {
    p.seeds = o.seeds.map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new UserError(`--seeds: '${s}' is not a non-negative integer`);
      return n;
    });
  }
  if (o.shots) p.shots = numbers('--shots', o.shots, { int: true, all: true });
  if (o.loraRank) p.loraRank = numbers('--lora-rank', o.loraRank, { int: true }) as number[];
  if (o.loraAlpha) p.loraAlpha = numbers('--lora-alpha', o.loraAlpha) as number[];
  if (o.adapterWidth) p.adapterWidth = numbers('--adapter-width', o.adapterWidth, { int: true }) as number[];
  if (o.imageSize) {
    const sizes = numbers('--image-size', o.imageSize, { int: true }) as number[];
    // 28 alone is the SPEC protocol itself: no axis, so its folder, ids and run keys stay the same.
    if (!(sizes.length === 1 && sizes[0] === 28)) p.imageSizes = sizes;
  }
  if (o.pretrainSteps !== undefined) p.pretrainSteps = o.pretrainSteps;
  if (o.steps2d !== undefined) p.finetuneSteps2d = o.steps2d;
  if (o.steps3d !== undefined) p.finetuneSteps3d = o.steps3d;
  if (o.batch2d !== undefined) p.batch2d = o.batch2d;
  if (o.batch3d !== undefined) p.batch3d = o.batch3d;
  if (o.pretrainLr !== undefined) p.pretrainLr = o.pretrainLr;
  if (o.lr !== undefined) p.lr = { ...p.lr, scratch: o.lr, 'scratch-weighted': o.lr, full: o.lr };
  if (o.peftLr !== undefined) p.lr = { ...p.lr, lora: o.peftLr, adapter: o.peftLr };
  if (o.warmup !== undefined) p.warmup = o.warmup;
  if (o.weightDecay !== undefined) p.weightDecay = o.weightDecay;
  return p;
}

/** On a TTY: an overall bar and one bar per running run; elsewhere one line per run started/ended. */
function progress(quiet: boolean) {
  const tty = process.stderr.isTTY && !quiet;
  const multi = tty ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: false, format: '{label} [{bar}] {value}/{total} {extra}', etaBuffer: 50 }, cliProgress.Presets.shades_grey) : undefined;
  let overall: cliProgress.SingleBar | undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  const started = new Map<string, number>();
  // Pretraining runs cost far more than fine-tuning runs, so the ETA averages each kind separately.
  const spent = { pretrain: [] as number[], finetune: [] as number[] };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  let jobs = 1;
  const log = (line: string) => {
    if (quiet) return;
    if (multi?.isActive) multi.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  };
  const events: ReproduceEvents = {
    onRunStart: ({ id, total, steps, threads }) => {
      started.set(id, Date.now());
      if (!multi) return log(`started ${id} (${threads} thread${threads === 1 ? '' : 's'})`);
      overall ??= multi.create(total, 0, { label: 'overall'.padEnd(28), extra: '' });
      bars.set(id, multi.create(steps, 0, { label: id.padEnd(28).slice(0, 40), extra: '' }));
    },
    onStep: (id, l) => bars.get(id)?.update(l.step, { extra: `loss ${l.loss.toFixed(3)}` }),
    onRunEnd: ({ id, kind, done, total, skipped, summary }) => {
      const bar = bars.get(id);
      if (bar) {
        bar.stop();
        multi!.remove(bar);
        bars.delete(id);
      }
      if (!skipped && started.has(id)) spent[kind].push((Date.now() - started.get(id)!) / 1000);
      const left = total - done;
      const e = spent.finetune.length && left ? `ETA ${Math.round((mean(spent.finetune) * left) / jobs)} s` : '';
      overall?.update(done, { extra: e });
      if (done === total) multi?.stop();
      log(`[${done}/${total}] ${summary}${!skipped && e ? `  (${e})` : ''}`);
    },
  };
  return { events, stop: () => multi?.stop(), setJobs: (n: number) => (jobs = n) };
}

async function writeOutputs(out: string, rows: ResultRow[], details: RunDetail[], config: ReturnType<typeof readFolderConfig>, threads: number, seconds: number): Promise<void> {
  const dataNotes = describeData(config.data);
  writeFileAtomicSync(join(out, 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
  writeFileAtomicSync(join(out, 'results.csv'), toCsv(rows, resultColumns(rows)));
  writeFileAtomicSync(join(out, 'data.json'), `${JSON.stringify(dataNotes, null, 2)}\n`);
  const rep = await writeReport(out, { rows, details, config, dataNotes, machine: machineInfo(threads), totalSeconds: seconds });
  for (const e of rep.plotErrors) process.stderr.write(`stmedfm: warning: plot ${e.name} failed: ${e.message}\n`);
}

/** 'interrupted' (Ctrl-C) or 'terminated' (SIGTERM: kill, scancel, Kubernetes). */
function stoppedBy(intr: Interrupt): string {
  return intr.signal() === 'SIGTERM' ? 'terminated' : 'interrupted';
}

/** A worker or array task: one run, progress to a parent process over IPC when there is one. */
async function runOne(o: Opts): Promise<void> {
  // scancel and Kubernetes send SIGTERM: it stops like Ctrl-C (so the failure note says so), exit 143.
  const intr = interruptFlag();
  // A worker whose parent died (kill -9) stops at once; its finished runs are on disk.
  // The IPC channel must not keep a finished worker alive.
  if (process.send) {
    process.channel?.unref();
    process.on('disconnect', () => process.exit(130));
  }
  try {
    const r = await runByIndex({
      out: o.out,
      index: o.runIndex!,
      threads: o.threads ?? executionDefaults({ jobs: 1 }).finetune,
      shouldStop: intr.stopped,
      ...(process.send ? { onStep: (l) => process.send?.({ type: 'step', step: l.step, total: l.total, loss: l.loss }) } : {}),
    });
    if (!o.quiet) process.stderr.write(`${r.summary}\n`);
  } catch (e) {
    if (e instanceof Interrupted) {
      process.stderr.write(`stmedfm: ${stoppedBy(intr)}; run the same command again to redo this run.\n`);
      process.exitCode = INTERRUPT_EXIT[intr.signal() ?? 'SIGINT'];
      return;
    }
    throw e;
  } finally {
    intr.dispose();
  }
}

async function reportOnly(o: Opts): Promise<void> {
  const config = readFolderConfig(o.out);
  const lock = lockOrFail(join(o.out, '.lock'), `report of ${o.out}`, `the results folder ${o.out}`);
  try {
    const { rows, details, missing } = collectResults(o.out, config);
    await writeOutputs(o.out, rows, details, config, rows[0]?.threads ?? 1, rows.reduce((s, r) => s + r.train_seconds, 0));
    if (!o.quiet) process.stderr.write(`reproduce: ${rows.length} finished runs; wrote ${join(o.out, 'results.json')}, results.csv, report.md and report.html\n`);
    if (missing.length) throw new UserError(`${missing.length} run(s) did not finish: ${missing.map((m) => `${m.id} (index ${m.index}): ${m.reason}`).join('; ')}; run the same command again to redo only these`);
  } finally {
    lock.release();
  }
}

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description('the whole protocol grid: pretraining per seed (and image size), every task x method (x shots, LoRA rank/alpha, adapter width, image size), evaluation, results and report (resumable)')
    .option('--data-dir <dir>', 'folder with MedMNIST files under official names (default: the built-in demo pack of real MedMNIST subsets)')
    .option('--data <name=file>', 'use FILE for task NAME (repeatable)', collect, [])
    .option('--tasks <a,b,...>', `tasks (default ${DEFAULT_PROTOCOL.tasks.join(',')})`, list)
    .option('--methods <a,b,...>', `methods (default ${DEFAULT_PROTOCOL.methods.join(',')})`, list)
    .option('--seeds <a,b,...>', 'seeds (default 0,1,2; 0 alone on the built-in demo pack)', list)
    .option('--shots <k,...>', "few-shot transfer: k training examples per class, a list is a grid axis ('all' = whole train split)", list)
    .option('--lora-rank <r,...>', `LoRA ranks (grid axis; default ${DEFAULT_PROTOCOL.loraRank.join(',')})`, list)
    .option('--lora-alpha <a,...>', `LoRA alphas (grid axis; default ${DEFAULT_PROTOCOL.loraAlpha.join(',')})`, list)
    .option('--adapter-width <w,...>', `adapter bottleneck widths (grid axis; default ${DEFAULT_PROTOCOL.adapterWidth.join(',')})`, list)
    .option(
      '--image-size <px,...>',
      '2D image sizes (grid axis; default 28): 28, 64, 128, 224. Each size has its own pretraining, and its runs start from it. ' +
        'Data per size: --data-dir finds <task>.npz (28 px) and <task>_<size>.npz (MedMNIST+ names, e.g. bloodmnist_64.npz); ' +
        '--data NAME=FILE may be given once per size (the size is read from the file). Volumes stay 28^3',
      list,
    )
    .option('--out <dir>', 'output folder', 'stmedfm-results')
    .option('--jobs <n>', 'fine-tuning runs at once, each in its own process (default: the cores available)', int('--jobs', 1))
    .option('--threads <n>', 'ONNX Runtime threads per run (default: cores / jobs; pretraining gets all cores when no other run can run beside it)', int('--threads', 1))
    .option('--executor <local|slurm>', 'where runs execute: this machine, or SLURM job arrays (sbatch) sharing --out', 'local')
    .option('--partition <name>', 'SLURM partition (default: the cluster default)')
    .option('--wait', 'with --executor slurm: wait for the jobs and report failed runs by name')
    .option('--run-index <i>', "run only run I of --out's grid (set up by an earlier reproduce or --plan-only); for any scheduler", int('--run-index', 0))
    .option('--plan-only', 'set up --out (config.json) and list the runs by index; run nothing')
    .option('--report-only', "write results and report from --out's finished runs; name the runs not finished")
    .option('--pretrain-steps <n>', 'pretraining steps (default 200)', int('--pretrain-steps', 1))
    .option('--steps-2d <n>', 'fine-tuning steps of 2D tasks (default 120)', int('--steps-2d', 1))
    .option('--steps-3d <n>', 'fine-tuning steps of 3D tasks (default 50)', int('--steps-3d', 1))
    .option('--batch-2d <n>', 'batch size of 2D tasks (default 64)', int('--batch-2d', 1))
    .option('--batch-3d <n>', 'batch size of 3D tasks (default 16)', int('--batch-3d', 1))
    .option('--pretrain-lr <x>', 'pretraining learning rate (default 1e-3)', num('--pretrain-lr'))
    .option('--lr <x>', 'learning rate of scratch and full fine-tuning (default 1e-3)', num('--lr'))
    .option('--peft-lr <x>', 'learning rate of LoRA and adapters (default 3e-3)', num('--peft-lr'))
    .option('--warmup <n>', 'warmup steps (default 10)', int('--warmup'))
    .option('--weight-decay <x>', 'AdamW weight decay (default 0.05)', num('--weight-decay'))
    .option('--json', 'print the result rows as JSON on stdout')
    .option('--quiet', 'no progress output')
    .action(
      action(async (o: Opts) => {
        if (!['local', 'slurm'].includes(o.executor)) throw new UserError(`--executor must be local or slurm, not '${o.executor}'`);
        if (o.runIndex !== undefined) return runOne(o);
        if (o.reportOnly) return reportOnly(o);
        const protocol = resolveProtocol(o);
        const data = dataOptions(o, { sized: true });
        if (o.planOnly || o.executor === 'slurm') {
          const { lock } = prepare(o.out, protocol, data);
          try {
            if (o.planOnly) {
              const plan = planRuns(protocol);
              for (const r of plan) process.stdout.write(`${r.index}\t${r.id}\n`);
              if (!o.quiet) process.stderr.write(`reproduce: ${plan.length} runs planned in ${o.out}; run each with \`stmedfm reproduce --out ${o.out} --run-index I\` (pretraining runs first), then --report-only\n`);
              return;
            }
            const sub = submitSlurm({ out: o.out, threads: o.threads ?? 1, pretrainThreads: o.threads ?? executionDefaults({}).pretrain, ...(o.partition ? { partition: o.partition } : {}) });
            process.stderr.write(`${sub.message}\n`);
            if (o.json) printJson(sub);
          } finally {
            lock.release();
          }
          if (o.wait) {
            await waitForSlurm(o.out);
            await reportOnly({ ...o, quiet: true });
          }
          return;
        }
        const prog = progress(!!o.quiet);
        const intr = interruptFlag();
        const plan = planRuns(protocol);
        const ex = executionDefaults(o, plan);
        prog.setJobs(ex.jobs);
        if (!o.quiet) process.stderr.write(`reproduce: ${plan.length} runs (${protocol.tasks.length} tasks x ${protocol.methods.length} methods x ${protocol.seeds.length} seed(s)${plan.length > protocol.seeds.length * (1 + protocol.tasks.length * protocol.methods.length) ? ' x grid' : ''}) into ${o.out}, ${ex.jobs} at a time with ${ex.finetune} thread(s) each (pretraining ${ex.pretrain})\n`);
        let result;
        try {
          result = await reproduce({ out: o.out, data, protocol, jobs: ex.jobs, threads: ex.finetune, pretrainThreads: ex.pretrain, events: { ...prog.events, shouldStop: intr.stopped } });
        } catch (e) {
          prog.stop();
          if (e instanceof Interrupted) {
            process.stderr.write(`stmedfm: ${stoppedBy(intr)}; finished runs are saved in ${o.out}. Run the same command again to resume.\n`);
            process.exitCode = INTERRUPT_EXIT[intr.signal() ?? 'SIGINT'];
            return;
          }
          throw e;
        } finally {
          intr.dispose();
        }
        prog.stop();
        if (result.failed.length) {
          throw new UserError(`${result.failed.length} run(s) failed: ${result.failed.map((f) => `${f.id}: ${f.reason}`).join('; ')}; finished runs are saved in ${o.out}, run the same command again to retry the failed ones`);
        }
        await writeOutputs(o.out, result.rows, result.details, readFolderConfig(o.out), ex.finetune, result.seconds);
        if (o.json) printJson(result.rows);
        if (!o.quiet) process.stderr.write(`reproduce: ${result.rows.length} runs; wrote ${join(o.out, 'results.json')}, results.csv, report.md and report.html (${result.seconds.toFixed(0)} s this session)\n`);
      }),
    );
  void InvalidArgumentError;
}
