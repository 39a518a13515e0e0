/**
 * PCA projections as pictures at the image's own size: the first three components as R, G, B
 * (the MedicoSAM paper's comparison of SAM, MedSAM and MedicoSAM embeddings), or each component
 * on its own.
 *
 * Intensity scaling: by default each component maps its minimum to 0 and maximum to 255 over ALL
 * the projections shown together ("shared"), so equal colours mean equal PC values across the
 * panels; "each" scales every panel on its own, which shows more contrast but makes panels
 * incomparable. Optional percentile limits stretch the contrast; values beyond them are clamped,
 * which is why the default is the full range (nothing clipped unless asked for).
 *
 * Projections fitted inside a mask (`inside` set) are scaled on their inside tokens only and
 * their outside tokens drawn in OUTSIDE_COLOR.
 *
 * `microSamPcaImages` is micro_sam's own picture instead (`compute_pca` through elf's
 * `embedding_pca`, then `_project_embeddings`' crop): see there.
 */
import type { RgbImage8 } from "../io/image.js";
import { percentileOfSorted } from "../intensity/percentile.js";
import { applyColormap, type ColormapName } from "./colormap.js";
import { EMBEDDING_SIDE, type Embedding } from "../sam/embedding.js";
import type { TokenProjection } from "./pca.js";
import { paintTokens, upsampleTokens, type TokenGrid, type Upsampling } from "./tokens.js";

export interface PcaImageOptions {
  /** How tokens become pixels (default "nearest": the token blocks as the encoder sees them). */
  readonly upsampling?: Upsampling;
  /** One intensity scale for all panels (default) or one per panel. */
  readonly range?: "shared" | "each";
  /** Lower and upper percentile mapped to 0 and 255 (default [0, 100]: min and max). */
  readonly percentiles?: readonly [number, number];
}

/** Tokens outside the mask of a masked fit. */
export const OUTSIDE_COLOR: readonly [number, number, number] = [40, 40, 40];

export interface ComponentRange {
  readonly lo: number;
  readonly hi: number;
}

/** The value range of component `i` over the given projections, at the given percentiles. */
export function componentRange(
  projections: readonly TokenProjection[],
  component: number,
  percentiles: readonly [number, number] = [0, 100],
): ComponentRange {
  const [pl, ph] = percentiles;
  if (!(pl >= 0 && ph <= 100 && pl < ph)) {
    throw new Error(`percentiles must satisfy 0 <= low < high <= 100, got [${pl}, ${ph}].`);
  }
  const values: number[] = [];
  for (const p of projections) {
    if (component >= p.componentCount) {
      throw new Error(`component ${component} requested but the projection has only ${p.componentCount}.`);
    }
    const cells = p.grid.rows * p.grid.cols;
    for (let t = 0; t < cells; t++) if (!p.inside || p.inside[t]) values.push(p.values[component * cells + t]!);
  }
  if (pl === 0 && ph === 100) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return { lo, hi };
  }
  const all = Float64Array.from(values);
  all.sort();
  return { lo: percentileOfSorted(all, pl), hi: percentileOfSorted(all, ph) };
}

function ranges(projections: readonly TokenProjection[], count: number, options: PcaImageOptions): ComponentRange[][] {
  const mode = options.range ?? "shared";
  if (mode !== "shared" && mode !== "each") throw new Error(`range must be 'shared' or 'each', got '${String(mode)}'.`);
  const perComponent = (ps: readonly TokenProjection[]) =>
    Array.from({ length: count }, (_, i) => componentRange(ps, i, options.percentiles));
  if (mode === "shared") {
    const shared = perComponent(projections);
    return projections.map(() => shared);
  }
  return projections.map((p) => perComponent([p]));
}

function toByte(v: number, r: ComponentRange): number {
  const span = r.hi - r.lo;
  if (!(span > 0)) return 0;
  return Math.round(Math.min(1, Math.max(0, (v - r.lo) / span)) * 255);
}

function componentPlane(p: TokenProjection, i: number): Float32Array {
  const cells = p.grid.rows * p.grid.cols;
  return p.values.subarray(i * cells, (i + 1) * cells);
}

/** Components 1-3 as R, G, B at each embedded image's original size. */
export function pcaRgbImages(projections: readonly TokenProjection[], options: PcaImageOptions = {}): RgbImage8[] {
  for (const p of projections) {
    if (p.componentCount < 3) {
      throw new Error(`an RGB picture needs 3 components, the projection has ${p.componentCount}; fit with components >= 3.`);
    }
  }
  const all = ranges(projections, 3, options);
  return projections.map((p, idx) => {
    const r = all[idx]!;
    if ((options.upsampling ?? "nearest") === "nearest" || p.inside) {
      const cells = p.grid.rows * p.grid.cols;
      const colors = new Uint8Array(cells * 3);
      for (let t = 0; t < cells; t++) {
        for (let i = 0; i < 3; i++) colors[3 * t + i] = p.inside && !p.inside[t] ? OUTSIDE_COLOR[i]! : toByte(p.values[i * cells + t]!, r[i]!);
      }
      return paintTokens(colors, p.grid, p.embedding);
    }
    const planes = [0, 1, 2].map((i) => upsampleTokens(componentPlane(p, i), p.grid, p.embedding, options.upsampling).data);
    const { width, height } = p.embedding.originalSize;
    const data = new Uint8Array(width * height * 3);
    for (let j = 0; j < width * height; j++) {
      data[3 * j] = toByte(planes[0]![j]!, r[0]!);
      data[3 * j + 1] = toByte(planes[1]![j]!, r[1]!);
      data[3 * j + 2] = toByte(planes[2]![j]!, r[2]!);
    }
    return { width, height, data };
  });
}

/**
 * Component `i` of each projection as a picture, through a colour map (default gray). The scale
 * follows `options.range` like the RGB pictures.
 */
export function componentImages(
  projections: readonly TokenProjection[],
  component: number,
  options: PcaImageOptions & { readonly colormap?: ColormapName } = {},
): RgbImage8[] {
  const mode = options.range ?? "shared";
  if (mode !== "shared" && mode !== "each") throw new Error(`range must be 'shared' or 'each', got '${String(mode)}'.`);
  const shared = mode === "shared" ? componentRange(projections, component, options.percentiles) : undefined;
  return projections.map((p) => {
    const r = shared ?? componentRange([p], component, options.percentiles);
    if ((options.upsampling ?? "nearest") === "nearest" || p.inside) {
      const colors = applyColormap(componentPlane(p, component), r.lo, r.hi, options.colormap ?? "gray");
      if (p.inside) p.inside.forEach((v, t) => !v && colors.set(OUTSIDE_COLOR, 3 * t));
      return paintTokens(colors, p.grid, p.embedding);
    }
    const plane = upsampleTokens(componentPlane(p, component), p.grid, p.embedding, options.upsampling).data;
    const { width, height } = p.embedding.originalSize;
    return { width, height, data: applyColormap(plane, r.lo, r.hi, options.colormap ?? "gray") };
  });
}

/** micro_sam's `_get_crop`: the token rows (or columns) kept for a non-square image, `int(aspect * 64)`. */
export function microSamCrop(embedding: Embedding): TokenGrid {
  const { width, height } = embedding.originalSize;
  if (height > width) return { rows: EMBEDDING_SIDE, cols: Math.trunc((width / height) * EMBEDDING_SIDE) };
  if (width > height) return { rows: Math.trunc((height / width) * EMBEDDING_SIDE), cols: EMBEDDING_SIDE };
  return { rows: EMBEDDING_SIDE, cols: EMBEDDING_SIDE };
}

/**
 * micro_sam's PCA picture of one embedding (`project_embeddings_for_visualization`): elf's
 * `embedding_pca` fits the whole 64x64 grid, padding included, and scales the three components
 * together, `255 * (x - min) / ptp` over all of them, truncated to uint8; `_get_crop` then keeps
 * `int(aspect * 64)` token rows (or columns), which napari stretches over the image (its layer
 * scale = image size / kept tokens). Each projection must cover the whole grid (a basis fitted
 * with `region: "all"`); with a mask, min and range come from the inside tokens, the others are
 * drawn in OUTSIDE_COLOR. Returns the picture at the image size and the kept token colours.
 */
export function microSamPcaImage(p: TokenProjection): { image: RgbImage8; crop: TokenGrid; tokens: Uint8Array } {
  if (p.grid.rows !== EMBEDDING_SIDE || p.grid.cols !== EMBEDDING_SIDE || p.componentCount < 3) {
    throw new Error(`micro_sam's picture needs 3 components over the whole ${EMBEDDING_SIDE}x${EMBEDDING_SIDE} grid (fit with region "all").`);
  }
  const cells = EMBEDDING_SIDE * EMBEDDING_SIDE;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < 3; i++) {
    for (let t = 0; t < cells; t++) {
      if (p.inside && !p.inside[t]) continue;
      const v = p.values[i * cells + t]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi - lo;
  const crop = microSamCrop(p.embedding);
  const tokens = new Uint8Array(crop.rows * crop.cols * 3);
  for (let r = 0; r < crop.rows; r++) {
    for (let c = 0; c < crop.cols; c++) {
      const t = r * EMBEDDING_SIDE + c;
      for (let i = 0; i < 3; i++) {
        const byte = p.inside && !p.inside[t] ? OUTSIDE_COLOR[i]! : span > 0 ? Math.trunc((255 * (p.values[i * cells + t]! - lo)) / span) : 0;
        tokens[3 * (r * crop.cols + c) + i] = byte;
      }
    }
  }
  const { width, height } = p.embedding.originalSize;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const r = Math.min(crop.rows - 1, Math.floor(((y + 0.5) * crop.rows) / height));
    for (let x = 0; x < width; x++) {
      const c = Math.min(crop.cols - 1, Math.floor(((x + 0.5) * crop.cols) / width));
      data.set(tokens.subarray(3 * (r * crop.cols + c), 3 * (r * crop.cols + c) + 3), 3 * (y * width + x));
    }
  }
  return { image: { width, height, data }, crop, tokens };
}
