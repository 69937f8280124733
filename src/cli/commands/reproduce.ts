/** `stmedfm reproduce`: the whole protocol, resumable, ending in results.{json,csv} and report.{md,html}. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { writeFileAtomicSync } from '../../io/atomic.js';
import { describeData } from '../../experiments/data_notes.js';
import { DEFAULT_PROTOCOL, type ProtocolConfig } from '../../experiments/protocol.js';
import { Interrupted, machineInfo, reproduce, toCsv } from '../../experiments/reproduce.js';
import type { Method } from '../../model/stmedfm.js';
import { writeReport } from '../../report/index.js';
import { UserError } from '../../training/errors.js';
import { action, collect, dataOptions, defaultDataDir, int, interruptFlag, list, num, printJson } from '../common.js';

interface Opts {
  dataDir?: string;
  data: string[];
  tasks?: string[];
  methods?: string[];
  seeds?: string[];
  shots?: number;
  out: string;
  threads: number;
  pretrainSteps?: number;
  steps2d?: number;
  steps3d?: number;
  batch2d?: number;
  batch3d?: number;
  pretrainLr?: number;
  lr?: number;
  peftLr?: number;
  warmup?: number;
  weightDecay?: number;
  json?: boolean;
  quiet?: boolean;
}

function resolveProtocol(o: Opts): ProtocolConfig {
  const p: ProtocolConfig = structuredClone(DEFAULT_PROTOCOL);
  if (o.tasks) p.tasks = o.tasks;
  if (o.methods) p.methods = o.methods as Method[];
  // The built-in demo pack is a quick look (one seed, a few minutes); real data gets the SPEC's three seeds.
  if (!o.seeds && !o.dataDir && o.data.length === 0) p.seeds = [0];
  if (o.seeds) {
    p.seeds = o.seeds.map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new UserError(`--seeds: '${s}' is not a non-negative integer`);
      return n;
    });
  }
  if (o.shots !== undefined) p.shots = o.shots;
  p.threads = o.threads;
  if (o.pretrainSteps !== undefined) p.pretrainSteps = o.pretrainSteps;
  if (o.steps2d !== undefined) p.finetuneSteps2d = o.steps2d;
  if (o.steps3d !== undefined) p.finetuneSteps3d = o.steps3d;
  if (o.batch2d !== undefined) p.batch2d = o.batch2d;
  if (o.batch3d !== undefined) p.batch3d = o.batch3d;
  if (o.pretrainLr !== undefined) p.pretrainLr = o.pretrainLr;
  if (o.lr !== undefined) p.lr = { ...p.lr, scratch: o.lr, 'scratch-weighted': o.lr, full: o.lr };
  if (o.peftLr !== undefined) p.lr = { ...p.lr, lora: o.peftLr, adapter: o.peftLr };
  if (o.warmup !== undefined) p.warmup = o.warmup;
  if (o.weightDecay !== undefined) p.weightDecay = o.weightDecay;
  return p;
}

/** Two bars on a TTY (overall runs, current run's steps); plain one-line summaries elsewhere. */
function progress(quiet: boolean, seeds: number) {
  const tty = process.stderr.isTTY && !quiet;
  const multi = tty ? new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: false, format: '{label} [{bar}] {value}/{total} {extra}', etaBuffer: 50 }, cliProgress.Presets.shades_grey) : undefined;
  let overall: cliProgress.SingleBar | undefined;
  let current: cliProgress.SingleBar | undefined;
  // Pretraining runs cost far more than fine-tuning runs, so the ETA averages each kind separately.
  const spent = { pretrain: [] as number[], finetune: [] as number[] };
  const left = { pretrain: seeds, finetune: 0 };
  let started = Date.now();
  const kind = (id: string) => (id.startsWith('pretrain-') ? 'pretrain' : 'finetune');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const eta = () => {
    if (!spent.pretrain.length && left.pretrain > 0) return '';
    if (!spent.finetune.length && left.finetune > 0) return '';
    const s = (spent.pretrain.length ? mean(spent.pretrain) * left.pretrain : 0) + (spent.finetune.length ? mean(spent.finetune) * left.finetune : 0);
    return `ETA ${Math.round(s)} s`;
  };
  const log = (line: string) => {
    if (quiet) return;
    if (multi?.isActive) multi.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  };
  return {
    events: {
      onRunStart: ({ id, index, total, steps }: { id: string; index: number; total: number; steps: number }) => {
        started = Date.now();
        if (!multi) return;
        if (!overall) overall = multi.create(total, index - 1, { label: 'overall', extra: '' });
        current?.stop();
        if (current) multi.remove(current);
        current = multi.create(steps, 0, { label: id.padEnd(7).slice(0, 40), extra: '' });
      },
      onStep: (l: { step: number; loss: number }) => current?.update(l.step, { extra: `loss ${l.loss.toFixed(3)}` }),
      onRunEnd: ({ id, index, total, skipped, summary }: { id: string; index: number; total: number; skipped: boolean; summary: string }) => {
        left.finetune = total - index - (left.pretrain - (kind(id) === 'pretrain' ? 1 : 0));
        if (kind(id) === 'pretrain') left.pretrain--;
        if (!skipped) spent[kind(id)].push((Date.now() - started) / 1000);
        const e = eta();
        overall?.update(index, { extra: e });
        // MultiBar prints logged lines on its next redraw; after the last run there is none.
        if (index === total) multi?.stop();
        log(`[${index}/${total}] ${summary}${!skipped && e ? `  (${e})` : ''}`);
      },
    },
    stop: () => multi?.stop(),
  };
}

export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description('the whole protocol: pretraining per seed, every task x method, evaluation, results and report (resumable)')
    .option('--data-dir <dir>', 'folder with MedMNIST files under official names (default: the built-in demo pack of real MedMNIST subsets)')
    .option('--data <name=file>', 'use FILE for task NAME (repeatable)', collect, [])
    .option('--tasks <a,b,...>', `tasks (default ${DEFAULT_PROTOCOL.tasks.join(',')})`, list)
    .option('--methods <a,b,...>', `methods (default ${DEFAULT_PROTOCOL.methods.join(',')})`, list)
    .option('--seeds <a,b,...>', 'seeds (default 0,1,2; 0 alone on the built-in demo pack)', list)
    .option('--shots <k>', 'few-shot transfer: k training examples per class', int('--shots', 1))
    .option('--out <dir>', 'output folder', 'stmedfm-results')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads', 1), 1)
    .option('--pretrain-steps <n>', 'pretraining steps (default 200)', int('--pretrain-steps', 1))
    .option('--steps-2d <n>', 'fine-tuning steps of 2D tasks (default 120)', int('--steps-2d', 1))
    .option('--steps-3d <n>', 'fine-tuning steps of 3D tasks (default 50)', int('--steps-3d', 1))
    .option('--batch-2d <n>', 'batch size of 2D tasks (default 64)', int('--batch-2d', 1))
    .option('--batch-3d <n>', 'batch size of 3D tasks (default 16)', int('--batch-3d', 1))
    .option('--pretrain-lr <x>', 'pretraining learning rate (default 1e-3)', num('--pretrain-lr'))
    .option('--lr <x>', 'learning rate of scratch and full fine-tuning (default 1e-3)', num('--lr'))
    .option('--peft-lr <x>', 'learning rate of LoRA and adapters (default 3e-3)', num('--peft-lr'))
    .option('--warmup <n>', 'warmup steps (default 10)', int('--warmup'))
    .option('--weight-decay <x>', 'AdamW weight decay (default 0.05)', num('--weight-decay'))
    .option('--json', 'print the result rows as JSON on stdout')
    .option('--quiet', 'no progress output')
    .action(
      action(async (o: Opts) => {
        const protocol = resolveProtocol(o);
        const data = dataOptions(o);
        const prog = progress(!!o.quiet, protocol.seeds.length);
        const intr = interruptFlag();
        if (!o.quiet) process.stderr.write(`reproduce: ${protocol.tasks.length} tasks x ${protocol.methods.length} methods x ${protocol.seeds.length} seed(s) into ${o.out}${existsSync(o.out) ? ' (resuming: finished runs are kept)' : ''}\n`);
        let result;
        try {
          result = await reproduce({ out: o.out, data, protocol, events: { ...prog.events, shouldStop: intr.stopped } });
        } catch (e) {
          prog.stop();
          if (e instanceof Interrupted) {
            process.stderr.write(`stmedfm: interrupted; finished runs are saved in ${o.out}. Run the same command again to resume.\n`);
            process.exitCode = 130;
            return;
          }
          throw e;
        } finally {
          intr.dispose();
        }
        prog.stop();
        const dataNotes = await describeData(protocol.tasks, data, defaultDataDir());
        writeFileAtomicSync(join(o.out, 'results.json'), `${JSON.stringify(result.rows, null, 2)}\n`);
        writeFileAtomicSync(join(o.out, 'results.csv'), toCsv(result.rows));
        writeFileAtomicSync(join(o.out, 'data.json'), `${JSON.stringify(dataNotes, null, 2)}\n`);
        const rep = await writeReport(o.out, { rows: result.rows, details: result.details, config: { protocol, data: dataNotes.map((d) => ({ task: d.task, file: d.file })) }, dataNotes, machine: machineInfo(protocol.threads), totalSeconds: result.seconds });
        for (const e of rep.plotErrors) process.stderr.write(`stmedfm: warning: plot ${e.name} failed: ${e.message}\n`);
        if (o.json) printJson(result.rows);
        if (!o.quiet) process.stderr.write(`reproduce: ${result.rows.length} runs; wrote ${join(o.out, 'results.json')}, results.csv, report.md and report.html (${result.seconds.toFixed(0)} s this session)\n`);
      }),
    );
}
