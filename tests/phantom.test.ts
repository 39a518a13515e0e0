/**
 * The phantom generator: determinism, realistic value ranges, labels that match the image,
 * partial-volume edges measured against an analytic area, anatomy that changes across
 * slices, and NIfTI files (incl. the shipped samples) that read back exactly.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generatePhantomSlice, generatePhantomVolume, PHANTOM_LABELS, writePhantomNifti, type PhantomVolume } from "../kernel/phantom/index.js";
import type { Anatomy } from "../kernel/phantom/anatomy.js";
import { renderSlice } from "../kernel/phantom/render.js";
import { tissueLooks, TISSUE_INDEX } from "../kernel/phantom/tissues.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { SAMPLES } from "../data/samples/generate.js";

const L = PHANTOM_LABELS;
const tmp = mkdtempSync(join(tmpdir(), "phantom-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function meanWhere(v: ArrayLike<number>, pick: (i: number) => boolean): { mean: number; n: number } {
  let s = 0;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    if (pick(i)) {
      s += v[i]!;
      n++;
    }
  }
  return { mean: s / n, n };
}

/** 4-connected components of one label in one slice, by flood fill (independent of the generator). */
function components(labels: Uint8Array, w: number, h: number, label: number): number[] {
  const seen = new Uint8Array(w * h);
  const sizes: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (labels[start] !== label || seen[start]) continue;
    let size = 0;
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const i = stack.pop()!;
      size++;
      const x = i % w;
      const y = (i - x) / w;
      for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]] as const) {
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const j = ny * w + nx;
        if (!seen[j] && labels[j] === label) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    sizes.push(size);
  }
  return sizes;
}

describe("phantom volumes", () => {
  const ct = generatePhantomVolume({ seed: 4242, modality: "ct", contrast: "ct-enhanced", width: 160, height: 128, depth: 24 });
  const plane = 160 * 128;

  it("is a function of its seed", () => {
    const again = generatePhantomVolume({ seed: 4242, modality: "ct", contrast: "ct-enhanced", width: 160, height: 128, depth: 24 });
    expect(Buffer.from(again.data.buffer).equals(Buffer.from(ct.data.buffer))).toBe(true);
    expect(Buffer.from(again.labels).equals(Buffer.from(ct.labels))).toBe(true);
    const other = generatePhantomVolume({ seed: 4243, modality: "ct", contrast: "ct-enhanced", width: 160, height: 128, depth: 24 });
    let differ = 0;
    for (let i = 0; i < other.labels.length; i++) if (other.labels[i] !== ct.labels[i]) differ++;
    expect(differ).toBeGreaterThan(1000);
  });

  it("gives the same pixels for one slice generated alone", () => {
    const k = 13;
    const s = generatePhantomSlice({ seed: 4242, modality: "ct", contrast: "ct-enhanced", width: 160, height: 128, depth: 24, slice: k });
    expect(Array.from(s.data)).toEqual(Array.from(ct.data.subarray(k * plane, (k + 1) * plane)));
    expect(Array.from(s.labels)).toEqual(Array.from(ct.labels.subarray(k * plane, (k + 1) * plane)));
  });

  it("has CT values in Hounsfield units: air, fat, enhanced liver, bone", () => {
    expect(ct.data).toBeInstanceOf(Int16Array);
    const air = meanWhere(ct.data, (i) => ct.body[i] === 0);
    expect(air.mean).toBeGreaterThan(-1024);
    expect(air.mean).toBeLessThan(-980);
    const liver = meanWhere(ct.data, (i) => ct.labels[i] === L.liver);
    expect(liver.n).toBeGreaterThan(1000);
    expect(liver.mean).toBeGreaterThan(90); // portal-venous liver: ~100-130 HU
    expect(liver.mean).toBeLessThan(135);
    const aorta = meanWhere(ct.data, (i) => ct.labels[i] === L.aorta);
    expect(aorta.mean).toBeGreaterThan(140);
    const spine = meanWhere(ct.data, (i) => ct.labels[i] === L.spine);
    expect(spine.mean).toBeGreaterThan(200);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ct.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(-1024);
    expect(max).toBeGreaterThan(700); // cortical bone
    expect(max).toBeLessThan(1600);
  });

  it("puts every organ label in the volume, inside the body", () => {
    const present = new Set(ct.labels);
    for (const id of [L.liver, L.spleen, L.kidney, L.aorta, L.spine, L.stomach, L.lung, L.psoas]) expect(present.has(id)).toBe(true);
    for (let i = 0; i < ct.labels.length; i++) if (ct.labels[i]) expect(ct.body[i]).toBe(1);
  });

  it("changes anatomy across slices: kidneys low, lungs high, two kidneys as two components", () => {
    const area = (k: number, label: number) => {
      let n = 0;
      for (let i = k * plane; i < (k + 1) * plane; i++) if (ct.labels[i] === label) n++;
      return n;
    };
    expect(area(3, L.kidney)).toBeGreaterThan(0);
    expect(area(22, L.kidney)).toBe(0);
    expect(area(22, L.lung)).toBeGreaterThan(0);
    expect(area(3, L.lung)).toBe(0);
    const liverAreas = Array.from({ length: 24 }, (_, k) => area(k, L.liver));
    expect(new Set(liverAreas).size).toBeGreaterThan(10);
    const kidneySlice = ct.labels.subarray(5 * plane, 6 * plane);
    expect(components(kidneySlice, 160, 128, L.kidney).filter((s) => s > 20).length).toBe(2);
  });

  it("makes MR-like images: non-negative, Rician background, T1 fat bright, T2 fluid bright", () => {
    const t1 = generatePhantomVolume({ seed: 77, modality: "mr", contrast: "mr-t1", width: 128, height: 112, depth: 12 });
    expect(t1.data).toBeInstanceOf(Uint16Array);
    const bg = meanWhere(t1.data, (i) => t1.body[i] === 0);
    expect(bg.mean).toBeGreaterThan(2); // Rician noise floor, not zero
    const liver = meanWhere(t1.data, (i) => t1.labels[i] === L.liver).mean;
    const spleen = meanWhere(t1.data, (i) => t1.labels[i] === L.spleen).mean;
    expect(liver).toBeGreaterThan(spleen); // T1: liver brighter than spleen
    const t2 = generatePhantomVolume({ seed: 77, modality: "mr", contrast: "mr-t2", width: 128, height: 112, depth: 12 });
    expect(meanWhere(t2.data, (i) => t2.labels[i] === L.spleen).mean).toBeGreaterThan(meanWhere(t2.data, (i) => t2.labels[i] === L.liver).mean);
    expect(() => generatePhantomVolume({ seed: 1, modality: "mr", contrast: "ct-native" })).toThrow(/does not belong/);
  });
});

describe("partial-volume edges", () => {
  // One disc of "liver" in air, r = 10.3 mm, 1 mm pixels, no harmonics: the covered area is pi r^2.
  const r = 10.3;
  const anatomy: Anatomy = {
    seed: 1,
    bodyHalfWidth: 20,
    bodyHalfDepth: 20,
    lengthMm: 100,
    structures: [
      {
        name: "body",
        label: 1,
        tissue: "liver",
        inner: [],
        shape: {
          cx: 0.37, cy: -0.21, slopeX: 0, slopeY: 0, swayX: 0, swayY: 0, swayFreq: 1, swayPhase: 0,
          rx: r, ry: r, angle: 0, twist: 0, z0: -10, z1: 10, capPower: 0, exponent: 2, posteriorExponent: 2, harmonics: [],
        },
      },
    ],
  };
  const looks = tissueLooks("ct-native").map((l) => ({ ...l, texture: 0 }));
  const air = looks[TISSUE_INDEX.air]!.value;
  const liver = looks[TISSUE_INDEX.liver]!.value;
  const out = renderSlice(anatomy, { width: 32, height: 32, spacingX: 1, spacingY: 1, centerX: 0, centerY: 0, z: 0.5, thickness: 0.01 }, looks, 1);

  it("mixes the tissues in edge pixels so that the total matches the disc's area", () => {
    let covered = 0;
    let mixed = 0;
    for (const v of out.intensity) {
      const f = (v - air) / (liver - air);
      covered += f;
      if (f > 0.01 && f < 0.99) mixed++;
    }
    expect(mixed).toBeGreaterThan(40); // the rim, about 2 pi r pixels
    expect(covered).toBeGreaterThan(Math.PI * r * r * 0.98);
    expect(covered).toBeLessThan(Math.PI * r * r * 1.02);
  });

  it("labels by the pixel centre", () => {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const d = Math.hypot(x + 0.5 - 16 - 0.37, y + 0.5 - 16 + 0.21);
        if (Math.abs(d - r) > 0.01) expect(out.labels[y * 32 + x]).toBe(d < r ? 1 : 0);
      }
    }
  });
});

describe("NIfTI files", () => {
  it("writes image and labels that read back exactly, with the geometry", async () => {
    const v: PhantomVolume = generatePhantomVolume({ seed: 5, modality: "mr", width: 64, height: 48, depth: 6 });
    const img = join(tmp, "p.nii.gz");
    const lab = join(tmp, "p-labels.nii.gz");
    await writePhantomNifti(v, img, lab);
    const a = await readNifti(img);
    const b = await readNifti(lab);
    expect(a.dims).toEqual([64, 48, 6]);
    expect(Array.from(a.data)).toEqual(Array.from(v.data));
    expect(Array.from(b.data)).toEqual(Array.from(v.labels));
    expect(a.spacing[0]).toBeCloseTo(v.spacing[0], 5);
    expect(a.spacing[2]).toBeCloseTo(v.spacing[2], 5);
    expect(a.orientation).toBe("LPS");
  });

  it("ships sample volumes that the committed script regenerates, a few MB in all", async () => {
    let bytes = 0;
    for (const s of SAMPLES) {
      const path = join("data/samples", `${s.name}.nii.gz`);
      bytes += statSync(path).size + statSync(join("data/samples", `${s.name}-labels.nii.gz`)).size;
      const file = await readNifti(path);
      const labels = await readNifti(join("data/samples", `${s.name}-labels.nii.gz`));
      const plane = file.dims[0] * file.dims[1];
      // Regenerating three slices (bottom, middle, top) is enough to catch a stale file.
      for (const k of [0, Math.floor(file.dims[2] / 2), file.dims[2] - 1]) {
        const v = generatePhantomSlice({ ...s, slice: k });
        expect([v.width, v.height]).toEqual([file.dims[0], file.dims[1]]);
        expect(Array.from(file.data.subarray(k * plane, (k + 1) * plane))).toEqual(Array.from(v.data));
        expect(Array.from(labels.data.subarray(k * plane, (k + 1) * plane))).toEqual(Array.from(v.labels));
      }
    }
    expect(bytes).toBeLessThan(5_000_000);
    const names = JSON.parse(readFileSync("data/samples/labels.json", "utf8")) as Record<string, string>;
    expect(names[String(L.liver)]).toBe("liver");
  });
});
