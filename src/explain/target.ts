/** Which class to explain: `--class` as an index or a class name of the task. */
import { UserError } from '../training/errors.js';

/**
 * `spec` is an index (0..n-1), a class name (case-insensitive) or an unambiguous start of one
 * (DermaMNIST's names are long: 'melanoma', 'basal cell' work).
 */
export function resolveClass(spec: string, labels: readonly string[], task: string): number {
  const s = spec.trim();
  const list = labels.map((l, i) => `${i} '${l}'`).join(', ');
  if (/^\d+$/.test(s)) {
    const i = Number(s);
    if (i < labels.length) return i;
    throw new UserError(`--class ${s}: ${task} has classes 0..${labels.length - 1} (${list})`);
  }
  const key = s.toLowerCase();
  const exact = labels.findIndex((l) => l.toLowerCase() === key);
  if (exact >= 0) return exact;
  const starts = key ? labels.map((l, i) => [l, i] as const).filter(([l]) => l.toLowerCase().startsWith(key)) : [];
  if (starts.length === 1) return starts[0]![1];
  const why = starts.length > 1 ? `is ambiguous (${starts.map(([l]) => `'${l}'`).join(', ')})` : 'is not a class';
  throw new UserError(`--class '${spec}' ${why} of ${task}; give an index or a name: ${list}`);
}
