/** `stmedfm info`: the model config and its exact parameter counts per task and method. */
import type { Command } from 'commander';
import { DATASET_NAMES, getDataset, isMultiLabel } from '../../data/index.js';
import { MODEL_CONFIGS } from '../../model/config.js';
import { parameterCounts } from '../../model/counts.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA } from '../../model/peft.js';
import { METHODS } from '../../model/stmedfm.js';
import { UserError } from '../../training/errors.js';
import { taskHead } from '../../training/tasks.js';
import { action, list, printJson } from '../common.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('model configuration and exact parameter counts per task and transfer method')
    .option('--model <name>', 'model config', 'stmedfm-tiny')
    .option('--tasks <a,b,...>', 'tasks to count heads for (default: the four default tasks)', list, ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'])
    .option('--json', 'print JSON on stdout')
    .action(
      action(async (o: { model: string; tasks: string[]; json?: boolean }) => {
        const config = MODEL_CONFIGS[o.model];
        if (!config) throw new UserError(`unknown --model '${o.model}'; known: ${Object.keys(MODEL_CONFIGS).join(', ')}`);
        const heads = o.tasks.map(taskHead);
        const counts = parameterCounts(config, heads);
        const supported = DATASET_NAMES.filter((n) => !isMultiLabel(getDataset(n)));
        if (o.json) {
          printJson({ model: config, lora: DEFAULT_LORA, adapter: DEFAULT_ADAPTER, tasks: heads, parameters: counts, methods: METHODS, supported_tasks: supported });
          return;
        }
        const n = (x: number) => x.toLocaleString('en-US');
        const lines = [
          `${config.name}: dim ${config.dim}, ${config.heads} heads, depth ${config.depth}, MLP ${config.mlpHidden}, pre-norm, exact GELU, LayerNorm eps ${config.lnEps}`,
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
