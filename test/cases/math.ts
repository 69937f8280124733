import type { CaseInput, GradCase } from '../../src/engine/testing/gradcheck.js';
import type { Value } from '../../src/engine/ir/graph.js';
import * as op from '../../src/engine/ops/index.js';

const f = (name: string, shape: number[], init?: CaseInput['init']): CaseInput => (init ? { name, shape, init } : { name, shape });
const labels = (name: string, n: number, classes: number): CaseInput => ({ name, shape: [n], dtype: 'int64', init: { int: classes }, grad: false });

/** A case over one float input [2,3] (or `shape`) through a unary builder. */
function unary(name: string, fn: (x: Value) => Value, init?: CaseInput['init'], shape = [2, 3], label = `[${shape}]`): GradCase {
  return { op: name, name: label, inputs: [f('x', shape, init)], build: (_g, [x]) => fn(x!) };
}

// Values across the interesting range of erf/GELU, including both tails.
const wide = { values: [-5.5, -3.1, -2.4, -1.3, -0.6, -0.05, 0.2, 0.9, 1.7, 2.6, 3.3, 6.1] };

const unaryCases: GradCase[] = [
  unary('Exp', op.exp),
  unary('Log', op.log, 'positive'),
  unary('Sqrt', op.sqrt, 'positive'),
  unary('Erf', op.erf),
  unary('Erf', op.erf, wide, [12], 'tails [-5.5 .. 6.1]'),
  unary('Relu', op.relu, 'awayFromZero', [3, 4]),
  unary('Tanh', op.tanh),
  unary('Sigmoid', op.sigmoid),
  unary('Sigmoid', op.sigmoid, wide, [12], 'saturated [-5.5 .. 6.1]'),
  unary('Abs', op.abs, 'awayFromZero', [3, 4]),
  unary('Sign', op.sign, 'awayFromZero', [4]),
  unary('Reciprocal', op.reciprocal, 'awayFromZero'),
  unary('Gelu', op.gelu, undefined, [2, 4]),
  unary('Gelu', op.gelu, wide, [12], 'tails [-5.5 .. 6.1]'),
  unary('Gelu', (x) => op.gelu(op.gelu(x)), undefined, [5], 'gelu(gelu(x))'),
];

const binaryCases: GradCase[] = [
  {
    op: 'Pow',
    name: 'base [2,3] ^ exponent [3]',
    inputs: [f('a', [2, 3], 'positive'), f('b', [3])],
    build: (_g, [a, b]) => op.pow(a!, b!),
  },
  {
    op: 'Pow',
    name: 'broadcast [3,1] ^ [2,1,4]',
    inputs: [f('a', [3, 1], 'positive'), f('b', [2, 1, 4])],
    build: (_g, [a, b]) => op.pow(a!, b!),
  },
  { op: 'Pow', name: 'x^3, negative bases', inputs: [f('x', [2, 3])], build: (_g, [x]) => op.pow(x!, 3) },
  { op: 'Pow', name: 'x^0.5', inputs: [f('x', [4], 'positive')], build: (_g, [x]) => op.pow(x!, 0.5) },
  {
    op: 'Where',
    name: 'broadcast cond [2,1,4], a [3,4], b [2,3,1]',
    inputs: [{ name: 'c', shape: [2, 1, 4], dtype: 'bool', init: { int: 2 }, grad: false }, f('a', [3, 4]), f('b', [2, 3, 1])],
    build: (_g, [c, a, b]) => op.where(c!, a!, b!),
  },
  {
    op: 'Where',
    name: 'cond from Less, scalar branch',
    inputs: [f('a', [3, 4], 'awayFromZero')],
    build: (_g, [a]) => op.where(op.less(a!, 0), op.mul(a!, a!), 2),
  },
  {
    op: 'Cast',
    name: 'bool mask cast to float',
    inputs: [f('a', [3, 4], 'awayFromZero')],
    build: (_g, [a]) => op.mul(a!, op.cast(op.greater(a!, 0), 'float')),
  },
  {
    op: 'Max',
    name: 'broadcast [2,3] vs [3]',
    inputs: [f('a', [2, 3]), f('b', [3])],
    build: (_g, [a, b]) => op.max2(a!, b!),
  },
  { op: 'Max', name: 'tie max(a, a)', inputs: [f('a', [4])], build: (_g, [a]) => op.max2(a!, a!) },
  {
    op: 'Mean',
    name: 'three inputs, broadcast [2,3] / [3] / scalar',
    inputs: [f('a', [2, 3]), f('b', [3])],
    build: (_g, [a, b]) => op.mean(a!, b!, 0.7),
  },
  { op: 'Mean', name: 'same input twice', inputs: [f('a', [4])], build: (_g, [a]) => op.mean(a!, a!) },
  {
    op: 'Sum',
    name: 'four inputs, broadcast [2,3] / [3] / [2,1] / [2,3]',
    inputs: [f('a', [2, 3]), f('b', [3]), f('c', [2, 1])],
    build: (_g, [a, b, c]) => op.sum([a!, b!, c!, op.mul(a!, a!)]),
  },
  {
    // Autodiff sums a wide fan-out with one Sum node: x feeds five consumers.
    op: 'Sum',
    name: 'fan-out of 5 accumulated by autodiff',
    inputs: [f('x', [3])],
    build: (_g, [x]) => op.concat([op.exp(x!), op.mul(x!, x!), op.tanh(x!), op.sigmoid(x!), op.mul(x!, 3)], 0),
  },
  {
    op: 'Min',
    name: 'broadcast [2,1] vs [2,3]',
    inputs: [f('a', [2, 1]), f('b', [2, 3])],
    build: (_g, [a, b]) => op.min2(a!, b!),
  },
];

const reduceCases: GradCase[] = [
  { op: 'ReduceMax', name: 'axis 1', inputs: [f('x', [2, 3, 4])], build: (_g, [x]) => op.reduceMax(x!, [1]) },
  { op: 'ReduceMax', name: 'axes [0,2] keepdims', inputs: [f('x', [2, 3, 4])], build: (_g, [x]) => op.reduceMax(x!, [0, 2], true) },
  { op: 'ReduceMax', name: 'all axes', inputs: [f('x', [3, 4])], build: (_g, [x]) => op.reduceMax(x!) },
  {
    // Central differences at a tie see half a slope: the rule must split the gradient evenly.
    op: 'ReduceMax',
    name: 'ties split evenly',
    inputs: [f('x', [2, 3], { values: [1, 3, 3, 2, 0, 0] })],
    build: (_g, [x]) => op.reduceMax(x!, [-1]),
  },
];

const softmaxCases: GradCase[] = [];
for (const [name, fn] of [
  ['Softmax', op.softmax],
  ['LogSoftmax', op.logSoftmax],
] as const) {
  softmaxCases.push(
    { op: name, name: '[2,5] axis 1', inputs: [f('x', [2, 5])], build: (_g, [x]) => fn(x!, 1) },
    { op: name, name: '[2,3,4] axis -1', inputs: [f('x', [2, 3, 4])], build: (_g, [x]) => fn(x!, -1) },
    { op: name, name: '[2,3,4] axis 1', inputs: [f('x', [2, 3, 4])], build: (_g, [x]) => fn(x!, 1) },
    { op: name, name: '[3,2] axis 0', inputs: [f('x', [3, 2])], build: (_g, [x]) => fn(x!, 0) },
  );
}

const attentionCases: GradCase[] = [
  {
    op: 'ScaledDotProductAttention',
    name: 'heads [2,2,5,3], 4 keys, dv 2, scale 0.6',
    inputs: [f('q', [2, 2, 5, 3]), f('k', [2, 2, 4, 3]), f('v', [2, 2, 4, 2])],
    build: (_g, [q, k, v]) => op.attention(q!, k!, v!, 0.6),
  },
  {
    op: 'ScaledDotProductAttention',
    name: 'rank 3, self-attention (q = k = v)',
    inputs: [f('x', [2, 4, 3])],
    build: (_g, [x]) => op.attention(x!, x!, x!, 1 / Math.sqrt(3)),
  },
  {
    // The weights as an output too: both gradient paths reach dS.
    op: 'ScaledDotProductAttention',
    name: 'Y and P both used',
    inputs: [f('q', [2, 3, 2]), f('k', [2, 4, 2]), f('v', [2, 4, 3])],
    build: (_g, [q, k, v]) => {
      const [y, p] = op.attentionWithWeights(q!, k!, v!, 0.9);
      return op.concat([y, p], -1);
    },
  },
  {
    op: 'ScaledDotProductAttention',
    name: 'P only (zero gradient for v)',
    inputs: [f('q', [1, 3, 2]), f('k', [1, 3, 2]), f('v', [1, 3, 2])],
    build: (_g, [q, k, v]) => op.attentionWithWeights(q!, k!, v!, 1.3)[1],
  },
];

const layerNormCases: GradCase[] = [
  {
    op: 'LayerNormalization',
    name: '[2,3,4] last axis, scale/bias grads',
    inputs: [f('x', [2, 3, 4]), f('scale', [4]), f('bias', [4])],
    build: (_g, [x, s, b]) => op.layerNorm(x!, s!, b!),
  },
  {
    op: 'LayerNormalization',
    name: '[2,3,4] axis 1 (scale [3,4])',
    inputs: [f('x', [2, 3, 4]), f('scale', [3, 4]), f('bias', [3, 4])],
    build: (_g, [x, s, b]) => op.layerNorm(x!, s!, b!, { axis: 1 }),
  },
  {
    op: 'LayerNormalization',
    name: '[3,5] axis 0 (whole tensor), eps 1e-3',
    inputs: [f('x', [3, 5]), f('scale', [3, 5]), f('bias', [3, 5])],
    build: (_g, [x, s, b]) => op.layerNorm(x!, s!, b!, { axis: 0, epsilon: 1e-3 }),
  },
  {
    op: 'LayerNormalization',
    name: 'all three outputs Y + Mean + InvStdDev',
    inputs: [f('x', [3, 5]), f('scale', [5]), f('bias', [5])],
    build: (_g, [x, s, b]) => {
      const [y, mean, inv] = op.layerNormalization(x!, s!, b!);
      return op.add(op.add(y, mean), inv);
    },
  },
  {
    op: 'LayerNormalization',
    name: 'Mean and InvStdDev only (zero scale/bias grads)',
    inputs: [f('x', [2, 4]), f('scale', [4]), f('bias', [4])],
    build: (_g, [x, s, b]) => {
      const [, mean, inv] = op.layerNormalization(x!, s!, b!);
      return op.mul(mean, inv);
    },
  },
];

const lossCases: GradCase[] = [
  {
    op: 'softmaxCrossEntropy',
    name: 'logits [4,5]',
    inputs: [f('logits', [4, 5]), labels('labels', 4, 5)],
    build: (_g, [z, y]) => op.softmaxCrossEntropy(z!, y!),
  },
  {
    op: 'softmaxCrossEntropy',
    name: 'logits [6,3], class weights (grads to logits and weights)',
    inputs: [f('logits', [6, 3]), labels('labels', 6, 3), f('w', [3], 'positive')],
    build: (_g, [z, y, w]) => op.softmaxCrossEntropy(z!, y!, { classWeights: w! }),
  },
  {
    op: 'sigmoidBinaryCrossEntropy',
    name: 'logits [3,4], soft targets',
    inputs: [f('logits', [3, 4]), f('targets', [3, 4], { values: [0, 1, 0.25, 0.8, 1, 0] })],
    build: (_g, [z, t]) => op.sigmoidBinaryCrossEntropy(z!, t!),
  },
  {
    op: 'sigmoidBinaryCrossEntropy',
    name: 'logits at the kink x = 0 and saturated',
    inputs: [f('logits', [6], { values: [0, 0, 0, 9.5, -12, 1.3] }), f('targets', [6], { values: [0, 1, 0.5, 0, 1, 1] })],
    build: (_g, [z, t]) => op.sigmoidBinaryCrossEntropy(z!, t!),
  },
];

export const mathCases: GradCase[] = [...unaryCases, ...binaryCases, ...reduceCases, ...softmaxCases, ...attentionCases, ...layerNormCases, ...lossCases];
