/**
 * The training family of shape scenes: one seed -> a scene plan -> two neighbouring "slices"
 * (the second one with every shape moved, scaled and turned a little, new noise, and
 * sometimes one object gone), so that train.py's pair structure (propagation prompts, objects
 * that end) carries over from the phantoms.
 *
 * What a scene varies, and why: what users bring is not the phantoms' one look (bright organs
 * on soft tissue). Objects are brighter or darker than what surrounds them (equally often), or
 * only outlined; backgrounds are flat or textured, with or without shading; edges are sharp
 * or blurred, noise light or heavy; shapes are convex, star-like, elongated, rings (sometimes
 * with an object inside), holed, boxy, touching a neighbour or alone, from ~50 px to most of
 * the image; some share a class (token 2's "every structure of its class"); unlabelled clutter
 * sits among them. The signal is written in a modality's own units -- CT Hounsfield units
 * (int16), MR magnitudes with a bias field and Rician noise (uint16), 8-bit gray, 8-bit RGB --
 * and the engine's intensity code (a per-scene mode) turns it into the encoder's uint8.
 */
import type { Image2D } from "../../../kernel/io/image.js";
import type { IntensitySpec } from "../../../kernel/intensity/spec.js";
import { Rng } from "../../../kernel/phantom/random.js";
import { Fbm, gaussianBlur, type FbmSpec } from "./field.js";
import { extent, perturbShape, randomShape, signedDistance, type Shape, type ShapeKind } from "./shape.js";

export type SceneModality = "ct" | "mr" | "gray" | "rgb";

interface Look {
  /** Mean signal per channel. */
  readonly value: readonly number[];
  readonly texture?: { readonly fbm: FbmSpec; readonly amp: number; readonly seed: number };
  /** A band just inside the boundary with its own value (membranes, capsules, outlines). */
  readonly rim?: { readonly width: number; readonly value: readonly number[] };
  /** Blur of this object's own edge (pixels). */
  readonly edgeBlur: number;
}

interface PlacedObject {
  readonly shape: Shape;
  /** 0 = unlabelled clutter. */
  readonly label: number;
  readonly look: Look;
  /** Absent from the second slice (the object "ends"). */
  readonly ends: boolean;
}

export interface ScenePlan {
  readonly seed: number;
  readonly modality: SceneModality;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly intensity: IntensitySpec;
  /** The region that holds the scene (token 3's "body"); undefined = the whole image. */
  readonly field?: { readonly shape: Shape; readonly outside: readonly number[] };
  readonly background: Look;
  readonly shading?: { readonly fbm: FbmSpec; readonly amp: number; readonly seed: number };
  readonly objects: readonly PlacedObject[];
  readonly noise: number;
  readonly psf: number;
  /** MR: amplitude of the multiplicative bias field. */
  readonly bias: number;
}

export interface RenderedSlice {
  readonly image: Image2D;
  /** Object label per pixel (0 = none); touching objects always have different labels. */
  readonly labels: Uint8Array;
  /** 1 inside the scene's field (everything when the scene has none). */
  readonly body: Uint8Array;
}

const SHAPE_KINDS: readonly [ShapeKind, number][] = [
  ["blob", 0.3],
  ["star", 0.12],
  ["ring", 0.14],
  ["holed", 0.1],
  ["tube", 0.17],
  ["superellipse", 0.17],
];

function pick<T>(rng: Rng, table: readonly [T, number][]): T {
  let u = rng.next() * table.reduce((a, [, p]) => a + p, 0);
  for (const [v, p] of table) {
    if (u < p) return v;
    u -= p;
  }
  return table[table.length - 1]![0];
}

function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}

const INTENSITY: Record<SceneModality, readonly [IntensitySpec, number][]> = {
  ct: [
    [{ mode: "minmax" }, 0.55],
    [{ mode: "window", level: 40, width: 400 }, 0.2],
    [{ mode: "percentile", low: 1, high: 99 }, 0.25],
  ],
  mr: [
    [{ mode: "minmax" }, 0.75],
    [{ mode: "percentile", low: 1, high: 99 }, 0.25],
  ],
  gray: [
    [{ mode: "minmax" }, 0.9],
    [{ mode: "percentile", low: 0.5, high: 99.5 }, 0.1],
  ],
  rgb: [
    [{ mode: "minmax" }, 0.9],
    [{ mode: "percentile", low: 0.5, high: 99.5 }, 0.1],
  ],
};

/** Signal range and noise level of a modality: [background lo, hi], noise sigma [lo, hi], clamp. */
const UNITS: Record<SceneModality, { bg: [number, number]; sigma: [number, number]; min: number; max: number }> = {
  ct: { bg: [-120, 90], sigma: [3, 35], min: -1024, max: 3071 },
  mr: { bg: [150, 700], sigma: [4, 30], min: 0, max: 4000 },
  gray: { bg: [25, 230], sigma: [0.5, 12], min: 0, max: 255 },
  rgb: { bg: [25, 230], sigma: [0.5, 10], min: 0, max: 255 },
};

function randomFbm(rng: Rng, lo: number, hi: number): FbmSpec {
  return {
    scale: logUniform(rng, lo, hi),
    octaves: rng.int(1, 4),
    gain: rng.uniform(0.35, 0.65),
    stretch: rng.chance(0.25) ? rng.uniform(2, 6) : 1,
    angle: rng.uniform(0, Math.PI),
  };
}

/** A value `contrast` away from `base` (sign given), kept inside the modality's range. */
function offsetValue(rng: Rng, m: SceneModality, base: readonly number[], signed: number): number[] {
  const u = UNITS[m];
  if (m !== "rgb") {
    let v = base[0]! + signed;
    if (v < u.min + 2 || v > u.max - 2) v = base[0]! - signed; // no room on that side: the other
    return [Math.min(u.max, Math.max(u.min, v))];
  }
  // RGB: the contrast along gray (so the luma always shows it) plus a random hue shift.
  const out: number[] = [];
  for (let c = 0; c < 3; c++) out.push(base[c]! + signed * rng.uniform(0.6, 1.4) + rng.normal() * Math.abs(signed) * 0.5);
  if (out.some((v) => v < 2 || v > 253)) {
    for (let c = 0; c < 3; c++) out[c] = base[c]! - (out[c]! - base[c]!);
  }
  return out.map((v) => Math.min(255, Math.max(0, v)));
}

export function planScene(seed: number): ScenePlan {
  const rng = new Rng(seed * 7919 + 13);
  const modality = pick<SceneModality>(rng, [
    ["ct", 0.3],
    ["mr", 0.25],
    ["gray", 0.2],
    ["rgb", 0.25],
  ]);
  const channels = modality === "rgb" ? 3 : 1;
  const u = UNITS[modality];
  // Image sizes both sides of SAM's 1024 (the engine resizes the long side to 1024 either way).
  const long = Math.round(pick<[number, number]>(rng, [[[96, 400], 0.62], [[400, 800], 0.26], [[800, 1280], 0.12]]).reduce((a, b) => rng.uniform(a, b)));
  const short = Math.round(long * rng.uniform(0.6, 1));
  const [width, height] = rng.chance(0.5) ? [long, short] : [short, long];
  const minSide = Math.min(width, height);

  const bgValue = Array.from({ length: channels }, () => rng.uniform(u.bg[0], u.bg[1]));
  if (channels === 3 && rng.chance(0.5)) for (let c = 1; c < 3; c++) bgValue[c] = bgValue[0]! + rng.normal() * 25;
  const noise = logUniform(rng, u.sigma[0], u.sigma[1]);
  const texturedBg = rng.chance(0.6);
  const background: Look = {
    value: bgValue,
    edgeBlur: 0,
    ...(texturedBg ? { texture: { fbm: randomFbm(rng, 2, 40), amp: noise * logUniform(rng, 0.5, 6), seed: rng.uint32() } } : {}),
  };
  const shading = rng.chance(0.4) ? { fbm: randomFbm(rng, minSide / 3, minSide), amp: noise * logUniform(rng, 1, 8), seed: rng.uint32() } : undefined;

  let field: ScenePlan["field"];
  if (rng.chance(0.45)) {
    const r = (minSide / 2) * rng.uniform(0.75, 0.95);
    const shape = randomShape(rng, rng.chance(0.6) ? "blob" : "superellipse", width / 2 + rng.normal() * 0.03 * width, height / 2 + rng.normal() * 0.03 * height, r);
    const outsideLevel = modality === "ct" ? [-1000] : modality === "mr" ? [rng.uniform(0, 20)] : channels === 3 && rng.chance(0.6) ? [245, 243, 246] : [rng.chance(0.5) ? rng.uniform(0, 20) : rng.uniform(235, 255)];
    const outside = channels === 3 && outsideLevel.length === 1 ? [outsideLevel[0]!, outsideLevel[0]!, outsideLevel[0]!] : outsideLevel;
    field = { shape: { ...shape, aspect: Math.min(shape.aspect, 1.15), harmonics: shape.harmonics.map((h) => ({ ...h, amp: h.amp * 0.3 })) }, outside };
  }
  const inside = (x: number, y: number) => (field ? signedDistance(field.shape, x, y) > 4 : x >= 0 && y >= 0 && x < width && y < height);

  const objects: PlacedObject[] = [];
  const circles: { x: number; y: number; r: number; label: number; look: Look }[] = [];
  const free = (x: number, y: number, r: number) => circles.every((c) => Math.hypot(c.x - x, c.y - y) > c.r + r + 3);
  // Clutter first (unlabelled), so labelled objects lie over it.
  const clutter = rng.chance(0.5) ? rng.int(1, 5) : 0;
  for (let i = 0; i < clutter; i++) {
    const r = logUniform(rng, 4, minSide * 0.25);
    const shape = randomShape(rng, pick(rng, SHAPE_KINDS), rng.uniform(0, width), rng.uniform(0, height), r);
    const signed = (rng.chance(0.5) ? 1 : -1) * noise * logUniform(rng, 1, 10);
    objects.push({ shape, label: 0, look: { value: offsetValue(rng, modality, bgValue, signed), edgeBlur: rng.chance(0.5) ? 0 : rng.uniform(0.5, 3) }, ends: false });
  }

  const target = rng.int(1, 8);
  let nextLabel = 1;
  const makeLook = (base: readonly number[], avoid?: readonly number[]): Look => {
    let cnr = logUniform(rng, 1.8, 25);
    // Contrast must also survive the uint8 the encoder sees: with air in the image, min/max
    // spreads ~1100 HU over 255 levels, and 5 HU (a 1.8 CNR at low noise) is one level.
    const minContrast = modality === "ct" ? (field ? 30 : 15) : modality === "mr" ? 0.08 * base[0]! : 8;
    cnr = Math.max(cnr, minContrast / noise);
    const sign = rng.chance(0.5) ? 1 : -1;
    if (modality === "ct" && rng.chance(0.08)) cnr = Math.max(cnr, 600 / noise); // bone- or gas-like
    if (avoid) {
      // A touching neighbour must differ from the object it touches, not only from the background.
      const d = (avoid[0]! - base[0]!) / noise;
      if (Math.sign(d) === sign && Math.abs(Math.abs(d) - cnr) < 2) cnr = Math.abs(d) < 4 ? Math.abs(d) + rng.uniform(2.5, 8) : Math.abs(d) * rng.uniform(0.2, 0.5);
    }
    const value = offsetValue(rng, modality, base, sign * cnr * noise);
    const outline = rng.chance(0.08);
    const rimmed = outline || rng.chance(0.12);
    return {
      value: outline ? base.map((v) => v + rng.normal() * noise * 0.5) : value,
      edgeBlur: rng.chance(0.5) ? 0 : rng.uniform(0.4, 3.5),
      ...(rng.chance(0.45) ? { texture: { fbm: randomFbm(rng, 1.5, 25), amp: cnr * noise * rng.uniform(0.05, 0.45), seed: rng.uint32() } } : {}),
      ...(rimmed ? { rim: { width: rng.uniform(1, 3.5), value: offsetValue(rng, modality, base, (rng.chance(0.5) ? 1 : -1) * noise * logUniform(rng, 3, 15)) } } : {}),
    };
  };
  for (let attempt = 0; attempt < target * 25 && circles.length < target; attempt++) {
    const kind = pick(rng, SHAPE_KINDS);
    const r = logUniform(rng, 4, minSide * 0.42);
    const touching = circles.length > 0 && rng.chance(0.3);
    let cx: number;
    let cy: number;
    let avoid: readonly number[] | undefined;
    if (touching) {
      const other = circles[rng.int(0, circles.length - 1)]!;
      const a = rng.uniform(0, 2 * Math.PI);
      const d = (other.r + r) * rng.uniform(0.55, 0.8);
      cx = other.x + d * Math.cos(a);
      cy = other.y + d * Math.sin(a);
      avoid = other.look.value;
    } else {
      cx = rng.uniform(0, width);
      cy = rng.uniform(0, height);
    }
    const shape = randomShape(rng, kind, cx, cy, r);
    const ext = extent(shape);
    if (!inside(cx, cy) || (!touching && !free(cx, cy, ext))) continue;
    if (ext > minSide * 0.6 && circles.length > 0) continue;
    const look = makeLook(bgValue, avoid);
    const label = nextLabel++;
    const ends = rng.chance(0.12) && r < minSide * 0.2;
    objects.push({ shape, label, look, ends });
    circles.push({ x: cx, y: cy, r: ext, label, look });
    // A ring sometimes holds another object.
    if (kind === "ring" && rng.chance(0.4) && r * shape.inner > 8) {
      const inner = randomShape(rng, "blob", cx, cy, r * shape.inner * rng.uniform(0.35, 0.7));
      objects.push({ shape: { ...inner, aspect: 1 }, label: nextLabel++, look: makeLook(bgValue, look.value), ends: false });
    }
    // A class: copies of the same look and kind elsewhere, never touching (distinct components).
    if (!touching && rng.chance(0.25)) {
      const copies = rng.int(1, 3);
      for (let k = 0, tries = 0; k < copies && tries < 30; tries++) {
        const r2 = r * rng.uniform(0.7, 1.3);
        const c2 = randomShape(rng, kind, rng.uniform(0, width), rng.uniform(0, height), r2);
        const e2 = extent(c2);
        if (!inside(c2.cx, c2.cy) || !free(c2.cx, c2.cy, e2)) continue;
        objects.push({ shape: c2, label, look, ends: false });
        circles.push({ x: c2.cx, y: c2.cy, r: e2, label, look });
        k++;
      }
    }
    if (nextLabel > 250) break;
  }
  const psf = rng.chance(0.5) ? rng.uniform(0, 0.6) : rng.uniform(0.6, 2.2);
  return {
    seed,
    modality,
    width,
    height,
    channels,
    intensity: pick(rng, INTENSITY[modality]),
    ...(field ? { field } : {}),
    background,
    ...(shading ? { shading } : {}),
    objects,
    noise,
    psf,
    bias: modality === "mr" ? rng.uniform(0, 0.35) : 0,
  };
}

/** Renders slice 0 or 1 of a plan (slice 1: shapes perturbed, some objects ended, new noise). */
export function renderScene(plan: ScenePlan, slice: 0 | 1): RenderedSlice {
  const { width: w, height: h, channels: C } = plan;
  const rng = new Rng(plan.seed * 104729 + 1 + slice);
  const n = w * h;
  const signal = Array.from({ length: C }, () => new Float32Array(n));
  const labels = new Uint8Array(n);
  const body = new Uint8Array(n).fill(1);
  const fbmOf = (t: { fbm: FbmSpec; seed: number }) => new Fbm(new Rng(t.seed), t.fbm);
  // Background (texture and shading move slightly between slices, like tissue does).
  const shift = slice ? [rng.normal() * 1.5, rng.normal() * 1.5] : [0, 0];
  const bgTex = plan.background.texture ? fbmOf(plan.background.texture) : undefined;
  const shade = plan.shading ? fbmOf(plan.shading) : undefined;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let add = 0;
      if (bgTex) add += plan.background.texture!.amp * bgTex.at(x + shift[0]!, y + shift[1]!);
      if (shade) add += plan.shading!.amp * shade.at(x + shift[0]!, y + shift[1]!);
      for (let c = 0; c < C; c++) signal[c]![i] = plan.background.value[c]! + add;
    }
  }
  const perturb = new Rng(plan.seed * 15485863 + 3);
  // Coverage of the field per pixel: objects are drawn only inside it, as their labels are.
  const fieldAlpha = plan.field ? new Float32Array(n) : undefined;
  const paint = (shape: Shape, look: Look, label: number) => {
    const e = extent(shape) + 2 + look.edgeBlur * 3;
    const x0 = Math.max(0, Math.floor(shape.cx - e));
    const x1 = Math.min(w, Math.ceil(shape.cx + e));
    const y0 = Math.max(0, Math.floor(shape.cy - e));
    const y1 = Math.min(h, Math.ceil(shape.cy + e));
    if (x1 <= x0 || y1 <= y0) return;
    const bw = x1 - x0;
    const bh = y1 - y0;
    const sd = new Float32Array(bw * bh);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sd[(y - y0) * bw + x - x0] = signedDistance(shape, x + 0.5, y + 0.5);
    const alpha = new Float32Array(bw * bh);
    for (let i = 0; i < alpha.length; i++) alpha[i] = Math.min(1, Math.max(0, sd[i]! + 0.5));
    gaussianBlur(alpha, bw, bh, look.edgeBlur);
    const tex = look.texture ? fbmOf(look.texture) : undefined;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const j = (y - y0) * bw + x - x0;
        const i = y * w + x;
        const a = fieldAlpha ? alpha[j]! * fieldAlpha[i]! : alpha[j]!;
        if (sd[j]! >= 0) labels[i] = label;
        if (a <= 0) continue;
        const t = tex ? look.texture!.amp * tex.at(x, y) : 0;
        const rimA = look.rim ? Math.min(1, Math.max(0, look.rim.width + 0.5 - sd[j]!)) * Math.min(1, Math.max(0, sd[j]! + 0.5)) : 0;
        for (let c = 0; c < C; c++) {
          const v = look.rim ? (1 - rimA) * (look.value[c]! + t) + rimA * look.rim.value[c]! : look.value[c]! + t;
          signal[c]![i] = (1 - a) * signal[c]![i]! + a * v;
        }
      }
    }
  };
  if (plan.field) {
    // Outside the field: the modality's "outside" (air, slide glass), then the field itself.
    const fieldShape = slice ? perturbShape(perturb, plan.field.shape) : plan.field.shape;
    body.fill(0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = signedDistance(fieldShape, x + 0.5, y + 0.5);
        const a = Math.min(1, Math.max(0, s + 0.5));
        const i = y * w + x;
        fieldAlpha![i] = a;
        if (s >= 0) body[i] = 1;
        for (let c = 0; c < C; c++) signal[c]![i] = a * signal[c]![i]! + (1 - a) * plan.field.outside[c]!;
      }
    }
  }
  for (const o of plan.objects) {
    const shape = slice ? perturbShape(perturb, o.shape) : o.shape;
    if (slice && o.ends) continue;
    paint(shape, o.look, o.label);
  }
  // Objects are cut by the field's outline, as organs are by the body's: in the image and in the labels.
  if (plan.field) for (let i = 0; i < n; i++) if (!body[i]) labels[i] = 0;
  for (const s of signal) gaussianBlur(s, w, h, plan.psf);
  const biasField = plan.bias > 0 ? new Fbm(new Rng(plan.seed + 99), { scale: Math.max(w, h) / 1.5, octaves: 2, gain: 0.5, stretch: 1, angle: 0 }) : undefined;
  const u = UNITS[plan.modality];
  const data = plan.modality === "ct" ? new Int16Array(n * C) : plan.modality === "mr" ? new Uint16Array(n * C) : new Uint8Array(n * C);
  for (let i = 0; i < n; i++) {
    const b = biasField ? 1 + plan.bias * biasField.at(i % w, Math.floor(i / w)) * 1.5 : 1;
    for (let c = 0; c < C; c++) {
      let v = signal[c]![i]!;
      if (plan.modality === "mr") {
        v *= b;
        v = Math.hypot(v + rng.normal() * plan.noise, rng.normal() * plan.noise); // Rician magnitude
      } else {
        v += rng.normal() * plan.noise;
      }
      data[i * C + c] = Math.round(Math.min(u.max, Math.max(u.min, v)));
    }
  }
  return { image: { width: w, height: h, channels: C, data }, labels, body };
}
