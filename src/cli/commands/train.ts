/** `stmedfm pretrain` and `stmedfm finetune`. */
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MODEL_CONFIGS, type ModelConfig } from '../../model/config.js';
import { METHODS, type Method } from '../../model/stmedfm.js';
import type { LoraTarget } from '../../model/peft.js';
import { loadModel, saveModel, saveOptimizer } from '../../training/checkpoint.js';
import { UserError } from '../../training/errors.js';
import type { StepLog } from '../../training/trainer.js';
import { finetune, pretrain, type TrainedModel } from '../../training/workflows.js';
import { writeAdapterFiles } from '../adapter_files.js';
import { action, collect, dataOptions, int, interruptFlag, list, num, printJson, stepReporter } from '../common.js';

interface CommonOpts {
  dataDir?: string;
  data?: string[];
  steps?: number;
  seed: number;
  threads: number;
  out: string;
  lr?: number;
  warmup?: number;
  weightDecay?: number;
  batch2d?: number;
  batch3d?: number;
  log?: string;
  json?: boolean;
  quiet?: boolean;
}

function addCommon(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'folder with MedMNIST files under official names (default: the built-in demo pack)')
    .option('--data <name=file>', 'use FILE for task NAME (repeatable), e.g. bloodmnist=../shared/data/medmnist/bloodmnist-source28.npz', collect, [])
    .option('--steps <n>', 'optimisation steps', int('--steps', 1))
    .option('--seed <n>', 'random seed (init, batches, shots)', int('--seed'), 0)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads', 1), 1)
    .option('--lr <x>', 'peak learning rate', num('--lr'))
    .option('--warmup <n>', 'linear warmup steps before cosine decay', int('--warmup'))
    .option('--weight-decay <x>', 'AdamW weight decay (weight matrices and conv kernels only)', num('--weight-decay'))
    .option('--batch-2d <n>', 'batch size of 2D tasks (default 64)', int('--batch-2d', 1))
    .option('--batch-3d <n>', 'batch size of 3D tasks (default 16)', int('--batch-3d', 1))
    .option('--log <file>', 'write the per-step losses as JSON lines')
    .option('--json', 'print a JSON summary on stdout')
    .option('--quiet', 'no progress output');
}

function modelConfig(name: string | undefined): ModelConfig | undefined {
  if (name === undefined) return undefined;
  const c = MODEL_CONFIGS[name];
  if (!c) throw new UserError(`unknown --model '${name}'; known: ${Object.keys(MODEL_CONFIGS).join(', ')}`);
  return c;
}

function stepHooks(label: string, o: CommonOpts) {
  const rep = stepReporter(label, { quiet: o.quiet });
  const intr = interruptFlag();
  if (o.log) writeFileSync(o.log, '');
  const onStep = (l: StepLog) => {
    rep.onStep(l);
    if (o.log) appendFileSync(o.log, `${JSON.stringify({ step: l.step, loss: l.loss, lr: l.lr, tasks: l.taskLosses })}\n`);
  };
  return { onStep, shouldStop: intr.stopped, done: () => (rep.stop(), intr.dispose()) };
}

async function finish(label: string, t: TrainedModel, o: CommonOpts, extra: Record<string, unknown> = {}): Promise<void> {
  await saveModel(o.out, t.model, t.store, t.training);
  await saveOptimizer(o.out, t.result.optimizerState, t.result.stepsDone, { kind: String(t.training.kind) });
  for (const w of t.result.warnings) process.stderr.write(`stmedfm: warning: ${w}\n`);
  const summary = {
    out: o.out,
    steps_done: t.result.stepsDone,
    trainable_params: t.result.trainableCount,
    first_loss: t.result.losses[0] ?? null,
    final_loss: t.result.losses.at(-1) ?? null,
    train_seconds: Number(t.result.seconds.toFixed(3)),
    ...extra,
  };
  if (o.json) printJson(summary);
  else {
    process.stderr.write(
      `${label}: ${t.result.stepsDone} steps in ${t.result.seconds.toFixed(1)} s, loss ${summary.first_loss?.toFixed(4)} -> ${summary.final_loss?.toFixed(4)}, ` +
        `${t.result.trainableCount.toLocaleString('en-US')} trainable parameters; saved ${o.out}\n`,
    );
  }
  if (t.result.stepsDone < Number(t.training.steps)) {
    process.stderr.write(`stmedfm: stopped early at step ${t.result.stepsDone}; continue with --resume ${o.out}\n`);
  }
}

const optimFrom = (o: CommonOpts) => ({
  ...(o.lr !== undefined ? { lr: o.lr } : {}),
  ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
  ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
});

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
      const hooks = stepHooks('pretrain', o);
      try {
        const t = await pretrain({
          tasks: o.tasks,
          config: modelConfig(o.model),
          data: dataOptions(o),
          seed: o.seed,
          threads: o.threads,
          steps: o.steps ?? 200,
          batch2d: o.batch2d,
          batch3d: o.batch3d,
          optim: optimFrom(o),
          onStep: hooks.onStep,
          shouldStop: hooks.shouldStop,
        });
        hooks.done();
        await finish('pretrain', t, o, { tasks: o.tasks });
      } finally {
        hooks.done();
      }
    }),
  );

  addCommon(
    program
      .command('finetune')
      .description('transfer to one task: scratch, scratch-weighted, full, lora or adapter')
      .requiredOption('--task <name>', 'MedMNIST task, e.g. pathmnist')
      .requiredOption('--method <m>', `one of ${METHODS.join(', ')}`)
      .option('--from <file.safetensors>', 'pretrained checkpoint (required for full, lora, adapter)')
      .option('--resume <file.safetensors>', 'continue an interrupted fine-tuning run from its checkpoint and optimizer state')
      .option('--shots <k>', 'keep k training examples per class (few-shot)', int('--shots', 1))
      .option('--lora-r <n>', 'LoRA rank', int('--lora-r', 1))
      .option('--lora-alpha <x>', 'LoRA alpha', num('--lora-alpha'))
      .option('--lora-targets <list>', 'LoRA targets among qkv,proj,fc1,fc2', list)
      .option('--rslora', 'rsLoRA scaling alpha/sqrt(r)')
      .option('--adapter-size <n>', 'adapter bottleneck width', int('--adapter-size', 1))
      .option('--adapter-placement <p>', 'houlsby (after attention and MLP) or pfeiffer (after MLP)')
      .option('--model <name>', 'model config for scratch methods (stmedfm-tiny, stmedfm-small)')
      .option('--adapter-dir <dir>', 'where to write adapter_model.safetensors + adapter_config.json (lora/adapter; default: next to --out)')
      .requiredOption('--out <file.safetensors>', 'checkpoint to write'),
  ).action(
    action(
      async (
        o: CommonOpts & {
          task: string;
          method: string;
          from?: string;
          resume?: string;
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
        const from = o.from ? await loadModel(o.from) : undefined;
        const hooks = stepHooks(`finetune ${o.task} ${o.method}`, o);
        try {
          const t = await finetune({
            task: o.task,
            method: o.method as Method,
            from,
            config: modelConfig(o.model),
            data: dataOptions(o),
            seed: o.seed,
            threads: o.threads,
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
          hooks.done();
          let adapterDir: string | undefined;
          if (t.model.peft) adapterDir = await writeAdapterFiles(t, o.adapterDir ?? o.out.replace(/\.safetensors$/, '') + '-adapter', o.task, o.from);
          await finish(`finetune ${o.task} ${o.method}`, t, o, { task: o.task, method: o.method, ...(adapterDir ? { adapter_dir: adapterDir } : {}) });
        } finally {
          hooks.done();
        }
      },
    ),
  );
}
