#!/usr/bin/env node
/** The `stmedfm` command line. Each command lives in its own module under commands/. */
import { Command } from 'commander';
import '../engine/runtime/node.js';
import { registerBench } from './commands/bench.js';
import { registerData } from './commands/data.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerExplain } from './commands/explain.js';
import { registerExport } from './commands/export.js';
import { registerInfo } from './commands/info.js';
import { registerPredict } from './commands/predict.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerTrain } from './commands/train.js';

const program = new Command();
program
  .name('stmedfm')
  .description('STMedFM: a lightweight medical foundation-model baseline for MedMNIST 2D images and 3D volumes, trained on the CPU via ONNX Runtime')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (str, write) => write(`stmedfm: ${str.replace(/^error: /, 'error: ')}`) });

// Set before the commands are added so that they inherit it: usage errors exit 2 like other bad input.
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});

registerInfo(program);
registerTrain(program);
registerEvaluate(program);
registerPredict(program);
registerExport(program);
registerExplain(program);
registerData(program);
registerReproduce(program);
registerBench(program);

await program.parseAsync(process.argv);
