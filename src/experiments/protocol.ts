/** The paper's protocol as a resolved, serialisable config (every value is a flag). */
import { METHODS, type Method } from '../model/stmedfm.js';
import { UserError } from '../training/errors.js';
import { DEFAULT_LR } from '../training/workflows.js';

export interface ProtocolConfig {
  tasks: string[];
  methods: Method[];
  seeds: number[];
  pretrainSteps: number;
  finetuneSteps2d: number;
  finetuneSteps3d: number;
  batch2d: number;
  batch3d: number;
  pretrainLr: number;
  lr: Record<Method, number>;
  warmup: number;
  weightDecay: number;
  shots: number | null;
  threads: number;
  model: string;
}

export const DEFAULT_PROTOCOL: ProtocolConfig = {
  tasks: ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'],
  methods: [...METHODS],
  seeds: [0, 1, 2],
  pretrainSteps: 200,
  finetuneSteps2d: 120,
  finetuneSteps3d: 50,
  batch2d: 64,
  batch3d: 16,
  pretrainLr: 1e-3,
  lr: { ...DEFAULT_LR },
  warmup: 10,
  weightDecay: 0.05,
  shots: null,
  threads: 1,
  model: 'stmedfm-tiny',
};

export function validateProtocol(p: ProtocolConfig): void {
  if (!p.tasks.length) throw new UserError('--tasks is empty');
  if (!p.methods.length) throw new UserError('--methods is empty');
  for (const m of p.methods) if (!METHODS.includes(m)) throw new UserError(`unknown method '${m}' in --methods; choose from ${METHODS.join(', ')}`);
  if (!p.seeds.length || p.seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UserError(`--seeds must be non-negative integers, e.g. 0,1,2`);
  if (new Set(p.seeds).size !== p.seeds.length) throw new UserError('--seeds lists a seed twice');
  if (new Set(p.tasks).size !== p.tasks.length) throw new UserError('--tasks lists a task twice');
}

export const runId = (task: string, method: Method, seed: number): string => `${task}-${method}-s${seed}`;
