/**
 * "Notes on the runs": what the rows say beyond their numbers — which tasks are multi-label (and
 * so measured with MedMNIST's multi-label metrics), why an AUROC is n/a, a temperature at its
 * search bound, and the runs' warnings — so a reader of the report never sees an unexplained n/a.
 */
import type { ResultRow } from '../experiments/types.js';
import type { ReadingSection } from './reading.js';

/** At most this many distinct warnings are listed; the rest are counted (all are in results.json). */
const MAX_WARNINGS = 12;

const runName = (r: ResultRow) => `${r.task}/\`${r.method}\` seed ${r.seed}`;

function listRuns(rs: readonly ResultRow[]): string {
  const names = rs.map(runName);
  return names.length > 4 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
}

export const MULTI_LABEL_NOTE =
  'multi-label: acc is the accuracy over all labels at p > 0.5 and AUROC the mean of the per-label AUROCs (as medmnist\'s evaluator); ' +
  'ECE is the mean per-label ECE, Brier and NLL the binary ones over all sample × label entries; no temperature is fitted, so the after-TS columns are n/a.';

export function runNotes(rows: readonly ResultRow[]): ReadingSection | undefined {
  const bullets: string[] = [];
  const multi = [...new Set(rows.filter((r) => r.multi_label).map((r) => r.task))];
  if (multi.length) bullets.push(`${multi.join(', ')} ${multi.length === 1 ? 'is' : 'are'} ${MULTI_LABEL_NOTE}`);
  const byWhy = new Map<string, ResultRow[]>();
  for (const r of rows) if (r.auroc_why) byWhy.set(r.auroc_why, [...(byWhy.get(r.auroc_why) ?? []), r]);
  for (const [why, rs] of byWhy) bullets.push(`AUROC n/a for ${listRuns(rs)}: ${why}.`);
  const atBound = rows.filter((r) => r.temperature_at_bound);
  if (atBound.length) {
    bullets.push(`The temperature of ${listRuns(atBound)} lies at its search bound: the validation split could not calibrate it, so its after-TS numbers are not a meaningful calibration.`);
  }
  const byWarning = new Map<string, ResultRow[]>();
  for (const r of rows) for (const w of r.warnings ?? []) byWarning.set(w, [...(byWarning.get(w) ?? []), r]);
  const warnings = [...byWarning];
  for (const [w, rs] of warnings.slice(0, MAX_WARNINGS)) bullets.push(`Warning (${listRuns(rs)}): ${w}`);
  if (warnings.length > MAX_WARNINGS) bullets.push(`… and ${warnings.length - MAX_WARNINGS} more distinct warnings (each row's \`warnings\` in results.json).`);
  return bullets.length ? { title: 'Notes on the runs', bullets } : undefined;
}
