/** The one check of a command's outputs, run before any work (src/cli/outputs.ts). */
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutputs, diskErrorMessage, type NamedInput, type PlannedOutput } from '../../src/cli/outputs.js';
import { UserError } from '../../src/training/errors.js';
import { makeTmpDir } from '../helpers/synth.js';

const { dir } = makeTmpDir();
writeFileSync(join(dir, 'pre.safetensors'), 'x');
writeFileSync(join(dir, 'pre.optim.safetensors'), 'x');
writeFileSync(join(dir, 'data.npz'), 'x');
writeFileSync(join(dir, 'notes.txt'), 'x');
mkdirSync(join(dir, 'folder.safetensors'));
symlinkSync(join(dir, 'pre.safetensors'), join(dir, 'link.safetensors'));

const ckpt = (path: string, flag = '--out'): PlannedOutput => ({ flag, path, kind: 'checkpoint', also: [path.replace(/\.safetensors$/, '.optim.safetensors')] });
const inputs: NamedInput[] = [
  { flag: '--from', path: join(dir, 'pre.safetensors') },
  { flag: '--from', path: join(dir, 'pre.optim.safetensors') },
  { flag: '--data', path: join(dir, 'data.npz') },
];
const refusal = (outputs: PlannedOutput[], ins = inputs): string => {
  try {
    checkOutputs(outputs, ins);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected the outputs to be refused');
};

describe('checkOutputs', () => {
  it('accepts fresh outputs and creates nothing', () => {
    expect(() => checkOutputs([ckpt(join(dir, 'new', 'deep', 'ft.safetensors')), { flag: '--log', path: join(dir, 'ft.jsonl'), kind: 'log' }], inputs)).not.toThrow();
    expect(readdirSync(dir).sort()).toEqual(['data.npz', 'folder.safetensors', 'link.safetensors', 'notes.txt', 'pre.optim.safetensors', 'pre.safetensors']);
  });

  it('refuses an output that is an input, also through a symlink, a relative path or a sidecar', () => {
    expect(refusal([ckpt(join(dir, 'pre.safetensors'))])).toMatch(/--out .*pre\.safetensors is also an input \(--from/);
    expect(refusal([ckpt(join(dir, 'link.safetensors'))])).toMatch(/is also an input/);
    expect(refusal([ckpt(join(dir, 'sub', '..', 'pre.safetensors'))])).toMatch(/is also an input/);
    // --out pre.safetensors writes pre.optim.safetensors, which is --from's sidecar
    expect(refusal([{ flag: '--out', path: join(dir, 'x.safetensors'), kind: 'checkpoint', also: [join(dir, 'pre.optim.safetensors')] }])).toMatch(/written with .*x\.safetensors\) is also an input/);
  });

  it('allows an interrupted run\'s state to replace the state it resumed from, and nothing else', () => {
    const resume = [{ flag: '--resume', path: join(dir, 'pre.safetensors') }];
    expect(() => checkOutputs([{ ...ckpt(join(dir, 'pre.safetensors')), mayReplace: ['--resume'] }], resume)).not.toThrow();
    expect(refusal([ckpt(join(dir, 'pre.safetensors'))], resume)).toMatch(/is also an input \(--resume/);
  });

  it('refuses outputs whose extension does not fit what is written', () => {
    expect(refusal([ckpt(join(dir, 'data.npz'))])).toMatch(/--out .*data\.npz: this writes a checkpoint, so the file name must end in \.safetensors \(not \.npz\)/);
    expect(refusal([{ flag: '--log', path: join(dir, 'x.safetensors'), kind: 'log' }])).toMatch(/--log .*must end in \.jsonl/);
    expect(refusal([{ flag: '--out', path: join(dir, 'm.safetensors'), kind: 'onnx' }])).toMatch(/must end in \.onnx/);
  });

  it('refuses two outputs that are one file', () => {
    expect(refusal([ckpt(join(dir, 'a.safetensors')), { flag: '--adapter-dir', path: join(dir, 'ad'), kind: 'folder', also: [join(dir, 'a.optim.safetensors')] }])).toMatch(
      /is the same file as --out/,
    );
  });

  it('refuses an existing folder as a file, a file as a folder, and a file as a parent folder', () => {
    expect(refusal([ckpt(join(dir, 'folder.safetensors'))])).toMatch(/is an existing folder/);
    expect(refusal([{ flag: '--adapter-dir', path: join(dir, 'notes.txt'), kind: 'folder' }])).toMatch(/is an existing file, but a folder is written there/);
    expect(refusal([ckpt(join(dir, 'notes.txt', 'x.safetensors'))])).toMatch(/notes\.txt is a file, so no folder can be created in it/);
  });

  it('refuses a read-only folder and too little free space before any work', () => {
    process.env.STMEDFM_FAULT = 'probe:EROFS:';
    try {
      expect(refusal([ckpt(join(dir, 'new', 'x.safetensors'))])).toMatch(/cannot write in .* \(the file system is read-only, EROFS\)/);
    } finally {
      delete process.env.STMEDFM_FAULT;
    }
    expect(() => checkOutputs([ckpt(join(dir, 'x.safetensors'))], inputs, { bytesNeeded: 1e18 })).toThrow(/MB free in .* this run writes about/);
  });

  it.skipIf(process.platform !== 'linux')('names the folder, not a temp file, for a folder that takes no new files (/proc)', () => {
    const msg = refusal([ckpt('/proc/x.safetensors')]);
    expect(msg).toMatch(/^--out \/proc\/x\.safetensors: cannot write in \/proc \(this folder does not take new files, ENOENT\)$/);
    expect(msg).not.toMatch(/\.tmp|probe/);
  });

  it('turns file-system errors into one line naming the file', () => {
    const e = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: '/x/y.safetensors' });
    expect(diskErrorMessage(e)).toBe('cannot write /x/y.safetensors: the disk is full (ENOSPC)');
    expect(diskErrorMessage(new Error('plain bug'))).toBeUndefined();
  });
});
