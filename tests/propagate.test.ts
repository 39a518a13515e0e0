/**
 * 3D propagation and the paper's 3D evaluation, end to end with the real engine (worker
 * encoder, onnxruntime decoder) on a phantom with known labels. The model is the analytic
 * test model made image-aware (tests/helpers/gated-model.ts: its masks are the prompted
 * region where the image is bright), so that a propagation can find where an object ends.
 * Expected values come from the phantom's labels, never from the code under test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VolumeEmbeddings } from "../kernel/cache/volume-embeddings.js";
import { writeLabelMap } from "../kernel/io/nifti-labels.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { readSliceOf } from "../kernel/io/volume-view.js";
import { orientationCode, type Affine, type Volume } from "../kernel/io/volume.js";
import { evaluate3d, evaluate3dGrid, stackLabels } from "../kernel/evaluation/evaluate3d.js";
import { extendBox, projectMask, PROJECTION_MODES, type ProjectionMode } from "../kernel/interactive/propagate-prompts.js";
import { paintLabels, propagate } from "../kernel/interactive/propagate.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { writeGatedModel } from "./helpers/gated-model.js";
import { makePhantom } from "./helpers/phantom3d.js";

const dir = mkdtempSync(join(tmpdir(), "propagate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// An LPS-stored phantom (as from DICOM), so that the axial view flips both in-plane axes.
const LPS: Affine = [
  [-0.8, 0, 0, 30],
  [0, -0.8, 0, 25],
  [0, 0, 2, -20],
  [0, 0, 0, 1],
];
const ph = makePhantom({
  dims: [64, 56, 24],
  objects: [
    { label: 1, center: [28, 28, 12], radii: [12, 10, 8], value: 60 },
    { label: 2, center: [52, 10, 12], radii: [5, 4, 5], value: 200 },
    { label: 3, center: [8, 48, 18], radii: [1.2, 1.2, 3], value: 120 }, // too small in its central slice
  ],
});
const volume: Volume = {
  dims: ph.dims,
  channels: 1,
  data: ph.image,
  spacing: [0.8, 0.8, 2],
  affine: LPS,
  affineSource: "sform",
  orientation: orientationCode(LPS),
  warnings: [],
  source: { format: "dicom", path: "phantom", files: 24, transferSyntax: "", transferSyntaxName: "", bitsAllocated: 32, signed: true, scaling: null, datatype: "float32" },
};

let model: SamModel;
let stack: VolumeEmbeddings;
const plane = 64 * 56;

/** Stack-order ground truth of one label, and its slice extent, from the phantom's labels. */
function truth(label: number) {
  const labels = stackLabels(ph.labels, ph.dims, stack.mapping);
  const masks = new Map<number, Uint8Array>();
  for (let z = 0; z < stack.depth; z++) {
    const m = Uint8Array.from({ length: plane }, (_, p) => (labels.data[z * plane + p] === label ? 1 : 0));
    if (m.some((v) => v)) masks.set(z, m);
  }
  const zs = [...masks.keys()];
  return { masks, zmin: Math.min(...zs), zmax: Math.max(...zs), labels };
}

function dice3d(pred: Map<number, Uint8Array>, gt: Map<number, Uint8Array>): number {
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let z = 0; z < stack.depth; z++) {
    const a = pred.get(z);
    const b = gt.get(z);
    for (let i = 0; i < plane; i++) {
      const x = a?.[i] ? 1 : 0;
      const y = b?.[i] ? 1 : 0;
      p += x;
      t += y;
      inter += x & y;
    }
  }
  return (2 * inter) / (p + t);
}

beforeAll(async () => {
  model = await loadModel(await writeGatedModel(join(dir, "gated")));
  stack = await VolumeEmbeddings.open(volume, model, { storeRoot: null, intensity: { mode: "per-volume" } });
});
afterAll(async () => {
  await model?.dispose();
});

describe("projection prompts", () => {
  it("box extension: fraction of the size per side, pixels from 1 up, clipped to the image", () => {
    const b = { x0: 10, y0: 20, x1: 30, y1: 30 };
    expect(extendBox(b, 0, 64, 56)).toEqual(b);
    expect(extendBox(b, 0.1, 64, 56)).toEqual({ x0: 8, y0: 19, x1: 32, y1: 31 });
    expect(extendBox(b, 3, 64, 56)).toEqual({ x0: 7, y0: 17, x1: 33, y1: 33 });
    expect(extendBox(b, 40, 64, 56)).toEqual({ x0: 0, y0: 0, x1: 64, y1: 56 });
  });

  it("each mode builds the prompt its name says, from a disc mask", () => {
    const w = 40;
    const h = 30;
    const disc = Uint8Array.from({ length: w * h }, (_, p) => ((p % w) - 15) ** 2 + (Math.floor(p / w) - 12) ** 2 <= 49 ? 1 : 0);
    const inside = (x: number, y: number) => disc[y * w + x] === 1;
    const single = projectMask(disc, w, h, "single_point", 0.05);
    expect(single).toEqual({ points: [{ x: 15, y: 12, positive: true }] });
    const pts = projectMask(disc, w, h, "points", 0.5)!.points!;
    expect(pts.filter((p) => p.positive).every((p) => inside(p.x, p.y))).toBe(true);
    expect(pts.filter((p) => !p.positive).every((p) => !inside(p.x, p.y))).toBe(true);
    expect(projectMask(disc, w, h, "box", 0)).toEqual({ box: { x0: 8, y0: 5, x1: 23, y1: 20 } });
    const m = projectMask(disc, w, h, "mask", 0)!;
    expect(m.box).toEqual({ x0: 8, y0: 5, x1: 23, y1: 20 });
    expect(m.mask).toMatchObject({ kind: "binary", width: w, height: h });
    const pm = projectMask(disc, w, h, "points_and_mask", 0.05)!;
    expect(pm.box).toBeUndefined();
    expect(pm.points!.length).toBeGreaterThan(0);
    expect(projectMask(new Uint8Array(w * h), w, h, "box", 0)).toBeUndefined();
  });
});

describe("propagation from the central slice", () => {
  it.each(PROJECTION_MODES)("%s: recovers the object with Dice > 0.9 and stops at its ends", async (projection: ProjectionMode) => {
    const gt = truth(1);
    const zc = Math.floor((gt.zmin + gt.zmax) / 2);
    const r = await propagate(stack, model, [{ z: zc, mask: gt.masks.get(zc)! }], { projection, iouThreshold: 0.5, boxExtension: 0.05 });
    const d = dice3d(r.masks, gt.masks);
    expect(d).toBeGreaterThan(0.9);
    // nothing outside the object's slices; each end reached within one slice of the true end
    const written = [...r.masks.keys()];
    expect(Math.min(...written)).toBeGreaterThanOrEqual(gt.zmin);
    expect(Math.max(...written)).toBeLessThanOrEqual(gt.zmax);
    expect(r.below.lastWritten).toBeLessThanOrEqual(gt.zmin + 1);
    expect(r.above.lastWritten).toBeGreaterThanOrEqual(gt.zmax - 1);
    expect(["iou", "empty"]).toContain(r.below.reason);
    expect(["iou", "empty"]).toContain(r.above.reason);
    expect(r.slices.filter((s) => !s.written).length).toBe(2); // exactly one refused slice per direction
  });

  it("the IoU stop rule: a strict threshold stops at the first slice whose mask changes more", async () => {
    const gt = truth(1);
    const zc = 12;
    const r = await propagate(stack, model, [{ z: zc, mask: gt.masks.get(zc)! }], { projection: "box", iouThreshold: 0.999, boxExtension: 0.05 });
    expect([...r.masks.keys()]).toEqual([zc]);
    expect(r.below).toMatchObject({ lastWritten: zc, reason: "iou", stoppedAt: zc - 1 });
    expect(r.above).toMatchObject({ lastWritten: zc, reason: "iou", stoppedAt: zc + 1 });
    expect(r.slices.every((s) => !s.written && s.iouWithPrevious < 0.999)).toBe(true);
    // the refused slices' IoU is the one computed from the two masks
    expect(r.slices[0]!.iouWithPrevious).toBeGreaterThan(0.5);
  });

  it("stop annotations and stop flags end a direction before the marked slice", async () => {
    const gt = truth(1);
    const zc = 12;
    const r = await propagate(stack, model, [{ z: zc, mask: gt.masks.get(zc)! }], { projection: "mask", stops: [zc + 3], stopBelow: true });
    expect(r.above).toMatchObject({ lastWritten: zc + 2, reason: "stop-annotation", stoppedAt: zc + 3 });
    expect(r.below).toMatchObject({ lastWritten: zc, reason: "stop-flag" });
    expect([...r.masks.keys()].sort((a, b) => a - b)).toEqual([zc, zc + 1, zc + 2]);
  });

  it("fills between two annotated slices from both ends toward the middle, without the IoU test", async () => {
    const gt = truth(1);
    // box mode grows the mask toward the middle slice, so consecutive masks differ (IoU < 0.999)
    const r = await propagate(stack, model, [8, 16].map((z) => ({ z, mask: gt.masks.get(z)! })), { projection: "box", boxExtension: 0.1, iouThreshold: 0.999 });
    const filled = r.slices.filter((s) => s.kind === "filled");
    expect(filled.map((s) => s.z).sort((a, b) => a - b)).toEqual([9, 10, 11, 12, 13, 14, 15]);
    expect(filled.every((s) => s.written)).toBe(true);
    // middle = floor(8 + 8/2) = 12: slices up to 12 come from below, the rest from above
    expect(Object.fromEntries(filled.map((s) => [s.z, s.from]))).toEqual({ 9: 8, 10: 9, 11: 10, 12: 11, 13: 14, 14: 15, 15: 16 });
    expect(filled.some((s) => s.iouWithPrevious < 0.999)).toBe(true); // the test would have refused these
    expect(r.gaps).toEqual([{ from: 8, to: 16, filled: 7 }]);
    // outside the annotations the IoU test still applies
    expect(r.below.reason).toBe("iou");
    expect(r.above.reason).toBe("iou");
    const one = await propagate(stack, model, [10, 12].map((z) => ({ z, mask: gt.masks.get(z)! })), { projection: "mask", stopBelow: true, stopAbove: true });
    expect(one.slices).toHaveLength(1);
    expect(one.slices[0]).toMatchObject({ z: 11, from: 10, kind: "filled", written: true });
    const zUnion = Uint8Array.from(gt.masks.get(10)!, (v, p) => v | gt.masks.get(12)![p]!);
    const m11 = one.masks.get(11)!;
    expect(m11.every((v, p) => !v || zUnion[p])).toBe(true); // the echoed union, gated by the image
    // a stop annotation between two annotated slices is ignored, as micro_sam's segment_slices_with_prompts does
    const between = await propagate(stack, model, [8, 16].map((z) => ({ z, mask: gt.masks.get(z)! })), { projection: "mask", stops: [12], stopBelow: true, stopAbove: true, iouThreshold: 0.3 });
    expect(between.masks.has(12)).toBe(true);
    expect(between.gaps).toEqual([{ from: 8, to: 16, filled: 7 }]);
  });

  it("paints into a voxel label map that round-trips through NIfTI", async () => {
    const gt = truth(1);
    const r = await propagate(stack, model, [{ z: 12, mask: gt.masks.get(12)! }], { projection: "mask" });
    const labels = new Uint8Array(ph.labels.length);
    paintLabels(r, labels, ph.dims, stack.mapping, 1);
    for (const [z, m] of r.masks) expect(Array.from(readSliceOf(labels, ph.dims, stack.mapping, z))).toEqual(Array.from(m));
    let inter = 0;
    let p = 0;
    let t = 0;
    for (let i = 0; i < labels.length; i++) {
      const a = labels[i] ? 1 : 0;
      const b = ph.labels[i] === 1 ? 1 : 0;
      inter += a & b;
      p += a;
      t += b;
    }
    expect((2 * inter) / (p + t)).toBeGreaterThan(0.9);
    const out = join(dir, "labels.nii.gz");
    await writeLabelMap(out, labels, volume);
    const back = await readNifti(out);
    expect(Array.from(back.data)).toEqual(Array.from(labels));
    expect(back.orientation).toBe("LPS");
  });
});

describe("the paper's 3D evaluation", () => {
  it("box and point prompts in each object's central slice; tiny objects skipped", async () => {
    const labels = truth(1).labels;
    for (const prompt of ["box", "points"] as const) {
      const r = await evaluate3d(stack, model, labels, { prompt, seed: 3, projection: "mask", iouThreshold: 0.5, boxExtension: 0.05 });
      const o1 = r.objects.find((o) => o.label === 1)!;
      const o2 = r.objects.find((o) => o.label === 2)!;
      const o3 = r.objects.find((o) => o.label === 3)!;
      expect(o1.centralSlice).toBe(Math.floor((truth(1).zmin + truth(1).zmax) / 2));
      expect(o1.dice).toBeGreaterThan(0.9);
      expect(o2.dice).toBeGreaterThan(0.8);
      expect(o3.skipped).toMatch(/only \d pixels in the central slice/);
      expect(o3.dice).toBeUndefined();
      expect(r.meanDice).toBeCloseTo((o1.dice! + o2.dice!) / 2, 12);
      if (prompt === "points") {
        const [pos, neg] = o1.prompt!.points!;
        const central = truth(1).masks.get(o1.centralSlice)!;
        expect(central[pos!.y * 64 + pos!.x]).toBe(1);
        expect(central[neg!.y * 64 + neg!.x]).toBe(0);
        const again = await evaluate3d(stack, model, labels, { prompt, seed: 3, objects: [1] });
        expect(again.objects[0]!.prompt).toEqual(o1.prompt); // seeded
      } else expect(o1.prompt!.box).toBeDefined();
    }
  });

  it("the grid search reports the per-object best (an upper bound) next to the best single setting", async () => {
    const labels = truth(1).labels;
    const g = await evaluate3dGrid(stack, model, labels, {
      prompt: "box",
      objects: [1, 2],
      grid: { projections: ["mask", "single_point"], iouThresholds: [0.5, 0.9], boxExtensions: [0, 0.1] },
    });
    expect(g.runs).toHaveLength(8);
    for (const b of g.bestPerObject) {
      const all = g.runs.map((r) => r.objects.find((o) => o.label === b.label)!.dice!);
      expect(b.dice).toBe(Math.max(...all));
    }
    expect(g.upperBoundMeanDice).toBeGreaterThanOrEqual(g.bestSettingMeanDice);
    expect(g.bestSettingMeanDice).toBe(Math.max(...g.runs.map((r) => r.meanDice)));
    expect(g.note).toMatch(/upper bound/);
  });
});
