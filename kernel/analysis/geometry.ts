/**
 * 2D mask geometry used to turn masks into prompts: connected components, bounding boxes,
 * distance transforms, boundaries, smoothing and peak finding. Each function follows the
 * scipy / scikit-image routine micro_sam calls, named in its doc comment, so prompts derived
 * here match the reference's (tests/geometry.test.ts compares with scipy and scikit-image).
 *
 * Masks and images are row-major, `width * height`, nonzero = inside. Coordinates are
 * (x = column, y = row). Boxes have an exclusive max (x1 = last column + 1), like
 * skimage's regionprops bbox and micro_sam's prompts.
 */
import type { Box } from "../sam/prompt.js";

export interface Component {
  /** 1-based label in `labels`, in order of the component's first pixel (row-major). */
  readonly label: number;
  readonly area: number;
  readonly box: Box;
  /** Row-major index of its first pixel. */
  readonly firstIndex: number;
}

export interface Components {
  /** width*height, 0 = background, else the component's label. */
  readonly labels: Int32Array;
  readonly components: readonly Component[];
}

/**
 * Connected components of the nonzero pixels, labelled in raster order as
 * `skimage.measure.label` does. `connectivity` 8 (default, skimage's full connectivity for 2D)
 * or 4.
 */
export function connectedComponents(mask: ArrayLike<number>, width: number, height: number, connectivity: 4 | 8 = 8): Components {
  checkSize(mask.length, width, height);
  const labels = new Int32Array(width * height);
  const components: Component[] = [];
  const stack: number[] = [];
  for (let start = 0; start < labels.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = components.length + 1;
    let area = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    labels[start] = label;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    components.push({ label, area, box: { x0, y0, x1: x1 + 1, y1: y1 + 1 }, firstIndex: start });
  }
  return { labels, components };
}

/** Tight bounding box of the nonzero pixels (exclusive max), or undefined for an empty mask. */
export function boundingBox(mask: ArrayLike<number>, width: number, height: number): Box | undefined {
  checkSize(mask.length, width, height);
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      if (!mask[p]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** 1D squared-distance transform of Felzenszwalb & Huttenlocher (lower envelope of parabolas). */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (f[v[0]!] === Infinity) {
      v[0] = q;
      continue;
    }
    let s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    while (s <= z[k]!) {
      k--;
      s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (f[v[0]!] === Infinity) {
    d.fill(Infinity, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const dq = q - v[k]!;
    d[q] = dq * dq + f[v[k]!]!;
  }
}

/**
 * Exact Euclidean distance of each nonzero pixel to the nearest zero pixel (0 on zero
 * pixels): `scipy.ndimage.distance_transform_edt(mask)`. As in scipy, the image border is NOT
 * background; with `outsideIsBackground` it is (distance to the nearest pixel outside the
 * image counts too). Without any background scipy (and bioimage_cpp's `distance_transform`,
 * which micro_sam 1.8 calls) measures to a virtual background pixel at (row -1, column 0):
 * sqrt((y+1)^2 + x^2); so do we.
 */
export function distanceTransform(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  options: { outsideIsBackground?: boolean } = {},
): Float64Array {
  checkSize(mask.length, width, height);
  const pad = options.outsideIsBackground ? 1 : 0;
  const W = width + 2 * pad;
  const H = height + 2 * pad;
  const grid = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const ix = x - pad;
      const iy = y - pad;
      const inside = ix >= 0 && iy >= 0 && ix < width && iy < height && mask[iy * width + ix];
      grid[y * W + x] = inside ? Infinity : 0;
    }
  }
  const n = Math.max(W, H);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) f[y] = grid[y * W + x]!;
    edt1d(f, H, d, v, z);
    for (let y = 0; y < H; y++) grid[y * W + x] = d[y]!;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) f[x] = grid[y * W + x]!;
    edt1d(f, W, d, v, z);
    for (let x = 0; x < W; x++) grid[y * W + x] = d[x]!;
  }
  const out = new Float64Array(width * height);
  if (pad === 0 && grid[0] === Infinity) {
    // no background anywhere (edt1d leaves every column at Infinity then)
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = Math.sqrt((y + 1) ** 2 + x ** 2);
    return out;
  }
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = Math.sqrt(grid[(y + pad) * W + x + pad]!);
  return out;
}

/** First position (row-major) of the largest value, like numpy's argmax; undefined if all are -Infinity/NaN. */
export function argmax(values: ArrayLike<number>, width: number): { x: number; y: number } | undefined {
  let best = -1;
  let bestV = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! > bestV) {
      bestV = values[i]!;
      best = i;
    }
  }
  return best < 0 ? undefined : { x: best % width, y: Math.floor(best / width) };
}

/** The point deepest inside the mask: argmax of distanceTransform (first in row-major on ties). */
export function deepestPoint(
  mask: ArrayLike<number>,
  width: number,
  height: number,
  options: { outsideIsBackground?: boolean } = {},
): { x: number; y: number } | undefined {
  const dist = distanceTransform(mask, width, height, options);
  let any = false;
  for (let i = 0; i < mask.length; i++) if (mask[i]) any = true;
  return any ? argmax(dist, width) : undefined;
}

/**
 * Background pixels with a foreground pixel among their 4 neighbours inside the image:
 * `skimage.segmentation.find_boundaries(mask, mode="outer")` for a binary mask.
 */
export function outerBoundary(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  checkSize(mask.length, width, height);
  const out = new Uint8Array(width * height);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      if (mask[p]) continue;
      if ((x > 0 && mask[p - 1]) || (x < width - 1 && mask[p + 1]) || (y > 0 && mask[p - width]) || (y < height - 1 && mask[p + width])) out[p] = 1;
    }
  }
  return out;
}

/**
 * Gaussian smoothing as `skimage.filters.gaussian(image, sigma)` (scipy's gaussian_filter):
 * separable, kernel radius `round(truncate * sigma)`, edges replicated (mode "nearest"),
 * rows (axis 0) first, float64.
 */
export function gaussianBlur(values: ArrayLike<number>, width: number, height: number, sigma = 1, truncate = 4): Float64Array {
  checkSize(values.length, width, height);
  const radius = Math.floor(truncate * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    kernel[i + radius] = Math.exp((-0.5 * i * i) / (sigma * sigma));
    sum += kernel[i + radius]!;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] = kernel[i]! / sum;
  const tmp = new Float64Array(width * height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = Math.min(height - 1, Math.max(0, y + k));
        acc += kernel[k + radius]! * values[yy * width + x]!;
      }
      tmp[y * width + x] = acc;
    }
  }
  const out = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = Math.min(width - 1, Math.max(0, x + k));
        acc += kernel[k + radius]! * tmp[y * width + xx]!;
      }
      out[y * width + x] = acc;
    }
  }
  return out;
}

/**
 * bioimage_cpp's `gaussian_smoothing(image, sigma)`, the smoothing micro_sam >= 1.8 applies in
 * `_compute_points_from_mask` (1.7 called skimage's `gaussian`, see gaussianBlur): float32
 * throughout, kernel radius `max(1, ceil(3 * sigma))` normalised in double then cast, borders
 * mirrored without repeating the edge pixel (scipy's mode "mirror"), rows (axis 0) first, each
 * tap summed as `h[k] * (left + right)`.
 */
export function gaussianSmoothing(values: ArrayLike<number>, width: number, height: number, sigma = 1): Float32Array {
  checkSize(values.length, width, height);
  const f = Math.fround;
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const raw = Array.from({ length: radius + 1 }, (_, i) => Math.exp(-i * i * (0.5 / (sigma * sigma))));
  let sum = raw[0]!;
  for (let i = 1; i <= radius; i++) sum += 2 * raw[i]!;
  const scale = 1 / sum;
  const h = Float32Array.from(raw, (r) => r * scale);
  const mirror = (i: number, n: number) => {
    if (n <= 1) return 0;
    const period = 2 * (n - 1);
    let r = i % period;
    if (r < 0) r += period;
    return r >= n ? period - r : r;
  };
  const input = Float32Array.from(values);
  const tmp = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = f(h[0]! * input[y * width + x]!);
      for (let k = 1; k <= radius; k++) acc = f(acc + f(h[k]! * f(input[mirror(y - k, height) * width + x]! + input[mirror(y + k, height) * width + x]!)));
      tmp[y * width + x] = acc;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = f(h[0]! * tmp[row + x]!);
      for (let k = 1; k <= radius; k++) acc = f(acc + f(h[k]! * f(tmp[row + mirror(x - k, width)]! + tmp[row + mirror(x + k, width)]!)));
      out[row + x] = acc;
    }
  }
  return out;
}

/**
 * Local maxima as `skimage.feature.peak_local_max(image, min_distance, exclude_border)`
 * (scikit-image 0.19): a pixel is a peak when it equals the maximum of its (2r+1)^2 window
 * (outside the image counts as 0), exceeds the image minimum, and, with `excludeBorder` (skimage's
 * default; micro_sam's `_compute_points_from_mask` passes `exclude_border=False`), lies at least
 * r pixels from the border;
 * peaks are taken by decreasing value (raster order on ties) and one closer than r
 * (Chebyshev distance) to an already accepted peak is dropped. A constant image has no peaks.
 */
export function peakLocalMax(
  values: ArrayLike<number>,
  width: number,
  height: number,
  minDistance: number,
  options: { excludeBorder?: boolean } = {},
): { x: number; y: number; value: number }[] {
  checkSize(values.length, width, height);
  const r = Math.max(0, Math.floor(minDistance));
  const border = options.excludeBorder === false ? 0 : r;
  let min = Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! < min) min = values[i]!;
  // separable maximum filter with constant 0 outside
  const rowMax = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      for (let k = -r; k <= r; k++) {
        const xx = x + k;
        const v = xx < 0 || xx >= width ? 0 : values[y * width + xx]!;
        if (v > m) m = v;
      }
      rowMax[y * width + x] = m;
    }
  }
  const isMax = new Uint8Array(width * height);
  let allMax = true;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      for (let k = -r; k <= r; k++) {
        const yy = y + k;
        const v = yy < 0 || yy >= height ? (r > 0 ? 0 : -Infinity) : rowMax[yy * width + x]!;
        if (v > m) m = v;
      }
      const p = y * width + x;
      if (values[p] === m) isMax[p] = 1;
      else allMax = false;
    }
  }
  if (r === 0) allMax = false; // a 1-pixel footprint: skimage returns every pixel above the threshold
  if (allMax) return [];
  const candidates: { x: number; y: number; value: number }[] = [];
  for (let y = border; y < height - border; y++) {
    for (let x = border; x < width - border; x++) {
      const p = y * width + x;
      if (isMax[p] && values[p]! > min) candidates.push({ x, y, value: values[p]! });
    }
  }
  candidates.sort((a, b) => b.value - a.value); // stable: raster order on ties
  const accepted: { x: number; y: number; value: number }[] = [];
  const rejected = new Set<number>();
  for (let i = 0; i < candidates.length; i++) {
    if (rejected.has(i)) continue;
    const c = candidates[i]!;
    accepted.push(c);
    for (let j = 0; j < candidates.length; j++) {
      if (j === i || rejected.has(j)) continue;
      const o = candidates[j]!;
      if (Math.max(Math.abs(o.x - c.x), Math.abs(o.y - c.y)) < r) rejected.add(j);
    }
  }
  return accepted;
}

/**
 * City-block (L1) distance of every pixel to the nearest nonzero pixel: `binary_dilation(mask,
 * iterations=n)` with scipy's default cross structure covers exactly the pixels at distance <= n.
 */
export function cityBlockDistance(mask: ArrayLike<number>, width: number, height: number): Float64Array {
  checkSize(mask.length, width, height);
  const d = new Float64Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = mask[i] ? 0 : Infinity;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      if (x > 0) d[p] = Math.min(d[p]!, d[p - 1]! + 1);
      if (y > 0) d[p] = Math.min(d[p]!, d[p - width]! + 1);
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const p = y * width + x;
      if (x < width - 1) d[p] = Math.min(d[p]!, d[p + 1]! + 1);
      if (y < height - 1) d[p] = Math.min(d[p]!, d[p + width]! + 1);
    }
  }
  return d;
}

function checkSize(length: number, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || length !== width * height) {
    throw new Error(`mask/image of ${length} values does not match ${width}x${height}`);
  }
}
