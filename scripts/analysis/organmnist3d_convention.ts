/**
 * Works out (1) the axis convention and (2) the HU window of the official organmnist3d.npz by
 * comparing it with organ crops of a CT whose orientation is known (TotalSegmentator's example
 * CT, RAS affine, and its label map). Not a test: prints the evidence for docs/data-import.md.
 *
 *   npx tsx scripts/analysis/organmnist3d_convention.ts ../shared/data/medmnist/organmnist3d.npz ../shared/data/raw/ct
 *
 * (1) For each of the 48 axis orders/flips, every crop is compared (Pearson correlation) with the
 *     mean OrganMNIST3D volume of the same organ; the orientation with the highest mean
 *     correlation is the file's convention. Kidney-left vs kidney-right decides the L/R flip.
 * (2) For candidate windows, the histogram of crop voxels is compared with OrganMNIST3D's
 *     (same organs) by the L1 distance between normalised 32-bin histograms.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NpzFile } from '../../src/data/npz.js';
import { apply3d, decodeNifti, pipeline3d } from '../../src/data/imaging/index.js';

const [npzPath, ctDir, win] = process.argv.slice(2) as [string, string, string?];
// window used for the orientation search (3rd argument 'LO,HI' or 'LO,HI,stretch'); default [-1000, 1000]
const WINDOW = (win ? win.split(',').slice(0, 2).map(Number) : [-1000, 1000]) as [number, number];
const STRETCH = win?.endsWith(',stretch') ?? false;
const npz = NpzFile.open(npzPath);
const imgs = npz.read('train_images').data as Uint8Array;
const labs = npz.read('train_labels').data as Uint8Array;
const V = 28 ** 3;
// organmnist3d label -> TotalSegmentator label in example_seg
const ORGANS: [number, number, string][] = [
  [0, 5, 'liver'],
  [1, 2, 'kidney-right'],
  [2, 3, 'kidney-left'],
  [9, 1, 'spleen'],
  [10, 7, 'pancreas'],
];
const mean = (cls: number): Float64Array => {
  const m = new Float64Array(V);
  let n = 0;
  for (let s = 0; s < labs.length; s++) if (labs[s] === cls) {
    n++;
    for (let i = 0; i < V; i++) m[i]! += imgs[s * V + i]!;
  }
  return m.map((v) => v / n);
};
const corr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    sa += a[i]!; sb += b[i]!; saa += a[i]! ** 2; sbb += b[i]! ** 2; sab += a[i]! * b[i]!;
  }
  return (sab - (sa * sb) / n) / Math.sqrt((saa - sa ** 2 / n) * (sbb - sb ** 2 / n));
};
const ct = decodeNifti(readFileSync(join(ctDir, 'example_ct_sm.nii.gz')), 'ct');
const seg = decodeNifti(readFileSync(join(ctDir, 'example_seg.nii.gz')), 'seg');
const means = new Map(ORGANS.map(([c]) => [c, mean(c)]));

const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
const letters = [['L', 'R'], ['P', 'A'], ['I', 'S']]; // [decreasing, increasing] per RAS world axis
const results: { codes: string; score: number; per: number[] }[] = [];
for (const p of perms)
  for (let f = 0; f < 8; f++) {
    const codes = p.map((w, i) => letters[w]![(f >> i) & 1 ? 0 : 1]).join('');
    const pl = pipeline3d({ axes: codes, cropMask: true, window: WINDOW, stretch: STRETCH });
    const per = ORGANS.map(([c, ts]) => corr(apply3d(pl, ct, { volume: seg, value: ts, name: 'seg' }), means.get(c)!));
    results.push({ codes, score: per.reduce((a, b) => a + b) / per.length, per });
  }
results.sort((a, b) => b.score - a.score);
console.log('orientation  mean-corr  ' + ORGANS.map((o) => o[2]).join(' '));
for (const r of results.slice(0, 8)) console.log(`${r.codes}          ${r.score.toFixed(3)}    ${r.per.map((v) => v.toFixed(3)).join(' ')}`);
const best = results[0]!.codes;
// left/right: does our right kidney look more like their kidney-right than their kidney-left?
const pl = pipeline3d({ axes: best, cropMask: true, window: WINDOW, stretch: STRETCH });
for (const [ts, name] of [[2, 'our kidney_right'], [3, 'our kidney_left']] as const) {
  const x = apply3d(pl, ct, { volume: seg, value: ts, name: 'seg' });
  console.log(`${name}: corr with kidney-right mean ${corr(x, means.get(1)!).toFixed(3)}, with kidney-left mean ${corr(x, means.get(2)!).toFixed(3)}`);
}

// (2) HU window by histogram distance
const hist = (u8: ArrayLike<number>): Float64Array => {
  const h = new Float64Array(32);
  for (let i = 0; i < u8.length; i++) h[u8[i]! >> 3]!++;
  return h.map((v) => v / u8.length);
};
const theirs = new Float64Array(32);
let cnt = 0;
for (let s = 0; s < labs.length; s++) if (ORGANS.some(([c]) => c === labs[s])) {
  const h = hist(imgs.subarray(s * V, (s + 1) * V));
  h.forEach((v, i) => (theirs[i]! += v));
  cnt++;
}
theirs.forEach((v, i) => (theirs[i] = v / cnt));
console.log('\nwindow (HU)                L1 histogram distance to OrganMNIST3D (same organs)');
const wins: [number, number][] = [[-300, 400], [-250, 250], [-400, 400], [-1000, 1000], [-1024, 2048], [-1000, 2000], [-1000, 3000], [-500, 500], [-300, 300], [-200, 200], [-160, 240], [-150, 250], [-125, 225], [-100, 200], [-1000, 400]];
const scored = wins.flatMap((w) => [false, true].map((stretch) => {
  const plw = pipeline3d({ axes: best, cropMask: true, window: w, stretch });
  const ours = new Float64Array(32);
  for (const [, ts] of ORGANS) hist(apply3d(plw, ct, { volume: seg, value: ts, name: 'seg' })).forEach((v, i) => (ours[i]! += v / ORGANS.length));
  return { w: `[${w.join(', ')}]${stretch ? ' + min-max' : ''}`, d: ours.reduce((s, v, i) => s + Math.abs(v - theirs[i]!), 0) };
}));
for (const s of scored.sort((a, b) => a.d - b.d)) console.log(s.w.padEnd(27) + s.d.toFixed(3));
