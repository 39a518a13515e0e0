/**
 * segment_anything's generator rules end to end with the analytic model (models/analytic: a
 * click gives discs of radii 32/64/128 in the 1024 frame for tokens 1..3, with predicted IoU
 * 0.6/0.9/0.7), where every mask is known: each record is compared with what the engine's
 * segment() gives for the same point (token 2 = micro_sam's choice for one click), so the
 * thresholds, the stability score on full-resolution logits, NMS order and ties, the crops
 * and the uncrop are pinned without a hand-written copy of the generator.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeAnalyticModel } from "../models/analytic/generate.js";
import { AutomaticMaskGenerator, generateMasks, type MaskRecord } from "../kernel/automatic/generator.js";
import { Upscaler } from "../kernel/automatic/full-resolution.js";
import { PointDecoder } from "../kernel/automatic/point-decoder.js";
import { stabilityScore } from "../kernel/automatic/stability.js";
import { generateMasksForVolume } from "../kernel/automatic/volume.js";
import { openVolume } from "../kernel/io/volume-open.js";
import type { Image2D } from "../kernel/io/image.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import type { Embedding } from "../kernel/sam/embedding.js";

let model: SamModel;
/** 256x256 gray gradient: the analytic decoder ignores the pixels, the encoder does not care. */
function gradient(width: number, height: number): Image2D {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = (x + 2 * y) % 256;
  return { width, height, channels: 1, data };
}
const image = gradient(256, 256);
let embedding: Embedding;

beforeAll(async () => {
  model = await loadModel("models/analytic");
  embedding = await model.embed(image);
});
afterAll(async () => {
  await model?.dispose();
});

/** The engine's answer for one click (token 2 for the analytic model). */
async function segmentAt(emb: Embedding, x: number, y: number) {
  const r = await model.segment(emb, { points: [{ x, y, positive: true }] });
  expect(r.token).toBe(2);
  return r;
}

function sum(a: Uint8Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

describe("the generator with the analytic model", () => {
  it("finds one disc per grid point with SAM's record fields, equal to segment() at that point", async () => {
    const records = await generateMasks(model, embedding, { pointsPerSide: 4, stabilityScoreThresh: 0 });
    // 16 points; only token 2 (IoU 0.9) passes pred_iou_thresh 0.88; discs of radius 16 px do not overlap.
    expect(records).toHaveLength(16);
    const expectedPoints = [32, 96, 160, 224].flatMap((y) => [32, 96, 160, 224].map((x) => [x, y]));
    expect(records.map((r) => r.point_coords[0])).toEqual(expectedPoints); // equal scores: grid order
    for (const r of records) {
      const [x, y] = r.point_coords[0];
      const ref = await segmentAt(embedding, x, y);
      expect(r.segmentation).toEqual(ref.mask);
      expect(r.size).toEqual([256, 256]);
      expect(r.area).toBe(sum(ref.mask));
      expect(r.area).toBeGreaterThan(Math.PI * 15 * 15);
      expect(r.area).toBeLessThan(Math.PI * 17 * 17);
      expect(r.predicted_iou).toBe(Math.fround(0.9));
      expect(r.stability_score).toBe(stabilityScore(ref.logits, 0, 1));
      expect(r.crop_box).toEqual([0, 0, 256, 256]);
      // bbox XYWH of the inclusive pixel box
      const xs: number[] = [];
      const ys: number[] = [];
      ref.mask.forEach((v, i) => {
        if (v) {
          xs.push(i % 256);
          ys.push(Math.floor(i / 256));
        }
      });
      expect(r.bbox).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)]);
    }
  });

  it("keeps stability >= the threshold exactly (float32), computed on the full-resolution logits at the offset", async () => {
    const ref = await segmentAt(embedding, 128, 128);
    const grid = { pointGrids: [[{ x: 0.5, y: 0.5 }]] };
    for (const offset of [1, 4]) {
      const s = stabilityScore(ref.logits, 0, offset);
      expect(s).toBeLessThan(0.99);
      const at = await generateMasks(model, embedding, { ...grid, stabilityScoreOffset: offset, stabilityScoreThresh: s });
      expect(at.map((r) => r.stability_score)).toEqual([s]);
      const above = await generateMasks(model, embedding, { ...grid, stabilityScoreOffset: offset, stabilityScoreThresh: s + 1e-6 });
      expect(above).toEqual([]);
    }
  });

  it("filters by predicted IoU > threshold and orders the output by predicted IoU (NMS order)", async () => {
    const grid = { pointGrids: [[{ x: 0.5, y: 0.5 }]], stabilityScoreThresh: 0 };
    const all = await generateMasks(model, embedding, { ...grid, predIouThresh: 0.5 });
    // tokens 1, 2, 3 in decoder order have IoU 0.6, 0.9, 0.7 and radii 8, 16, 32 px
    expect(all.map((r) => r.predicted_iou)).toEqual([0.9, 0.7, 0.6].map(Math.fround));
    expect(all[0]!.area).toBeLessThan(all[1]!.area);
    expect(all[2]!.area).toBeLessThan(all[0]!.area);
    expect((await generateMasks(model, embedding, { ...grid, predIouThresh: 0.7 })).map((r) => r.predicted_iou)).toEqual([Math.fround(0.9)]); // 0.7 is not > 0.7
    // box NMS 0.2: the 0.9 mask removes both (box IoU 0.25 each), though token 1 came first
    const nms = await generateMasks(model, embedding, { ...grid, predIouThresh: 0.5, boxNmsThresh: 0.2 });
    expect(nms.map((r) => r.predicted_iou)).toEqual([Math.fround(0.9)]);
  });

  it("on equal predicted IoU, NMS keeps the earlier grid point", async () => {
    const records = await generateMasks(model, embedding, {
      pointGrids: [[{ x: 0.51, y: 0.5 }, { x: 0.5, y: 0.5 }]],
      stabilityScoreThresh: 0,
    });
    expect(records.map((r) => r.point_coords[0])).toEqual([[0.51 * 256, 128]]);
  });

  it("crop layer 1: crops embedded on their own, masks uncropped, duplicates between crops resolved toward smaller crops", async () => {
    // 256x256, overlap int(512/1500 * 256) = 87, crop side ceil((87 + 256) / 2) = 172, x0/y0 = 0, 85:
    // crops [0,0,172,172], [0,85,172,256], [85,0,256,172], [85,85,256,256]
    const f = 64 / 172;
    const records = await generateMasks(model, image, {
      cropNLayers: 1,
      pointGrids: [[{ x: 0.25, y: 0.25 }], [{ x: f, y: f }]],
      stabilityScoreThresh: 0,
      cropNmsThresh: 0.3,
    });
    // The full image's disc at (64,64) (radius 16) overlaps the 172-px crop's disc there (radius
    // 10.75; box IoU ~0.45 > 0.3) and loses to it; output order: 1/crop area, largest score first.
    expect(records.map((r) => r.crop_box)).toEqual([
      [85, 85, 171, 171],
      [0, 85, 172, 171],
      [85, 0, 171, 172],
      [0, 0, 172, 172],
    ]);
    // grid points scale with each crop's own width and height, then move by its corner
    for (const r of records) {
      const [x0, y0, w, h] = r.crop_box;
      expect(r.point_coords[0][0]).toBeCloseTo(x0 + f * w, 9);
      expect(r.point_coords[0][1]).toBeCloseTo(y0 + f * h, 9);
    }
    // The uncrop: the crop's own mask, zero-padded into the image at the crop's corner.
    const crop = records[1]!; // [0,85,172,256]
    const rgbCrop: Image2D = { width: 172, height: 171, channels: 1, data: new Uint8Array(172 * 171) };
    for (let y = 0; y < 171; y++) for (let x = 0; x < 172; x++) (rgbCrop.data as Uint8Array)[y * 172 + x] = image.data[(85 + y) * 256 + x]!;
    const cropEmb = await model.embed(rgbCrop, { intensity: { mode: "none" } });
    const ref = await segmentAt(cropEmb, crop.point_coords[0][0], crop.point_coords[0][1] - 85);
    const padded = new Uint8Array(256 * 256);
    for (let y = 0; y < 171; y++) padded.set(ref.mask.subarray(y * 172, (y + 1) * 172), (85 + y) * 256);
    expect(crop.segmentation).toEqual(padded);
    expect(crop.stability_score).toBe(stabilityScore(ref.logits, 0, 1));
    // Without the crop NMS's pull, the full image's disc is there too, last (largest crop).
    const loose = await generateMasks(model, image, { cropNLayers: 1, pointGrids: [[{ x: 0.25, y: 0.25 }], [{ x: f, y: f }]], stabilityScoreThresh: 0 });
    expect(loose).toHaveLength(5);
    expect(loose[4]!.crop_box).toEqual([0, 0, 256, 256]);
  });

  it("drops crop masks within 20 px of a crop edge inside the image", async () => {
    // In crop [0,0,172,172] a point at 150/172 gives a disc reaching x ~ 161 > 172 - 20.
    const records = await generateMasks(model, image, {
      cropNLayers: 1,
      pointGrids: [[], [{ x: 150 / 172, y: 0.3 }]],
      stabilityScoreThresh: 0,
    });
    const fromFirst = records.filter((r) => r.crop_box[0] === 0 && r.crop_box[1] === 0);
    expect(fromFirst).toEqual([]);
    // crops whose right edge is the image's keep theirs: x0 85 + 150 = 235, disc up to ~246, image edge 256
    expect(records.some((r) => r.crop_box[0] === 85 && r.crop_box[1] === 0)).toBe(true);
  });

  it("gives the same records from the image as from its embedding, and from the decoder's own full-resolution output", async () => {
    const options = { pointsPerSide: 4, predIouThresh: 0.5, stabilityScoreThresh: 0.5 };
    const fromEmbedding = await generateMasks(model, embedding, options);
    expect(fromEmbedding.length).toBeGreaterThan(10);
    expect(await generateMasks(model, image, options)).toEqual(fromEmbedding);
    const reference = new AutomaticMaskGenerator(model, options, { fullResolutionInDecoder: true });
    try {
      expect(await reference.generate(embedding)).toEqual(fromEmbedding);
    } finally {
      await reference.dispose();
    }
  }, 180_000);

  it("reports progress per batch and stops on abort", async () => {
    const seen: [number, number][] = [];
    const g = new AutomaticMaskGenerator(model, { pointsPerSide: 4, pointsPerBatch: 5, onProgress: (d, t) => seen.push([d, t]) });
    try {
      await g.generate(embedding);
      expect(seen).toEqual([[5, 16], [10, 16], [15, 16], [16, 16]]);
      const controller = new AbortController();
      const run = g.generate(embedding, { signal: controller.signal, onProgress: () => controller.abort() });
      await expect(run).rejects.toThrow(/abort/i);
    } finally {
      await g.dispose();
    }
  });

  it("refuses crops from an embedding (they need the image)", async () => {
    await expect(generateMasks(model, embedding, { cropNLayers: 1 })).rejects.toThrow(/pass the image/);
  });
});

describe("a single-mask decoder export (return_single_mask=True)", () => {
  it("uses its one mask (the graph's own choice) for every point", async () => {
    const dir = await mkdtemp(join(tmpdir(), "medicosam-single-"));
    try {
      await writeAnalyticModel(dir, { numMasks: 1 });
      const single = await loadModel(dir);
      try {
        const records = await generateMasks(single, await single.embed(image), { pointsPerSide: 2, stabilityScoreThresh: 0 });
        // token 0 of the analytic model: radius 96 in the 1024 frame (24 px here), IoU 0.95
        expect(records.map((r) => r.predicted_iou)).toEqual(Array(4).fill(Math.fround(0.95)));
        for (const r of records) {
          expect(r.area).toBeGreaterThan(Math.PI * 23 * 23);
          expect(r.area).toBeLessThan(Math.PI * 25 * 25);
        }
      } finally {
        await single.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the full-resolution step", () => {
  it("reproduces the decoder's own masks output: same thresholded pixels and stability counts", async () => {
    for (const dir of ["models/analytic", "models/demo"]) {
      const m = dir === "models/analytic" ? model : await loadModel(dir);
      try {
        const decoder = await PointDecoder.load(m.decoderPath, true);
        const upscaler = await Upscaler.create();
        try {
          for (const size of [{ width: 256, height: 224 }, { width: 300, height: 517 }]) {
            const emb = await m.embed(gradient(size.width, size.height));
            const out = await decoder.decode(emb, { x: size.width * 0.4, y: size.height * 0.6 });
            const n = size.width * size.height;
            const thresholds = { mask: 0, high: 1, low: -1 };
            const full = await upscaler.run(out.lowRes, size, thresholds);
            expect(full.masks).toHaveLength(3);
            for (let t = 0; t < 3; t++) {
              const logits = out.masks!.subarray(t * n, (t + 1) * n);
              const expected = Uint8Array.from(logits, (v) => (v > 0 ? 1 : 0));
              expect(full.masks[t]).toEqual(expected);
              expect(full.aboveHigh[t]).toBe(logits.filter((v) => v > 1).length);
              expect(full.aboveLow[t]).toBe(logits.filter((v) => v > -1).length);
            }
          }
        } finally {
          await decoder.release();
          await upscaler.release();
        }
      } finally {
        if (m !== model) await m.dispose();
      }
    }
  }, 120_000);
});

describe("volumes", () => {
  it("runs slice by slice with progress", async () => {
    const ct = await openVolume("data/samples/ct-phantom.nii.gz");
    const progress: number[][] = [];
    const out = await generateMasksForVolume(model, ct, {
      slices: [3, 20],
      pointsPerSide: 2,
      stabilityScoreThresh: 0,
      onProgress: (done, total, slice) => progress.push([done, total, slice]),
    });
    expect(out.map((s) => s.slice)).toEqual([3, 20]);
    expect(progress).toEqual([[1, 2, 3], [2, 2, 20]]);
    for (const s of out) {
      expect(s.masks).toHaveLength(4);
      expect((s.masks[0] as MaskRecord).size).toEqual([224, 256]);
    }
    const controller = new AbortController();
    controller.abort();
    await expect(generateMasksForVolume(model, ct, { pointsPerSide: 2, signal: controller.signal })).rejects.toThrow(/abort/i);
  });
});
