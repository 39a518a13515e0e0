/**
 * The demo model (models/demo, not MedicoSAM) through segment_anything's generator on a slice
 * of the shipped CT sample (data/samples/ct-phantom.nii.gz, axial slice 21: liver, spleen,
 * aorta, spine, stomach and a liver lesion): each organ must be one of the proposals with
 * IoU >= 0.8 (the issue's bar). Options: SAM's, except predIouThresh 0.5 and
 * stabilityScoreThresh 0.8, because the demo model's IoU head never predicts above ~0.8 (SAM's
 * 0.88 keeps nothing). The lesion (111 px) is reported, not required: it is no organ, and the
 * demo model loses small structures (models/demo/TRAINING.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutomaticMaskGenerator, generateMasks } from "../kernel/automatic/generator.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { extractSlice, viewMapping } from "../kernel/io/volume-view.js";
import type { Image2D } from "../kernel/io/image.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import type { Embedding } from "../kernel/sam/embedding.js";

const SLICE = 21;
const ORGANS: Record<number, string> = { 1: "liver", 2: "spleen", 4: "aorta", 5: "spine", 6: "stomach" };
const REPORTED_ONLY: Record<number, string> = { 7: "lesion" };
const DEMO_OPTIONS = { predIouThresh: 0.5, stabilityScoreThresh: 0.8 } as const;

let model: SamModel;
let image: Image2D;
let labels: Uint8Array;
let embedding: Embedding;

beforeAll(async () => {
  model = await loadModel("models/demo");
  const ct = await openVolume("data/samples/ct-phantom.nii.gz");
  const lab = await openVolume("data/samples/ct-phantom-labels.nii.gz");
  image = extractSlice(ct, viewMapping(ct, "axial"), SLICE);
  labels = extractSlice(lab, viewMapping(lab, "axial"), SLICE).data as Uint8Array;
  embedding = await model.embed(image);
});
afterAll(async () => {
  await model?.dispose();
});

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union ? inter / union : 0;
}

describe("demo model, automatic masks on the CT sample", () => {
  it("finds every organ of the slice as one of its masks with IoU >= 0.8", async () => {
    const records = await generateMasks(model, embedding, DEMO_OPTIONS);
    expect(records.length).toBeGreaterThan(5);
    const best: Record<string, number> = {};
    for (const [id, name] of Object.entries({ ...ORGANS, ...REPORTED_ONLY })) {
      const truth = Uint8Array.from(labels, (v) => (v === Number(id) ? 1 : 0));
      expect(truth.some((v) => v)).toBe(true); // the organ is on this slice
      best[name] = Math.max(...records.map((r) => iou(r.segmentation, truth)));
    }
    console.log(`demo model, automatic masks on CT slice ${SLICE}: ${records.length} masks; best IoU per structure: ${Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}`);
    for (const name of Object.values(ORGANS)) expect(best[name], name).toBeGreaterThanOrEqual(0.8);
  }, 600_000);

  it("gives the same records when every mask comes at full resolution from the decoder itself", async () => {
    const options = { ...DEMO_OPTIONS, pointsPerSide: 8 };
    const shipped = await generateMasks(model, embedding, options);
    expect(shipped.length).toBeGreaterThan(0);
    const reference = new AutomaticMaskGenerator(model, options, { fullResolutionInDecoder: true });
    try {
      expect(await reference.generate(embedding)).toEqual(shipped);
    } finally {
      await reference.dispose();
    }
  }, 300_000);
});
