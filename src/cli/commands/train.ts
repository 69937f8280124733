/** `stmedfm pretrain` and `stmedfm finetune`. */
import { appendFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { resolveDataFile } from '../../data/index.js';
import { makeDirs } from '../../io/atomic.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from '../../io/peft_files.js';
import { MODEL_CONFIGS, STMEDFM_TINY, type ModelConfig } from '../../model/config.js';
import { METHODS, STMedFM, type Method } from '../../model/stmedfm.js';
import type { LoraTarget } from '../../model/peft.js';
import { loadModel, optimizerPath, partialPath, saveTrainingPair } from '../../training/checkpoint.js';
import { UserError } from '../../training/errors.js';
import { useCheckpointTasks } from '../../training/task_from_data.js';
import { taskHead } from '../../training/tasks.js';
import type { StepLog } from '../../training/trainer.js';
import { finetune, pretrain, trainingState, type TrainedModel } from '../../training/workflows.js';
import { adapterFiles } from '../adapter_files.js';
import { startingPoint } from '../backbone.js';
import { INTERRUPT_EXIT, action, checkThreads, collect, dataOptions, int, interruptFlag, list, num, printDataNotes, printJson, stepReporter, threadsOption, warn, warnUnusedData } from '../common.js';
import { type NamedInput, type PlannedOutput, checkOutputs } from '../outputs.js';

interface CommonOpts {
  dataDir?: string;
  data?: string[];
  steps?: number;
  seed: number;
  threads: number;
  /** False with --no-data-parallel. */
  dataParallel: boolean;
  out: string;
  resume?: string;
  lr?: number;
  warmup?: number;
  weightDecay?: number;
  batch2d?: number;
  batch3d?: number;
  log?: string;
  json?: boolean;
  quiet?: boolean;
}

const OUTPUT_HELP = `
Image size: the model takes its data's 2D image size, read from the file: 28 px (MedMNIST) or
64/128/224 px (MedMNIST+, e.g. \`data import --size 64\`), with the patch conv keeping 7-8 tokens
a side (\`stmedfm info --image-size 64\`). A checkpoint keeps its size: starting from (or
evaluating) a checkpoint of another size than the data is refused, naming both sizes.

Output: --out must end in .safetensors; its optimizer state goes to <out>.optim.safetensors.
--log must end in .jsonl, .ndjson, .log or .txt. Outputs may not be any of the inputs, and
missing folders are created. Everything is checked before training starts.

Interrupting (Ctrl-C or SIGTERM) stops at the end of the current step, saves the run so far to
<out>.partial.safetensors (+ .partial.optim.safetensors; --out itself is not touched), prints
the command that continues it (the same command plus --resume <out>.partial.safetensors), and
exits 130 (143 for SIGTERM). A second Ctrl-C quits at once without saving. A finished run
removes its own <out>.partial files. A resumed run ends with the same weights as an
uninterrupted one; it must use the interrupted run's settings (checked before training).`;

function addCommon(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'folder with MedMNIST files under official names (default: the built-in demo pack)')
    .option('--data <name=file>', 'use FILE for task NAME (repeatable), e.g. bloodmnist=../shared/data/medmnist/bloodmnist-source28.npz', collect, [])
    .option('--steps <n>', 'optimisation steps (when resuming: the interrupted run\'s)', int('--steps', 1))
    .option('--seed <n>', 'random seed (init, batches, shots)', int('--seed'), 0)
    .addOption(threadsOption())
    .option(
      '--no-data-parallel',
      'with 2+ threads, run each step in one ONNX Runtime session with that many intra-op threads instead of data-parallel (the batch split over that many one-thread replicas, gradients summed: faster here); STMEDFM_DATA_PARALLEL=0 does the same',
    )
    .option('--lr <x>', 'peak learning rate', num('--lr'))
    .option('--warmup <n>', 'linear warmup steps before cosine decay', int('--warmup'))
    .option('--weight-decay <x>', 'AdamW weight decay >= 0 (weight matrices and conv kernels only)', num('--weight-decay'))
    .option('--batch-2d <n>', 'batch size of 2D tasks (default 64)', int('--batch-2d', 1))
    .option('--batch-3d <n>', 'batch size of 3D tasks (default 16)', int('--batch-3d', 1))
    .option('--resume <file.safetensors>', 'continue an interrupted run from its <out>.partial.safetensors (and optimizer state)')
    .option('--log <file.jsonl>', 'write the per-step losses as JSON lines (appended to when resuming)')
    .option('--json', 'print a JSON summary on stdout')
    .option('--quiet', 'no progress output')
    .addHelpText('after', OUTPUT_HELP);
}

function modelConfig(name: string | undefined): ModelConfig | undefined {
  if (name === undefined) return undefined;
  const c = MODEL_CONFIGS[name];
  if (!c) throw new UserError(`unknown --model '${name}'; known: ${Object.keys(MODEL_CONFIGS).join(', ')}`);
  return c;
}

/** The data files a run reads (inputs that no output may replace). */
function dataInputs(o: CommonOpts, tasks: readonly string[]): NamedInput[] {
  const src = dataOptions(o);
  return tasks.map((t) => ({ flag: o.data?.some((d) => d.startsWith(`${t}=`)) ? '--data' : '--data-dir', path: resolveDataFile(t, src) }));
}

const checkpointInputs = (flag: string, path: string | undefined): NamedInput[] => (path ? [{ flag, path }, { flag, path: optimizerPath(path) }] : []);

/** Everything a training command writes: the checkpoint pair, the partial pair, the log, adapter files. */
function plannedOutputs(o: CommonOpts, adapterDir?: string): PlannedOutput[] {
  const partial = partialPath(o.out);
  const outputs: PlannedOutput[] = [
    { flag: '--out', path: o.out, kind: 'checkpoint', also: [optimizerPath(o.out)] },
    // An interrupted resumed run replaces the partial state it resumed from with a newer one.
    { flag: '--out', path: partial, kind: 'checkpoint', also: [optimizerPath(partial)], mayReplace: ['--resume'], derived: true },
  ];
  if (adapterDir) outputs.push({ flag: '--adapter-dir', path: adapterDir, kind: 'folder', also: [join(adapterDir, ADAPTER_WEIGHTS_NAME), join(adapterDir, ADAPTER_CONFIG_NAME)] });
  if (o.log) outputs.push({ flag: '--log', path: o.log, kind: 'log' });
  return outputs;
}

/** About what a run writes: the checkpoint, AdamW's two moments, and a partial pair of the same size. */
function bytesNeeded(paramBytes: number): number {
  return paramBytes * 3 + 1e6;
}

function paramBytes(config: ModelConfig, tasks: readonly string[]): number {
  return new STMedFM(config, tasks.map(taskHead)).specs().reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
}

function stepHooks(label: string, o: CommonOpts) {
  const rep = stepReporter(label, { quiet: o.quiet });
  const intr = interruptFlag();
  // The log is opened at the first step, so a run refused before training leaves no (emptied) log.
  let log = o.log;
  let opened = false;
  const onStep = (l: StepLog) => {
    rep.onStep(l);
    if (!log) return;
    try {
      if (!opened) {
        makeDirs(dirname(log));
        if (!o.resume || !existsSync(log)) writeFileSync(log, '');
        opened = true;
      }
      appendFileSync(log, `${JSON.stringify({ step: l.step, loss: l.loss, lr: l.lr, tasks: l.taskLosses })}\n`);
    } catch (e) {
      // A log that cannot be written must not cost the run.
      warn(`cannot write the log ${log} (${(e as Error).message}); training goes on without it`);
      log = undefined;
    }
  };
  // The signal handlers stay until the files are saved: a second Ctrl-C during the save then exits
  // through process.exit, which removes temp files (a default signal death would leave them).
  return { onStep, shouldStop: intr.stopped, signal: intr.signal, trained: () => rep.stop(), done: () => (rep.stop(), intr.dispose()) };
}

/** The command line to continue from `partial`: this one with --resume replaced. */
function resumeCommand(partial: string): string {
  const args: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--resume') i++;
    else if (!argv[i]!.startsWith('--resume=')) args.push(argv[i]!);
  }
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['stmedfm', ...args, '--resume', partial].map(quote).join(' ');
}

/** Saves a finished run over --out, or an interrupted one to its partial file; prints the summary. */
async function finish(label: string, t: TrainedModel, o: CommonOpts, signal: keyof typeof INTERRUPT_EXIT | undefined, extra: Record<string, unknown> = {}, adapterDir?: string): Promise<void> {
  const r = t.result;
  for (const w of r.warnings) warn(w);
  // Provenance: the threads of this (last) session and whether its steps ran data-parallel (the
  // replica count; 1: one session); results match other settings up to float rounding.
  t.training.threads = o.threads;
  t.training.data_parallel_replicas = r.parallelism.replicas;
  const state = trainingState(t);
  if (r.interrupted) {
    const partial = partialPath(o.out);
    const saved = r.stepsDone > r.startStep;
    if (saved) await saveTrainingPair(partial, state);
    const where = saved ? `saved the run so far to ${partial} (${o.out} was not written)` : `nothing new to save (no step finished${o.resume ? `; ${o.resume} is unchanged` : ''})`;
    const resumeFrom = saved ? partial : o.resume;
    process.stderr.write(`stmedfm: ${label} stopped at step ${r.stepsDone}/${t.training.steps}; ${where}\n`);
    if (resumeFrom) process.stderr.write(`stmedfm: continue with: ${resumeCommand(resumeFrom)}\n`);
    if (o.json) printJson({ interrupted: true, partial: saved ? partial : null, steps_done: r.stepsDone, steps: t.training.steps, ...extra });
    process.exitCode = INTERRUPT_EXIT[signal ?? 'SIGINT'];
    return;
  }
  const extraFiles = adapterDir ? adapterFiles(t, adapterDir, String(t.training.task), extra.from as string | undefined) : [];
  await saveTrainingPair(o.out, state, extraFiles);
  // A finished run supersedes its own interrupted state.
  const partial = partialPath(o.out);
  for (const f of [partial, optimizerPath(partial)]) rmSync(f, { force: true });
  const summary = {
    out: o.out,
    steps_done: r.stepsDone,
    trainable_params: r.trainableCount,
    first_loss: r.losses[0] ?? null,
    final_loss: r.losses.at(-1) ?? null,
    train_seconds: Number(r.seconds.toFixed(3)),
    threads: o.threads,
    data_parallel_replicas: r.parallelism.replicas,
    ...(o.resume ? { resumed_from: o.resume, resumed_at_step: r.startStep } : {}),
    ...(t.config.calibration ? { calibration: t.config.calibration } : {}),
    ...extra,
  };
  if (o.json) printJson(summary);
  else {
    process.stderr.write(
      `${label}: ${r.stepsDone - r.startStep} steps${o.resume ? ` (resumed at ${r.startStep})` : ''} in ${r.seconds.toFixed(1)} s, loss ${summary.first_loss?.toFixed(4)} -> ${summary.final_loss?.toFixed(4)}, ` +
        `${r.trainableCount.toLocaleString('en-US')} trainable parameters, ${o.threads} thread${o.threads === 1 ? '' : 's'}${r.parallelism.replicas > 1 ? ` (data-parallel, ${r.parallelism.replicas} replicas)` : ''}; saved ${o.out}${calibrationNote(t)}
`,
    );
  }
}

/** `, temperature T = 0.9 (val NLL 0.80 -> 0.75)` for the summary line of a calibrated run. */
function calibrationNote(t: TrainedModel): string {
  const c = Object.values(t.config.calibration ?? {})[0];
  return c ? ` with temperature T = ${c.temperature.toFixed(3)} (fitted on val: NLL ${c.nll_before.toFixed(4)} -> ${c.nll_after.toFixed(4)})` : '';
}

const optimFrom = (o: CommonOpts) => ({
  ...(o.lr !== undefined ? { lr: o.lr } : {}),
  ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
  ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
});

function checkOptim(o: CommonOpts): void {
  if (o.weightDecay !== undefined && o.weightDecay < 0) throw new UserError(`--weight-decay must be >= 0 (0 turns it off), got ${o.weightDecay}`);
  if (o.lr !== undefined && !(o.lr > 0)) throw new UserError(`--lr must be positive, got ${o.lr}`);
}

export function registerTrain(program: Command): void {
  addCommon(
    program
      .command('pretrain')
      .description('multi-task supervised pretraining: one batch per task per step, summed cross-entropies')
      .option('--tasks <a,b,...>', 'MedMNIST tasks to pretrain on', list, ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'])
      .option('--model <name>', 'model config (stmedfm-tiny, stmedfm-small)')
      .requiredOption('--out <file.safetensors>', 'checkpoint to write'),
  ).action(
    action(async (o: CommonOpts & { tasks: string[]; model?: string }) => {
      checkOptim(o);
      checkThreads(o.threads);
      warnUnusedData(o.data, o.tasks);
      const config = modelConfig(o.model);
      checkOutputs(plannedOutputs(o), [...dataInputs(o, o.tasks), ...checkpointInputs('--resume', o.resume)], {
        bytesNeeded: bytesNeeded(paramBytes(config ?? STMEDFM_TINY, o.tasks)),
      });
      if (!o.quiet) printDataNotes();
      const hooks = stepHooks('pretrain', o);
      try {
        const t = await pretrain({
          tasks: o.tasks,
          config,
          data: dataOptions(o),
          seed: o.seed,
          threads: o.threads,
          dataParallel: o.dataParallel,
          steps: o.steps,
          batch2d: o.batch2d,
          batch3d: o.batch3d,
          optim: optimFrom(o),
          resumeFrom: o.resume,
          onStep: hooks.onStep,
          shouldStop: hooks.shouldStop,
        });
        hooks.trained();
        await finish('pretrain', t, o, hooks.signal(), { tasks: o.tasks });
      } finally {
        hooks.done();
      }
    }),
  );

  addCommon(
    program
      .command('finetune')
      .description('transfer to one task: scratch, scratch-weighted, full, lora or adapter')
      .requiredOption('--task <name>', 'MedMNIST task (e.g. pathmnist), or a task of your own defined by --data NAME=FILE.npz (classes from the file)')
      .requiredOption('--method <m>', `one of ${METHODS.join(', ')}`)
      .option('--from <file.safetensors|none>', 'checkpoint to start full/lora/adapter from (default: the packaged pretrained STMedFM-Tiny, data/pretrained/stmedfm-tiny.safetensors); `none` = random weights (full only: the same as scratch); not used by scratch methods')
      .option('--shots <k>', 'keep k training examples per class (few-shot)', int('--shots', 1))
      .option('--lora-r <n>', 'LoRA rank', int('--lora-r', 1))
      .option('--lora-alpha <x>', 'LoRA alpha', num('--lora-alpha'))
      .option('--lora-targets <list>', 'LoRA targets among qkv,proj,fc1,fc2', list)
      .option('--rslora', 'rsLoRA scaling alpha/sqrt(r)')
      .option('--adapter-size <n>', 'adapter bottleneck width', int('--adapter-size', 1))
      .option('--adapter-placement <p>', 'houlsby (after attention and MLP) or pfeiffer (after MLP)')
      .option('--model <name>', 'model config for scratch methods (stmedfm-tiny, stmedfm-small)')
      .option('--adapter-dir <dir>', 'where to write adapter_model.safetensors + adapter_config.json (lora/adapter; default: <out>-adapter next to --out)')
      .requiredOption('--out <file.safetensors>', 'checkpoint to write'),
  ).action(
    action(
      async (
        o: CommonOpts & {
          task: string;
          method: string;
          from?: string;
          shots?: number;
          loraR?: number;
          loraAlpha?: number;
          loraTargets?: string[];
          rslora?: boolean;
          adapterSize?: number;
          adapterPlacement?: string;
          model?: string;
          adapterDir?: string;
        },
      ) => {
        if (!METHODS.includes(o.method as Method)) throw new UserError(`unknown --method '${o.method}'; choose one of ${METHODS.join(', ')}`);
        // --from: the packaged backbone by default, `none` for random weights (see cli/backbone.ts).
        const start = startingPoint(o.method as Method, o.from);
        o.method = start.method;
        o.from = start.from;
        checkOptim(o);
        checkThreads(o.threads);
        warnUnusedData(o.data, [o.task]);
        const peft = o.method === 'lora' || o.method === 'adapter';
        const adapterDir = peft ? (o.adapterDir ?? o.out.replace(/\.safetensors$/, '') + '-adapter') : undefined;
        if (o.adapterDir && !peft) warn(`--adapter-dir is ignored: method ${o.method} writes no adapter files`);
        const fromBytes = o.from && existsSync(o.from) && statSync(o.from).isFile() ? statSync(o.from).size : paramBytes(modelConfig(o.model) ?? STMEDFM_TINY, [o.task]);
        checkOutputs(plannedOutputs(o, adapterDir), [...dataInputs(o, [o.task]), ...checkpointInputs('--from', o.from), ...checkpointInputs('--resume', o.resume)], {
          bytesNeeded: bytesNeeded(fromBytes),
        });
        const from = o.from ? await loadModel(o.from) : undefined;
        if (from) useCheckpointTasks(from, `--from ${o.from}`, o.task);
        if (!o.quiet) {
          printDataNotes();
          process.stderr.write(`finetune: ${start.note}\n`);
        }
        const label = `finetune ${o.task} ${o.method}`;
        const hooks = stepHooks(label, o);
        try {
          const t = await finetune({
            task: o.task,
            method: o.method as Method,
            from,
            config: modelConfig(o.model),
            data: dataOptions(o),
            seed: o.seed,
            threads: o.threads,
            dataParallel: o.dataParallel,
            steps: o.steps,
            shots: o.shots,
            batch2d: o.batch2d,
            batch3d: o.batch3d,
            optim: optimFrom(o),
            lora: {
              ...(o.loraR !== undefined ? { r: o.loraR } : {}),
              ...(o.loraAlpha !== undefined ? { alpha: o.loraAlpha } : {}),
              ...(o.loraTargets ? { targets: o.loraTargets as LoraTarget[] } : {}),
              ...(o.rslora ? { rslora: true } : {}),
            },
            adapter: {
              ...(o.adapterSize !== undefined ? { bottleneck: o.adapterSize } : {}),
              ...(o.adapterPlacement ? { placement: o.adapterPlacement as 'houlsby' | 'pfeiffer' } : {}),
            },
            resumeFrom: o.resume,
            onStep: hooks.onStep,
            shouldStop: hooks.shouldStop,
          });
          hooks.trained();
          await finish(label, t, o, hooks.signal(), { task: o.task, method: o.method, ...(adapterDir ? { adapter_dir: adapterDir } : {}), from: o.from ?? 'none' }, adapterDir);
        } finally {
          hooks.done();
        }
      },
    ),
  );
}
