import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  loraScale,
  parseAdapterConfig,
  PeftFileError,
  readPeftAdapter,
  writePeftAdapter,
  type AdapterTensor,
  type BottleneckSpec,
  type LoraSpec,
} from '../../src/io/peft_files.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/util/rng.js';

const root = mkdtempSync(join(tmpdir(), 'stmedfm-peft-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = (): string => join(root, `adapter${counter++}`);

const rng = new Rng(42);
function rand(shape: number[]): AdapterTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Array.from({ length: n }, () => rng.normal()) };
}
const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

const D = 64;
const lora: LoraSpec = {
  method: 'lora',
  r: 4,
  alpha: 8,
  rslora: false,
  targetModules: ['qkv', 'proj'],
  dropout: 0,
  modulesToSave: ['heads.pathmnist'],
  baseModel: 'runs/pretrain/model.safetensors',
};

/** STMedFM-Tiny LoRA tensors on PathMNIST (SPEC 3: 3,072 + 585 trainable parameters). */
function loraTensors(): Map<string, AdapterTensor> {
  const m = new Map<string, AdapterTensor>();
  for (const b of [0, 1]) {
    m.set(`blocks.${b}.qkv.lora_A.weight`, rand([4, D]));
    m.set(`blocks.${b}.qkv.lora_B.weight`, rand([3 * D, 4]));
    m.set(`blocks.${b}.proj.lora_A.weight`, rand([4, D]));
    m.set(`blocks.${b}.proj.lora_B.weight`, rand([D, 4]));
  }
  m.set('heads.pathmnist.weight', rand([9, D]));
  m.set('heads.pathmnist.bias', rand([9]));
  return m;
}

const bottleneck: BottleneckSpec = {
  method: 'bottleneck',
  bottleneck: 8,
  placement: 'houlsby',
  nonLinearity: 'gelu',
  dropout: 0,
  targetModules: ['blocks.0', 'blocks.1'],
  modulesToSave: ['heads.pathmnist'],
  baseModel: null,
};

/** Houlsby adapters on both blocks of STMedFM-Tiny (SPEC 3: 4,384 + 585 trainable parameters). */
function bottleneckTensors(): Map<string, AdapterTensor> {
  const m = new Map<string, AdapterTensor>();
  for (const b of [0, 1]) {
    for (const ad of ['ad1', 'ad2']) {
      m.set(`blocks.${b}.${ad}.down.weight`, rand([8, D]));
      m.set(`blocks.${b}.${ad}.down.bias`, rand([8]));
      m.set(`blocks.${b}.${ad}.up.weight`, rand([D, 8]));
      m.set(`blocks.${b}.${ad}.up.bias`, rand([D]));
    }
  }
  m.set('heads.pathmnist.weight', rand([9, D]));
  m.set('heads.pathmnist.bias', rand([9]));
  return m;
}

describe('LoRA adapter directory', () => {
  it('writes the peft layout and reads it back', async () => {
    const dir = freshDir();
    const tensors = loraTensors();
    await writePeftAdapter(dir, lora, tensors);

    // config: peft field names, json.dumps(indent=2, sort_keys=True)
    const text = readFileSync(join(dir, ADAPTER_CONFIG_NAME), 'utf8');
    const cfg = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(cfg)).toEqual(Object.keys(cfg).sort());
    expect(text).toContain('\n  "peft_type": "LORA",\n');
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0,
      use_rslora: false,
      use_dora: false,
      bias: 'none',
      target_modules: ['proj', 'qkv'],
      modules_to_save: ['heads.pathmnist'],
      task_type: null,
      base_model_name_or_path: 'runs/pretrain/model.safetensors',
      fan_in_fan_out: false,
      inference_mode: true,
    });

    // weights: peft key prefix, F32, {"format": "pt"}, and only adapter + head tensors
    const file = parseSafetensors(readFileSync(join(dir, ADAPTER_WEIGHTS_NAME)));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()].sort()).toEqual([...tensors.keys()].map((k) => `base_model.model.${k}`).sort());
    expect(file.tensors.get('base_model.model.blocks.0.qkv.lora_B.weight')!.dtype).toBe('F32');
    const trainable = [...file.tensors.values()].reduce((s, t) => s + numel(t.shape), 0);
    expect(trainable).toBe(3072 + 585);

    const back = await readPeftAdapter(dir);
    expect(back.spec).toEqual({ ...lora, targetModules: ['proj', 'qkv'] });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    const w = back.tensors.get('blocks.1.proj.lora_A.weight')!;
    expect(w.shape).toEqual([4, D]);
    expect([...w.data]).toEqual(Array.from(tensors.get('blocks.1.proj.lora_A.weight')!.data, Math.fround));
  });

  it('F64 on request; rsLoRA and the LoRA scale', async () => {
    const dir = freshDir();
    await writePeftAdapter(dir, { ...lora, rslora: true }, loraTensors(), { dtype: 'F64' });
    const back = await readPeftAdapter(dir);
    expect(back.spec.method === 'lora' && back.spec.rslora).toBe(true);
    expect(back.tensors.get('heads.pathmnist.bias')!.dtype).toBe('F64');
    expect(loraScale(lora)).toBe(2);
    expect(loraScale({ ...lora, rslora: true })).toBe(4);
  });

  it('refuses tensors that do not fit the spec, before writing anything', async () => {
    const cases: [Map<string, AdapterTensor>, RegExp][] = [];
    const withBase = loraTensors();
    withBase.set('blocks.0.qkv.weight', rand([3 * D, D]));
    cases.push([withBase, /unexpected tensor "blocks.0.qkv.weight"/]);
    const wrongRank = loraTensors();
    wrongRank.set('blocks.0.proj.lora_A.weight', rand([8, D]));
    cases.push([wrongRank, /"blocks.0.proj.lora_A.weight" \[8, 64\] has rank 8, config says r = 4/]);
    const unpaired = loraTensors();
    unpaired.delete('blocks.1.qkv.lora_B.weight');
    cases.push([unpaired, /"blocks.1.qkv.lora_A.weight" has no matching lora_B/]);
    const untargeted = loraTensors();
    untargeted.set('blocks.0.fc1.lora_A.weight', rand([4, D]));
    untargeted.set('blocks.0.fc1.lora_B.weight', rand([256, 4]));
    cases.push([untargeted, /module "blocks.0.fc1" is not in target_modules \[qkv, proj\]/]);
    for (const [tensors, pattern] of cases) {
      const dir = freshDir();
      await expect(writePeftAdapter(dir, lora, tensors)).rejects.toThrow(pattern);
      await expect(writePeftAdapter(dir, lora, tensors)).rejects.toThrow(PeftFileError);
      expect(() => readFileSync(join(dir, ADAPTER_CONFIG_NAME))).toThrow(/ENOENT/);
    }
  });

  it('reads a config as a recent peft writes it (extra fields ignored)', () => {
    const spec = parseAdapterConfig({
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: null,
      bias: 'none',
      corda_config: null,
      eva_config: null,
      exclude_modules: null,
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 16,
      lora_bias: false,
      lora_dropout: 0.05,
      megatron_config: null,
      megatron_core: 'megatron.core',
      modules_to_save: null,
      peft_type: 'LORA',
      peft_version: '0.17.0',
      r: 8,
      rank_pattern: {},
      revision: null,
      target_modules: ['fc1', 'qkv'],
      task_type: null,
      trainable_token_indices: null,
      use_dora: false,
      use_rslora: false,
    });
    expect(spec).toEqual({
      method: 'lora',
      r: 8,
      alpha: 16,
      rslora: false,
      targetModules: ['fc1', 'qkv'],
      dropout: 0.05,
      modulesToSave: [],
      baseModel: null,
    });
  });

  it('refuses peft features it does not implement, naming the file', () => {
    const base = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['qkv'] };
    expect(() => parseAdapterConfig({ ...base, use_dora: true }, 'x/adapter_config.json')).toThrow(/^x\/adapter_config.json: DoRA/);
    expect(() => parseAdapterConfig({ ...base, target_modules: '.*qkv' })).toThrow(/regular expression/);
    expect(() => parseAdapterConfig({ ...base, rank_pattern: { qkv: 8 } })).toThrow(/rank_pattern/);
    expect(() => parseAdapterConfig({ ...base, bias: 'all' })).toThrow(/bias "all" is not supported/);
    expect(() => parseAdapterConfig({ ...base, r: 0 })).toThrow(/"r" must be a positive integer, got 0/);
    expect(() => parseAdapterConfig({ ...base, peft_type: 'IA3' })).toThrow(/peft_type "IA3" is not supported/);
    expect(() => parseAdapterConfig({ peft_type: 'LORA', r: 4, lora_alpha: 8 })).toThrow(/"target_modules" is missing/);
  });

  it('reading a broken directory names the file at fault', async () => {
    const dir = freshDir();
    await expect(readPeftAdapter(dir)).rejects.toThrow(new RegExp(`${dir}/adapter_config.json: cannot read`));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, ADAPTER_CONFIG_NAME), '{"peft_type": "LORA", ');
    await expect(readPeftAdapter(dir)).rejects.toThrow(/adapter_config.json: not valid JSON/);
    await writePeftAdapter(dir, lora, loraTensors());
    const weights = join(dir, ADAPTER_WEIGHTS_NAME);
    writeFileSync(weights, readFileSync(weights).subarray(0, 100));
    await expect(readPeftAdapter(dir)).rejects.toThrow(new RegExp(`${weights}: truncated`));
    // a file without the peft prefix (e.g. a plain state dict) is refused
    writeFileSync(weights, serializeSafetensors({ 'heads.pathmnist.bias': { dtype: 'F32', shape: [9], data: new Array<number>(9).fill(0) } }));
    await expect(readPeftAdapter(dir)).rejects.toThrow(/lacks the peft prefix "base_model.model."/);
  });
});

describe('bottleneck adapter directory', () => {
  it('round-trips with its own clearly named config type', async () => {
    const dir = freshDir();
    const tensors = bottleneckTensors();
    await writePeftAdapter(dir, bottleneck, tensors);
    const cfg = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG_NAME), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      peft_type: 'STMEDFM_BOTTLENECK',
      bottleneck_size: 8,
      placement: 'houlsby',
      non_linearity: 'gelu',
      bias: 'none',
      modules_to_save: ['heads.pathmnist'],
      task_type: null,
    });
    const back = await readPeftAdapter(dir);
    expect(back.spec).toEqual(bottleneck);
    const trainable = [...back.tensors.values()].reduce((s, t) => s + numel(t.shape), 0);
    expect(trainable).toBe(4384 + 585);
  });

  it('checks projection shapes against bottleneck_size', async () => {
    const tensors = bottleneckTensors();
    tensors.set('blocks.0.ad1.up.weight', rand([D, 16]));
    await expect(writePeftAdapter(freshDir(), bottleneck, tensors)).rejects.toThrow(/"blocks.0.ad1.up.weight" \[64, 16\] does not fit bottleneck_size 8/);
  });
});

describe('full checkpoints', () => {
  it('store the config in __metadata__ next to state-dict tensors', async () => {
    const path = join(root, 'model.safetensors');
    const config = { model: 'stmedfm-tiny', d: 64, tasks: { pathmnist: 9 } };
    await saveCheckpoint(path, { 'stem2d.c1.weight': rand([32, 3, 3, 3]), norm: rand([64]) }, config, { metadata: { step: '200' } });
    const ck = await loadCheckpoint(path);
    expect(ck.config).toEqual(config);
    expect(ck.metadata.format).toBe('pt');
    expect(ck.metadata.step).toBe('200');
    expect(ck.tensors.get('stem2d.c1.weight')!.shape).toEqual([32, 3, 3, 3]);
    await expect(saveCheckpoint(path, {}, {}, { metadata: { format: 'np' } })).rejects.toThrow(/reserved/);
  });
});
