/** `stmedfm info`: the model config and its exact parameter counts per task and method. */
import type { Command } from 'commander';
import { DATASET_NAMES, getDataset, isMultiLabel } from '../../data/index.js';
import { IMAGE_SIZES, MODEL_CONFIGS, tokensPerSample, withImageSize } from '../../model/config.js';
import { parameterCounts } from '../../model/counts.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA } from '../../model/peft.js';
import { METHODS } from '../../model/stmedfm.js';
import { UserError } from '../../training/errors.js';
import { taskHead } from '../../training/tasks.js';
import { action, int, list, printJson } from '../common.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('model configuration and exact parameter counts per task and transfer method')
    .option('--model <name>', 'model config', 'stmedfm-tiny')
    .option('--tasks <a,b,...>', 'tasks to count heads for (default: the four default tasks)', list, ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'])
    .option('--image-size <px>', `2D image side: ${IMAGE_SIZES.join(', ')} (the patchify conv's kernel = stride keeps 7-8 tokens a side)`, int('--image-size', 1), 28)
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { model: string; tasks: string[]; imageSize: number; json?: boolean }) => {
        const named = MODEL_CONFIGS[o.model];
        if (!named) throw new UserError(`unknown --model '${o.model}'; known: ${Object.keys(MODEL_CONFIGS).join(', ')}`);
        if (!IMAGE_SIZES.includes(o.imageSize)) throw new UserError(`--image-size ${o.imageSize}: use one of ${IMAGE_SIZES.join(', ')} (MedMNIST 28, MedMNIST+ 64/128/224)`);
        const config = withImageSize(named, o.imageSize);
        const heads = o.tasks.map(taskHead);
        const counts = parameterCounts(config, heads);
        const supported = DATASET_NAMES.filter((n) => !isMultiLabel(getDataset(n)));
        if (o.json) {
          printJson({ model: config, lora: DEFAULT_LORA, adapter: DEFAULT_ADAPTER, tasks: heads, parameters: counts, methods: METHODS, supported_tasks: supported });
          return;
        }
        const n = (x: number) => x.toLocaleString('en-US');
        const lines = [
          `${config.name} at ${config.stem2d.imageSize} px (${tokensPerSample(config, '2d')} 2D tokens; 3D ${config.stem3d.volumeSize}^3, ${tokensPerSample(config, '3d')} tokens): dim ${config.dim}, ${config.heads} heads, depth ${config.depth}, MLP ${config.mlpHidden}, pre-norm, exact GELU, LayerNorm eps ${config.lnEps}`,
          `  stem2d  ${n(counts.stem2d).padStart(9)}   Conv2d(${config.stem2d.inChannels}->${config.stem2d.hidden}, k3) GELU Conv2d(->${config.dim}, k${config.stem2d.patch}, s${config.stem2d.patch}) + pos + LayerNorm`,
          `  stem3d  ${n(counts.stem3d).padStart(9)}   Conv3d(${config.stem3d.inChannels}->${config.stem3d.hidden}, k3) GELU Conv3d(->${config.dim}, k${config.stem3d.patch}, s${config.stem3d.patch}) + pos + LayerNorm`,
          `  encoder ${n(counts.encoder).padStart(9)}   ${config.depth} blocks + final norm`,
          '',
          `trainable parameters (LoRA r=${DEFAULT_LORA.r} alpha=${DEFAULT_LORA.alpha} on ${DEFAULT_LORA.targets.join(',')}; ${DEFAULT_ADAPTER.placement} adapters, bottleneck ${DEFAULT_ADAPTER.bottleneck}):`,
          `  ${'task'.padEnd(14)}${'classes'.padStart(8)}${METHODS.map((m) => m.padStart(18)).join('')}`,
          ...heads.map((h) => `  ${h.name.padEnd(14)}${String(h.numClasses).padStart(8)}${METHODS.map((m) => n(counts.trainable[h.name]![m]).padStart(18)).join('')}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
