/** `stmedfm explain`: a Grad-CAM saliency map of one prediction, written as a PNG overlay. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { GradCamExplainer, encodePng, renderOverlay, resolveClass } from '../../explain/index.js';
import { readInput } from '../../inference/input.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { UserError } from '../../training/errors.js';
import { loadCheckpointTask } from '../checkpoint_task.js';
import { action, checkThreads, int, printJson, threadsOption } from '../common.js';

interface ExplainOptions {
  checkpoint: string;
  task: string;
  input: string;
  class?: string;
  index?: number;
  out: string;
  threads: number;
  json?: boolean;
}

const HELP_AFTER = `
Method: Grad-CAM on the stem's token map (7x7 tokens for images, 7x7x7 for volumes), computed with
the engine's own gradients and run by ONNX Runtime. The map weights each token's features by the
class score's gradient averaged over tokens (ReLU of the sum): one forward and one backward pass,
on the grid the encoder actually sees, with no baseline to choose (integrated gradients needs
20-50 passes and a baseline image that changes the answer).

Output: for an image, the input enlarged 8x with the map (turbo colours: blue low, red high)
blended over it; for a volume, a montage of its 28 slices along the first axis, 7 per row.
The map is scaled to its maximum; where it is zero the input shows unchanged, so a picture with
no colour at all means no positive evidence for the class.`;

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('saliency map (Grad-CAM on the token map) of a prediction, as a PNG overlay (slice montage for volumes)')
    .requiredOption('--checkpoint <file>', 'checkpoint (.safetensors)')
    .requiredOption('--task <name>', 'task whose head to explain')
    .requiredOption('--input <file>', 'image (.png, .jpg) or .npy uint8 array in the MedMNIST layout')
    .option('--class <name|index>', 'class to explain (default: the predicted class)')
    .option('--index <k>', 'which sample of a batched .npy input to explain', int('--index', 0))
    .requiredOption('--out <file.png>', 'overlay PNG to write')
    .addOption(threadsOption())
    .option('--json', 'print JSON on stdout (classes, probabilities and the token map)')
    .addHelpText('after', HELP_AFTER)
    .action(
      action(async (o: ExplainOptions) => {
        checkThreads(o.threads);
        if (!o.out.toLowerCase().endsWith('.png')) throw new UserError(`--out ${o.out}: use a .png file name`);
        if (!existsSync(dirname(resolve(o.out)))) throw new UserError(`--out ${o.out}: the folder ${dirname(o.out)} does not exist`);
        const { m, info } = await loadCheckpointTask(o.checkpoint, o.task);
        const classIndex = o.class === undefined ? undefined : resolveClass(o.class, info.labels, info.name);
        m.model.head(info.name);
        const x = readInput(o.input, info, m.model.config.stem2d.imageSize); // images resized to the checkpoint's size
        for (const w of x.warnings) process.stderr.write(`stmedfm: warning: ${w}\n`);
        if (x.n > 1 && o.index === undefined) throw new UserError(`${o.input}: holds ${x.n} samples; choose one with --index 0..${x.n - 1}`);
        const k = o.index ?? 0;
        if (k >= x.n) throw new UserError(`--index ${k}: ${o.input} holds ${x.n} sample${x.n > 1 ? 's' : ''} (0..${x.n - 1})`);
        const per = x.data.length / x.n;
        const sample = x.data.subarray(k * per, (k + 1) * per);

        const explainer = await GradCamExplainer.create(m.model, m.store, info.name, { threads: o.threads });
        const s = await explainer.explain(sample, classIndex);
        await explainer.release();
        const png = encodePng(renderOverlay(sample, x.shape.slice(1), s.cam, s.grid));
        try {
          await writeFileAtomic(o.out, png); // temp file + rename: never a half-written PNG
        } catch (e) {
          throw new UserError(`--out ${o.out}: cannot write the overlay (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }

        const pct = (c: number) => `${(100 * s.probabilities[c]!).toFixed(1)}%`;
        if (o.json) {
          printJson({
            task: info.name,
            method: 'grad-cam',
            out: o.out,
            class: { index: s.classIndex, name: info.labels[s.classIndex], probability: s.probabilities[s.classIndex] },
            predicted: { index: s.predicted, name: info.labels[s.predicted], probability: s.probabilities[s.predicted] },
            probabilities: s.probabilities,
            labels: info.labels,
            grid: s.grid,
            cam: Array.from(s.cam),
            threads: o.threads,
          });
        } else {
          process.stdout.write(
            `explained '${info.labels[s.classIndex]}' (${pct(s.classIndex)}; predicted '${info.labels[s.predicted]}' ${pct(s.predicted)}) -> ${o.out}\n`,
          );
        }
      }),
    );
}
