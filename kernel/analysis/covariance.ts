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
  for (const r of runs) {
    if (r.start < 0 || r.count < 0 || r.start + r.count > plane) {
      throw new Error(`token run ${r.start}+${r.count} is outside the channel plane of ${plane} tokens.`);
    }
    n += r.count;
  }
  if (n < 2) throw new Error(`a covariance needs at least 2 tokens, got ${n}.`);

  // Cut the runs into chunks of at most CHUNK_TOKENS tokens.
  interface Segment {
    readonly data: Float32Array;
    readonly start: number;
    readonly count: number;
    /** Column of the segment's first token in its chunk. */
    readonly at: number;
  }
  const chunks: { size: number; segments: Segment[] }[] = [];
  let current: { size: number; segments: Segment[] } = { size: 0, segments: [] };
  for (const r of runs) {
    let used = 0;
    while (used < r.count) {
      if (current.size === CHUNK_TOKENS) {
        chunks.push(current);
        current = { size: 0, segments: [] };
      }
      const take = Math.min(r.count - used, CHUNK_TOKENS - current.size);
      current.segments.push({ data: r.data, start: r.start + used, count: take, at: current.size });
      current.size += take;
      used += take;
    }
  }
  if (current.size > 0) chunks.push(current);

  // Every loop below runs channel by channel, then over the segments in token order: sampled
  // tokens of one embedding are then read ascending within one 16 KB channel row, instead of
  // 256 cache misses per token across the whole stack.
  const sums = new Float64Array(channels);
  for (const chunk of chunks) {
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (const seg of chunk.segments) {
        const o = c * plane + seg.start;
        for (let i = 0; i < seg.count; i++) s += seg.data[o + i]!;
      }
      sums[c]! += s;
    }
  }
  const mean = sums.map((s) => s / n);
  const mean32 = Float32Array.from(mean);

  const acc = new Float64Array(channels * channels);
  for (const chunk of chunks) {
    const size = chunk.size;
    const x = new Float32Array(channels * size);
    for (let c = 0; c < channels; c++) {
      const m = mean32[c]!;
      const rowOut = c * size;
      for (const seg of chunk.segments) {
        const o = c * plane + seg.start;
        const d = rowOut + seg.at;
        for (let i = 0; i < seg.count; i++) x[d + i] = seg.data[o + i]! - m;
      }
    }
    const g = await gram(x, channels, size);
    for (let i = 0; i < acc.length; i++) acc[i]! += g[i]!;
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
