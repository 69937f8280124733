/**
 * Learning-rate schedule, evaluated on the host and fed to the step graph's `lr` input.
 *
 * `step` is the 0-based index of the step about to run. Warmup is linear and reaches `baseLr` on
 * its last step (step warmup-1): lr = baseLr * (step + 1) / warmup, so no step is wasted at lr 0.
 * Then cosine decay over the remaining steps: lr = baseLr * (1 + cos(pi * (step - warmup) /
 * (total - warmup))) / 2, which is baseLr right after warmup and would reach 0 at step = total.
 */
export function warmupCosine(step: number, total: number, warmup: number, baseLr: number): number {
  if (!Number.isInteger(total) || total < 1) throw new Error(`warmupCosine: total must be a positive integer, got ${total}`);
  if (!Number.isInteger(warmup) || warmup < 0 || warmup > total) throw new Error(`warmupCosine: warmup must be an integer in [0, ${total}], got ${warmup}`);
  if (!Number.isInteger(step) || step < 0) throw new Error(`warmupCosine: step must be a non-negative integer, got ${step}`);
  if (step >= total) return 0;
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  const progress = (step - warmup) / (total - warmup);
  return baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
