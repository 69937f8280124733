/**
 * Markdown table of transfer results: mean ± std over seeds of test accuracy and AUROC per
 * (task, data set, method, pretraining steps), from the TSV rows of transfer_table.sh.
 * Usage: npx tsx scripts/pretrained/summarise.ts NAME=rows.tsv [NAME=rows.tsv ...]   (NAME labels the data, e.g. imported)
 */
import { readFileSync } from 'node:fs';

const groups = new Map<string, { acc: number[]; auroc: number[] }>();
for (const arg of process.argv.slice(2)) {
  const [name, file] = arg.split('=') as [string, string];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [steps, task, method, , acc, auroc] = line.split('\t');
    if (!auroc) continue;
    const key = `${task} (${name})\t${method}\t${steps}`;
    const g = groups.get(key) ?? { acc: [], auroc: [] };
    g.acc.push(Number(acc));
    g.auroc.push(Number(auroc));
    groups.set(key, g);
  }
}
const stat = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
};
console.log('| data (test set) | method | pretraining steps | seeds | test accuracy | test AUROC |');
console.log('|---|---|---:|---:|---:|---:|');
for (const [key, g] of [...groups].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
  const [name, method, steps] = key.split('\t');
  console.log(`| ${name} | ${method} | ${steps} | ${g.acc.length} | ${stat(g.acc)} | ${stat(g.auroc)} |`);
}
