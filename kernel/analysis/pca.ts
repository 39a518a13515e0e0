/**
 * PCA of image embeddings: each of the 64x64 tokens is a 256-channel sample. Fit once on one or
 * many embeddings (slices of a volume, or the same image through several models) and project
 * every embedding on that shared basis, so that colours mean the same thing side by side.
 *
 * Fitting = streaming covariance (covariance.ts, with onnxruntime's SGEMM doing the products) +
 * ml-pca's decomposition of that 256x256 matrix (`isCovarianceMatrix`: ml-matrix's full
 * symmetric EVD, of which the k leading eigenpairs are kept). Stacks larger than `maxFitTokens`
 * are fitted on a seeded uniform sample of their tokens (a 256x256 covariance is well determined
 * by tens of thousands of samples) and then every token is projected.
 *
 * Measured warm on a shared 2-core machine (load average 12-13: CPU time is the figure to trust),
 * synthetic 12-factor embeddings as in bench/analysis.ts (`npm run bench -- --only analysis`):
 * one slice, fit + project + RGB picture 125-155 ms CPU (streaming covariance 10-16 ms, ml-pca's
 * eigendecomposition of the 256x256 matrix 107 ms; wall median 325 ms under that load), inside
 * the 300 ms budget of a notebook picture; 100 slices (fit on a 32768-token sample, project every
 * token, 100 pictures) 0.7-0.8 s CPU, wall median 1.6 s under that load. The hand-written block-Krylov solver this replaced found the
 * 3 leading eigenpairs in 5-7 ms CPU: a saving no picture needs, so it went.
 *
 * Sign convention: an eigenvector's sign is arbitrary, so each component is flipped to make its
 * largest-magnitude loading positive (scikit-learn's `svd_flip` rule on the loadings, which its
 * `PCA` applies from 1.5 on, so micro_sam's `compute_pca` through elf's `embedding_pca` agrees).
 * Pictures then keep their colours when the same data is refitted, reordered or resampled.
 *
 * `mask`: fit (and mark in the projections) only the tokens inside a pixel mask — the body, or
 * chosen organs — so that "body vs air" does not take the first component.
 */
import { PCA } from "ml-pca";
import { EMBEDDING_CHANNELS, EMBEDDING_SIDE, type Embedding } from "../sam/embedding.js";
import { tokenCovariance, type TokenRun } from "./covariance.js";
import { SeededRandom } from "./rng.js";
import { tokenGrid, tokenMask, type PixelMask, type TokenGrid, type TokenRegion } from "./tokens.js";

export interface PcaOptions {
  /** Number of components (default 3, one per RGB channel). */
  readonly components?: number;
  /** Tokens covering the image (default) or the whole 64x64 grid including padding. */
  readonly region?: TokenRegion;
  /** Largest number of tokens the fit uses; more are sampled uniformly (default 32768). */
  readonly maxFitTokens?: number;
  /** Seed of the token sample, when there are more than `maxFitTokens` tokens (default 0). */
  readonly seed?: number;
  /** Fit on the tokens inside this mask only: one mask for all embeddings, or one each. */
  readonly mask?: PixelMask | readonly PixelMask[];
}

export interface PcaBasis {
  readonly channels: number;
  readonly region: TokenRegion;
  /** Per-channel mean of the fitted tokens. */
  readonly mean: Float64Array;
  /** components x channels, row-major, unit rows, sign-fixed (see the module comment). */
  readonly components: Float64Array;
  readonly componentCount: number;
  /** Variance of the fitted tokens along each component (the covariance eigenvalues). */
  readonly variances: Float64Array;
  /** Sum of all channel variances (the covariance trace): the denominator of explained variance. */
  readonly totalVariance: number;
  /** variances[i] / totalVariance (0 when the tokens do not vary at all). */
  readonly explainedVarianceRatio: readonly number[];
  /** Tokens the fit used, and how many were available. */
  readonly fitTokens: number;
  readonly availableTokens: number;
}

/** One embedding's tokens in PC space. */
export interface TokenProjection {
  readonly grid: TokenGrid;
  readonly componentCount: number;
  /** componentCount planes of grid.rows x grid.cols, row-major (component-major overall). */
  readonly values: Float32Array;
  readonly embedding: Embedding;
  /** With a mask: 1 for the grid's tokens inside it (pictures scale and colour only those). */
  readonly inside?: Uint8Array;
}

export const DEFAULT_MAX_FIT_TOKENS = 32768;

/** The mask of embedding `index` (one for all, or one each), or undefined. */
export function maskFor(mask: PcaOptions["mask"], index: number, count: number): PixelMask | undefined {
  if (!mask) return undefined;
  if (!Array.isArray(mask)) return mask as PixelMask;
  const list = mask as readonly PixelMask[];
  if (list.length !== count) throw new Error(`mask: ${list.length} masks for ${count} embeddings; give one mask, or one per embedding.`);
  return list[index];
}

function asList(embeddings: Embedding | readonly Embedding[]): readonly Embedding[] {
  const list = Array.isArray(embeddings) ? (embeddings as readonly Embedding[]) : [embeddings as Embedding];
  if (list.length === 0) throw new Error("PCA needs at least one embedding.");
  return list;
}

/**
 * The k largest eigenvalues (descending) of a symmetric n x n matrix and their unit eigenvectors
 * as rows of a k x n matrix, through ml-pca. Signs are still arbitrary here.
 */
function leadingEigenpairs(covariance: Float64Array, n: number, k: number): { values: Float64Array; vectors: Float64Array } {
  const rows = Array.from({ length: n }, (_, r) => Array.from(covariance.subarray(r * n, (r + 1) * n)));
  const pca = new PCA(rows, { isCovarianceMatrix: true });
  const eigenvalues = pca.getEigenvalues();
  const U = pca.getEigenvectors(); // n x n, column i for eigenvalues[i]
  const values = new Float64Array(k);
  const vectors = new Float64Array(k * n);
  for (let i = 0; i < k; i++) {
    values[i] = eigenvalues[i]!;
    for (let c = 0; c < n; c++) vectors[i * n + c] = U.get(c, i);
  }
  return { values, vectors };
}

/** Fits the basis. Throws when fewer than 2 tokens are available or k is out of range. */
export async function fitPca(embeddings: Embedding | readonly Embedding[], options: PcaOptions = {}): Promise<PcaBasis> {
  const list = asList(embeddings);
  const k = options.components ?? 3;
  if (!(Number.isInteger(k) && k >= 1 && k <= EMBEDDING_CHANNELS)) {
    throw new Error(`PCA components must be an integer in 1..${EMBEDDING_CHANNELS}, got ${k}.`);
  }
  const region = options.region ?? "image";
  const maxFit = options.maxFitTokens ?? DEFAULT_MAX_FIT_TOKENS;
  if (!(Number.isInteger(maxFit) && maxFit >= 2)) throw new Error(`maxFitTokens must be an integer >= 2, got ${maxFit}.`);
  const random = new SeededRandom(options.seed ?? 0);
  const grids = list.map((e) => tokenGrid(e, region));
  const masks = list.map((e, i) => {
    const m = maskFor(options.mask, i, list.length);
    return m ? tokenMask(m, e, grids[i]!) : undefined;
  });
  const taken = (e: number, t: number) => !masks[e] || masks[e][t] !== 0;
  const available = masks.some((m) => m)
    ? grids.reduce((s, g, e) => s + Array.from({ length: g.rows * g.cols }, (_, t) => (taken(e, t) ? 1 : 0)).reduce((a: number, b: number) => a + b, 0), 0)
    : grids.reduce((s, g) => s + g.rows * g.cols, 0);
  if (available < 2) throw new Error(`PCA needs at least 2 tokens to fit, the mask leaves ${available}.`);
  const plane = EMBEDDING_SIDE * EMBEDDING_SIDE;
  const runs: TokenRun[] = [];
  if (available <= maxFit) {
    // Every token, as runs of whole grid rows (one run per embedding when the grid is 64 wide),
    // or, with a mask, as runs of consecutive inside tokens.
    for (let e = 0; e < list.length; e++) {
      const g = grids[e]!;
      const data = list[e]!.data;
      const m = masks[e];
      if (m) {
        for (let r = 0; r < g.rows; r++) {
          for (let c = 0; c < g.cols; c++) {
            if (!m[r * g.cols + c]) continue;
            let end = c;
            while (end + 1 < g.cols && m[r * g.cols + end + 1]) end++;
            runs.push({ data, start: r * EMBEDDING_SIDE + c, count: end - c + 1 });
            c = end;
          }
        }
      } else if (g.cols === EMBEDDING_SIDE) runs.push({ data, start: 0, count: g.rows * EMBEDDING_SIDE });
      else for (let r = 0; r < g.rows; r++) runs.push({ data, start: r * EMBEDDING_SIDE, count: g.cols });
    }
  } else {
    // Selection sampling (Knuth's algorithm S): one pass, exactly `want` tokens, each subset of
    // that size equally likely, visited in order so the reads stay sequential in memory.
    let want = maxFit;
    let remaining = available;
    for (let e = 0; e < list.length; e++) {
      const data = list[e]!.data;
      const g = grids[e]!;
      for (let r = 0; r < g.rows; r++) {
        for (let c = 0; c < g.cols; c++) {
          if (!taken(e, r * g.cols + c)) continue;
          const take = want === remaining || (want > 0 && random.next() * remaining < want);
          remaining--;
          if (!take) continue;
          want--;
          runs.push({ data, start: r * EMBEDDING_SIDE + c, count: 1 });
        }
      }
    }
  }

  const { mean, covariance, tokens } = await tokenCovariance(runs, EMBEDDING_CHANNELS, plane);
  const n = EMBEDDING_CHANNELS;
  let trace = 0;
  for (let c = 0; c < n; c++) trace += covariance[c * n + c]!;
  const { values, vectors } = leadingEigenpairs(covariance, n, k);
  for (let i = 0; i < k; i++) {
    let best = 0;
    for (let c = 1; c < n; c++) if (Math.abs(vectors[i * n + c]!) > Math.abs(vectors[i * n + best]!)) best = c;
    if (vectors[i * n + best]! < 0) for (let c = 0; c < n; c++) vectors[i * n + c] = -vectors[i * n + c]!;
  }
  // Rounding can leave a zero eigenvalue at -1e-17; a variance is never negative.
  const variances = values.map((v) => Math.max(0, v));
  return {
    channels: n,
    region,
    mean,
    components: vectors,
    componentCount: k,
    variances,
    totalVariance: trace,
    explainedVarianceRatio: Array.from(variances, (v) => (trace > 0 ? v / trace : 0)),
    fitTokens: tokens,
    availableTokens: available,
  };
}

/** Projects an embedding's tokens (of the basis's region) onto the components; `mask` marks the inside tokens. */
export function projectEmbedding(basis: PcaBasis, embedding: Embedding, mask?: PixelMask): TokenProjection {
  const grid = tokenGrid(embedding, basis.region);
  const k = basis.componentCount;
  const n = basis.channels;
  const cells = grid.rows * grid.cols;
  const side = EMBEDDING_SIDE;
  const plane = side * side;
  const data = embedding.data;
  // Accumulate per component over channels with the token index innermost: the embedding is
  // channel-major, so every inner loop reads one contiguous channel row.
  const acc = new Float64Array(k * cells);
  const bias = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = 0;
    for (let c = 0; c < n; c++) s += basis.mean[c]! * basis.components[i * n + c]!;
    bias[i] = s;
  }
  // Gather the image tokens of each channel into one contiguous row first (a no-op view for
  // 64-wide grids), then update three components per pass over it.
  const rowBuf = grid.cols === side ? undefined : new Float32Array(cells);
  for (let c = 0; c < n; c++) {
    let x: Float32Array;
    if (rowBuf) {
      for (let r = 0; r < grid.rows; r++) rowBuf.set(data.subarray(c * plane + r * side, c * plane + r * side + grid.cols), r * grid.cols);
      x = rowBuf;
    } else {
      x = data.subarray(c * plane, c * plane + cells);
    }
    let i = 0;
    for (; i + 3 <= k; i += 3) {
      const w0 = basis.components[i * n + c]!;
      const w1 = basis.components[(i + 1) * n + c]!;
      const w2 = basis.components[(i + 2) * n + c]!;
      const o0 = i * cells;
      const o1 = o0 + cells;
      const o2 = o1 + cells;
      for (let t = 0; t < cells; t++) {
        const v = x[t]!;
        acc[o0 + t]! += w0 * v;
        acc[o1 + t]! += w1 * v;
        acc[o2 + t]! += w2 * v;
      }
    }
    for (; i < k; i++) {
      const w = basis.components[i * n + c]!;
      const o = i * cells;
      for (let t = 0; t < cells; t++) acc[o + t]! += w * x[t]!;
    }
  }
  const values = new Float32Array(k * cells);
  for (let i = 0; i < k; i++) {
    const b = bias[i]!;
    for (let t = 0; t < cells; t++) values[i * cells + t] = acc[i * cells + t]! - b;
  }
  return { grid, componentCount: k, values, embedding, ...(mask ? { inside: tokenMask(mask, embedding, grid) } : {}) };
}

/** Fit on all the embeddings, then project each: the usual one-call use. */
export async function pcaOfEmbeddings(
  embeddings: Embedding | readonly Embedding[],
  options: PcaOptions = {},
): Promise<{ basis: PcaBasis; projections: TokenProjection[] }> {
  const list = asList(embeddings);
  const basis = await fitPca(list, options);
  return { basis, projections: list.map((e, i) => projectEmbedding(basis, e, maskFor(options.mask, i, list.length))) };
}
