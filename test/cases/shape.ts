import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import * as op from '../../src/engine/ops/index.js';

const transposeCases: GradCase[] = [
  { op: 'Transpose', name: '3-D [2,3,4] perm [2,0,1]', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (_g, [x]) => op.transpose(x!, [2, 0, 1]) },
  { op: 'Transpose', name: '4-D [2,3,2,3] perm [0,2,3,1]', inputs: [{ name: 'x', shape: [2, 3, 2, 3] }], build: (_g, [x]) => op.transpose(x!, [0, 2, 3, 1]) },
  { op: 'Transpose', name: '5-D [2,1,3,2,2] perm [4,2,0,3,1]', inputs: [{ name: 'x', shape: [2, 1, 3, 2, 2] }], build: (_g, [x]) => op.transpose(x!, [4, 2, 0, 3, 1]) },
  { op: 'Transpose', name: 'default reverses [2,3,4]', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (_g, [x]) => op.transpose(x!) },
  // The transposed value meets the original: both paths' gradients must add up.
  { op: 'Transpose', name: 'x * x^T [3,3]', inputs: [{ name: 'x', shape: [3, 3] }], build: (_g, [x]) => op.mul(x!, op.transpose(x!, [1, 0])) },
];

const concatCases: GradCase[] = [
  {
    op: 'Concat',
    name: '3 inputs on middle axis [2,1,3]+[2,3,3]+[2,2,3]',
    inputs: [{ name: 'a', shape: [2, 1, 3] }, { name: 'b', shape: [2, 3, 3] }, { name: 'c', shape: [2, 2, 3] }],
    build: (_g, [a, b, c]) => op.concat([a!, b!, c!], 1),
  },
  {
    op: 'Concat',
    name: 'axis -1, same input twice',
    inputs: [{ name: 'a', shape: [3, 2] }, { name: 'b', shape: [3, 1] }],
    build: (_g, [a, b]) => op.concat([a!, b!, a!], -1),
  },
  { op: 'Concat', name: 'axis 0 of 4-D', inputs: [{ name: 'a', shape: [1, 2, 2, 2] }, { name: 'b', shape: [2, 2, 2, 2] }], build: (_g, [a, b]) => op.concat([a!, b!], 0) },
];

const sliceCases: GradCase[] = [
  {
    op: 'Slice',
    name: 'negative indices [2,6][:, -4:-1]',
    inputs: [{ name: 'x', shape: [2, 6] }],
    build: (_g, [x]) => op.slice(x!, { starts: [-4], ends: [-1], axes: [1] }),
  },
  {
    op: 'Slice',
    name: 'step 2 on two axes of [5,7,2]',
    inputs: [{ name: 'x', shape: [5, 7, 2] }],
    build: (_g, [x]) => op.slice(x!, { starts: [0, 1], ends: [5, 7], axes: [0, 1], steps: [2, 2] }),
  },
  {
    op: 'Slice',
    name: 'step -1 full reversal (end -inf) of [3,4] axis 1',
    inputs: [{ name: 'x', shape: [3, 4] }],
    build: (_g, [x]) => op.slice(x!, { starts: [-1], ends: [-Infinity], axes: [1], steps: [-1] }),
  },
  {
    op: 'Slice',
    name: 'step -1 partial 5:1 of [7,2]',
    inputs: [{ name: 'x', shape: [7, 2] }],
    build: (_g, [x]) => op.slice(x!, { starts: [5], ends: [1], steps: [-1] }),
  },
  {
    op: 'Slice',
    name: 'step -2 and step 3 with clamped bounds [6,8]',
    inputs: [{ name: 'x', shape: [6, 8] }],
    build: (_g, [x]) => op.slice(x!, { starts: [100, -7], ends: [-100, 100], axes: [0, 1], steps: [-2, 3] }),
  },
  {
    op: 'Slice',
    name: 'clamped end, 3-D middle axis [2,5,3][:, 2:99]',
    inputs: [{ name: 'x', shape: [2, 5, 3] }],
    build: (_g, [x]) => op.slice(x!, { starts: [2], ends: [99], axes: [-2] }),
  },
  {
    op: 'Slice',
    name: 'overlapping slices of one input summed',
    inputs: [{ name: 'x', shape: [4, 3] }],
    build: (_g, [x]) => op.add(op.slice(x!, { starts: [0], ends: [3] }), op.slice(x!, { starts: [3], ends: [0], steps: [-1] })),
  },
];

const splitCases: GradCase[] = [
  {
    op: 'Split',
    name: 'uneven [1,3,2] on axis 1, middle output unused',
    inputs: [{ name: 'x', shape: [2, 6, 2] }],
    build: (_g, [x]) => {
      const [p, , r] = op.split(x!, [1, 3, 2], 1);
      return op.concat([r!, p!], 1);
    },
  },
  {
    op: 'Split',
    name: 'uneven [3,1] on axis -1, only the last output used',
    inputs: [{ name: 'x', shape: [3, 4] }],
    build: (_g, [x]) => op.split(x!, [3, 1], -1)[1]!,
  },
  {
    op: 'Split',
    name: 'qkv-style [2,2,2] axis 2, all outputs combined',
    inputs: [{ name: 'x', shape: [2, 3, 6] }],
    build: (_g, [x]) => {
      const [q, k, v] = op.split(x!, [2, 2, 2], 2);
      return op.add(op.mul(q!, k!), v!);
    },
  },
];

const padCases: GradCase[] = [
  {
    op: 'Pad',
    name: 'two axes of [2,3,4], value 0.5',
    inputs: [{ name: 'x', shape: [2, 3, 4] }],
    build: (_g, [x]) => op.pad(x!, [0, 1, 2, 0, 2, 1], 0.5),
  },
  {
    op: 'Pad',
    name: 'all axes of [2,2]',
    inputs: [{ name: 'x', shape: [2, 2] }],
    build: (_g, [x]) => op.pad(x!, [1, 2, 3, 1]),
  },
];

const reshapeLikeCases: GradCase[] = [
  { op: 'Reshape', name: 'unsqueeze [2,3] axes [0,-1]', inputs: [{ name: 'x', shape: [2, 3] }], build: (_g, [x]) => op.unsqueeze(x!, [0, -1]) },
  { op: 'Reshape', name: 'squeeze [2,1,3,1] axes [1]', inputs: [{ name: 'x', shape: [2, 1, 3, 1] }], build: (_g, [x]) => op.squeeze(x!, [1]) },
  { op: 'Identity', name: '[2,3]', inputs: [{ name: 'x', shape: [2, 3] }], build: (_g, [x]) => op.mul(op.identity(x!), x!) },
];

const matmulCases: GradCase[] = [
  { op: 'MatMul', name: '[3,4]@[4,2]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 2] }], build: (_g, [a, b]) => op.matmul(a!, b!) },
  {
    op: 'MatMul',
    name: '[B,T,D]@[D,E] = [2,3,4]@[4,5]',
    inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4, 5] }],
    build: (_g, [a, b]) => op.matmul(a!, b!),
  },
  {
    op: 'MatMul',
    name: 'a broadcast over b batch [3,4]@[2,4,2]',
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [2, 4, 2] }],
    build: (_g, [a, b]) => op.matmul(a!, b!),
  },
  {
    op: 'MatMul',
    name: 'batch dims broadcast both ways [2,1,3,4]@[3,4,2]',
    inputs: [{ name: 'a', shape: [2, 1, 3, 4] }, { name: 'b', shape: [3, 4, 2] }],
    build: (_g, [a, b]) => op.matmul(a!, b!),
  },
  {
    op: 'MatMul',
    name: 'batched [2,2,3,4]@[2,1,4,3]',
    inputs: [{ name: 'a', shape: [2, 2, 3, 4] }, { name: 'b', shape: [2, 1, 4, 3] }],
    build: (_g, [a, b]) => op.matmul(a!, b!),
  },
  {
    op: 'MatMul',
    name: 'attention-style q@k^T [2,3,4]',
    inputs: [{ name: 'q', shape: [2, 3, 4] }, { name: 'k', shape: [2, 3, 4] }],
    build: (_g, [q, k]) => op.matmul(q!, op.transpose(k!, [0, 2, 1])),
  },
  {
    // The shared-weight gradient transposes the narrower of a and g: here g (N = 2 < K = 5).
    op: 'MatMul',
    name: '[2,2,3,5]@[5,2] (rank 4 a, narrow output)',
    inputs: [{ name: 'a', shape: [2, 2, 3, 5] }, { name: 'b', shape: [5, 2] }],
    build: (_g, [a, b]) => op.matmul(a!, b!),
  },
  { op: 'MatMul', name: 'x@x [3,3] (fan-out)', inputs: [{ name: 'x', shape: [3, 3] }], build: (_g, [x]) => op.matmul(x!, x!) },
];

export const shapeCases: GradCase[] = [
  ...transposeCases,
  ...concatCases,
  ...sliceCases,
  ...splitCases,
  ...padCases,
  ...reshapeLikeCases,
  ...matmulCases,
];
