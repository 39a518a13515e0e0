/**
 * `medicosam automatic` as a user runs it (the compiled CLI in a child process) with the
 * analytic model: the files and their layout as the issue fixes them (masks.json = SAM's
 * records with `uncompressed_rle` segmentations, labels.png 16-bit), decoded here with
 * segment_anything's `rle_to_mask` rule and compared with the library's records.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateMasks } from "../kernel/automatic/generator.js";
import { readImage } from "../kernel/io/read-image.js";
import { loadModel } from "../kernel/sam/model.js";

const CLI = "bin/medicosam.js";
let out: string;

function medicosam(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** segment_anything's `rle_to_mask`: runs fill a Fortran-order (column-major) buffer, then transpose. */
function decodeRle(rle: { size: [number, number]; counts: number[] }): Uint8Array {
  const [h, w] = rle.size;
  const fortran = new Uint8Array(h * w);
  let idx = 0;
  rle.counts.forEach((count, i) => {
    fortran.fill(i % 2, idx, idx + count);
    idx += count;
  });
  expect(idx).toBe(h * w);
  const rowMajor = new Uint8Array(h * w);
  for (let x = 0; x < w; x++) for (let y = 0; y < h; y++) rowMajor[y * w + x] = fortran[x * h + y]!;
  return rowMajor;
}

beforeAll(() => {
  if (!existsSync("dist/kernel/cli.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it).");
  out = mkdtempSync(join(tmpdir(), "medicosam-automatic-"));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("medicosam automatic", () => {
  it("writes masks.json (SAM's records, uncompressed RLE) and a 16-bit labels.png", async () => {
    const dir = join(out, "grid");
    const r = medicosam("automatic", "--model", "models/analytic", "--image", "data/phantom-slice.png", "--points-per-side", "4", "--stability-score-thresh", "0", "--out", dir);
    expect(r.stderr).toMatch(/not MedicoSAM/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/16 masks from model 'analytic-test'/);
    const masks = JSON.parse(readFileSync(join(dir, "masks.json"), "utf8")) as Record<string, unknown>[];
    expect(Array.isArray(masks)).toBe(true);
    expect(masks).toHaveLength(16);
    for (const m of masks) {
      expect(Object.keys(m)).toEqual(["area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box", "segmentation"]);
    }
    // The library in this process gives the same records; the RLE decodes to its masks.
    const model = await loadModel("models/analytic");
    const image = await readImage("data/phantom-slice.png");
    const records = await generateMasks(model, image, { pointsPerSide: 4, stabilityScoreThresh: 0 });
    await model.dispose();
    expect(records).toHaveLength(16);
    records.forEach((rec, i) => {
      const m = masks[i]! as { segmentation: { size: [number, number]; counts: number[] } } & Record<string, unknown>;
      expect(m.segmentation.size).toEqual([320, 384]);
      const decoded = decodeRle(m.segmentation);
      expect(decoded).toEqual(rec.segmentation);
      expect(m.area).toBe(decoded.reduce((a, b) => a + b, 0));
      expect(m.segmentation.counts.filter((_, k) => k % 2 === 1).reduce((a, b) => a + b, 0)).toBe(m.area);
      expect({ bbox: m.bbox, predicted_iou: m.predicted_iou, point_coords: m.point_coords, stability_score: m.stability_score, crop_box: m.crop_box }).toEqual({
        bbox: rec.bbox,
        predicted_iou: rec.predicted_iou,
        point_coords: rec.point_coords,
        stability_score: rec.stability_score,
        crop_box: rec.crop_box,
      });
      // a disc of radius 64/1024*384 = 24 px around its grid point
      const [px, py] = rec.point_coords[0];
      expect(decoded[Math.round(py) * 384 + Math.round(px)]).toBe(1);
      expect(m.area).toBeGreaterThan(Math.PI * 23 * 23);
      expect(m.area).toBeLessThan(Math.PI * 25 * 25);
    });
    const labels = await readImage(join(dir, "labels.png"));
    expect(labels.data).toBeInstanceOf(Uint16Array);
    expect([labels.width, labels.height, labels.channels]).toEqual([384, 320, 1]);
    const byArea = records.map((_, i) => i).sort((a, b) => records[b]!.area - records[a]!.area || a - b);
    byArea.forEach((index, rank) => {
      const [px, py] = records[index]!.point_coords[0];
      expect(labels.data[Math.round(py) * 384 + Math.round(px)]).toBe(rank + 1);
    });
    expect(Math.max(...(labels.data as Uint16Array))).toBe(16);
  }, 180_000);

  it("takes --encoder/--decoder instead of --model", () => {
    const dir = join(out, "files");
    const r = medicosam("automatic", "--encoder", "models/analytic/encoder.onnx", "--decoder", "models/analytic/decoder.onnx", "--image", "data/phantom-slice.png", "--points-per-side", "2", "--pred-iou-thresh", "0.5", "--stability-score-thresh", "0", "--out", dir);
    expect(r.code).toBe(0);
    const masks = JSON.parse(readFileSync(join(dir, "masks.json"), "utf8")) as { predicted_iou: number }[];
    expect(masks.map((m) => m.predicted_iou)).toEqual([0.9, 0.9, 0.9, 0.9, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6].map(Math.fround));
  }, 120_000);

  it("exits 2 with the usage on bad arguments and 1 on a failure", () => {
    const base = ["automatic", "--model", "models/analytic", "--image", "data/phantom-slice.png"];
    for (const bad of [
      [...base],
      ["automatic", "--model", "models/analytic", "--out", join(out, "x")],
      [...base, "--out", join(out, "x"), "--points-per-side", "3.5"],
      [...base, "--out", join(out, "x"), "--box-nms-thresh", "1.5"],
      [...base, "--out", join(out, "x"), "--points-per-batch", "8"],
      [...base, "--out", join(out, "x"), "extra"],
    ]) {
      const r = medicosam(...bad);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/usage: medicosam automatic/);
    }
    const r = medicosam("automatic", "--model", "models/analytic", "--image", join(out, "missing.png"), "--out", join(out, "y"));
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/usage:/);
  });
});
