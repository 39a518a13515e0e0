/**
 * Mean and covariance of many 256-channel tokens, streamed: the tokens x channels matrix is
 * never built. Two passes over the chosen tokens: the per-channel mean in float64, then chunks of
 * centred tokens whose X X^T onnxruntime computes (gram.ts), summed in float64.
 *
 * Precision: centring first removes the cancellation of `sum(x x^T) - n m m^T`; within a chunk
 * SGEMM accumulates at most CHUNK_TOKENS float32 products (relative error around 1e-6), and
 * chunks add up in float64. Covariances then agree with a float64 computation to ~1e-6, far below
 * anything a PCA picture can show.
 */
import { gram } from "./gram.js";

/** Tokens per SGEMM call. */
export const CHUNK_TOKENS = 8192;

/**
 * A run of tokens contiguous in every channel row of a channel-major embedding: channel c of
 * token i is `data[c * plane + start + i]` for i < count (whole grid rows, or single tokens).
 */
export interface TokenRun {
  readonly data: Float32Array;
  readonly start: number;
  readonly count: number;
}

export interface CovarianceResult {
  readonly mean: Float64Array;
  /** Sample covariance (divided by n - 1, as ml-pca and numpy's `cov`), channels x channels. */
  readonly covariance: Float64Array;
  readonly tokens: number;
}

export async function tokenCovariance(runs: readonly TokenRun[], channels: number, plane: number): Promise<CovarianceResult> {
  let n = 0;
  const sums = new Float64Array(channels);
  for (const r of runs) {
    if (r.start < 0 || r.count < 0 || r.start + r.count > plane) {
      throw new Error(`token run ${r.start}+${r.count} is outside the channel plane of ${plane} tokens.`);
    }
    n += r.count;
    for (let c = 0; c < channels; c++) {
      const o = c * plane + r.start;
      let s = 0;
      for (let i = 0; i < r.count; i++) s += r.data[o + i]!;
      sums[c]! += s;
    }
  }
  if (n < 2) throw new Error(`a covariance needs at least 2 tokens, got ${n}.`);
  const mean = sums.map((s) => s / n);
  const mean32 = Float32Array.from(mean);

  const acc = new Float64Array(channels * channels);
  let runIndex = 0;
  let offset = 0; // tokens of runs[runIndex] already consumed
  for (let done = 0; done < n; ) {
    const size = Math.min(CHUNK_TOKENS, n - done);
    const chunk = new Float32Array(channels * size);
    let filled = 0;
    while (filled < size) {
      const r = runs[runIndex]!;
      const take = Math.min(r.count - offset, size - filled);
      for (let c = 0; c < channels; c++) {
        const src = c * plane + r.start + offset;
        const dst = c * size + filled;
        const m = mean32[c]!;
        for (let i = 0; i < take; i++) chunk[dst + i] = r.data[src + i]! - m;
      }
      filled += take;
      offset += take;
      if (offset === r.count) {
        runIndex++;
        offset = 0;
      }
    }
    const g = await gram(chunk, channels, size);
    for (let i = 0; i < acc.length; i++) acc[i]! += g[i]!;
    done += size;
  }
  const covariance = new Float64Array(channels * channels);
  for (let a = 0; a < channels; a++) {
    for (let b = a; b < channels; b++) {
      // SGEMM need not return an exactly symmetric product; average the two halves.
      const v = (acc[a * channels + b]! + acc[b * channels + a]!) / 2 / (n - 1);
      covariance[a * channels + b] = v;
      covariance[b * channels + a] = v;
    }
  }
  return { mean, covariance, tokens: n };
}
