/**
 * Summary statistics and number formatting for the report. Every number the report prints goes
 * through here, so the tables, the reading and the plots agree on rounding.
 */

/** Mean and sample standard deviation (n - 1) of the finite values; `std` is undefined below 2 values. */
export interface Stat {
  readonly mean: number;
  readonly std: number | undefined;
  /** Finite values used. */
  readonly n: number;
  /** Values that were NaN or infinite (e.g. an AUROC undefined on a split missing a class). */
  readonly missing: number;
}

export function meanStd(values: readonly number[]): Stat {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  const missing = values.length - n;
  if (n === 0) return { mean: NaN, std: undefined, n, missing };
  const mean = xs.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, std: undefined, n, missing };
  const ss = xs.reduce((s, v) => s + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n, missing };
}

/** `0.600 ± 0.100`; a single value shows just the mean; no value shows `n/a`. */
export function formatMeanStd(s: Stat, digits = 3, unit = ''): string {
  if (s.n === 0) return 'n/a';
  const m = s.mean.toFixed(digits);
  const body = s.std === undefined ? m : `${m} ± ${s.std.toFixed(digits)}`;
  // a cell averaged over fewer seeds than its neighbours must say so
  const partial = s.missing > 0 ? ` (n=${s.n})` : '';
  return `${body}${unit}${partial}`;
}

/** 137673 -> `137,673` (locale-independent so reports are identical on every machine). */
export function formatInt(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const r = Math.round(x);
  const sign = r < 0 ? '-' : '';
  return sign + String(Math.abs(r)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Trainable parameters: one integer when every seed agrees (the normal case), else the mean ± std. */
export function formatCount(s: Stat): string {
  if (s.n === 0) return 'n/a';
  if (s.std === undefined || s.std === 0) return formatInt(s.mean);
  return `${formatInt(s.mean)} ± ${formatInt(s.std)}`;
}

/** A signed difference: `+0.028`, `-0.010`. */
export function formatDelta(d: number, digits = 3): string {
  if (!Number.isFinite(d)) return 'n/a';
  const r = d.toFixed(digits);
  // -0.000 reads as a real negative difference
  if (Number(r) === 0) return (0).toFixed(digits);
  return d > 0 ? `+${r}` : r;
}

/** 754.2 -> `12 min 34 s`; under a minute -> `41.3 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'n/a';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h} h ${m} min ${s} s` : `${m} min ${s} s`;
}
