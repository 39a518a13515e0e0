/**
 * The resizes of SAM inference, each matching one reference implementation bit for bit
 * (docs/inference.md §3 step 3, §5 and §7):
 *
 * - `longestSideSize`: segment-anything's `ResizeLongestSide.get_preprocess_shape`.
 * - `resizeBilinearUint8`: Pillow's `Image.resize(size, BILINEAR)` of a uint8 image, which the
 *   reference runs on every image (torchvision's `resize` of a PIL image). Antialiased: the
 *   filter support grows with the downscale factor, weights in 22-bit fixed point.
 * - `resizeBilinearFloat32`: Pillow's BILINEAR on a float ("F" mode) image: the same
 *   coefficients, accumulated in float64, stored as float32 after each pass. This is what
 *   `ResizeLongestSide.apply_image` does to a float mask, hence the mask prompts of §5.
 * - `resizeBilinearTorch`: PyTorch `F.interpolate(mode="bilinear", align_corners=False)`
 *   without antialias, float32, for upscaling logits (§7).
 *
 * Pillow's details (read from its Resample.c): per output index i, `center = (i + 0.5) * scale`
 * with `scale = in / out`; `filterscale = max(scale, 1)`; support = filterscale (bilinear has
 * support 1); taps `xmin = int(center - support + 0.5)` clamped at 0 up to
 * `int(center + support + 0.5)` clamped at `in`; weight `triangle((x + xmin - center + 0.5) * ss)`
 * with `ss = 1 / filterscale` (a multiplication by the reciprocal, as Pillow does, not a
 * division), normalised to sum 1. The horizontal pass runs first into an 8-bit buffer, then the
 * vertical pass; a pass whose size does not change is skipped.
 */
import type { RgbImage8, Size2D } from "../io/image.js";

/**
 * The resized size whose longest side is `target`: `floor(h * s + 0.5)` with
 * `s = target / max(h, w)`, in float64 exactly as segment-anything computes it
 * (`int(oldh * scale + 0.5)`; the values are positive, so int() is floor).
 */
export function longestSideSize(height: number, width: number, target = 1024): Size2D {
  checkSize(height, width, "longestSideSize");
  if (!(Number.isInteger(target) && target > 0)) {
    throw new Error(`longestSideSize: target must be a positive integer, got ${target}.`);
  }
  const scale = (target * 1.0) / Math.max(height, width);
  return { height: Math.floor(height * scale + 0.5), width: Math.floor(width * scale + 0.5) };
}

/**
 * Pillow's resampling coefficients for one axis. `start[i]` is the first input index used by
 * output i, `count[i]` how many taps follow, `weights[i * ksize + t]` the normalised float64
 * weight of tap t. Exposed so that tests and other resizes can inspect the exact taps.
 */
export interface AxisCoefficients {
  readonly inSize: number;
  readonly outSize: number;
  /** Stride between the weight rows of consecutive outputs (Pillow's `ksize`). */
  readonly ksize: number;
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float64Array;
}

/** Pillow's `precompute_coeffs` for the BILINEAR (triangle, support 1) filter. */
export function bilinearCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1.0 / filterscale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; both values are > -1 here, and a truncated value
    // in (-1, 0) is 0, which the clamp gives anyway.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const n = xmax - xmin;
    const base = i * ksize;
    let ww = 0.0;
    for (let x = 0; x < n; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const w = t < 1 ? 1 - t : 0;
      weights[base + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < n; x++) weights[base + x] /= ww;
    start[i] = xmin;
    count[i] = n;
  }
  return { inSize, outSize, ksize, start, count, weights };
}

/** Pillow's PRECISION_BITS = 32 - 8 - 2 for 8-bit images. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * Fixed-point taps for the 8-bit path: `int(w * 2^22 +/- 0.5)` (Pillow's
 * `normalize_coeffs_8bpc`), with zero taps trimmed from both ends. Trimming changes nothing
 * numerically (a zero weight adds zero) but halves the work of a 2x upscale, where Pillow's
 * window has a dead third tap.
 */
interface FixedTaps {
  readonly outSize: number;
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** Row i's taps live at `weights[offset[i] .. offset[i] + count[i])`. */
  readonly offset: Int32Array;
  readonly weights: Int32Array;
  /** Largest tap count of any output. */
  readonly maxCount: number;
}

function toFixedTaps(c: AxisCoefficients): FixedTaps {
  const start = new Int32Array(c.outSize);
  const count = new Int32Array(c.outSize);
  const offset = new Int32Array(c.outSize);
  const packed: number[] = [];
  for (let i = 0; i < c.outSize; i++) {
    const base = i * c.ksize;
    const fixed: number[] = [];
    for (let x = 0; x < c.count[i]!; x++) {
      const w = c.weights[base + x]!;
      fixed.push(Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE));
    }
    let lo = 0;
    let hi = fixed.length;
    while (lo < hi && fixed[lo] === 0) lo++;
    while (hi > lo && fixed[hi - 1] === 0) hi--;
    start[i] = c.start[i]! + lo;
    count[i] = hi - lo;
    offset[i] = packed.length;
    for (let x = lo; x < hi; x++) packed.push(fixed[x]!);
  }
  const maxCount = count.reduce((m, v) => Math.max(m, v), 0);
  return { outSize: c.outSize, start, count, offset, weights: Int32Array.from(packed), maxCount };
}

/** Coefficients depend only on (in, out): the same few sizes recur for every slice. */
const fixedCache = new Map<string, FixedTaps>();
function cachedFixedTaps(inSize: number, outSize: number): FixedTaps {
  const key = `${inSize}>${outSize}`;
  let taps = fixedCache.get(key);
  if (!taps) {
    taps = toFixedTaps(bilinearCoefficients(inSize, outSize));
    if (fixedCache.size > 64) fixedCache.clear();
    fixedCache.set(key, taps);
  }
  return taps;
}

/**
 * Pillow's BILINEAR resize of an interleaved uint8 image with any channel count (Pillow
 * resamples each band independently, so the channel count does not change the arithmetic).
 * Returns `src` itself when the size is unchanged (Pillow returns a copy; the values are equal).
 */
export function resizeBilinearUint8(
  src: Uint8Array,
  size: Size2D,
  channels: number,
  out: Size2D,
): Uint8Array {
  return resizeUint8(src, size, channels, out)!;
}

/**
 * The same resize, delivering the output row by row to `sink` instead of building the image:
 * preprocessing normalises each row straight into the tensor. Rows that need no vertical
 * resampling are views into the input or the horizontal pass.
 */
export function resizeBilinearUint8Rows(
  src: Uint8Array,
  size: Size2D,
  channels: number,
  out: Size2D,
  sink: RowSink,
): void {
  resizeUint8(src, size, channels, out, sink);
}

function resizeUint8(src: Uint8Array, size: Size2D, channels: number, out: Size2D, sink?: RowSink): Uint8Array | undefined {
  checkBuffer(src.length, size, channels, "resizeBilinearUint8");
  checkSize(out.height, out.width, "resizeBilinearUint8 output");
  const needH = out.width !== size.width;
  const needV = out.height !== size.height;

  let current = src;
  let rows = size.height;
  let rowOffset = 0;
  const vTaps = needV ? cachedFixedTaps(size.height, out.height) : undefined;
  if (needH) {
    // Like Pillow, only the rows the vertical pass reads are resampled horizontally.
    let first = 0;
    let last = size.height;
    if (vTaps) {
      first = vTaps.start[0]!;
      const n = out.height - 1;
      last = vTaps.start[n]! + vTaps.count[n]!;
    }
    current = horizontalUint8(src, size.width, channels, first, last, cachedFixedTaps(size.width, out.width));
    rows = last - first;
    rowOffset = first;
  }
  if (vTaps) return verticalUint8(current, out.width, channels, rows, rowOffset, vTaps, sink);
  if (sink) {
    const stride = out.width * channels;
    for (let y = 0; y < out.height; y++) sink(y, current.subarray(y * stride, (y + 1) * stride));
    return undefined;
  }
  return current;
}

/** Per-output first/second tap offsets (in values, for `ch` channels) and weights. */
function twoTapTable(taps: FixedTaps, ch: number) {
  const n = taps.outSize;
  const k0 = new Int32Array(n);
  const k1 = new Int32Array(n);
  const p0 = new Int32Array(n);
  const p1 = new Int32Array(n);
  for (let x = 0; x < n; x++) {
    const c = taps.count[x]!;
    const o = taps.offset[x]!;
    p0[x] = taps.start[x]! * ch;
    p1[x] = c === 2 ? p0[x]! + ch : p0[x]!;
    k0[x] = c >= 1 ? taps.weights[o]! : 0;
    k1[x] = c === 2 ? taps.weights[o + 1]! : 0;
  }
  return { k0, k1, p0, p1 };
}

function horizontalUint8(
  src: Uint8Array,
  inW: number,
  ch: number,
  firstRow: number,
  lastRow: number,
  taps: FixedTaps,
): Uint8Array {
  const outW = taps.outSize;
  // A clamped array does clip8's clamp on store; `acc >> 22` is Pillow's shift.
  const dst = new Uint8ClampedArray((lastRow - firstRow) * outW * ch);
  const { start, count, offset, weights } = taps;
  const inStride = inW * ch;
  let d = 0;
  if (ch === 3 && taps.maxCount <= 2) {
    // Upscales (and mild downscales) have at most two taps: one fused, branch-free loop with
    // a zero second weight where there is a single tap.
    const { k0, k1, p0, p1 } = twoTapTable(taps, 3);
    for (let y = firstRow; y < lastRow; y++) {
      const rowBase = y * inStride;
      for (let x = 0; x < outW; x++) {
        const a = rowBase + p0[x]!;
        const b = rowBase + p1[x]!;
        const w0 = k0[x]!;
        const w1 = k1[x]!;
        dst[d++] = (HALF + Math.imul(src[a]!, w0) + Math.imul(src[b]!, w1)) >> PRECISION_BITS;
        dst[d++] = (HALF + Math.imul(src[a + 1]!, w0) + Math.imul(src[b + 1]!, w1)) >> PRECISION_BITS;
        dst[d++] = (HALF + Math.imul(src[a + 2]!, w0) + Math.imul(src[b + 2]!, w1)) >> PRECISION_BITS;
      }
    }
    return new Uint8Array(dst.buffer);
  }
  for (let y = firstRow; y < lastRow; y++) {
    const rowBase = y * inStride;
    if (ch === 3) {
      for (let x = 0; x < outW; x++) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowBase + start[x]! * 3;
        const o = offset[x]!;
        const n = count[x]!;
        for (let t = 0; t < n; t++, p += 3) {
          const k = weights[o + t]!;
          s0 = (s0 + Math.imul(src[p]!, k)) | 0;
          s1 = (s1 + Math.imul(src[p + 1]!, k)) | 0;
          s2 = (s2 + Math.imul(src[p + 2]!, k)) | 0;
        }
        dst[d++] = s0 >> PRECISION_BITS;
        dst[d++] = s1 >> PRECISION_BITS;
        dst[d++] = s2 >> PRECISION_BITS;
      }
    } else {
      for (let x = 0; x < outW; x++) {
        const o = offset[x]!;
        const n = count[x]!;
        const p0 = rowBase + start[x]! * ch;
        for (let c = 0; c < ch; c++) {
          let s = HALF;
          for (let t = 0, p = p0 + c; t < n; t++, p += ch) s = (s + Math.imul(src[p]!, weights[o + t]!)) | 0;
          dst[d++] = s >> PRECISION_BITS;
        }
      }
    }
  }
  return new Uint8Array(dst.buffer);
}

/** Receives output rows in order; `row` is reused for the next call (copy what you keep). */
export type RowSink = (y: number, row: Uint8Array) => void;

function verticalUint8(
  src: Uint8Array,
  width: number,
  ch: number,
  srcRows: number,
  rowOffset: number,
  taps: FixedTaps,
  sink?: RowSink,
): Uint8Array | undefined {
  const stride = width * ch;
  const outH = taps.outSize;
  // With a sink, one row buffer instead of the whole image: the consumer reads it while hot.
  const dst = new Uint8ClampedArray(sink ? stride : outH * stride);
  const rowView = sink ? new Uint8Array(dst.buffer) : undefined;
  const acc = new Int32Array(stride);
  const { start, count, offset, weights } = taps;
  for (let y = 0; y < outH; y++) {
    const y0 = start[y]! - rowOffset;
    const n = count[y]!;
    const o = offset[y]!;
    if (y0 < 0 || y0 + n > srcRows) throw new Error("resizeBilinearUint8: internal row bounds error");
    const d = sink ? 0 : y * stride;
    if (n === 2) {
      // The common case of an upscale: two rows, one fused loop.
      const k0 = weights[o]!;
      const k1 = weights[o + 1]!;
      const r0 = y0 * stride;
      const r1 = r0 + stride;
      for (let i = 0; i < stride; i++) {
        dst[d + i] = (HALF + Math.imul(src[r0 + i]!, k0) + Math.imul(src[r1 + i]!, k1)) >> PRECISION_BITS;
      }
    } else {
      acc.fill(HALF);
      for (let t = 0; t < n; t++) {
        const k = weights[o + t]!;
        const r = (y0 + t) * stride;
        for (let i = 0; i < stride; i++) acc[i] = (acc[i]! + Math.imul(src[r + i]!, k)) | 0;
      }
      for (let i = 0; i < stride; i++) dst[d + i] = acc[i]! >> PRECISION_BITS;
    }
    if (sink) sink(y, rowView!);
  }
  return sink ? undefined : new Uint8Array(dst.buffer);
}

/** `resizeBilinearUint8` for the RGB images the encoder takes. */
export function resizeRgb8(image: RgbImage8, out: Size2D): RgbImage8 {
  const data = resizeBilinearUint8(image.data, image, 3, out);
  return { width: out.width, height: out.height, data };
}

/**
 * Pillow's BILINEAR resize of float32 images ("F" mode): the same antialiased coefficients as
 * the 8-bit path, unquantised, summed in float64 and rounded to float32 after each pass.
 * Channels are resampled independently. Returns a new array (also when the size is unchanged).
 */
export function resizeBilinearFloat32(
  src: Float32Array,
  size: Size2D,
  channels: number,
  out: Size2D,
): Float32Array {
  checkBuffer(src.length, size, channels, "resizeBilinearFloat32");
  checkSize(out.height, out.width, "resizeBilinearFloat32 output");
  let current: Float32Array = src;
  let width = size.width;
  if (out.width !== size.width) {
    const c = bilinearCoefficients(size.width, out.width);
    const dst = new Float32Array(size.height * out.width * channels);
    for (let y = 0; y < size.height; y++) {
      const row = y * size.width * channels;
      for (let x = 0; x < out.width; x++) {
        const base = x * c.ksize;
        const p0 = row + c.start[x]! * channels;
        const n = c.count[x]!;
        for (let ch = 0; ch < channels; ch++) {
          let s = 0.0;
          for (let t = 0; t < n; t++) s += current[p0 + t * channels + ch]! * c.weights[base + t]!;
          dst[(y * out.width + x) * channels + ch] = s;
        }
      }
    }
    current = dst;
    width = out.width;
  }
  if (out.height !== size.height) {
    const c = bilinearCoefficients(size.height, out.height);
    const stride = width * channels;
    const dst = new Float32Array(out.height * stride);
    for (let y = 0; y < out.height; y++) {
      const base = y * c.ksize;
      const y0 = c.start[y]!;
      const n = c.count[y]!;
      for (let i = 0; i < stride; i++) {
        let s = 0.0;
        for (let t = 0; t < n; t++) s += current[(y0 + t) * stride + i]! * c.weights[base + t]!;
        dst[y * stride + i] = s;
      }
    }
    current = dst;
  }
  return current === src ? src.slice() : current;
}

/** Source indices and weights of one axis of PyTorch's bilinear (align_corners=False). */
interface TorchAxis {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly l0: Float32Array;
  readonly l1: Float32Array;
}

const f32 = Math.fround;

/**
 * PyTorch's `compute_source_index_and_lambda` in float32 (its `opmath_t` for float):
 * `scale = float(in) / out`; `src = max(scale * (dst + 0.5) - 0.5, 0)`; `i0 = int(src)`,
 * `i1 = i0 + (i0 < in - 1 ? 1 : 0)`, `l1 = clamp(src - i0, 0, 1)`, `l0 = 1 - l1`. An unchanged
 * size copies (i0 = i1 = dst, l0 = 1), as PyTorch does.
 */
function torchAxis(inSize: number, outSize: number): TorchAxis {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float32Array(outSize);
  const l1 = new Float32Array(outSize);
  const scale = f32(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    if (inSize === outSize) {
      i0[d] = d;
      i1[d] = d;
      l0[d] = 1;
      l1[d] = 0;
      continue;
    }
    let src = f32(f32(scale * f32(d + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const a = Math.trunc(src);
    i0[d] = a;
    i1[d] = a + (a < inSize - 1 ? 1 : 0);
    const lam = Math.min(Math.max(f32(src - a), 0), 1);
    l1[d] = lam;
    l0[d] = f32(1 - lam);
  }
  return { i0, i1, l0, l1 };
}

/**
 * PyTorch `F.interpolate(x, size, mode="bilinear", align_corners=False)` (no antialias) of
 * `planes` stacked single-channel float32 planes (NCHW with N*C = planes). Every product and
 * sum is rounded to float32 in PyTorch's order: `(x00*wx0 + x01*wx1)*wy0 + (x10*wx0 + x11*wx1)*wy1`.
 * A PyTorch build that fuses multiply-adds can differ in the last bit; that is the tolerance.
 */
export function resizeBilinearTorch(
  src: Float32Array,
  size: Size2D,
  out: Size2D,
  planes = 1,
): Float32Array {
  checkBuffer(src.length, size, planes, "resizeBilinearTorch");
  checkSize(out.height, out.width, "resizeBilinearTorch output");
  const ax = torchAxis(size.width, out.width);
  const ay = torchAxis(size.height, out.height);
  const inPlane = size.width * size.height;
  const outPlane = out.width * out.height;
  const dst = new Float32Array(outPlane * planes);
  for (let p = 0; p < planes; p++) {
    const sp = p * inPlane;
    let d = p * outPlane;
    for (let y = 0; y < out.height; y++) {
      const r0 = sp + ay.i0[y]! * size.width;
      const r1 = sp + ay.i1[y]! * size.width;
      const wy0 = ay.l0[y]!;
      const wy1 = ay.l1[y]!;
      for (let x = 0; x < out.width; x++) {
        const c0 = ax.i0[x]!;
        const c1 = ax.i1[x]!;
        const wx0 = ax.l0[x]!;
        const wx1 = ax.l1[x]!;
        const top = f32(f32(src[r0 + c0]! * wx0) + f32(src[r0 + c1]! * wx1));
        const bottom = f32(f32(src[r1 + c0]! * wx0) + f32(src[r1 + c1]! * wx1));
        dst[d++] = f32(f32(top * wy0) + f32(bottom * wy1));
      }
    }
  }
  return dst;
}

function checkSize(height: number, width: number, where: string): void {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new Error(`${where}: sizes must be positive integers, got height ${height}, width ${width}.`);
  }
}

function checkBuffer(length: number, size: Size2D, channels: number, where: string): void {
  checkSize(size.height, size.width, where);
  if (!(Number.isInteger(channels) && channels > 0)) {
    throw new Error(`${where}: channel count must be a positive integer, got ${channels}.`);
  }
  const expected = size.height * size.width * channels;
  if (length !== expected) {
    throw new Error(
      `${where}: buffer holds ${length} values but ${size.height}x${size.width}x${channels} needs ${expected}.`,
    );
  }
}
