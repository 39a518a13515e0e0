/**
 * Raw pixels -> the uint8 RGB image the SAM encoder sees (docs/inference.md §3,
 * steps 1 and 2). Every mode is bit-exact with its Python reference:
 *
 * - `minmax` (micro_sam >= 1.7, the default): to 3 channels FIRST (channels.ts), then per
 *   output channel in float32: `x -= min; x /= (max + 1e-7); x *= 255; astype(uint8)`.
 *   numpy does this in float32 with the scalars cast to float32, so here every step is
 *   `Math.fround`-ed: `f32(f32(f32(x - min) / f32(range + f32(1e-7))) * 255)`, truncated.
 *   Applied to uint8 too: a full-range 0..255 image comes back unchanged, but the epsilon shows
 *   on tiny ranges (uint8 {0, 1} becomes {0, 254}); that is the reference.
 *   The zero channel added to 2-channel input normalises to 0.
 * - `minmax-legacy` (micro_sam < 1.7, the paper's runs): uint8 passes unchanged; otherwise ONE
 *   min/max over all kept channels, `f32(f32(x) - f32(min)) / max`, no epsilon, x255, truncated.
 *   That version refused channel counts other than 1 and 3; here the stats cover the channels
 *   that are kept, and the channel rule is applied afterwards (the zero channel stays 0).
 * - `percentile` (MedicoSAM's training transform: torch_em `normalize_percentile` + `* 255`):
 *   numpy-linear percentiles (float64) over all kept channels, `f32(f32(x) - lo)` (float64
 *   subtraction rounded to float32, as numpy's in-place float32 -= float64 array does),
 *   `/ (hi - lo + 1e-7)` likewise, `* 255` in float32. The training code fed those floats to
 *   the model directly; an image for the predictor must be uint8, so the result is clipped to
 *   [0, 255] and truncated toward zero like `np.clip(...).astype(np.uint8)`.
 * - `window` (ours; no reference): float64 `(x - (level - width/2)) / width`, clipped to [0, 1],
 *   x255, truncated toward zero like every other mode.
 * - `none`: uint8 passes unchanged (only the channel rule), anything else is refused.
 *
 * Non-finite values (float images only): the references propagate NaN through min/max and
 * percentiles and then cast NaN to uint8, which is undefined behaviour in numpy. Here NaN and
 * +/-Infinity are left out of every statistic; NaN and -Infinity become 0 and +Infinity 255.
 */
import type { Image2D, PixelArray, RgbImage8 } from "../io/image.js";
import { channelSources, keptChannels, ZERO_CHANNEL } from "./channels.js";
import { histogramKth, percentileBy } from "./percentile.js";
import { DEFAULT_INTENSITY, type IntensitySpec } from "./spec.js";

const f32 = Math.fround;
const EPS32 = Math.fround(1e-7);

/** Normalise and convert one image to the encoder's uint8 RGB. */
export function toRgb8(image: Image2D, spec: IntensitySpec = DEFAULT_INTENSITY): RgbImage8 {
  checkImage(image);
  const { width, height, channels, data } = image;
  const sources = channelSources(channels);
  const out = new Uint8Array(width * height * 3);
  const uint8 = isUint8(data);

  switch (spec.mode) {
    case "none": {
      if (!uint8) {
        throw new Error(
          `intensity "none" needs a uint8 image but this one is ${typeName(data)}; ` +
            `choose a normalization: "minmax" (default), "percentile", "window:LEVEL,WIDTH" or a preset such as "abdomen".`,
        );
      }
      fillChannels(out, image, sources, (x) => x);
      break;
    }
    case "minmax": {
      // Per output channel; replicated gray computes the same mapping three times over
      // identical data, so compute each distinct source once.
      const maps = new Map<number, (x: number) => number>();
      for (const s of sources) {
        if (s === ZERO_CHANNEL || maps.has(s)) continue;
        const { min, max, any } = finiteMinMax(data, channels, [s]);
        if (!any) {
          maps.set(s, () => 0);
          continue;
        }
        const lo = f32(min);
        const denom = f32(f32(f32(max) - lo) + EPS32);
        maps.set(s, (x) => {
          if (x !== x) return 0;
          if (x === Infinity) return 255;
          if (x === -Infinity) return 0;
          return f32(f32(f32(f32(x) - lo) / denom) * 255) | 0;
        });
      }
      fillChannelsWith(out, image, sources, maps);
      break;
    }
    case "minmax-legacy": {
      if (uint8) {
        fillChannels(out, image, sources, (x) => x);
        break;
      }
      const { min, max, any } = finiteMinMax(data, channels, keptChannels(channels));
      const lo = f32(min);
      const top = f32(f32(max) - lo);
      // top === 0 (constant image): the reference divides 0 by 0 and casts NaN; we give 0.
      const map = !any || top === 0
        ? (x: number) => (x === Infinity ? 255 : 0)
        : (x: number) => {
            if (x !== x || x === -Infinity) return 0;
            if (x === Infinity) return 255;
            return f32(f32(f32(f32(x) - lo) / top) * 255) | 0;
          };
      fillChannels(out, image, sources, map);
      break;
    }
    case "percentile": {
      checkPercentiles(spec.low, spec.high);
      const [lo, hi] = percentiles(data, channels, keptChannels(channels), [spec.low, spec.high]);
      if (lo === undefined || hi === undefined) {
        fillChannels(out, image, sources, (x) => (x === Infinity ? 255 : 0));
        break;
      }
      const denom = hi - lo + 1e-7;
      fillChannels(out, image, sources, (x) => {
        if (x !== x) return 0;
        const v = f32(f32(f32(f32(x) - lo) / denom) * 255);
        return v <= 0 ? 0 : v >= 255 ? 255 : v | 0;
      });
      break;
    }
    case "window": {
      const { level, width: w } = spec;
      if (!(Number.isFinite(level) && Number.isFinite(w) && w > 0)) {
        throw new Error(`window needs a finite level and a width > 0, got level ${level}, width ${w}.`);
      }
      const lo = level - w / 2;
      fillChannels(out, image, sources, (x) => {
        if (x !== x) return 0;
        const t = (x - lo) / w;
        return t <= 0 ? 0 : t >= 1 ? 255 : (t * 255) | 0;
      });
      break;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown intensity mode ${JSON.stringify(never)}.`);
    }
  }
  return { width, height, data: out };
}

function checkImage(image: Image2D): void {
  const { width, height, channels, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`image size must be positive integers, got ${width}x${height}.`);
  }
  channelSources(channels);
  if (data.length !== width * height * channels) {
    throw new Error(
      `image data holds ${data.length} values but ${height}x${width}x${channels} needs ${width * height * channels}.`,
    );
  }
}

function checkPercentiles(low: number, high: number): void {
  if (!(low >= 0 && high <= 100 && low < high)) {
    throw new Error(`percentile needs 0 <= low < high <= 100, got low ${low}, high ${high}.`);
  }
}

export function isUint8(data: PixelArray): data is Uint8Array | Uint8ClampedArray {
  return data instanceof Uint8Array || data instanceof Uint8ClampedArray;
}

function isFloat(data: PixelArray): boolean {
  return data instanceof Float32Array || data instanceof Float64Array;
}

function typeName(data: PixelArray): string {
  return data.constructor.name.replace(/Array$/, "").toLowerCase();
}

function fillChannels(
  out: Uint8Array,
  image: Image2D,
  sources: readonly number[],
  map: (x: number) => number,
): void {
  const maps = new Map<number, (x: number) => number>();
  for (const s of sources) if (s !== ZERO_CHANNEL) maps.set(s, map);
  fillChannelsWith(out, image, sources, maps);
}

/** Writes output channel c from source channel sources[c] through maps.get(source). */
function fillChannelsWith(
  out: Uint8Array,
  image: Image2D,
  sources: readonly number[],
  maps: Map<number, (x: number) => number>,
): void {
  const { data, channels } = image;
  const n = image.width * image.height;
  for (let c = 0; c < 3; c++) {
    const s = sources[c]!;
    if (s === ZERO_CHANNEL) continue; // already 0
    const prev = sources.indexOf(s);
    if (prev < c) {
      for (let i = 0; i < n; i++) out[i * 3 + c] = out[i * 3 + prev]!;
      continue;
    }
    const map = maps.get(s)!;
    for (let i = 0, j = s; i < n; i++, j += channels) out[i * 3 + c] = map(data[j]!);
  }
}

/** Min and max over the finite values of the given channels. */
function finiteMinMax(data: PixelArray, channels: number, which: readonly number[]) {
  let min = Infinity;
  let max = -Infinity;
  const checkFinite = isFloat(data);
  for (const s of which) {
    for (let j = s; j < data.length; j += channels) {
      const x = data[j]!;
      if (checkFinite && !Number.isFinite(x)) continue;
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  return { min, max, any: min <= max };
}

/**
 * numpy-linear percentiles over the finite values of the given channels; undefined when there
 * are none. 8- and 16-bit integers are counted in a histogram (exact, O(n)); other types are
 * copied to float64 and sorted.
 */
export function percentiles(
  data: PixelArray,
  channels: number,
  which: readonly number[],
  qs: readonly number[],
): (number | undefined)[] {
  let n = 0;
  let kth: (k: number) => number;
  const span = integerSpan(data);
  if (span) {
    const counts = new Uint32Array(span.bins);
    for (const s of which) for (let j = s; j < data.length; j += channels) counts[data[j]! - span.offset]!++;
    n = (data.length / channels) * which.length;
    kth = histogramKth(counts, span.offset);
  } else {
    const values = new Float64Array((data.length / channels) * which.length);
    for (const s of which) {
      for (let j = s; j < data.length; j += channels) {
        const x = data[j]!;
        if (Number.isFinite(x)) values[n++] = x;
      }
    }
    const sorted = values.subarray(0, n).sort();
    kth = (k) => sorted[k]!;
  }
  if (n === 0) return qs.map(() => undefined);
  return qs.map((q) => percentileBy(n, q, kth));
}

function integerSpan(data: PixelArray): { offset: number; bins: number } | undefined {
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return { offset: 0, bins: 256 };
  if (data instanceof Int8Array) return { offset: -128, bins: 256 };
  if (data instanceof Uint16Array) return { offset: 0, bins: 65536 };
  if (data instanceof Int16Array) return { offset: -32768, bins: 65536 };
  return undefined;
}
