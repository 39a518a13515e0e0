/**
 * Where an embedding's tokens sit on the image. The encoder sees the image resized so that its
 * longest side fills the square input frame, then zero-padded right and bottom; its 64x64 output
 * grid therefore covers the image only in its top-left part. Analyses work on that part by
 * default, because padding tokens describe zeros, not the image, and would otherwise dominate a
 * PCA of a non-square image.
 */
import type { Size2D } from "../io/image.js";
import { EMBEDDING_CHANNELS, EMBEDDING_SIDE, type Embedding } from "../sam/embedding.js";

/** Which tokens an analysis uses: those covering the image (default) or the whole 64x64 grid. */
export type TokenRegion = "image" | "all";

/** A rectangle of the token grid starting at row 0, column 0. */
export interface TokenGrid {
  readonly rows: number;
  readonly cols: number;
}

/** The encoder input side: the longest resized side, which the resize makes equal to it. */
function frameSide(embedding: Embedding): number {
  return Math.max(embedding.resizedSize.height, embedding.resizedSize.width);
}

/** Checks the layout analyses rely on, with a message that says what was found instead. */
export function checkEmbedding(embedding: Embedding): void {
  const expected = EMBEDDING_CHANNELS * EMBEDDING_SIDE * EMBEDDING_SIDE;
  if (embedding.data.length !== expected) {
    throw new Error(
      `embedding of '${embedding.modelName}' has ${embedding.data.length} values; analyses expect ` +
        `${EMBEDDING_CHANNELS}x${EMBEDDING_SIDE}x${EMBEDDING_SIDE} = ${expected} (a SAM ViT-B image embedding).`,
    );
  }
  const { height, width } = embedding.resizedSize;
  if (!(height > 0 && width > 0)) {
    throw new Error(`embedding of '${embedding.modelName}' has an empty resized size ${height}x${width}.`);
  }
}

/** Tokens that see at least part of the image: ceil(resized / patch) per axis. */
export function imageTokenGrid(embedding: Embedding): TokenGrid {
  checkEmbedding(embedding);
  const patch = frameSide(embedding) / EMBEDDING_SIDE;
  return {
    rows: Math.min(EMBEDDING_SIDE, Math.ceil(embedding.resizedSize.height / patch)),
    cols: Math.min(EMBEDDING_SIDE, Math.ceil(embedding.resizedSize.width / patch)),
  };
}

export function tokenGrid(embedding: Embedding, region: TokenRegion): TokenGrid {
  if (region === "all") {
    checkEmbedding(embedding);
    return { rows: EMBEDDING_SIDE, cols: EMBEDDING_SIDE };
  }
  if (region !== "image") throw new Error(`token region must be 'image' or 'all', got '${String(region)}'.`);
  return imageTokenGrid(embedding);
}

/**
 * For each original pixel column (row), the token column (row) under the pixel's centre.
 * Pixel centres, not corners, so that a token is the one the pixel mostly falls in.
 */
export interface PixelTokenMap {
  readonly colOf: Int32Array;
  readonly rowOf: Int32Array;
}

function axisMap(originalLength: number, resizedLength: number, patch: number): Int32Array {
  const out = new Int32Array(originalLength);
  const scale = resizedLength / originalLength;
  for (let i = 0; i < originalLength; i++) {
    out[i] = Math.min(EMBEDDING_SIDE - 1, Math.floor(((i + 0.5) * scale) / patch));
  }
  return out;
}

export function pixelTokenMap(embedding: Embedding): PixelTokenMap {
  checkEmbedding(embedding);
  const patch = frameSide(embedding) / EMBEDDING_SIDE;
  const { originalSize: o, resizedSize: r } = embedding;
  return { colOf: axisMap(o.width, r.width, patch), rowOf: axisMap(o.height, r.height, patch) };
}

/** The token under pixel (x, y) of the original image, as (row, col) of the 64x64 grid. */
export function tokenAt(embedding: Embedding, x: number, y: number): { row: number; col: number } {
  const { width, height } = embedding.originalSize;
  if (!(x >= 0 && y >= 0 && x < width && y < height)) {
    throw new Error(`pixel (x=${x}, y=${y}) is outside the ${width}x${height} image of this embedding.`);
  }
  const map = pixelTokenMap(embedding);
  return { row: map.rowOf[Math.floor(y)]!, col: map.colOf[Math.floor(x)]! };
}

/**
 * Fractional token coordinate of each original pixel centre along one axis, for bilinear
 * upsampling: token k's centre is at k + 0.5 patches, so coordinate k means "on token k's centre".
 */
export function pixelTokenCoordinates(originalLength: number, resizedLength: number, patch: number): Float64Array {
  const out = new Float64Array(originalLength);
  const scale = resizedLength / originalLength;
  for (let i = 0; i < originalLength; i++) out[i] = ((i + 0.5) * scale) / patch - 0.5;
  return out;
}

/** Patch size in encoder-frame pixels (16 for SAM). */
export function patchSize(embedding: Embedding): number {
  return frameSide(embedding) / EMBEDDING_SIDE;
}

/**
 * One value per token of a `rows x cols` grid (row-major) drawn at the original image size.
 * `nearest` shows the tokens as the blocks they are; `bilinear` interpolates between token
 * centres (clamped at the grid edge), which reads better but suggests detail the encoder lacks.
 */
export type Upsampling = "nearest" | "bilinear";

export function upsampleTokens(
  values: Float32Array | Float64Array,
  grid: TokenGrid,
  embedding: Embedding,
  mode: Upsampling = "nearest",
): { size: Size2D; data: Float32Array } {
  if (values.length !== grid.rows * grid.cols) {
    throw new Error(`upsampleTokens: ${values.length} values for a ${grid.rows}x${grid.cols} token grid.`);
  }
  const { width, height } = embedding.originalSize;
  const out = new Float32Array(width * height);
  if (mode === "nearest") {
    const map = pixelTokenMap(embedding);
    for (let y = 0; y < height; y++) {
      const row = Math.min(map.rowOf[y]!, grid.rows - 1) * grid.cols;
      for (let x = 0; x < width; x++) out[y * width + x] = values[row + Math.min(map.colOf[x]!, grid.cols - 1)]!;
    }
    return { size: { height, width }, data: out };
  }
  if (mode !== "bilinear") throw new Error(`upsampling must be 'nearest' or 'bilinear', got '${String(mode)}'.`);
  const patch = patchSize(embedding);
  const u = pixelTokenCoordinates(width, embedding.resizedSize.width, patch);
  const v = pixelTokenCoordinates(height, embedding.resizedSize.height, patch);
  const clamp = (t: number, n: number) => Math.min(Math.max(t, 0), n - 1);
  for (let y = 0; y < height; y++) {
    const fy = clamp(v[y]!, grid.rows);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, grid.rows - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = clamp(u[x]!, grid.cols);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, grid.cols - 1);
      const wx = fx - x0;
      const top = values[y0 * grid.cols + x0]! * (1 - wx) + values[y0 * grid.cols + x1]! * wx;
      const bottom = values[y1 * grid.cols + x0]! * (1 - wx) + values[y1 * grid.cols + x1]! * wx;
      out[y * width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return { size: { height, width }, data: out };
}

/**
 * A label map reduced to one label per token of `grid`: the most frequent label among the
 * pixels whose centres fall in the token (ties: the smaller label). A token no pixel centre falls
 * in (images smaller than the grid) takes the label of the pixel under its own centre.
 */
export function tokenLabels(
  labels: { readonly width: number; readonly height: number; readonly data: ArrayLike<number> },
  embedding: Embedding,
  grid: TokenGrid,
): Int32Array {
  const { width, height } = embedding.originalSize;
  if (labels.width !== width || labels.height !== height) {
    throw new Error(
      `label map is ${labels.width}x${labels.height} but the embedded image is ${width}x${height}; they must match.`,
    );
  }
  const map = pixelTokenMap(embedding);
  const n = grid.rows * grid.cols;
  const counts: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  for (let y = 0; y < height; y++) {
    const r = map.rowOf[y]!;
    if (r >= grid.rows) continue;
    for (let x = 0; x < width; x++) {
      const c = map.colOf[x]!;
      if (c >= grid.cols) continue;
      const label = labels.data[y * width + x]!;
      const m = counts[r * grid.cols + c]!;
      m.set(label, (m.get(label) ?? 0) + 1);
    }
  }
  const out = new Int32Array(n);
  const patch = patchSize(embedding);
  for (let t = 0; t < n; t++) {
    const m = counts[t]!;
    if (m.size === 0) {
      const r = Math.floor(t / grid.cols);
      const c = t % grid.cols;
      const x = Math.min(width - 1, Math.floor(((c + 0.5) * patch * width) / embedding.resizedSize.width));
      const y = Math.min(height - 1, Math.floor(((r + 0.5) * patch * height) / embedding.resizedSize.height));
      out[t] = labels.data[y * width + x]!;
      continue;
    }
    let best = 0;
    let bestCount = -1;
    for (const [label, count] of m) {
      if (count > bestCount || (count === bestCount && label < best)) {
        best = label;
        bestCount = count;
      }
    }
    out[t] = best;
  }
  return out;
}

/**
 * Per-token RGB colours (cells x 3 bytes) drawn at the image size with nearest upsampling: the
 * fast path for pictures, which colours 4096 tokens instead of every pixel.
 */
export function paintTokens(colors: Uint8Array, grid: TokenGrid, embedding: Embedding): { width: number; height: number; data: Uint8Array } {
  if (colors.length !== grid.rows * grid.cols * 3) {
    throw new Error(`paintTokens: ${colors.length} bytes for ${grid.rows}x${grid.cols} tokens (3 per token).`);
  }
  const { width, height } = embedding.originalSize;
  const map = pixelTokenMap(embedding);
  const data = new Uint8Array(width * height * 3);
  const colOffset = Int32Array.from(map.colOf, (c) => 3 * Math.min(c, grid.cols - 1));
  for (let y = 0; y < height; y++) {
    const rowBase = 3 * Math.min(map.rowOf[y]!, grid.rows - 1) * grid.cols;
    let o = 3 * y * width;
    for (let x = 0; x < width; x++) {
      const s = rowBase + colOffset[x]!;
      data[o++] = colors[s]!;
      data[o++] = colors[s + 1]!;
      data[o++] = colors[s + 2]!;
    }
  }
  return { width, height, data };
}

/** A binary mask at the embedded image's size (nonzero = inside), e.g. the body or chosen organs. */
export interface PixelMask {
  readonly width: number;
  readonly height: number;
  readonly data: ArrayLike<number>;
}

/**
 * The tokens of `grid` inside a pixel mask: a token is inside when most of the pixels whose
 * centres fall in it are (tokenLabels' majority); tokens beyond the image (padding) never are.
 */
export function tokenMask(mask: PixelMask, embedding: Embedding, grid: TokenGrid): Uint8Array {
  const image = imageTokenGrid(embedding);
  const binary = { width: mask.width, height: mask.height, data: Uint8Array.from(mask.data as ArrayLike<number>, (v) => (v ? 1 : 0)) };
  const labels = tokenLabels(binary, embedding, image);
  const out = new Uint8Array(grid.rows * grid.cols);
  for (let r = 0; r < Math.min(grid.rows, image.rows); r++) {
    for (let c = 0; c < Math.min(grid.cols, image.cols); c++) out[r * grid.cols + c] = labels[r * image.cols + c]!;
  }
  return out;
}
