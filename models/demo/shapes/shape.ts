/**
 * Shape primitives of the training family: each is an approximate signed distance in pixels
 * (positive inside), so one function gives both the label (s >= 0) and an antialiased alpha.
 * Radial Fourier outlines (smooth convex blobs to spiky stars), rings, blobs with holes, tubes
 * along a bent centre line, and rotated superellipses (rounded boxes to diamonds).
 */
import type { Rng } from "../../../kernel/phantom/random.js";

export type ShapeKind = "blob" | "star" | "ring" | "holed" | "tube" | "superellipse";

export interface Harmonic {
  readonly k: number;
  readonly amp: number;
  readonly phase: number;
}

export interface Shape {
  readonly kind: ShapeKind;
  readonly cx: number;
  readonly cy: number;
  /** Mean radius in pixels (tubes: half the centre line's length). */
  readonly radius: number;
  readonly angle: number;
  /** Stretch along the shape's own x axis (1 = none). */
  readonly aspect: number;
  readonly harmonics: readonly Harmonic[];
  /** ring: inner radius as a fraction of the outer one. */
  readonly inner: number;
  /** holed: hole centres and radii in units of `radius`, in the shape's frame. */
  readonly holes: readonly { readonly x: number; readonly y: number; readonly r: number }[];
  /** tube: bend of the centre line (control point offset, units of `radius`) and half-width in pixels. */
  readonly bend: number;
  readonly halfWidth: number;
  /** superellipse exponent (2 = ellipse, > 2 boxier, < 2 diamond-like). */
  readonly exponent: number;
}

export function randomShape(rng: Rng, kind: ShapeKind, cx: number, cy: number, radius: number): Shape {
  const harmonics: Harmonic[] = [];
  const n = kind === "star" ? rng.int(3, 6) : rng.int(1, 3);
  let budget = kind === "star" ? rng.uniform(0.25, 0.45) : rng.uniform(0.03, 0.22);
  for (let i = 0; i < n; i++) {
    const k = kind === "star" ? rng.int(3, 9) : rng.int(2, 5);
    const amp = budget * rng.uniform(0.3, 0.8);
    budget -= amp;
    harmonics.push({ k, amp, phase: rng.uniform(0, 2 * Math.PI) });
  }
  const holes: { x: number; y: number; r: number }[] = [];
  if (kind === "holed") {
    const m = rng.int(1, 3);
    for (let i = 0; i < m; i++) {
      const a = rng.uniform(0, 2 * Math.PI);
      const d = rng.uniform(0, 0.45);
      holes.push({ x: d * Math.cos(a), y: d * Math.sin(a), r: rng.uniform(0.12, 0.3) });
    }
  }
  return {
    kind,
    cx,
    cy,
    radius,
    angle: rng.uniform(0, Math.PI),
    aspect: kind === "tube" ? 1 : rng.chance(0.5) ? 1 + Math.abs(rng.normal()) * 0.6 : 1,
    harmonics,
    inner: rng.uniform(0.35, 0.8),
    holes,
    bend: rng.uniform(-0.8, 0.8),
    halfWidth: Math.max(2, radius * rng.uniform(0.08, 0.3)),
    exponent: rng.chance(0.7) ? rng.uniform(2.5, 8) : rng.uniform(1.1, 1.8),
  };
}

/** The shape in a neighbouring slice: moved, scaled and turned a little. */
export function perturbShape(rng: Rng, s: Shape): Shape {
  const step = Math.min(4, 0.5 + 0.04 * s.radius);
  return {
    ...s,
    cx: s.cx + rng.normal() * step,
    cy: s.cy + rng.normal() * step,
    radius: s.radius * rng.uniform(0.93, 1.07),
    angle: s.angle + rng.normal() * 0.05,
    harmonics: s.harmonics.map((h) => ({ ...h, phase: h.phase + rng.normal() * 0.1 })),
    halfWidth: s.halfWidth * rng.uniform(0.93, 1.07),
  };
}

/** Half-size of a square around the centre that holds the whole shape. */
export function extent(s: Shape): number {
  const wobble = 1 + s.harmonics.reduce((a, h) => a + h.amp, 0);
  if (s.kind === "tube") return s.radius * (1 + Math.abs(s.bend)) + s.halfWidth * 1.4 + 2;
  if (s.kind === "superellipse") return s.radius * s.aspect * 1.5 + 2;
  return s.radius * s.aspect * wobble + 2;
}

function radialRadius(s: Shape, theta: number): number {
  let r = 1;
  for (const h of s.harmonics) r += h.amp * Math.cos(h.k * theta + h.phase);
  return s.radius * r;
}

/** Signed distance (pixels, approximate, > 0 inside) at pixel centre (x, y). */
export function signedDistance(s: Shape, x: number, y: number): number {
  const dx = x - s.cx;
  const dy = y - s.cy;
  const c = Math.cos(s.angle);
  const sn = Math.sin(s.angle);
  const u = (dx * c + dy * sn) / s.aspect;
  const v = -dx * sn + dy * c;
  switch (s.kind) {
    case "blob":
    case "star": {
      return radialRadius(s, Math.atan2(v, u)) - Math.hypot(u, v);
    }
    case "ring": {
      const d = Math.hypot(u, v);
      const r = radialRadius(s, Math.atan2(v, u));
      return Math.min(r - d, d - s.inner * r);
    }
    case "holed": {
      const d = Math.hypot(u, v);
      let out = radialRadius(s, Math.atan2(v, u)) - d;
      for (const h of s.holes) out = Math.min(out, Math.hypot(u - h.x * s.radius, v - h.y * s.radius) - h.r * s.radius);
      return out;
    }
    case "tube": {
      // Quadratic Bezier from (-R, 0) through control (0, 2 * bend * R) to (R, 0); width tapers.
      const R = s.radius;
      let best = Infinity;
      let bestT = 0;
      const n = Math.max(16, Math.min(96, Math.ceil(R / 2)));
      for (let i = 0; i <= n; i++) {
        const t = i / n;
        const px = (2 * t - 1) * R;
        const py = 2 * (1 - t) * t * 2 * s.bend * R;
        const d = (u - px) ** 2 + (v - py) ** 2;
        if (d < best) {
          best = d;
          bestT = t;
        }
      }
      const w = s.halfWidth * (0.75 + 0.5 * Math.sin(Math.PI * bestT));
      return w - Math.sqrt(best);
    }
    case "superellipse": {
      const a = s.radius;
      const b = s.radius * 0.8;
      const f = Math.abs(u / a) ** s.exponent + Math.abs(v / b) ** s.exponent;
      return (1 - f ** (1 / s.exponent)) * Math.min(a, b);
    }
  }
}
