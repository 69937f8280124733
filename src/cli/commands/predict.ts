/** `stmedfm predict`: class probabilities for images, volumes, folders, manifests and array files. */
import type { Command } from 'commander';
import { type Split, isMultiLabel } from '../../data/index.js';
import { MULTI_LABEL_THRESHOLD, labelsAbove } from '../../evaluation/multilabel.js';
import { readPredictInputs } from '../../inference/input.js';
import { Predictor } from '../../inference/predictor.js';
import { storedTemperature } from '../../training/calibration.js';
import { UserError } from '../../training/errors.js';
import { loadCheckpointTask } from '../checkpoint_task.js';
import { action, checkThreads, printJson, threadsOption } from '../common.js';

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description(
      'class probabilities for images (.png, .jpg), volumes (.nii, .nii.gz, DICOM series folders), folders of them, a CSV manifest, or .npy/.npz arrays. ' +
        'Images and volumes are preprocessed as `data import` does: converted to the task\'s colour mode and RESIZED to 28 px, or to the checkpoint\'s size when it was trained at 64/128/224 px (antialiased bicubic, like PIL); ' +
        'volumes reoriented to the OrganMNIST3D convention, HU-windowed and resized. One output row per input (CSV on stdout, or --json): the predicted class (multi-label tasks: every label with p > 0.5, "(none)" if none) and each probability.',
    )
    .requiredOption('--checkpoint <file>', 'checkpoint (.safetensors)')
    .requiredOption('--task <name>', 'task whose head to use (a MedMNIST task, or a task of your own that the checkpoint was fine-tuned on)')
    .requiredOption('--input <path>', 'file, folder, manifest (.csv) or array file (.npy, .npz)')
    .option('--split <s>', '.npz input: predict one split (train, val, test; default all)')
    .option('--preprocessing <file.npz>', 'replay the preprocessing saved in a file written by `data import` (default: the task\'s standard one)')
    .option('--root <dir>', 'manifest input: folder the paths are relative to')
    .option('--path-col <c>', 'manifest input: path column')
    .option('--path-template <t>', "manifest input: path template, e.g. 'images/{image_id}.jpg'")
    .addOption(threadsOption())
    .option('--no-calibration', "raw probabilities: ignore the temperature the checkpoint stores for the task (default: softmax(logits / T) when it stores one)")
    .option('--json', 'print JSON on stdout: {inputs, probabilities, labels (multi-label: a list per input), class_names, calibrated, temperature, threads}')
    .action(
      action(async (o: { checkpoint: string; task: string; input: string; split?: string; preprocessing?: string; root?: string; pathCol?: string; pathTemplate?: string; threads: number; calibration: boolean; json?: boolean }) => {
        checkThreads(o.threads);
        if (o.split !== undefined && !['train', 'val', 'test'].includes(o.split)) throw new UserError(`--split ${o.split}: use train, val or test`);
        const { m, info } = await loadCheckpointTask(o.checkpoint, o.task);
        const classNames = m.model.head(info.name).classNames ?? info.labels;
        const x = await readPredictInputs(o.input, info, {
          ...(o.split ? { split: o.split as Split } : {}),
          ...(o.preprocessing ? { preprocessingFrom: o.preprocessing } : {}),
          ...(o.root ? { root: o.root } : {}),
          ...(o.pathCol ? { pathCol: o.pathCol } : {}),
          ...(o.pathTemplate ? { pathTemplate: o.pathTemplate } : {}),
          // images are resized to the checkpoint's own size (28 px, or the MedMNIST+ size it was trained at)
          imageSize: m.model.config.stem2d.imageSize,
        });
        for (const w of x.notes) process.stderr.write(`stmedfm: note: ${w}\n`);
        const temperature = o.calibration ? storedTemperature(m.config, info.name) : undefined;
        if (temperature !== undefined && !o.json) process.stderr.write(`stmedfm: note: probabilities calibrated with the checkpoint's temperature T = ${temperature.toFixed(4)} (fitted on val); --no-calibration for raw ones\n`);
        const p = await Predictor.create(m.model, m.store, info.name, { threads: o.threads, ...(temperature !== undefined ? { temperature } : {}) });
        const r = await p.run(x.data, x.n);
        await p.release();
        const rows = Array.from({ length: r.n }, (_, i) => Array.from(r.probs.subarray(i * r.classes, (i + 1) * r.classes)));
        // Multi-label: every label whose sigmoid probability is above 0.5 (evaluate's threshold), not an argmax.
        const multi = isMultiLabel(info);
        const labels = rows.map((row) => (multi ? labelsAbove(row) : row.reduce((best, v, c) => (v > row[best]! ? c : best), 0)));
        const shown = (l: number | number[]) => (typeof l === 'number' ? classNames[l]! : l.length ? l.map((c) => classNames[c]!).join('; ') : '(none)');
        if (o.json) {
          printJson({
            inputs: x.inputs,
            probabilities: rows,
            labels,
            class_names: classNames,
            ...(multi ? { multi_label: true, threshold: MULTI_LABEL_THRESHOLD } : {}),
            calibrated: temperature !== undefined,
            temperature: temperature ?? null,
            threads: o.threads,
          });
        } else {
          process.stdout.write(`${['input', 'predicted', ...classNames.map((l) => `p_${l}`)].map(csvCell).join(',')}\n`);
          rows.forEach((row, i) => process.stdout.write(`${[csvCell(x.inputs[i]!), csvCell(shown(labels[i]!)), ...row.map((v) => v.toFixed(6))].join(',')}\n`));
        }
      }),
    );
}
