/**
 * Cosine similarity of every token to one chosen token: "what does the encoder think looks like
 * this spot?". The reference token may come from another embedding (another slice, or the same
 * image through another model of the same architecture), which is how one asks whether a
 * structure is recognised elsewhere.
 */
import type { RgbImage8 } from "../io/image.js";
import { EMBEDDING_CHANNELS, EMBEDDING_SIDE, type Embedding } from "../sam/embedding.js";
import { applyColormap, type ColormapName } from "./colormap.js";
import { tokenAt, tokenGrid, upsampleTokens, type TokenGrid, type TokenRegion, type Upsampling } from "./tokens.js";

/** The 256 channels of token (row, col). */
export function tokenVector(embedding: Embedding, row: number, col: number): Float32Array {
  if (!(Number.isInteger(row) && Number.isInteger(col) && row >= 0 && col >= 0 && row < EMBEDDING_SIDE && col < EMBEDDING_SIDE)) {
    throw new Error(`token (row ${row}, col ${col}) is outside the ${EMBEDDING_SIDE}x${EMBEDDING_SIDE} grid.`);
  }
  const plane = EMBEDDING_SIDE * EMBEDDING_SIDE;
  const out = new Float32Array(EMBEDDING_CHANNELS);
  for (let c = 0; c < EMBEDDING_CHANNELS; c++) out[c] = embedding.data[c * plane + row * EMBEDDING_SIDE + col]!;
  return out;
}

export interface SimilarityMap {
  readonly grid: TokenGrid;
  /** Cosine similarity per token of the grid, row-major, in [-1, 1] (0 for an all-zero token). */
  readonly values: Float32Array;
  readonly embedding: Embedding;
  /** The reference token, when it was picked in this embedding. */
  readonly token?: { readonly row: number; readonly col: number };
}

/** Similarity of every token of `embedding` to a reference vector of 256 channels. */
export function cosineSimilarityTo(
  embedding: Embedding,
  reference: Float32Array,
  options: { region?: TokenRegion } = {},
): SimilarityMap {
  if (reference.length !== EMBEDDING_CHANNELS) {
    throw new Error(`reference vector has ${reference.length} channels, expected ${EMBEDDING_CHANNELS}.`);
  }
  const grid = tokenGrid(embedding, options.region ?? "image");
  const cells = grid.rows * grid.cols;
  const plane = EMBEDDING_SIDE * EMBEDDING_SIDE;
  const dots = new Float64Array(cells);
  const norms = new Float64Array(cells);
  let refNorm = 0;
  for (let c = 0; c < EMBEDDING_CHANNELS; c++) {
    const w = reference[c]!;
    refNorm += w * w;
    const row0 = c * plane;
    for (let r = 0; r < grid.rows; r++) {
      const src = row0 + r * EMBEDDING_SIDE;
      const dst = r * grid.cols;
      for (let col = 0; col < grid.cols; col++) {
        const v = embedding.data[src + col]!;
        dots[dst + col]! += v * w;
        norms[dst + col]! += v * v;
      }
    }
  }
  const values = new Float32Array(cells);
  const rn = Math.sqrt(refNorm);
  for (let t = 0; t < cells; t++) {
    const d = Math.sqrt(norms[t]!) * rn;
    values[t] = d > 0 ? Math.max(-1, Math.min(1, dots[t]! / d)) : 0;
  }
  return { grid, values, embedding };
}

/** Similarity to the token under pixel (x, y) of the same image (the "clicked" token). */
export function cosineSimilarityAt(
  embedding: Embedding,
  x: number,
  y: number,
  options: { region?: TokenRegion } = {},
): SimilarityMap {
  const token = tokenAt(embedding, x, y);
  return { ...cosineSimilarityTo(embedding, tokenVector(embedding, token.row, token.col), options), token };
}

/**
 * The map as a heat-map picture at the image size. The colour range is [-1, 1] by default, so
 * pictures of different clicks compare; "data" stretches to the map's own min..max.
 */
export function similarityImage(
  map: SimilarityMap,
  options: {
    colormap?: ColormapName;
    range?: "full" | "data";
    /** Explicit colour limits (overrides `range`), e.g. the range inside a mask. */
    limits?: readonly [number, number];
    upsampling?: Upsampling;
    /** Blend the heat map over this image (the embedded image, same size) ... */
    over?: RgbImage8;
    /** ... with this weight of the heat map (default 0.6). */
    alpha?: number;
  } = {},
): RgbImage8 {
  const up = upsampleTokens(map.values, map.grid, map.embedding, options.upsampling);
  let lo = -1;
  let hi = 1;
  if ((options.range ?? "full") === "data") {
    lo = Infinity;
    hi = -Infinity;
    for (const v of map.values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (options.limits) [lo, hi] = options.limits;
  const heat = applyColormap(up.data, lo, hi, options.colormap ?? "viridis");
  const { width, height } = up.size;
  if (options.over) {
    const base = options.over;
    if (base.width !== width || base.height !== height) {
      throw new Error(`similarityImage: 'over' is ${base.width}x${base.height}, the map's image ${width}x${height}.`);
    }
    const a = options.alpha ?? 0.6;
    if (!(a >= 0 && a <= 1)) throw new Error(`alpha must be within [0, 1], got ${a}.`);
    for (let i = 0; i < heat.length; i++) heat[i] = Math.round(heat[i]! * a + base.data[i]! * (1 - a));
  }
  return { width, height, data: heat };
}
