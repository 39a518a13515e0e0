/**
 * Summary statistics for benchmark samples. Medians, not means: on a 2-core machine shared with
 * other work, one descheduled run would drag a mean far away, while the median stays put.
 */

export interface Summary {
  /** Number of timed runs (warm-up runs excluded). */
  readonly n: number;
  readonly median: number;
  /** 95th percentile; with few runs this is close to the maximum, which is the honest reading. */
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}

/** Linear-interpolated quantile of sorted values (numpy's default), q in [0, 1]. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("quantile of an empty sample: run the benchmark at least once");
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * Runs `fn` `warmup` times untimed, then `runs` times timed (milliseconds). The first runs of an
 * onnxruntime session are much slower (allocation, kernel selection), hence the warm-up.
 */
export async function timeRuns(
  fn: (i: number) => unknown | Promise<unknown>,
  opts: { warmup: number; runs: number },
): Promise<Summary> {
  for (let i = 0; i < opts.warmup; i++) await fn(-1 - i);
  const samples: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}
