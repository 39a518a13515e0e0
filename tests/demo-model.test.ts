/**
 * The shipped demo model (models/demo): its files are the ones model.json names (CI never
 * trains; it checks these checksums), it passes the engine's contract checks, it says what
 * it is, and it segments held-out phantoms through the engine. Seeds 500000+ were never used
 * in training (100000-199999), validation (300000+) or the TRAINING.md table (400000+).
 *
 * Issue #17 asks for box Dice >= 0.92, one click >= 0.85, after 3 correction rounds >= 0.92 on
 * held-out phantoms and on a family of images training never used, and 3D propagation >= 0.85.
 * The shipped model (step 8) meets box and click on CT phantoms; where it falls short
 * (TRAINING.md says by how much), the test holds it to a floor a little under what it reaches,
 * so that a regression in the engine or the files still fails here, and names the bar it misses.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { extractObjects } from "../kernel/analysis/objects.js";
import { generatePhantomSlice, PHANTOM_LABELS } from "../kernel/phantom/index.js";
import { encodePrompt } from "../kernel/sam/prompt-encoding.js";
import { DEMO_NOTICE } from "../models/demo/manifest.js";
import { evaluate2d, evaluate3dVolumes } from "../models/demo/quality.js";
import { evaluateShapesAndPhantoms } from "../models/demo/evaluate-shapes.js";

const DIR = "models/demo";
const manifest = JSON.parse(readFileSync(`${DIR}/model.json`, "utf8"));
let model: SamModel;

beforeAll(async () => {
  model = await loadModel(DIR);
});
afterAll(async () => {
  await model?.dispose();
});

describe("demo model files", () => {
  it("ships ONNX files whose sha256 match model.json", () => {
    for (const part of ["encoder", "decoder"] as const) {
      const bytes = readFileSync(`${DIR}/${manifest[part].file}`);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(manifest[part].sha256);
      expect(bytes.length).toBeLessThan(8_000_000); // "a few MB"
    }
  });

  it("says it is the demo model, not MedicoSAM, and how it preprocesses", () => {
    expect(model.name).toBe("demo");
    expect(model.notice).toBe(DEMO_NOTICE);
    expect(model.notice).toMatch(/not MedicoSAM/);
    expect(model.numMasks).toBe(4);
    expect(manifest.preprocessing.intensity).toEqual({ mode: "minmax" });
    expect(manifest.source).toMatch(/train\.py/);
  });
});

/** Issue #17's targets (issue #7's were box 0.90, click 0.80, corrections 0.92, 3D 0.85). */
const BAR = { box: 0.92, click: 0.85, corrected: 0.92, propagation: 0.85 } as const;
/**
 * Floors where the shipped model (step 8) is short of a bar: a little under what it reaches, so
 * that noise does not fail them but a broken engine or model file does. On these seeds: CT
 * click + 3 0.931 (above the bar here, but 0.904 on TRAINING.md's 173 held-out objects, so the
 * bar is not claimed), propagation 0.799, MR box 0.878 and click 0.803 (one MR volume, a small
 * sample: TRAINING.md has 0.902 / 0.882 on four); independent family on its first 12 scenes
 * (63 objects) box 0.869, click 0.759, click + 3 0.868 (TRAINING.md: 0.806 / 0.706 / 0.824 on 60).
 */
const FLOOR = { corrected: 0.88, propagation: 0.75, mrBox: 0.83, mrClick: 0.75, independentBox: 0.82, independentClick: 0.7, independentCorrected: 0.82 } as const;

describe("demo model quality on held-out phantoms", () => {
  it(`meets the bars for a box (${BAR.box}) and a click (${BAR.click}) on CT; corrections raise Dice (bar ${BAR.corrected} not met on TRAINING.md's table: floor ${FLOOR.corrected})`, async () => {
    const s = await evaluate2d(model, {
      seeds: [500001, 500002, 500003],
      modality: "ct",
      slicesPerVolume: 2,
      corrections: 3,
      boxCorrections: false,
      width: 176,
      height: 144,
    });
    console.log(`demo model, CT 2D, ${s.objects} objects: box ${s.box.toFixed(3)}, click ${s.point.toFixed(3)}, click + 3 corrections ${s.pointCorrections[2]!.toFixed(3)}`);
    expect(s.objects).toBeGreaterThan(25);
    expect(s.box).toBeGreaterThanOrEqual(BAR.box);
    expect(s.point).toBeGreaterThanOrEqual(BAR.click);
    expect(s.pointCorrections[2]!).toBeGreaterThanOrEqual(FLOOR.corrected);
    expect(s.pointCorrections[2]!).toBeGreaterThan(s.point);
  }, 120_000);

  it(`segments MR slices too (floors: box ${FLOOR.mrBox}, click ${FLOOR.mrClick})`, async () => {
    const s = await evaluate2d(model, { seeds: [500051], modality: "mr", slicesPerVolume: 2, corrections: 0, width: 160, height: 128 });
    console.log(`demo model, MR 2D, ${s.objects} objects: box ${s.box.toFixed(3)}, click ${s.point.toFixed(3)}`);
    expect(s.objects).toBeGreaterThan(8);
    expect(s.box).toBeGreaterThanOrEqual(FLOOR.mrBox);
    expect(s.point).toBeGreaterThanOrEqual(FLOOR.mrClick);
  }, 120_000);

  it(`propagates from the central slice through a CT volume (bar ${BAR.propagation} not met: floor ${FLOOR.propagation})`, async () => {
    const s = await evaluate3dVolumes(model, { seeds: [500101], modality: "ct", width: 160, height: 128, depth: 20 });
    console.log(`demo model, CT 3D, ${s.objects} objects: Dice ${s.dice.toFixed(3)}`);
    expect(s.objects).toBeGreaterThan(5);
    expect(s.dice).toBeGreaterThanOrEqual(FLOOR.propagation);
  }, 120_000);
});

describe("demo model quality on the independent family (images of a generator training never used)", () => {
  it(`box, click and click + 3 (bars ${BAR.box} / ${BAR.click} / ${BAR.corrected} not met: floors ${FLOOR.independentBox} / ${FLOOR.independentClick} / ${FLOOR.independentCorrected})`, async () => {
    const run = await evaluateShapesAndPhantoms(model, 12, false);
    const mean = (f: (r: (typeof run.rows)[number]) => number) => run.rows.reduce((a, r) => a + f(r), 0) / run.rows.length;
    const [box, click, corrected] = [mean((r) => r.box), mean((r) => r.point), mean((r) => r.corrections[2]!)];
    console.log(`demo model, independent family, ${run.rows.length} objects: box ${box.toFixed(3)}, click ${click.toFixed(3)}, click + 3 ${corrected.toFixed(3)}`);
    expect(run.rows.length).toBeGreaterThan(40);
    expect(box).toBeGreaterThanOrEqual(FLOOR.independentBox);
    expect(click).toBeGreaterThanOrEqual(FLOOR.independentClick);
    expect(corrected).toBeGreaterThanOrEqual(FLOOR.independentCorrected);
    expect(corrected).toBeGreaterThan(click);
  }, 180_000);
});

describe("demo model prompts", () => {
  const slice = generatePhantomSlice({ seed: 500201, modality: "ct", width: 192, height: 160, depth: 24, slice: 10 });
  const { objects } = extractObjects({ width: slice.width, height: slice.height, data: slice.labels });

  it("segments the object under the click: two clicks, two organs", async () => {
    const e = await model.embed(slice);
    const big = objects.filter((o) => o.area > 150).slice(0, 2);
    expect(big.length).toBe(2);
    const masks = [];
    for (const o of big) {
      const r = await model.segment(e, { points: [{ x: o.center.x, y: o.center.y, positive: true }] });
      let inside = 0;
      let area = 0;
      for (let i = 0; i < r.mask.length; i++) {
        area += r.mask[i]!;
        if (r.mask[i] && o.mask[i]) inside++;
      }
      expect(inside / area).toBeGreaterThan(0.8);
      masks.push(r.mask);
    }
    let overlap = 0;
    for (let i = 0; i < masks[0]!.length; i++) if (masks[0]![i] && masks[1]![i]) overlap++;
    expect(overlap).toBe(0);
  });

  it("returns genuinely different multimask outputs: the object, its class, the body", async () => {
    // All four tokens straight from the decoder file (the engine returns only the chosen one).
    const e = await model.embed(slice);
    const target = objects.find((o) => o.classId === PHANTOM_LABELS.kidney) ?? objects[0]!;
    const session = await ort.InferenceSession.create(`${DIR}/decoder.onnx`);
    const t = encodePrompt({ points: [{ x: target.center.x, y: target.center.y, positive: true }] }, e.originalSize, e.resizedSize);
    const out = await session.run({
      image_embeddings: new ort.Tensor("float32", e.data, [1, 256, 64, 64]),
      point_coords: new ort.Tensor("float32", t.coords, [1, t.count, 2]),
      point_labels: new ort.Tensor("float32", t.labels, [1, t.count]),
      mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
      has_mask_input: new ort.Tensor("float32", new Float32Array([0]), [1]),
      orig_im_size: new ort.Tensor("float32", new Float32Array([slice.height, slice.width]), [2]),
    });
    await session.release();
    const masks = out["masks"]!.data as Float32Array;
    const n = slice.width * slice.height;
    const dice = (token: number, truth: (i: number) => boolean) => {
      let inter = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const p = masks[token * n + i]! > 0;
        const q = truth(i);
        if (p && q) inter++;
        sum += (p ? 1 : 0) + (q ? 1 : 0);
      }
      return (2 * inter) / Math.max(sum, 1);
    };
    const object = dice(1, (i) => target.mask[i] === 1);
    const cls = dice(2, (i) => slice.labels[i] === target.classId);
    const body = dice(3, (i) => slice.body[i] === 1);
    console.log(`multimask tokens: object ${object.toFixed(3)}, class ${cls.toFixed(3)}, body ${body.toFixed(3)}`);
    expect(object).toBeGreaterThan(0.8);
    expect(cls).toBeGreaterThan(0.7);
    expect(body).toBeGreaterThan(0.8);
    // The IoU head ranks the object first among tokens 1..3, so micro_sam's rule picks it.
    const ious = out["iou_predictions"]!.data as Float32Array;
    expect(ious[1]!).toBeGreaterThan(ious[3]!);
  });
});
