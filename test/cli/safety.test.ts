/**
 * Work is never lost (CLI end to end): outputs that are inputs or cannot be written are refused
 * before training, disk errors are one line (exit 2) that leave the previous files whole and no
 * temp or adapter files, an interrupt saves a resumable partial run beside --out (exit 130 for
 * SIGINT, 143 for SIGTERM), and misuse gets a clear error or warning.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { npyArray, writeNpy } from '../../src/data/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { optimizerPath, partialPath, saveTrainingPair } from '../../src/training/checkpoint.js';
import { pretrain, trainingState } from '../../src/training/workflows.js';
import { type CliResult, runCli } from '../helpers/cli.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const tiny = ['--batch-2d', '8', '--batch-3d', '2', '--quiet'];
let data: string;
let pre: string;

function expectCleanFailure(r: CliResult, pattern: RegExp): void {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^stmedfm: error: /);
  expect(lines[0]).toMatch(pattern);
}

const snapshot = (files: string[]) => files.map((f) => readFileSync(f));
const unchanged = (files: string[], before: Buffer[]) => files.forEach((f, i) => expect(readFileSync(f).equals(before[i]!)).toBe(true));

/** Starts the CLI, sends `signal` once `ready()` holds, and resolves with its exit. */
function interruptCli(args: string[], ready: () => boolean, signal: NodeJS.Signals): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 20);
    child.on('error', fail);
    child.on('close', (code) => {
      clearInterval(poll);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

const logLines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0);

beforeAll(async () => {
  data = makeTmpDir().dir;
  synthDataFile('pathmnist', { dir: data, seed: 1 });
  synthDataFile('organmnist3d', { dir: data, seed: 2 });
  // The pretrained checkpoint pair, written in-process (faster than a CLI run).
  const t = await pretrain({ tasks: ['pathmnist', 'organmnist3d'], data: { dataDir: data }, steps: 2, batch2d: 8, batch3d: 2 });
  pre = join(data, 'pre.safetensors');
  await saveTrainingPair(pre, trainingState(t));
});

const finetune = (out: string, ...more: string[]) => ['finetune', '--data-dir', data, '--task', 'pathmnist', '--method', 'lora', '--from', pre, '--steps', '2', ...tiny, '--out', out, ...more];

describe('an output may never be an input', () => {
  it('--out the --from checkpoint, --out the data file, --log over a checkpoint: refused, inputs untouched', () => {
    const inputs = [pre, optimizerPath(pre), join(data, 'pathmnist.npz')];
    const before = snapshot(inputs);
    expectCleanFailure(runCli(finetune(pre)), /--out .*pre\.safetensors is also an input \(--from/);
    expectCleanFailure(runCli(finetune(join(data, 'pathmnist.npz'))), /must end in \.safetensors \(not \.npz\)/);
    expectCleanFailure(runCli(finetune(join(data, 'x.safetensors'), '--log', pre)), /--log .*pre\.safetensors: .*must end in \.jsonl/);
    unchanged(inputs, before);
    expect(readdirSync(data).sort()).toEqual(['organmnist3d.npz', 'pathmnist.npz', 'pre.optim.safetensors', 'pre.safetensors']);
  });
});

describe('outputs that cannot be written', () => {
  it('missing parent folders are created by finetune and pretrain alike', () => {
    const d = makeTmpDir().dir;
    const scratch = runCli(['finetune', '--data-dir', data, '--task', 'pathmnist', '--method', 'scratch', '--steps', '1', ...tiny, '--out', join(d, 'a', 'b', 'ft.safetensors')]);
    expect(scratch.code).toBe(0);
    expect(readdirSync(join(d, 'a', 'b')).sort()).toEqual(['ft.optim.safetensors', 'ft.safetensors']);
    const p = runCli(['pretrain', '--data-dir', data, '--tasks', 'pathmnist', '--steps', '1', ...tiny, '--out', join(d, 'c', 'pre.safetensors'), '--log', join(d, 'logs', 'pre.jsonl')]);
    expect(p.code).toBe(0);
    expect(readdirSync(join(d, 'c')).sort()).toEqual(['pre.optim.safetensors', 'pre.safetensors']);
    expect(logLines(join(d, 'logs', 'pre.jsonl'))).toBe(1);
  });

  it('an existing folder as --out, and a read-only file system, are refused before training', () => {
    const d = makeTmpDir().dir;
    mkdirSync(join(d, 'ft.safetensors'));
    expectCleanFailure(runCli(finetune(join(d, 'ft.safetensors'))), /--out .*ft\.safetensors is an existing folder/);
    const ro = runCli(finetune(join(d, 'new', 'x.safetensors'), '--log', join(d, 'x.jsonl')), { env: { STMEDFM_FAULT: 'probe:EROFS:' } });
    expectCleanFailure(ro, /cannot write in .*read-only.*EROFS/);
    expect(readdirSync(d)).toEqual(['ft.safetensors']); // not even the log: nothing ran
  });

  it('a full disk while saving: one line, exit 2, the previous pair and adapter files whole, nothing else left', () => {
    const d = makeTmpDir().dir;
    const out = join(d, 'ft.safetensors');
    expect(runCli(finetune(out)).code).toBe(0);
    const files = [out, optimizerPath(out), join(d, 'ft-adapter', 'adapter_model.safetensors'), join(d, 'ft-adapter', 'adapter_config.json')];
    const before = snapshot(files);
    for (const fault of ['write:ENOSPC:.optim.', 'write:ENOSPC:adapter_model', 'rename:EIO:ft.safetensors']) {
      const r = runCli(finetune(out, '--seed', '5'), { env: { STMEDFM_FAULT: fault } });
      expectCleanFailure(r, /cannot write .*(disk is full \(ENOSPC\)|input\/output error of the disk \(EIO\))/);
      unchanged(files, before);
      expect(readdirSync(d).sort()).toEqual(['ft-adapter', 'ft.optim.safetensors', 'ft.safetensors']);
      expect(readdirSync(join(d, 'ft-adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    }
    // A fresh run into new folders leaves no folders, adapter files or temp files behind.
    const r = runCli(finetune(join(d, 'new', 'ft.safetensors')), { env: { STMEDFM_FAULT: 'write:ENOSPC:.optim.' } });
    expectCleanFailure(r, /disk is full/);
    expect(readdirSync(d).sort()).toEqual(['ft-adapter', 'ft.optim.safetensors', 'ft.safetensors']);
  });
});

describe('interrupts', () => {
  it('Ctrl-C in finetune: exit 130, the partial run beside a finished --out that stays untouched, and a resume command that works', async () => {
    const d = makeTmpDir().dir;
    const out = join(d, 'ft.safetensors');
    expect(runCli(finetune(out)).code).toBe(0);
    const before = snapshot([out, optimizerPath(out)]);
    const log = join(d, 'ft.jsonl');
    const args = finetune(out, '--log', log).map((a) => (a === '2' ? '100000' : a));
    const r = await interruptCli(args, () => logLines(log) >= 2, 'SIGINT');
    expect(r.code).toBe(130);
    unchanged([out, optimizerPath(out)], before);
    const partial = partialPath(out);
    expect(existsSync(partial) && existsSync(optimizerPath(partial))).toBe(true);
    const hint = r.stderr.match(/continue with: stmedfm (.*)\n/)?.[1];
    expect(hint).toBe([...args, '--resume', partial].join(' '));
    const done = logLines(log);
    // Continue for two more steps (the hint's --steps 100000 would take long).
    const resumed = runCli(hint!.split(' ').map((a) => (a === '100000' ? String(done + 2) : a)));
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/schedule changes/); // a changed --steps is said to change the result
    expect(existsSync(partial) || existsSync(optimizerPath(partial))).toBe(false); // superseded by the finished run
    expect(logLines(log)).toBe(done + 2); // the log continues
    expect(readFileSync(out).equals(before[0]!)).toBe(false);
  });

  it('SIGTERM in finetune: exit 143 (not Ctrl-C\'s 130), the run so far in its partial file, --out not written', async () => {
    const d = makeTmpDir().dir;
    const out = join(d, 'ft.safetensors');
    const log = join(d, 'ft.jsonl');
    const args = finetune(out, '--log', log).map((a) => (a === '2' ? '100000' : a));
    const r = await interruptCli(args, () => logLines(log) >= 1, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(partialPath(out)) && existsSync(optimizerPath(partialPath(out)))).toBe(true);
  });

  it('SIGTERM in pretrain: exit 143 and a partial run that `pretrain --resume` continues', async () => {
    const d = makeTmpDir().dir;
    const out = join(d, 'pre.safetensors');
    const log = join(d, 'pre.jsonl');
    const args = ['pretrain', '--data-dir', data, '--tasks', 'pathmnist', '--steps', '100000', ...tiny, '--out', out, '--log', log];
    const r = await interruptCli(args, () => logLines(log) >= 1, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(existsSync(out)).toBe(false);
    const steps = Number(JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!).step);
    expect((await loadSafetensors(partialPath(out))).metadata!.stmedfm_steps_done).toBe(String(steps));
    const resumed = runCli([...args.map((a) => (a === '100000' ? String(steps + 1) : a)), '--resume', partialPath(out), '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ steps_done: steps + 1, resumed_at_step: steps });
    expect(readdirSync(d).sort()).toEqual(['pre.jsonl', 'pre.optim.safetensors', 'pre.safetensors']);
  });
});

describe('bad checkpoints and misuse', () => {
  it('a checkpoint with NaN weights is refused by evaluate, predict, export and --from, naming the tensor', async () => {
    const d = makeTmpDir().dir;
    const f = await loadSafetensors(pre);
    const tensors = new Map([...f.tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: Float64Array.from(t.data) }]));
    tensors.get('heads.pathmnist.weight')!.data[3] = NaN;
    const bad = join(d, 'nan.safetensors');
    await saveSafetensors(bad, tensors, f.metadata!);
    const msg = /nan\.safetensors: tensor heads\.pathmnist\.weight has 1 NaN value/;
    expectCleanFailure(runCli(['evaluate', '--checkpoint', bad, '--task', 'pathmnist', '--data-dir', data]), msg);
    expectCleanFailure(runCli(['export', '--checkpoint', bad, '--task', 'pathmnist', '--out', join(d, 'm.onnx')]), msg);
    const image = join(makeTmpDir().dir, 'one.npy');
    writeFileSync(image, writeNpy(npyArray('uint8', [28, 28, 3], new Uint8Array(28 * 28 * 3))));
    expectCleanFailure(runCli(['predict', '--checkpoint', bad, '--task', 'pathmnist', '--input', image]), msg);
    expectCleanFailure(runCli(finetune(join(d, 'ft.safetensors')).map((a) => (a === pre ? bad : a))), msg);
    expect(readdirSync(d)).toEqual(['nan.safetensors']);
  });

  it('--from a folder, an ONNX model as a checkpoint, negative weight decay, --method scratch with --from', () => {
    const d = makeTmpDir().dir;
    expectCleanFailure(runCli(finetune(join(d, 'a.safetensors')).map((a) => (a === pre ? data : a))), /is a folder; give the checkpoint file itself/);
    const onnx = join(d, 'm.onnx');
    expect(runCli(['export', '--checkpoint', pre, '--task', 'pathmnist', '--out', onnx]).code).toBe(0);
    expectCleanFailure(runCli(['evaluate', '--checkpoint', onnx, '--task', 'pathmnist', '--data-dir', data]), /m\.onnx is an ONNX model .*not a checkpoint/);
    expectCleanFailure(runCli([...finetune(join(d, 'a.safetensors')), '--weight-decay', '-0.1']), /--weight-decay must be >= 0/);
    expectCleanFailure(runCli(finetune(join(d, 'a.safetensors')).map((a) => (a === 'lora' ? 'scratch' : a))), /--method scratch .*does not use --from/);
    expect(readdirSync(d)).toEqual(['m.onnx']);
  });

  it('an empty train split (naming file and task) and an empty test split', () => {
    const d = makeTmpDir().dir;
    const { file } = synthDataFile('pathmnist', { dir: d, fileName: 'empty.npz', sizes: { train: 0, val: 4, test: 0 } });
    expectCleanFailure(runCli([...finetune(join(d, 'a.safetensors')), '--data', `pathmnist=${file}`, '--log', join(d, 'a.jsonl')]), /empty\.npz: the train split of pathmnist is empty/);
    expectCleanFailure(runCli(['evaluate', '--checkpoint', pre, '--task', 'pathmnist', '--data', `pathmnist=${file}`]), /empty\.npz: the test split of pathmnist is empty/);
    expect(readdirSync(d)).toEqual(['empty.npz']); // not even an empty log
  });

  it('warns about an unused --data entry, too many threads, a huge evaluation batch and a head the checkpoint never trained', () => {
    const d = makeTmpDir().dir;
    const out = join(d, 'ft.safetensors');
    const ft = runCli([...finetune(out), '--data', `organmnist3d=${join(data, 'organmnist3d.npz')}`]);
    expect(ft.code).toBe(0);
    expect(ft.stderr).toMatch(/^stmedfm: warning: --data organmnist3d=.* is ignored: this command uses pathmnist, not organmnist3d$/m);
    const threads = availableParallelism() + 1;
    const ev = runCli(['evaluate', '--checkpoint', out, '--task', 'organmnist3d', '--data-dir', data, '--threads', String(threads), '--batch', '100000', '--json']);
    expect(ev.code).toBe(0);
    expect(ev.stderr).toMatch(new RegExp(`warning: --threads ${threads} is above the ${threads - 1} core`));
    expect(ev.stderr).toMatch(/warning: --batch 100000 is very large for 3D/);
    expect(ev.stderr).toMatch(/warning: .*ft\.safetensors: the organmnist3d head was not trained with this checkpoint's weights \(trained: pathmnist\)/);
    const ex = runCli(['export', '--checkpoint', out, '--task', 'organmnist3d', '--out', join(d, 'o.onnx')]);
    expect(ex.stderr).toMatch(/warning: .*the organmnist3d head was not trained/);
    // The head it did train: no warning.
    const ok = runCli(['evaluate', '--checkpoint', out, '--task', 'pathmnist', '--data-dir', data, '--json']);
    expect(ok.stderr).toBe('');
  });
});
