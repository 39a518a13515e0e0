/**
 * The simulated interactive segmentation end to end with the real engine and the analytic test
 * model (a click draws a disc of radius 16 px here: 64 in the 1024 frame / 4; later prompts
 * draw radius-24 discs around every positive point, cut by radius-12 holes at negative points).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import type { ProtocolObject } from "../kernel/analysis/objects.js";
import { runObject, type ObjectRun } from "../kernel/evaluation/protocol.js";
import { evaluateDataset, ProtocolResults } from "../kernel/evaluation/protocol-run.js";
import { extractObjects } from "../kernel/analysis/objects.js";
import { protocolReport } from "../kernel/display/figures-protocol.js";
import { generatePhantomSlice, PHANTOM_LABEL_NAMES } from "../kernel/phantom/index.js";
import { teachingView } from "../kernel/display/figures-teaching.js";
import type { DISPLAY } from "../kernel/display/plotly.js";
import type { RgbImage8 } from "../kernel/io/image.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";

const SIZE = 256;
const CX = 128;
const CY = 120;
const AX = 70;
const AY = 40;

/** A bright ellipse on a dark background, and its object (the ellipse's centre is its deepest point). */
function phantom(): { image: RgbImage8; object: ProtocolObject } {
  const gray = new Uint8Array(SIZE * SIZE * 3);
  const mask = new Uint8Array(SIZE * SIZE);
  let area = 0;
  let x0 = SIZE;
  let y0 = SIZE;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inside = ((x - CX) / AX) ** 2 + ((y - CY) / AY) ** 2 <= 1;
      const v = inside ? 200 : 40 + ((x * 7 + y * 3) % 11);
      gray.fill(v, 3 * (y * SIZE + x), 3 * (y * SIZE + x) + 3);
      if (!inside) continue;
      mask[y * SIZE + x] = 1;
      area++;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + 1);
      y1 = Math.max(y1, y + 1);
    }
  }
  return {
    image: { width: SIZE, height: SIZE, data: gray },
    object: { classId: 1, component: 0, width: SIZE, height: SIZE, mask, area, box: { x0, y0, x1, y1 }, center: { x: CX, y: CY } },
  };
}

let model: SamModel;
let embedding: Embedding;
const { image, object } = phantom();

beforeAll(async () => {
  model = await loadModel("models/analytic");
  embedding = await model.embed({ width: SIZE, height: SIZE, channels: 3, data: image.data });
});

afterAll(async () => {
  await model?.dispose();
});

describe("protocol with the analytic model", () => {
  it("raises Dice over the correction rounds of a point start", async () => {
    const runs: ObjectRun[] = [];
    for (let seed = 0; seed < 4; seed++) runs.push(await runObject(model, embedding, object, { start: "point", seed }));
    // Round 0: the single-click disc of radius 16 (804 px) inside the 8796 px ellipse.
    const disc = Math.PI * 16 * 16;
    const ellipse = Math.PI * AX * AY;
    for (const r of runs) {
      expect(r.rounds[0]!.dice).toBeGreaterThan(0.8 * ((2 * disc) / (disc + ellipse)));
      expect(r.rounds[0]!.dice).toBeLessThan(1.2 * ((2 * disc) / (disc + ellipse)));
      expect(r.rounds[0]!.token).toBe(2); // multimask: the best predicted IoU among tokens 1..3
      for (const round of r.rounds.slice(1)) expect(round.token).toBe(0);
    }
    const mean = (k: number) => runs.reduce((s, r) => s + r.rounds[k]!.dice, 0) / runs.length;
    if (process.env.MEDICOSAM_KEEP_TEST_OUTPUT) console.log("mean Dice per round", Array.from({ length: 8 }, (_, k) => mean(k).toFixed(3)).join(" "));
    expect(mean(7)).toBeGreaterThan(mean(0) + 0.3);
    expect(mean(4)).toBeGreaterThan(mean(1));
    expect(mean(7)).toBeGreaterThan(mean(4) - 0.02);
  });

  it("draws the teaching view of a run", async () => {
    const run = await runObject(model, embedding, object, { start: "point", seed: 3, keepMasks: true, corrections: 3 });
    const grid = teachingView(image, run, { target: object.mask, names: ["background", "ellipse"] });
    expect(grid.panels).toHaveLength(4);
    const r0 = run.rounds[0]!;
    expect(grid.panels[0]!.caption).toBe(
      `point start · Dice ${r0.dice.toFixed(3)}\nIoU ${r0.iou.toFixed(2)} · predicted ${r0.predictedIou.toFixed(2)}\nstart: one click, token 2`,
    );
    // The newest points are drawn: the start point's cross is green at the centre of panel 0.
    const p0 = grid.panels[0]!.image;
    const at = (img: RgbImage8, x: number, y: number) => Array.from(img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3));
    expect(at(p0, CX + 3, CY)).toEqual([0, 230, 0]);
    // The round-3 panel shows its newest negative point in red.
    const last = run.rounds[3]!.points.at(-1)!;
    expect(last.positive).toBe(false);
    expect(at(grid.panels[3]!.image, last.x, last.y)).toEqual([230, 0, 0]);
    const png = await grid.toPng();
    const meta = await sharp(png).metadata();
    expect(meta.width).toBeGreaterThan(4 * 240);
    const bundle = await grid[Symbol.for("Jupyter.display") as typeof DISPLAY]();
    expect(Object.keys(bundle).sort()).toEqual(["image/png", "text/html", "text/plain"]);
    expect(bundle["text/html"]).toContain("round 3 · Dice");
    if (process.env.MEDICOSAM_KEEP_TEST_OUTPUT) await writeFile(join(process.env.MEDICOSAM_KEEP_TEST_OUTPUT, "teaching.png"), png);
  });

  // On the phantom's small organs the analytic model's fixed radius-24 discs overshoot after the
  // first click, so Dice falls over the rounds here: this test checks the bookkeeping, not a trend.
  it("runs a dataset of phantom slices with both starts and reports like the paper", async () => {
    const slices = [10, 20].map((slice) => ({ slice, ...generatePhantomSlice({ seed: 5, modality: "ct", slice }) }));
    const items = slices.map((p) => ({
      name: `slice ${p.slice}`,
      image: { width: p.width, height: p.height, channels: 1, data: p.data },
      labels: { width: p.width, height: p.height, data: p.labels },
    }));
    const progress: string[] = [];
    const results = await evaluateDataset(model, items, { dataset: "phantom-ct", corrections: 3, seed: 1, onProgress: (n, name) => progress.push(`${n}:${name}`) });
    expect(progress).toEqual(["1:slice 10", "2:slice 20"]);
    const objectCount = slices.reduce((s, p) => s + extractObjects({ width: p.width, height: p.height, data: p.labels }).objects.length, 0);
    expect(objectCount).toBeGreaterThan(4);
    expect(results.objects).toHaveLength(objectCount * 2 * 4); // objects x starts x rounds
    expect(new Set(results.objects.map((r) => r.model))).toEqual(new Set(["analytic-test"]));
    const summary = results.summary();
    expect(summary.map((r) => `${r.start}${r.round}`)).toEqual(["box0", "box1", "box2", "box3", "point0", "point1", "point2", "point3"]);
    if (process.env.MEDICOSAM_KEEP_TEST_OUTPUT) console.log(results.toCsv("summary"));
    for (const r of summary) {
      expect(r.dice).toBeGreaterThan(0);
      expect(r.dice).toBeLessThanOrEqual(1);
    }
    expect(results.toCsv("summary").split("\n")[0]).toBe("model,start,round,dice,iou,datasets");
    expect(results.toCsv("objects").split("\n")).toHaveLength(results.objects.length + 2);
    const merged = ProtocolResults.merge(results, new ProtocolResults(results.objects.map((r) => ({ ...r, model: "copy" })), results.classes.map((r) => ({ ...r, model: "copy" }))));
    expect(merged.summary()).toHaveLength(16);
    const bundle = await protocolReport(merged)[Symbol.for("Jupyter.display") as typeof DISPLAY]();
    expect(bundle["text/plain"]).toContain("point");
    expect(bundle["text/html"]).toContain("<table");
    expect(JSON.parse(JSON.stringify(results)).summary).toHaveLength(8);
    expect(PHANTOM_LABEL_NAMES[1]).toBe("liver");
  }, 120_000);
});
