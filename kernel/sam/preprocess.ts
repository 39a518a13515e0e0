/**
 * SAM's image preprocessing, top to bottom as in docs/inference.md §3 (steps 3-6):
 * resize the uint8 RGB image so its longest side is `imageSize` (Pillow BILINEAR), normalise
 * `(x - mean) / std` per channel in float32, zero-pad right and bottom AFTER normalising (so the
 * padding is exactly 0, not -mean/std), NCHW `[1, 3, S, S]`.
 *
 * The reference (segment-anything `SamPredictor.set_image` + `Sam.preprocess`) subtracts and
 * divides float32 tensors whose mean/std buffers are float32 copies of the constants below, so
 * each value is `f32(f32(x - f32(mean)) / f32(std))`. Because x is a uint8, that is a 256-entry
 * table per channel, built once per (mean, std); the per-pixel work is a lookup and a store.
 */
import type { RgbImage8, Size2D } from "../io/image.js";
import { longestSideSize, resizeBilinearUint8, resizeBilinearUint8Rows } from "./resize.js";

export const SAM_IMAGE_SIZE = 1024;
export const SAM_PIXEL_MEAN: readonly [number, number, number] = [123.675, 116.28, 103.53];
export const SAM_PIXEL_STD: readonly [number, number, number] = [58.395, 57.12, 57.375];

export interface PreprocessOptions {
  /** Side of the square encoder input (1024 for SAM ViT-B). */
  readonly imageSize?: number;
  readonly pixelMean?: readonly number[];
  readonly pixelStd?: readonly number[];
  /**
   * A buffer of 3*S*S floats to write into instead of allocating 12 MiB per slice (volumes
   * preprocess hundreds of slices). It is fully overwritten, padding included.
   */
  readonly out?: Float32Array;
}

export interface Preprocessed {
  /** `[1, 3, S, S]` float32, NCHW. */
  readonly tensor: Float32Array;
  /** (H, W) of the image handed in: the decoder's `orig_im_size`. */
  readonly originalSize: Size2D;
  /** (H, W) after the longest-side resize: the valid region of the tensor. */
  readonly resizedSize: Size2D;
}

const lutCache = new Map<string, Float32Array>();

/** `lut[c * 256 + v]` = normalised value of byte v in channel c, float32 as the reference. */
function normalisationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(",")}/${std.join(",")}`;
  let lut = lutCache.get(key);
  if (!lut) {
    lut = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      const m = Math.fround(mean[c]!);
      const s = Math.fround(std[c]!);
      // Float64 then round is exact float32 subtraction/division (double has > 2*24+2 bits).
      for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(v - m) / s);
    }
    if (lutCache.size > 16) lutCache.clear();
    lutCache.set(key, lut);
  }
  return lut;
}

function checkTriple(values: readonly number[], name: string, positive: boolean): void {
  if (values.length !== 3 || !values.every((v) => Number.isFinite(v) && (!positive || v > 0))) {
    throw new Error(
      `preprocess: ${name} must be 3 finite numbers${positive ? " > 0" : ""} (R, G, B), got [${values.join(", ")}].`,
    );
  }
}

/** Resize, normalise, pad and lay out one RGB image for the SAM encoder. */
/** Normalises one resized HWC row into the three planes of the tensor, zeroing the right padding. */
function rowWriter(t: Float32Array, size: number, w: number, lut: Float32Array): (y: number, row: Uint8Array) => void {
  const plane = size * size;
  return (y, row) => {
    const r0 = y * size;
    const r1 = r0 + plane;
    const r2 = r1 + plane;
    for (let x = 0, s = 0; x < w; x++, s += 3) {
      t[r0 + x] = lut[row[s]!]!;
      t[r1 + x] = lut[256 + row[s + 1]!]!;
      t[r2 + x] = lut[512 + row[s + 2]!]!;
    }
    if (w < size) {
      t.fill(0, r0 + w, r0 + size);
      t.fill(0, r1 + w, r1 + size);
      t.fill(0, r2 + w, r2 + size);
    }
  };
}

/** Zeroes the rows below the resized image (the bottom padding). */
function padRows(t: Float32Array, size: number, h: number): void {
  const plane = size * size;
  if (h < size) for (let c = 0; c < 3; c++) t.fill(0, c * plane + h * size, (c + 1) * plane);
}

/**
 * The first half of preprocess(): the longest-side resize alone, as uint8 RGB. A volume's
 * precompute does it in the kernel for the next slice while the encoder process runs the
 * current one, and the encoder process finishes with preprocessResized().
 */
export function resizeForEncoder(rgb: RgbImage8, imageSize: number = SAM_IMAGE_SIZE): RgbImage8 {
  const size = longestSideSize(rgb.height, rgb.width, imageSize);
  return { width: size.width, height: size.height, data: resizeBilinearUint8(rgb.data, rgb, 3, size) };
}

/**
 * The second half: normalise and pad an image resizeForEncoder() made from an image of
 * `originalSize`. preprocessResized(resizeForEncoder(rgb), rgb's size) equals preprocess(rgb)
 * bit for bit: the fused path normalises the same uint8 rows.
 */
export function preprocessResized(resized: RgbImage8, originalSize: Size2D, opts: PreprocessOptions = {}): Preprocessed {
  const size = opts.imageSize ?? SAM_IMAGE_SIZE;
  const mean = opts.pixelMean ?? SAM_PIXEL_MEAN;
  const std = opts.pixelStd ?? SAM_PIXEL_STD;
  checkTriple(mean, "pixelMean", false);
  checkTriple(std, "pixelStd", true);
  const expected = longestSideSize(originalSize.height, originalSize.width, size);
  if (resized.width !== expected.width || resized.height !== expected.height || resized.data.length !== resized.width * resized.height * 3) {
    throw new Error(
      `preprocessResized: a ${originalSize.width}x${originalSize.height} image resizes to ${expected.width}x${expected.height} RGB, got ${resized.width}x${resized.height} (${resized.data.length} bytes).`,
    );
  }
  const tensor = opts.out ?? new Float32Array(3 * size * size);
  if (tensor.length !== 3 * size * size) {
    throw new Error(`preprocess: out buffer holds ${tensor.length} floats but [1, 3, ${size}, ${size}] needs ${3 * size * size}.`);
  }
  const writeRow = rowWriter(tensor, size, expected.width, normalisationTable(mean, std));
  const stride = expected.width * 3;
  for (let y = 0; y < expected.height; y++) writeRow(y, resized.data.subarray(y * stride, (y + 1) * stride));
  padRows(tensor, size, expected.height);
  return { tensor, originalSize, resizedSize: expected };
}

export function preprocess(rgb: RgbImage8, opts: PreprocessOptions = {}): Preprocessed {
  const size = opts.imageSize ?? SAM_IMAGE_SIZE;
  const mean = opts.pixelMean ?? SAM_PIXEL_MEAN;
  const std = opts.pixelStd ?? SAM_PIXEL_STD;
  if (!(Number.isInteger(size) && size > 0)) {
    throw new Error(`preprocess: imageSize must be a positive integer, got ${size}.`);
  }
  checkTriple(mean, "pixelMean", false);
  checkTriple(std, "pixelStd", true);
  if (rgb.data.length !== rgb.width * rgb.height * 3) {
    throw new Error(
      `preprocess: RGB buffer holds ${rgb.data.length} bytes but ${rgb.height}x${rgb.width}x3 needs ${rgb.width * rgb.height * 3}.`,
    );
  }

  const originalSize: Size2D = { height: rgb.height, width: rgb.width };
  const resizedSize = longestSideSize(rgb.height, rgb.width, size);

  const plane = size * size;
  let tensor = opts.out;
  if (tensor) {
    if (tensor.length !== 3 * plane) {
      throw new Error(`preprocess: out buffer holds ${tensor.length} floats but [1, 3, ${size}, ${size}] needs ${3 * plane}.`);
    }
  } else {
    tensor = new Float32Array(3 * plane);
  }
  const writeRow = rowWriter(tensor, size, resizedSize.width, normalisationTable(mean, std));
  // Each resized row is normalised into the three planes while it is still in cache; the
  // resize never materialises the 1024x1024 uint8 image.
  resizeBilinearUint8Rows(rgb.data, rgb, 3, resizedSize, writeRow);
  padRows(tensor, size, resizedSize.height);
  return { tensor, originalSize, resizedSize };
}
