/**
 * The one shape every phantom structure is made of: a (super)ellipse whose outline is
 * perturbed by a few angular harmonics, and whose centre, size, orientation and outline all
 * change with z. Slicing it at a z gives a 2D outline; `inside` tests a point against it.
 */

export interface Harmonic {
  /** Angular frequency (2 = oval, 3 = triangular, ...). */
  readonly k: number;
  /** Relative radius change (0.1 = +-10 %). */
  readonly amp: number;
  readonly phase: number;
  /** Phase change from z = 0 to z = 1, so the outline turns and morphs across slices. */
  readonly drift: number;
}

export interface InnerRegion {
  readonly tissue: string;
  /** Size relative to the parent outline. */
  readonly scale: number;
  /** Offset of its centre as fractions of the parent's radii, in the parent's frame. */
  readonly dx: number;
  readonly dy: number;
}

export interface ShapeSpec {
  /** Centre in mm at z = zMid (x toward the image's right, y toward the image's bottom). */
  readonly cx: number;
  readonly cy: number;
  /** Centre moves by slope * (z - zMid) mm plus sway * sin(2 pi freq z + phase) mm. */
  readonly slopeX: number;
  readonly slopeY: number;
  readonly swayX: number;
  readonly swayY: number;
  readonly swayFreq: number;
  readonly swayPhase: number;
  /** Semi-axes in mm at the widest section. */
  readonly rx: number;
  readonly ry: number;
  /** Orientation (radians) at zMid, and its change from z = 0 to z = 1. */
  readonly angle: number;
  readonly twist: number;
  /** Extent along the canonical z axis (0 = bottom of the abdomen, 1 = top); may exceed [0, 1]. */
  readonly z0: number;
  readonly z1: number;
  /** Section size follows (1 - t^2)^capPower for t = (z - zMid) / halfExtent: 0.5 = ellipsoid. */
  readonly capPower: number;
  /** Superellipse exponent (2 = ellipse), and a different one for the posterior half (y > 0). */
  readonly exponent: number;
  readonly posteriorExponent: number;
  readonly harmonics: readonly Harmonic[];
}

/** A structure cut at one z: everything `inside` needs, precomputed. */
export interface Section {
  readonly cx: number;
  readonly cy: number;
  readonly rx: number;
  readonly ry: number;
  readonly cos: number;
  readonly sin: number;
  readonly exponent: number;
  readonly posteriorExponent: number;
  readonly k: readonly number[];
  readonly amp: readonly number[];
  readonly phase: readonly number[];
  readonly phaseCos: readonly number[];
  readonly phaseSin: readonly number[];
  /** Sum of |amp|: radii below 1 - ampSum are surely inside, above 1 + ampSum surely outside. */
  readonly ampSum: number;
  /** Bounding box in mm (generous), for culling. */
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
}

export function sectionAt(s: ShapeSpec, z: number): Section | null {
  const mid = (s.z0 + s.z1) / 2;
  const half = (s.z1 - s.z0) / 2;
  const t = (z - mid) / half;
  if (!(Math.abs(t) < 1)) return null;
  const size = Math.pow(1 - t * t, s.capPower);
  if (size < 0.02) return null;
  const sway = Math.sin(2 * Math.PI * s.swayFreq * z + s.swayPhase);
  const cx = s.cx + s.slopeX * (z - mid) + s.swayX * sway;
  const cy = s.cy + s.slopeY * (z - mid) + s.swayY * sway;
  const rx = s.rx * size;
  const ry = s.ry * size;
  const angle = s.angle + s.twist * (z - mid);
  let ampSum = 0;
  for (const h of s.harmonics) ampSum += Math.abs(h.amp);
  const reach = Math.max(rx, ry) * (1 + ampSum) * (s.exponent > 2 || s.posteriorExponent > 2 ? Math.SQRT2 : 1);
  return {
    cx,
    cy,
    rx,
    ry,
    cos: Math.cos(angle),
    sin: Math.sin(angle),
    exponent: s.exponent,
    posteriorExponent: s.posteriorExponent,
    k: s.harmonics.map((h) => h.k),
    amp: s.harmonics.map((h) => h.amp),
    phase: s.harmonics.map((h) => h.phase + h.drift * z),
    phaseCos: s.harmonics.map((h) => Math.cos(h.phase + h.drift * z)),
    phaseSin: s.harmonics.map((h) => Math.sin(h.phase + h.drift * z)),
    ampSum,
    x0: cx - reach,
    x1: cx + reach,
    y0: cy - reach,
    y1: cy + reach,
  };
}

/**
 * Whether local point (a, b) lies inside the perturbed outline scaled by `scale`. The
 * harmonics use cos(k phi + phase) = Re((cos phi + i sin phi)^k e^(i phase)), which avoids
 * atan2 and cos in the loop that dominates phantom rendering.
 */
function insideLocal(sec: Section, a: number, b: number, scale: number): boolean {
  const p = b > 0 ? sec.posteriorExponent : sec.exponent;
  const e = Math.sqrt(a * a + b * b);
  const lo = (1 - sec.ampSum) * scale;
  const hi = (1 + sec.ampSum) * scale;
  // For p >= 2 the p-norm lies in [e * 2^(1/p - 1/2), e]: decide without pow when possible.
  if (e <= lo) return true;
  if (p === 2 ? e > hi : e * Math.SQRT1_2 > hi) return false;
  const r = p === 2 ? e : Math.pow(Math.pow(Math.abs(a), p) + Math.pow(Math.abs(b), p), 1 / p);
  if (r <= lo) return true;
  if (r > hi) return false;
  const c = a / e;
  const s = b / e;
  let outline = 1;
  let ck = 1;
  let sk = 0;
  let kDone = 0;
  for (let i = 0; i < sec.k.length; i++) {
    const k = sec.k[i]!;
    while (kDone < k) {
      const nc = ck * c - sk * s;
      sk = ck * s + sk * c;
      ck = nc;
      kDone++;
    }
    outline += sec.amp[i]! * (ck * sec.phaseCos[i]! - sk * sec.phaseSin[i]!);
  }
  return r <= outline * scale;
}

export function inside(sec: Section, x: number, y: number): boolean {
  if (x < sec.x0 || x > sec.x1 || y < sec.y0 || y > sec.y1) return false;
  const dx = x - sec.cx;
  const dy = y - sec.cy;
  return insideLocal(sec, (dx * sec.cos + dy * sec.sin) / sec.rx, (-dx * sec.sin + dy * sec.cos) / sec.ry, 1);
}

/** Inside a region of the section shrunk by `scale` and moved by (dx, dy) radii. */
export function insideInner(sec: Section, x: number, y: number, inner: { scale: number; dx: number; dy: number }): boolean {
  const dx = x - sec.cx;
  const dy = y - sec.cy;
  const a = (dx * sec.cos + dy * sec.sin) / sec.rx;
  const b = (-dx * sec.sin + dy * sec.cos) / sec.ry;
  return insideLocal(sec, (a - inner.dx) / inner.scale, (b - inner.dy) / inner.scale, 1);
}
