/** `stmedfm evaluate`: metrics of a checkpoint on a task's split. */
import type { Command } from 'commander';
import { loadModel, untrainedHeadWarning } from '../../training/checkpoint.js';
import { UserError } from '../../training/errors.js';
import { useCheckpointTasks } from '../../training/task_from_data.js';
import { taskHead } from '../../training/tasks.js';
import { evaluate } from '../../training/workflows.js';
import { formatMetric } from '../../evaluation/metrics.js';
import { checkThreads, collect, dataOptions, int, action, printJson, threadsOption, warn, warnUnusedData } from '../common.js';

/**
 * Above these batches evaluation gets slower, not faster, and needs more memory. Measured here
 * (2 cores, 1 thread, whole `evaluate` command): BloodMNIST test (3,420 images) 10.5 s at batch
 * 256, 13.9 s at 1024, 27.8 s at 4096; OrganMNIST3D test (610 volumes) 12.6 s at 32, 20.7 s at
 * 128, 156 s at 512.
 */
export const LARGE_EVAL_BATCH = { '2d': 1024, '3d': 128 } as const;

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('accuracy, macro AUROC, ECE, classwise ECE, Brier and NLL of a checkpoint on a split')
    .requiredOption('--checkpoint <file>', 'checkpoint (.safetensors)')
    .requiredOption('--task <name>', 'task whose head to evaluate (a task of your own: give its file with --data NAME=FILE)')
    .option('--split <s>', 'train, val or test', 'test')
    .option('--data-dir <dir>', 'folder with MedMNIST files (default: the built-in demo pack)')
    .option('--data <name=file>', 'use FILE for task NAME (repeatable)', collect, [])
    .addOption(threadsOption())
    .option('--batch <n>', 'evaluation batch size (default 256 for 2D, 32 for 3D; capped at the split size; above 1024/128 it gets slower)', int('--batch', 1))
    .option('--no-temperature', 'report raw metrics only (no temperature scaling)')
    .option('--fit-temperature', "fit the temperature on val here even when the checkpoint stores one (default: the checkpoint's, fitted on val by finetune; fitted here only when it has none)")
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { checkpoint: string; task: string; split: string; dataDir?: string; data: string[]; threads: number; batch?: number; temperature: boolean; fitTemperature?: boolean; json?: boolean }) => {
        if (!['train', 'val', 'test'].includes(o.split)) throw new UserError(`--split must be train, val or test, got '${o.split}'`);
        checkThreads(o.threads);
        warnUnusedData(o.data, [o.task]);
        const head = taskHead(o.task);
        if (o.batch !== undefined && o.batch > LARGE_EVAL_BATCH[head.modality]) {
          warn(`--batch ${o.batch} is very large for ${head.modality.toUpperCase()} (above ${LARGE_EVAL_BATCH[head.modality]}): evaluation gets slower (several times, measured) and needs more memory; the default is ${head.modality === '2d' ? 256 : 32}`);
        }
        const m = await loadModel(o.checkpoint);
        useCheckpointTasks(m, o.checkpoint, head.name);
        if (m.model.headsByName.has(head.name)) {
          const stale = untrainedHeadWarning(m, o.checkpoint, head.name);
          if (stale) warn(stale);
        }
        const r = await evaluate(m, { task: o.task, split: o.split as 'test', data: dataOptions(o), threads: o.threads, batchSize: o.batch, temperature: o.temperature, fitTemperature: o.fitTemperature });
        // Everything but the raw arrays (probs, logits, labels), which are for plots.
        const { probs: _p, logits: _l, labels: _y, auroc_skipped, temperature, ...metrics } = r;
        const out = {
          ...metrics,
          ...(auroc_skipped.length ? { auroc_skipped_classes: auroc_skipped } : {}),
          ...(temperature ? { temperature_scaled: temperature } : {}),
          threads: o.threads,
        };
        for (const w of r.warnings) process.stderr.write(`stmedfm: warning: ${w}\n`);
        if (o.json) printJson(out);
        else {
          const f = (x: number) => formatMetric(x);
          process.stdout.write(`${r.task} ${r.split} (n=${r.n}): acc ${f(r.acc)}  auroc ${formatMetric(r.auroc, r.auroc_why)}  ece ${f(r.ece)}  classwise-ece ${f(r.classwise_ece)}  brier ${f(r.brier)}  nll ${f(r.nll)}\n`);
          if (r.multi_label && r.per_label_ece) {
            process.stdout.write(`  multi-label: acc over all labels at p > 0.5, auroc the mean over labels; per-label ece ${r.per_label_ece.map((e) => e.toFixed(3)).join(' ')}\n`);
          }
          if (r.temperature) {
            const src = r.temperature.source === 'checkpoint' ? "the checkpoint's, fitted on val by finetune" : 'fitted on val';
            process.stdout.write(`  after temperature scaling (T=${r.temperature.t.toFixed(3)}, ${src}${r.temperature.at_bound ? ', at its search bound' : ''}): ece ${f(r.temperature.ece)}  brier ${f(r.temperature.brier)}  nll ${f(r.temperature.nll)}\n`);
          }
        }
      }),
    );
}
