/** `stmedfm export`: the deployable inference ONNX of one task. */
import type { Command } from 'commander';
import { exportOnnx } from '../../inference/export.js';
import { storedTemperature } from '../../training/calibration.js';
import { loadModel, untrainedHeadWarning } from '../../training/checkpoint.js';
import { useCheckpointTasks } from '../../training/task_from_data.js';
import { action, printJson, warn } from '../common.js';
import { checkOutputs } from '../outputs.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write an inference ONNX model (LoRA merged, softmax output, dynamic batch, metadata)')
    .requiredOption('--checkpoint <file>', 'checkpoint (.safetensors)')
    .requiredOption('--task <name>', 'task whose head to export')
    .requiredOption('--out <file.onnx>', 'ONNX file to write (must end in .onnx, may not be the checkpoint; missing folders are created)')
    .option('--no-calibration', "raw probabilities output: ignore the temperature the checkpoint stores for the task (default: probabilities = softmax(logits / T), T in the metadata)")
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { checkpoint: string; task: string; out: string; calibration: boolean; json?: boolean }) => {
        checkOutputs([{ flag: '--out', path: o.out, kind: 'onnx' }], [{ flag: '--checkpoint', path: o.checkpoint }]);
        const m = await loadModel(o.checkpoint);
        useCheckpointTasks(m, o.checkpoint);
        m.model.head(o.task);
        const stale = untrainedHeadWarning(m, o.checkpoint, m.model.head(o.task).name);
        if (stale) warn(stale);
        const temperature = o.calibration ? storedTemperature(m.config, m.model.head(o.task).name) : undefined;
        const info = await exportOnnx(m.model, m.store, o.task, o.out, temperature !== undefined ? { temperature } : {});
        if (o.json) printJson({ out: o.out, ...info });
        else {
          const probs = temperature !== undefined ? `probabilities calibrated with T = ${temperature.toFixed(4)}` : 'raw probabilities';
          process.stderr.write(`exported ${o.task} to ${o.out} (input x [${info.inputShape.join(',')}], outputs logits and ${probs})\n`);
        }
      }),
    );
}
