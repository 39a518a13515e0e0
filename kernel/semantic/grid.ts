/**
 * Where a head's outputs sit on the image. A head predicts on the encoder's token grid refined
 * `factor` times per axis (1: one value per 64x64 token; 4: one per 4x4 sub-cell of a token, the
 * resolution SAM's own mask decoder upsamples to). Only the cells that cover the image are used
 * (the encoder pads the resized image right and bottom; analysis/tokens.ts says why padding is left out).
 */
import { EMBEDDING_CHANNELS, EMBEDDING_SIDE, type Embedding } from "../sam/embedding.js";
import { imageTokenGrid, patchSize } from "../analysis/tokens.js";
import { axisTaps, type AxisTaps } from "./layers.js";

export interface CellGrid {
  /** Token rows and columns that cover the image. */
  readonly tokenRows: number;
  readonly tokenCols: number;
  /** Sub-cells per token side. */
  readonly factor: number;
  readonly rows: number;
  readonly cols: number;
}

export function cellGrid(embedding: Embedding, factor: number): CellGrid {
  const g = imageTokenGrid(embedding);
  return { tokenRows: g.rows, tokenCols: g.cols, factor, rows: g.rows * factor, cols: g.cols * factor };
}

/**
 * The image tokens' features, token-major ([rows*cols, 256], one row per token), standardised with
 * `mean`/`std` when given. The encoder writes channel-major [256, 64, 64]; heads read one token at a time.
 */
export function tokenFeatures(embedding: Embedding, grid: CellGrid, mean?: Float32Array, std?: Float32Array): Float32Array {
  const k = EMBEDDING_CHANNELS;
  const plane = EMBEDDING_SIDE * EMBEDDING_SIDE;
  const out = new Float32Array(grid.tokenRows * grid.tokenCols * k);
  const src = embedding.data;
  for (let ch = 0; ch < k; ch++) {
    const m = mean ? mean[ch]! : 0;
    const s = std ? 1 / std[ch]! : 1;
    for (let r = 0; r < grid.tokenRows; r++) {
      const so = ch * plane + r * EMBEDDING_SIDE;
      const oo = r * grid.tokenCols;
      for (let c = 0; c < grid.tokenCols; c++) out[(oo + c) * k + ch] = (src[so + c]! - m) * s;
    }
  }
  return out;
}

/** Size of one cell in original pixels along each axis (a cell is `patch / factor` encoder-frame pixels). */
function cellScale(embedding: Embedding, factor: number): { y: number; x: number } {
  const cell = patchSize(embedding) / factor;
  return {
    y: embedding.resizedSize.height / embedding.originalSize.height / cell,
    x: embedding.resizedSize.width / embedding.originalSize.width / cell,
  };
}

/**
 * Soft targets per cell: the fraction of the original pixels whose centres fall in the cell that
 * carry each class ([cells, C]; rows sum to 1, or to 0 outside the image). A cell smaller than a pixel
 * takes the pixel under its centre. Pixels whose label is not in `classIndex` are left out (they count for nothing).
 */
export function cellTargets(
  labels: ArrayLike<number>,
  embedding: Embedding,
  grid: CellGrid,
  classIndex: ReadonlyMap<number, number>,
): { targets: Float32Array; pixels: Float32Array } {
  const { width, height } = embedding.originalSize;
  if (labels.length !== width * height) {
    throw new Error(`label slice has ${labels.length} pixels, the embedded image is ${width}x${height} = ${width * height}`);
  }
  const ch = classIndex.size;
  const s = cellScale(embedding, grid.factor);
  const rowOf = new Int32Array(height);
  const colOf = new Int32Array(width);
  for (let y = 0; y < height; y++) rowOf[y] = Math.min(grid.rows - 1, Math.floor((y + 0.5) * s.y));
  for (let x = 0; x < width; x++) colOf[x] = Math.min(grid.cols - 1, Math.floor((x + 0.5) * s.x));
  const cells = grid.rows * grid.cols;
  const targets = new Float32Array(cells * ch);
  const pixels = new Float32Array(cells);
  for (let y = 0; y < height; y++) {
    const ro = rowOf[y]! * grid.cols;
    for (let x = 0; x < width; x++) {
      const k = classIndex.get(labels[y * width + x]!);
      if (k === undefined) continue;
      const cell = ro + colOf[x]!;
      targets[cell * ch + k]! += 1;
      pixels[cell]! += 1;
    }
  }
  for (let c = 0; c < cells; c++) {
    const n = pixels[c]!;
    if (n > 0) for (let k = 0; k < ch; k++) targets[c * ch + k] = targets[c * ch + k]! / n;
  }
  // Cells finer than the image's pixels hold no pixel centre: they take the pixel under their own
  // centre, so that every cell a prediction interpolates from has been trained.
  for (let r = 0; r < grid.rows; r++) {
    const y = Math.floor((r + 0.5) / s.y);
    if (y >= height) break;
    for (let c = 0; c < grid.cols; c++) {
      const cell = r * grid.cols + c;
      if (pixels[cell]! > 0) continue;
      const x = Math.floor((c + 0.5) / s.x);
      if (x >= width) break;
      const k = classIndex.get(labels[y * width + x]!);
      if (k === undefined) continue;
      targets[cell * ch + k] = 1;
      pixels[cell] = 1;
    }
  }
  return { targets, pixels };
}

/** Bilinear taps from the cell grid to original pixel centres (for predictions at full resolution). */
export function pixelTaps(embedding: Embedding, grid: CellGrid): { rows: AxisTaps; cols: AxisTaps } {
  const s = cellScale(embedding, grid.factor);
  return {
    rows: axisTaps(embedding.originalSize.height, grid.rows, (y) => (y + 0.5) * s.y - 0.5),
    cols: axisTaps(embedding.originalSize.width, grid.cols, (x) => (x + 0.5) * s.x - 0.5),
  };
}

/** Bilinear taps from the token grid to the fine cell grid (cell centres on token coordinates). */
export function fineTaps(grid: CellGrid): { rows: AxisTaps; cols: AxisTaps } {
  const f = grid.factor;
  return {
    rows: axisTaps(grid.rows, grid.tokenRows, (i) => (i + 0.5) / f - 0.5),
    cols: axisTaps(grid.cols, grid.tokenCols, (i) => (i + 0.5) / f - 0.5),
  };
}
