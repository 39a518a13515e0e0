/**
 * CT-like and MR-like phantoms: 2D slices and 3D volumes with label maps, from a seed.
 *
 * Realism that matters for segmentation: a body outline in air; organs that differ in mean
 * intensity and texture (and by contrast phase / MR weighting); unlabelled distractors of
 * similar intensity (bowel, IVC, muscles, ribs); partial-volume edges; scanner noise (CT:
 * Gaussian in HU; MR: Rician on a smooth bias field); organs that appear, grow, move,
 * turn and vanish across slices. Value ranges are realistic: CT in HU (int16, air -1000,
 * bone up to about +1000); MR in scanner units (uint16, scaled per volume).
 *
 * A slice of a volume and the same slice generated alone are identical: the slice's noise
 * is seeded by (seed, slice index), and textures are a function of position.
 */
import { makeAnatomy, type Anatomy } from "./anatomy.js";
import { PHANTOM_LABEL_NAMES } from "./labels.js";
import { Rng } from "./random.js";
import { renderSlice, type SliceGeometry } from "./render.js";
import { valueNoise } from "./noise.js";
import { tissueLooks, type ContrastName } from "./tissues.js";
import type { Affine } from "../io/volume.js";

export type Modality = "ct" | "mr";

export interface PhantomOptions {
  readonly seed: number;
  readonly modality: Modality;
  /** Slice size in pixels (defaults: CT 256x224, MR 224x192). */
  readonly width?: number;
  readonly height?: number;
  /** Number of slices of a volume (defaults: CT 40, MR 32). */
  readonly depth?: number;
  /** Contrast; default drawn from the seed (CT: 70 % portal-venous; MR: 60 % T1). */
  readonly contrast?: ContrastName;
  /** Canonical z range the volume covers (0 = kidneys' lower poles, 1 = liver dome). */
  readonly zRange?: readonly [number, number];
}

export interface PhantomSettings {
  readonly modality: Modality;
  readonly contrast: ContrastName;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  /** Voxel size in mm (x, y, z). */
  readonly spacing: readonly [number, number, number];
  readonly centerX: number;
  readonly centerY: number;
  readonly zRange: readonly [number, number];
  /** CT: noise sigma in HU; MR: Rician sigma as a fraction of the scale. */
  readonly noise: number;
  /** MR only: value scale and bias-field strength. */
  readonly mrScale: number;
  readonly biasStrength: number;
}

export interface PhantomSlice {
  readonly width: number;
  readonly height: number;
  readonly channels: 1;
  /** CT: HU (int16); MR: scanner units (uint16). Row-major, x (column) fastest. */
  readonly data: Int16Array | Uint16Array;
  /** Label ids (see PHANTOM_LABELS), 0 = background. */
  readonly labels: Uint8Array;
  /** 1 inside the body outline. */
  readonly body: Uint8Array;
  readonly settings: PhantomSettings;
  /** Canonical z of the slice. */
  readonly z: number;
}

export interface PhantomVolume {
  readonly seed: number;
  readonly dims: readonly [number, number, number];
  readonly spacing: readonly [number, number, number];
  /** Voxel centre -> world mm, RAS+ (columns run toward the patient's left, rows posterior, slices superior). */
  readonly affine: Affine;
  readonly data: Int16Array | Uint16Array;
  readonly labels: Uint8Array;
  readonly body: Uint8Array;
  readonly settings: PhantomSettings;
  readonly labelNames: readonly string[];
}

/** Everything about the acquisition that the seed decides (independent of the anatomy's draws). */
export function phantomSettings(options: PhantomOptions, anatomy: Anatomy = makeAnatomy(options.seed)): PhantomSettings {
  const rng = new Rng((options.seed ^ 0x51ed270b) | 0);
  const ct = options.modality === "ct";
  const width = options.width ?? (ct ? 256 : 224);
  const height = options.height ?? (ct ? 224 : 192);
  const depth = options.depth ?? (ct ? 40 : 32);
  for (const [name, v, min] of [["width", width, 16], ["height", height, 16], ["depth", depth, 1]] as const) {
    if (!Number.isInteger(v) || v < min || v > 2048) throw new Error(`phantom ${name} must be an integer in ${min}..2048; got ${v}`);
  }
  const contrast: ContrastName =
    options.contrast ?? (ct ? (rng.chance(0.7) ? "ct-enhanced" : "ct-native") : rng.chance(0.6) ? "mr-t1" : "mr-t2");
  if (ct !== contrast.startsWith("ct")) throw new Error(`contrast ${contrast} does not belong to modality ${options.modality}`);
  // Field of view: the body plus a margin, the same pixel size in x and y.
  const margin = rng.uniform(1.08, 1.3);
  const pixel = Math.max((2 * anatomy.bodyHalfWidth * margin) / width, (2 * anatomy.bodyHalfDepth * margin * 1.05) / height);
  const zRange = options.zRange ?? [0.02, 0.98];
  if (!(zRange[1] > zRange[0])) throw new Error(`phantom zRange must be increasing; got [${zRange.join(", ")}]`);
  const sz = ((zRange[1] - zRange[0]) * anatomy.lengthMm) / depth;
  const slackX = Math.max(0, width * pixel - 2 * anatomy.bodyHalfWidth) / 2;
  const slackY = Math.max(0, height * pixel - 2 * anatomy.bodyHalfDepth) / 2;
  return {
    modality: options.modality,
    contrast,
    width,
    height,
    depth,
    spacing: [pixel, pixel, sz],
    centerX: rng.uniform(-0.6, 0.6) * slackX,
    // Patients lie on the table: the body sits a little low in the image.
    centerY: -rng.uniform(0, 0.8) * slackY,
    zRange,
    noise: ct ? rng.uniform(6, 22) : rng.uniform(0.015, 0.045),
    mrScale: rng.uniform(0.6, 2.5),
    biasStrength: rng.uniform(0.08, 0.3),
  };
}

function sliceGeometry(s: PhantomSettings, k: number): SliceGeometry {
  const dz = (s.zRange[1] - s.zRange[0]) / s.depth;
  return {
    width: s.width,
    height: s.height,
    spacingX: s.spacing[0],
    spacingY: s.spacing[1],
    centerX: s.centerX,
    centerY: s.centerY,
    z: s.zRange[0] + (k + 0.5) * dz,
    thickness: dz,
  };
}

/** Noise and scanner value ranges on top of the rendered intensity. */
function acquire(intensity: Float32Array, s: PhantomSettings, g: SliceGeometry, seed: number, k: number, anatomy: Anatomy): Int16Array | Uint16Array {
  const rng = new Rng((Math.imul(seed, 0x2545f491) ^ Math.imul(k + 1, 0x9e3779b1)) | 0);
  const n = intensity.length;
  if (s.modality === "ct") {
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const v = Math.round(intensity[i]! + s.noise * rng.normal());
      out[i] = Math.max(-1024, Math.min(3071, v));
    }
    return out;
  }
  const out = new Uint16Array(n);
  const sigma = s.noise * 1000 * s.mrScale;
  const zMm = g.z * anatomy.lengthMm;
  for (let py = 0; py < g.height; py++) {
    for (let px = 0; px < g.width; px++) {
      const i = py * g.width + px;
      const x = (px + 0.5 - g.width / 2) * g.spacingX + g.centerX;
      const y = (py + 0.5 - g.height / 2) * g.spacingY + g.centerY;
      const bias = 1 + s.biasStrength * valueNoise(x, y, zMm, 160, (seed ^ 0x0b1a5) | 0);
      const clean = intensity[i]! * s.mrScale * bias;
      const re = clean + sigma * rng.normal();
      const im = sigma * rng.normal();
      out[i] = Math.min(65535, Math.round(Math.hypot(re, im)));
    }
  }
  return out;
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || Math.abs(seed) > 2 ** 31) throw new Error(`phantom seed must be a 32-bit integer; got ${seed}`);
}

/** Slice k (0 = bottom) of the volume that generatePhantomVolume would make with the same options. */
export function generatePhantomSlice(options: PhantomOptions & { readonly slice: number }): PhantomSlice {
  checkSeed(options.seed);
  const anatomy = makeAnatomy(options.seed);
  const settings = phantomSettings(options, anatomy);
  const k = options.slice;
  if (!Number.isInteger(k) || k < 0 || k >= settings.depth) {
    throw new Error(`slice ${k} is outside the phantom's ${settings.depth} slices (0..${settings.depth - 1})`);
  }
  const g = sliceGeometry(settings, k);
  const looks = tissueLooks(settings.contrast);
  const r = renderSlice(anatomy, g, looks, options.seed);
  return { width: g.width, height: g.height, channels: 1, data: acquire(r.intensity, settings, g, options.seed, k, anatomy), labels: r.labels, body: r.body, settings, z: g.z };
}

export function generatePhantomVolume(options: PhantomOptions): PhantomVolume {
  checkSeed(options.seed);
  const anatomy = makeAnatomy(options.seed);
  const s = phantomSettings(options, anatomy);
  const plane = s.width * s.height;
  const data = s.modality === "ct" ? new Int16Array(plane * s.depth) : new Uint16Array(plane * s.depth);
  const labels = new Uint8Array(plane * s.depth);
  const body = new Uint8Array(plane * s.depth);
  const looks = tissueLooks(s.contrast);
  for (let k = 0; k < s.depth; k++) {
    const g = sliceGeometry(s, k);
    const r = renderSlice(anatomy, g, looks, options.seed);
    data.set(acquire(r.intensity, s, g, options.seed, k, anatomy), k * plane);
    labels.set(r.labels, k * plane);
    body.set(r.body, k * plane);
  }
  const [sx, sy, sz] = s.spacing;
  const affine: Affine = [
    [-sx, 0, 0, (sx * (s.width - 1)) / 2],
    [0, -sy, 0, (sy * (s.height - 1)) / 2],
    [0, 0, sz, (-sz * (s.depth - 1)) / 2],
    [0, 0, 0, 1],
  ];
  return { seed: options.seed, dims: [s.width, s.height, s.depth], spacing: s.spacing, affine, data, labels, body, settings: s, labelNames: PHANTOM_LABEL_NAMES };
}
