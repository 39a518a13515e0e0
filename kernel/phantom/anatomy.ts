/**
 * A random abdomen: where each structure is, how big, how it is shaped and how it changes
 * from the bottom (z = 0, kidneys) to the top (z = 1, liver dome and lung bases). All
 * sizes in mm, so the same anatomy renders at any pixel size. Drawn in order: later
 * structures cover earlier ones (organs over fat, lesions over liver, spine over all).
 * Organs are clipped to the body (intraperitoneal ones to the cavity inside the muscle
 * wall), so every labelled voxel lies inside the body outline.
 */
import { PHANTOM_LABELS } from "./labels.js";
import { Rng } from "./random.js";
import type { Harmonic, InnerRegion, ShapeSpec } from "./shape.js";
import type { Tissue } from "./tissues.js";

export interface Structure {
  readonly name: string;
  /** Label id (0 = not labelled: fat layers, muscles, bowel, vessels other than the aorta). */
  readonly label: number;
  readonly tissue: Tissue;
  readonly shape: ShapeSpec;
  /** Regions of other tissue inside it that keep its label (kidney medulla, bone marrow, gas). */
  readonly inner: readonly (InnerRegion & { readonly tissue: Tissue })[];
  /** Name of a structure this one is clipped to (a lesion stays inside the liver). */
  readonly within?: string;
  /** Along z (mm), the structure becomes `tissue` in slabs `gap` mm thick every `period` mm. */
  readonly periodic?: { readonly period: number; readonly gap: number; readonly offset: number; readonly tissue: Tissue; readonly unlabeled: boolean };
}

export interface Anatomy {
  readonly seed: number;
  /** Body half-width and half-depth (mm). */
  readonly bodyHalfWidth: number;
  readonly bodyHalfDepth: number;
  /** Canonical z extent in mm (z = 0..1 spans this), for periodic structures. */
  readonly lengthMm: number;
  readonly structures: readonly Structure[];
}

function harmonics(rng: Rng, amp: number, ks: readonly number[] = [2, 3, 4]): Harmonic[] {
  return [...ks].sort((a, b) => a - b).map((k) => ({
    k,
    amp: amp * rng.uniform(0.3, 1) / (k - 1),
    phase: rng.uniform(0, 2 * Math.PI),
    drift: rng.uniform(-1.5, 1.5),
  }));
}

interface ShapeInput {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  z0: number;
  z1: number;
  angle?: number;
  twist?: number;
  wobble?: number;
  drift?: number;
  capPower?: number;
  exponent?: number;
  posteriorExponent?: number;
  ks?: readonly number[];
}

function shape(rng: Rng, s: ShapeInput): ShapeSpec {
  const drift = s.drift ?? 0;
  return {
    cx: s.cx,
    cy: s.cy,
    slopeX: rng.uniform(-1, 1) * drift,
    slopeY: rng.uniform(-1, 1) * drift,
    swayX: rng.uniform(0, 0.4) * drift,
    swayY: rng.uniform(0, 0.4) * drift,
    swayFreq: rng.uniform(0.5, 1.5),
    swayPhase: rng.uniform(0, 2 * Math.PI),
    rx: s.rx,
    ry: s.ry,
    angle: s.angle ?? 0,
    twist: s.twist ?? 0,
    z0: s.z0,
    z1: s.z1,
    capPower: s.capPower ?? 0.35,
    exponent: s.exponent ?? 2,
    posteriorExponent: s.posteriorExponent ?? s.exponent ?? 2,
    harmonics: harmonics(rng, s.wobble ?? 0, s.ks),
  };
}

function structure(name: string, label: number, tissue: Tissue, spec: ShapeSpec, extra: Partial<Structure> = {}): Structure {
  return { name, label, tissue, shape: spec, inner: [], ...extra };
}

/** Scale a shape's outline (same centre, harmonics and motion): for nested body layers. */
function shrink(s: ShapeSpec, byX: number, byY: number): ShapeSpec {
  return { ...s, rx: s.rx - byX, ry: s.ry - byY };
}

export function makeAnatomy(seed: number): Anatomy {
  const rng = new Rng(seed);
  const L = PHANTOM_LABELS;
  const A = rng.uniform(135, 185);
  const B = A / rng.uniform(1.3, 1.6);
  const out: Structure[] = [];
  const add = (s: Structure) => out.push(s);
  const size = () => rng.uniform(0.85, 1.15);

  // Body layers: skin-to-muscle fat, the muscular wall, the visceral cavity.
  const body = shape(rng, {
    cx: 0, cy: 0, rx: A, ry: B, z0: -3, z1: 4, capPower: 0.2, wobble: 0.05, drift: 20, exponent: 2, posteriorExponent: rng.uniform(2.4, 3.2), ks: [2, 3],
  });
  const fat = rng.uniform(8, 32);
  const wall = rng.uniform(6, 14);
  add(structure("body", 0, "fat", body));
  add(structure("wall", 0, "muscle", shrink(body, fat, fat * 0.8)));
  add(structure("cavity", 0, "visceral", shrink(body, fat + wall, (fat + wall) * 0.8)));
  const spineY = B * rng.uniform(0.48, 0.58);

  // Ribs: small bony sections in the wall, present only in the upper half and in slabs.
  const ribs = rng.int(4, 7);
  for (let side = -1; side <= 1; side += 2) {
    for (let i = 0; i < ribs; i++) {
      const t = (i + 0.5) / ribs;
      const ang = (-Math.PI / 2) * (1 - t) + (Math.PI * 0.3) * t; // anterior -> posterolateral
      const rr = 1 - (fat + wall / 2) / A;
      const rib = shape(rng, {
        cx: side * A * rr * Math.cos(ang), cy: B * rr * Math.sin(ang) * 0.95, rx: 6, ry: 4, z0: 0.45 + rng.uniform(0, 0.1), z1: 1.3, capPower: 0.05, angle: side * ang, drift: 8,
      });
      add(structure(`rib-${side < 0 ? "r" : "l"}${i}`, 0, "cortBone", rib, {
        periodic: { period: rng.uniform(28, 36), gap: rng.uniform(12, 18), offset: rng.uniform(0, 30), tissue: "muscle", unlabeled: true },
      }));
    }
  }

  // Back muscles, vertebral arch and canal.
  for (const side of [-1, 1]) {
    add(structure("paraspinal", 0, "muscle", shape(rng, { cx: side * 32, cy: spineY + 34, rx: 24 * size(), ry: 18 * size(), z0: -2, z1: 3, capPower: 0.1, wobble: 0.08, drift: 6, angle: side * 0.2 })));
  }
  add(structure("arch", 0, "cortBone", shape(rng, { cx: 0, cy: spineY + 29, rx: 21, ry: 14, z0: -2, z1: 3, capPower: 0.1, drift: 4 })));
  add(structure("canal", 0, "csf", shape(rng, { cx: 0, cy: spineY + 27, rx: 8, ry: 7, z0: -2, z1: 3, capPower: 0.1, drift: 4 })));

  // Bowel loops: unlabelled clutter in the lower and anterior cavity.
  const loops = rng.int(5, 11);
  for (let i = 0; i < loops; i++) {
    const zc = rng.uniform(-0.1, 0.65);
    const hz = rng.uniform(0.08, 0.25);
    const tissue: Tissue = rng.chance(0.2) ? "gas" : rng.chance(0.3) ? "stomachFluid" : "bowel";
    add(structure(`bowel${i}`, 0, tissue, shape(rng, {
      cx: rng.uniform(-0.6, 0.6) * A, cy: rng.uniform(-0.7, 0.1) * B, rx: rng.uniform(10, 26), ry: rng.uniform(10, 22),
      z0: zc - hz, z1: zc + hz, wobble: 0.2, drift: 25, angle: rng.uniform(0, Math.PI),
    })));
  }

  // Lung bases at the top, inside the cavity.
  const lungTop = rng.uniform(0.72, 0.84);
  for (const side of [-1, 1]) {
    add(structure(`lung-${side < 0 ? "r" : "l"}`, L.lung, "lung", shape(rng, {
      cx: side * A * rng.uniform(0.4, 0.5), cy: B * rng.uniform(0.05, 0.2), rx: A * rng.uniform(0.36, 0.44), ry: B * rng.uniform(0.65, 0.8),
      z0: lungTop, z1: lungTop + 1.1, capPower: 0.45, wobble: 0.12, drift: 10,
    }), { within: "cavity" }));
  }

  // Psoas muscles, growing toward the bottom.
  for (const side of [-1, 1]) {
    add(structure(`psoas-${side < 0 ? "r" : "l"}`, L.psoas, "muscle", shape(rng, {
      cx: side * rng.uniform(34, 44), cy: spineY - rng.uniform(0, 8), rx: 15 * size(), ry: 19 * size(), z0: -0.6, z1: rng.uniform(0.5, 0.62),
      capPower: 0.6, wobble: 0.1, drift: 20, angle: side * rng.uniform(0.2, 0.6),
    }), { within: "body" }));
  }

  // Inferior vena cava (unlabelled, same blood as the aorta: a realistic distractor).
  add(structure("ivc", 0, "blood", shape(rng, { cx: -rng.uniform(18, 28), cy: spineY - rng.uniform(26, 34), rx: 12 * size(), ry: 9 * size(), z0: -2, z1: 3, capPower: 0.1, wobble: 0.1, drift: 8 })));

  // Stomach with a gas cap on the anterior side.
  add(structure("stomach", L.stomach, "stomachFluid", shape(rng, {
    cx: A * rng.uniform(0.25, 0.45), cy: -B * rng.uniform(0.25, 0.45), rx: rng.uniform(35, 55), ry: rng.uniform(24, 36),
    z0: rng.uniform(0.5, 0.6), z1: rng.uniform(0.88, 0.98), wobble: 0.15, drift: 25, angle: rng.uniform(-0.6, 0.2),
  }), { within: "cavity", inner: rng.chance(0.75) ? [{ tissue: "gas", scale: rng.uniform(0.45, 0.6), dx: 0, dy: -rng.uniform(0.5, 0.7) }] : [] }));

  // Liver: large, on the patient's right (image left), from mid abdomen to the dome.
  const liverZ0 = rng.uniform(0.25, 0.38);
  const liver = shape(rng, {
    cx: -A * rng.uniform(0.38, 0.5), cy: -B * rng.uniform(-0.05, 0.12), rx: A * rng.uniform(0.42, 0.52), ry: B * rng.uniform(0.6, 0.75),
    z0: liverZ0, z1: rng.uniform(0.98, 1.08), capPower: 0.3, wobble: 0.14, drift: 25, angle: rng.uniform(-0.4, 0.1), ks: [2, 3, 5],
  });
  add(structure("liver", L.liver, "liver", liver, { within: "cavity" }));

  // 0-3 lesions inside the liver.
  const nLesions = rng.chance(0.25) ? 0 : rng.int(1, 3);
  for (let i = 0; i < nLesions; i++) {
    const r = rng.uniform(6, 17);
    const zc = rng.uniform(liverZ0 + 0.15, 0.9);
    const hz = (r * rng.uniform(1.6, 2.4)) / 240;
    const ang = rng.uniform(0, 2 * Math.PI);
    const dist = rng.uniform(0, 0.55);
    add(structure(`lesion${i}`, L.lesion, "lesion", shape(rng, {
      cx: liver.cx + Math.cos(ang) * dist * liver.rx, cy: liver.cy + Math.sin(ang) * dist * liver.ry, rx: r * size(), ry: r * size(),
      z0: zc - hz, z1: zc + hz, capPower: 0.5, wobble: 0.12, drift: 4, angle: rng.uniform(0, Math.PI),
    }), { within: "liver" }));
  }

  add(structure("spleen", L.spleen, "spleen", shape(rng, {
    cx: A * rng.uniform(0.52, 0.65), cy: B * rng.uniform(0.15, 0.35), rx: rng.uniform(18, 28), ry: rng.uniform(36, 52),
    z0: rng.uniform(0.45, 0.55), z1: rng.uniform(0.85, 0.95), wobble: 0.15, drift: 15, angle: rng.uniform(-0.8, -0.3), ks: [2, 3],
  }), { within: "cavity" }));

  // Kidneys, the left one a little higher; the medulla/pelvis sits toward the spine.
  for (const side of [-1, 1]) {
    const lift = side > 0 ? rng.uniform(0.03, 0.1) : 0;
    add(structure(`kidney-${side < 0 ? "r" : "l"}`, L.kidney, "kidneyCortex", shape(rng, {
      cx: side * A * rng.uniform(0.32, 0.42), cy: B * rng.uniform(0.3, 0.45), rx: rng.uniform(22, 30), ry: rng.uniform(28, 36),
      z0: rng.uniform(0.02, 0.1) + lift, z1: rng.uniform(0.42, 0.52) + lift, wobble: 0.08, drift: 12, angle: side * rng.uniform(0.3, 0.7), ks: [2, 3],
    }), { within: "body", inner: [{ tissue: "kidneyMedulla", scale: rng.uniform(0.45, 0.6), dx: -side * 0.25, dy: 0 }] }));
  }

  add(structure("aorta", L.aorta, "blood", shape(rng, {
    cx: rng.uniform(2, 14), cy: spineY - rng.uniform(26, 34), rx: rng.uniform(9, 13), ry: 0, z0: -2, z1: 3, capPower: 0.1, wobble: 0.03, drift: 6,
  })));
  // The aorta is round: tie ry to rx after the draw.
  const aorta = out[out.length - 1]!;
  out[out.length - 1] = { ...aorta, within: "body", shape: { ...aorta.shape, ry: aorta.shape.rx } };

  // Spine (vertebral bodies and discs, one label): cortical rim, marrow inside, discs in slabs.
  add(structure("spine", L.spine, "cortBone", shape(rng, {
    cx: 0, cy: spineY, rx: rng.uniform(18, 23), ry: rng.uniform(15, 19), z0: -2, z1: 3, capPower: 0.1, wobble: 0.04, drift: 5,
  }), {
    within: "body",
    inner: [{ tissue: "cancBone", scale: 0.82, dx: 0, dy: 0 }],
    periodic: { period: rng.uniform(27, 33), gap: rng.uniform(5, 8), offset: rng.uniform(0, 30), tissue: "disc", unlabeled: false },
  }));

  return { seed, bodyHalfWidth: A, bodyHalfDepth: B, lengthMm: 240, structures: out };
}
