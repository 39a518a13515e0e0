/**
 * numpy's `np.percentile(a, q)` with its default method ("linear"), to the bit.
 *
 * numpy 1.22+ computes the virtual index `(n - 1) * (q / 100)` in float64, takes the sorted
 * neighbours a = v[floor], b = v[floor + 1] (the last value when the index reaches n - 1), and
 * interpolates with `_lerp`: `a + (b - a) * t` when t < 0.5, else `b - (b - a) * (1 - t)`,
 * which is not the same float as the textbook formula. Results are float64.
 */

/** Percentile of values already sorted ascending (length >= 1). */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number {
  return percentileBy(sorted.length, q, (k) => sorted[k]!);
}

/**
 * Percentile given only an order-statistic accessor `kth(k)` = the k-th smallest value
 * (0-based), so callers can answer from a histogram instead of sorting.
 */
export function percentileBy(n: number, q: number, kth: (k: number) => number): number {
  if (!(n >= 1)) throw new Error("percentile of an empty set of values is undefined.");
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile must be within [0, 100], got ${q}.`);
  const virtual = (n - 1) * (q / 100);
  if (virtual >= n - 1) return kth(n - 1);
  if (virtual < 0) return kth(0);
  const lo = Math.floor(virtual);
  const t = virtual - lo;
  const a = kth(lo);
  const b = kth(lo + 1);
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/**
 * Order statistics of integer values in [offset, offset + bins) by counting: O(n) and exact,
 * for 8- and 16-bit images where sorting a million values would dominate.
 */
export function histogramKth(counts: Uint32Array | Float64Array, offset: number): (k: number) => number {
  // Cumulative counts, searched by bisection for each query.
  const cum = new Float64Array(counts.length);
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i]!;
    cum[i] = total;
  }
  return (k: number) => {
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > k) hi = mid;
      else lo = mid + 1;
    }
    return lo + offset;
  };
}
