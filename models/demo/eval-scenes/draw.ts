/**
 * Drawing primitives of the EVALUATION family (models/demo/eval-scenes), written apart from
 * the training family's (models/demo/shapes) so that the two share no shape model, texture
 * model or blur: here shapes are filled polygons (scanline, even-odd), metaballs (a thresholded
 * sum of inverse-square fields) and Voronoi cells; texture is a sum of random gratings;
 * blur is three passes of a box filter.
 */
import type { SeededRandom } from "../../../kernel/analysis/rng.js";

export const between = (r: SeededRandom, lo: number, hi: number): number => lo + (hi - lo) * r.next();

/** Standard normal from two uniforms (Marsaglia polar). */
export function gauss(r: SeededRandom): number {
  for (;;) {
    const u = 2 * r.next() - 1;
    const v = 2 * r.next() - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
  }
}

export type Vec = readonly [number, number];

/** A random simple polygon around (cx, cy): sorted angles, jittered radii; `smooth` Chaikin passes. */
export function randomPolygon(r: SeededRandom, cx: number, cy: number, radius: number, vertices: number, jitter: number, smooth: number, stretch: number): Vec[] {
  const angles = Array.from({ length: vertices }, () => r.next() * 2 * Math.PI).sort((a, b) => a - b);
  const rot = r.next() * Math.PI;
  let pts: Vec[] = angles.map((a) => {
    const rad = radius * (1 - jitter + 2 * jitter * r.next());
    const x = rad * Math.cos(a) * stretch;
    const y = rad * Math.sin(a);
    return [cx + x * Math.cos(rot) - y * Math.sin(rot), cy + x * Math.sin(rot) + y * Math.cos(rot)];
  });
  for (let k = 0; k < smooth; k++) {
    const next: Vec[] = [];
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i]!;
      const q = pts[(i + 1) % pts.length]!;
      next.push([0.75 * p[0] + 0.25 * q[0], 0.75 * p[1] + 0.25 * q[1]], [0.25 * p[0] + 0.75 * q[0], 0.25 * p[1] + 0.75 * q[1]]);
    }
    pts = next;
  }
  return pts;
}

/** Scanline even-odd fill of a polygon (pixel centres) into `out` with value `v`. */
export function fillPolygon(out: Uint8Array, w: number, h: number, poly: readonly Vec[], v: number): void {
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const p of poly) {
    y0 = Math.min(y0, p[1]);
    y1 = Math.max(y1, p[1]);
  }
  const xs: number[] = [];
  for (let y = Math.max(0, Math.floor(y0)); y <= Math.min(h - 1, Math.ceil(y1)); y++) {
    const yc = y + 0.5;
    xs.length = 0;
    for (let i = 0; i < poly.length; i++) {
      const a = poly[i]!;
      const b = poly[(i + 1) % poly.length]!;
      if ((a[1] <= yc && b[1] > yc) || (b[1] <= yc && a[1] > yc)) xs.push(a[0] + ((yc - a[1]) / (b[1] - a[1])) * (b[0] - a[0]));
    }
    xs.sort((p, q) => p - q);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const xa = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const xb = Math.min(w - 1, Math.floor(xs[k + 1]! - 0.5));
      for (let x = xa; x <= xb; x++) out[y * w + x] = v;
    }
  }
}

export interface Ball {
  readonly x: number;
  readonly y: number;
  readonly r: number;
}

/** Metaball membership: sum of (r / d)^2 >= 1, written as `v` into `out`. */
export function fillMetaballs(out: Uint8Array, w: number, h: number, balls: readonly Ball[], v: number): void {
  const reach = balls.reduce((a, b) => Math.max(a, b.r), 0) * 2.2;
  const x0 = Math.max(0, Math.floor(Math.min(...balls.map((b) => b.x)) - reach));
  const x1 = Math.min(w, Math.ceil(Math.max(...balls.map((b) => b.x)) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(...balls.map((b) => b.y)) - reach));
  const y1 = Math.min(h, Math.ceil(Math.max(...balls.map((b) => b.y)) + reach));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      let f = 0;
      for (const b of balls) f += (b.r * b.r) / ((x + 0.5 - b.x) ** 2 + (y + 0.5 - b.y) ** 2 + 1e-6);
      if (f >= 1) out[y * w + x] = v;
    }
  }
}

/** Voronoi labelling of the pixels where `region` is set: index + 1 of the nearest seed; `wall` px between cells left 0. */
export function voronoi(region: Uint8Array, w: number, h: number, seeds: readonly Vec[], wall: number): Int32Array {
  const out = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!region[y * w + x]) continue;
      let best = Infinity;
      let second = Infinity;
      let id = 0;
      for (let i = 0; i < seeds.length; i++) {
        const d = Math.hypot(x + 0.5 - seeds[i]![0], y + 0.5 - seeds[i]![1]);
        if (d < best) {
          second = best;
          best = d;
          id = i + 1;
        } else if (d < second) second = d;
      }
      if (second - best >= wall) out[y * w + x] = id;
    }
  }
  return out;
}

/** A texture: the sum of `n` random sinusoidal gratings, scaled to unit peak. */
export function gratings(r: SeededRandom, w: number, h: number, n: number, minPeriod: number, maxPeriod: number): Float32Array {
  const out = new Float32Array(w * h);
  const waves = Array.from({ length: n }, () => {
    const a = r.next() * Math.PI;
    const k = (2 * Math.PI) / between(r, minPeriod, maxPeriod);
    return { kx: k * Math.cos(a), ky: k * Math.sin(a), ph: r.next() * 2 * Math.PI, amp: between(r, 0.3, 1) };
  });
  let total = 0;
  for (const g of waves) total += g.amp;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0;
    for (const g of waves) s += g.amp * Math.sin(g.kx * x + g.ky * y + g.ph);
    out[y * w + x] = s / total;
  }
  return out;
}

/** Three passes of a (2k+1)-wide box filter along rows then columns (close to a Gaussian). */
export function boxBlur3(data: Float32Array, w: number, h: number, k: number): void {
  if (k < 1) return;
  const tmp = new Float32Array(Math.max(w, h));
  const pass = (len: number, get: (i: number) => number, set: (i: number, v: number) => void) => {
    for (let i = 0; i < len; i++) tmp[i] = get(i);
    let acc = 0;
    for (let i = -k; i <= k; i++) acc += tmp[Math.min(len - 1, Math.max(0, i))]!;
    for (let i = 0; i < len; i++) {
      set(i, acc / (2 * k + 1));
      acc += tmp[Math.min(len - 1, i + k + 1)]! - tmp[Math.max(0, i - k)]!;
    }
  };
  for (let rep = 0; rep < 3; rep++) {
    for (let y = 0; y < h; y++) pass(w, (i) => data[y * w + i]!, (i, v) => (data[y * w + i] = v));
    for (let x = 0; x < w; x++) pass(h, (i) => data[i * w + x]!, (i, v) => (data[i * w + x] = v));
  }
}
