/**
 * Stratified, grouped, seeded 70/10/20 splits. Samples that share a group (a patient or lesion
 * id) or byte-identical content always land in one split; groups are dealt to splits per class
 * so each class keeps roughly the 70/10/20 proportions.
 */
import { DataError } from '../errors.js';
import type { Split } from '../registry.js';

export const SPLIT_FRACTIONS: Readonly<Record<Split, number>> = { train: 0.7, val: 0.1, test: 0.2 };

/** mulberry32: small, seedable, the same sequence on every platform. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class UnionFind {
  private readonly p: Int32Array;
  constructor(n: number) {
    this.p = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    while (this.p[x] !== x) x = this.p[x] = this.p[this.p[x]!]!;
    return x;
  }
  union(a: number, b: number): void {
    this.p[this.find(a)] = this.find(b);
  }
}

export interface SplitInput {
  readonly labels: ArrayLike<number>;
  readonly classNames: readonly string[];
  /** Group id per sample (undefined: the sample is its own group). */
  readonly groups?: readonly (string | undefined)[];
  /** Content hash per sample: equal hashes are kept together. */
  readonly hashes?: readonly string[];
  readonly seed: number;
}

/** Assigns every sample a split. Throws a DataError naming any class with fewer than 3 groups. */
export function assignSplits(inp: SplitInput): Split[] {
  const n = inp.labels.length;
  const uf = new UnionFind(n);
  const join = (keys: readonly (string | undefined)[] | undefined): void => {
    if (!keys) return;
    const first = new Map<string, number>();
    keys.forEach((k, i) => {
      if (k === undefined || k === '') return;
      const f = first.get(k);
      if (f === undefined) first.set(k, i);
      else uf.union(i, f);
    });
  };
  join(inp.groups);
  join(inp.hashes);
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    const m = members.get(r);
    if (m) m.push(i);
    else members.set(r, [i]);
  }
  // a group's class: its most frequent label (ties: lowest id)
  const byClass = new Map<number, number[][]>();
  for (const m of members.values()) {
    const cnt = new Map<number, number>();
    for (const i of m) cnt.set(inp.labels[i]!, (cnt.get(inp.labels[i]!) ?? 0) + 1);
    const cls = [...cnt.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    const list = byClass.get(cls);
    if (list) list.push(m);
    else byClass.set(cls, [m]);
  }
  const small = [...byClass.entries()].filter(([, g]) => g.length < 3).map(([c, g]) => `${inp.classNames[c]} (${g.length} ${inp.groups ? 'group' : 'sample'}${g.length === 1 ? '' : 's'})`);
  if (small.length) throw new DataError(`too few ${inp.groups ? 'groups' : 'samples'} to split 70/10/20: ${small.join(', ')}; each class needs at least 3 (add data, drop the class with --classes, or give a split column)`);
  const out = new Array<Split>(n).fill('train');
  const rand = rng(inp.seed);
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const groups = byClass.get(cls)!;
    groups.sort((a, b) => a[0]! - b[0]!); // deterministic before shuffling
    for (let i = groups.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [groups[i], groups[j]] = [groups[j]!, groups[i]!];
    }
    const total = groups.reduce((s, g) => s + g.length, 0);
    // deal groups: test first, then val, until each reaches its share of samples (at least one group each)
    let k = 0;
    for (const [split, keep] of [['test', 2], ['val', 1]] as const) {
      let got = 0;
      const want = SPLIT_FRACTIONS[split] * total;
      do {
        for (const i of groups[k]!) out[i] = split;
        got += groups[k]!.length;
        k++;
      } while (k < groups.length - keep && got + groups[k]!.length / 2 <= want);
    }
    for (; k < groups.length; k++) for (const i of groups[k]!) out[i] = 'train';
  }
  return out;
}
