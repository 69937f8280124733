/** `stmedfm predict`: class probabilities for an image or a `.npy` array. */
import type { Command } from 'commander';
import { getDataset } from '../../data/index.js';
import { readInput } from '../../inference/input.js';
import { Predictor } from '../../inference/predictor.js';
import { loadModel } from '../../training/checkpoint.js';
import { UserError } from '../../training/errors.js';
import { action, int, printJson } from '../common.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('class probabilities for a PNG/JPEG image or a .npy uint8 array ([28,28,3], [N,28,28,3], [28,28,28], [N,28,28,28])')
    .requiredOption('--checkpoint <file>', 'checkpoint (.safetensors)')
    .requiredOption('--task <name>', 'task whose head to use')
    .requiredOption('--input <file>', 'image (.png, .jpg) or .npy array in the MedMNIST layout')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1), 1)
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { checkpoint: string; task: string; input: string; threads: number; json?: boolean }) => {
        const m = await loadModel(o.checkpoint);
        let info;
        try {
          info = getDataset(o.task);
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        m.model.head(info.name);
        const x = readInput(o.input, info);
        for (const w of x.warnings) process.stderr.write(`stmedfm: warning: ${w}\n`);
        const p = await Predictor.create(m.model, m.store, info.name, { threads: o.threads });
        const r = await p.run(x.data, x.n);
        await p.release();
        const rows = Array.from({ length: r.n }, (_, i) => Array.from(r.probs.subarray(i * r.classes, (i + 1) * r.classes)));
        if (o.json) printJson({ probabilities: rows, labels: info.labels });
        else {
          rows.forEach((row, i) => {
            const order = row.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0]);
            const top = order.slice(0, 3).map(([v, c]) => `${info.labels[c]} ${(100 * v).toFixed(1)}%`).join(', ');
            process.stdout.write(`${r.n > 1 ? `[${i}] ` : ''}${top}\n`);
          });
        }
      }),
    );
}
