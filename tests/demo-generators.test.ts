/**
 * The demo model's scene generators (models/demo/shapes: training; models/demo/eval-scenes:
 * evaluation only), the set writer and merger that feed train.py, and the rank correlation
 * the evaluation reports.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extractObjects } from "../kernel/analysis/objects.js";
import { evalScene, EVAL_STYLES } from "../models/demo/eval-scenes/scene.js";
import { polarity, spearman } from "../models/demo/evaluate-shapes.js";
import { mergeSets } from "../models/demo/merge-sets.js";
import { encoderPixels, writeShapeSet } from "../models/demo/shapes-set.js";
import { planScene, renderScene } from "../models/demo/shapes/scene.js";

const tmp = mkdtempSync(join(tmpdir(), "demo-gen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Pixels per label in a label map. */
function areas(labels: Uint8Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of labels) if (v) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

describe("training family (shapes)", () => {
  it("is a function of its seed", () => {
    const a = renderScene(planScene(1_000_123), 0);
    const b = renderScene(planScene(1_000_123), 0);
    const c = renderScene(planScene(1_000_124), 0);
    expect(Buffer.from(a.image.data.buffer).equals(Buffer.from(b.image.data.buffer))).toBe(true);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    expect(a.image.width * a.image.height === c.image.width * c.image.height && Buffer.from(a.labels).equals(Buffer.from(c.labels))).toBe(false);
  });

  it("gives neighbouring slices of one scene: same size, objects moved a little, some ended", () => {
    let ended = 0;
    let overlapping = 0;
    let objects = 0;
    for (let s = 0; s < 24; s++) {
      const plan = planScene(2_100_000 + s);
      const [a, b] = [renderScene(plan, 0), renderScene(plan, 1)];
      expect([b.image.width, b.image.height]).toEqual([a.image.width, a.image.height]);
      const inB = areas(b.labels);
      const shared = new Map<number, number>();
      for (let i = 0; i < a.labels.length; i++) if (a.labels[i] && a.labels[i] === b.labels[i]) shared.set(a.labels[i]!, (shared.get(a.labels[i]!) ?? 0) + 1);
      for (const [label] of areas(a.labels)) {
        objects++;
        if (!inB.has(label)) ended++;
        else if (shared.has(label)) overlapping++;
      }
    }
    // Propagation prompts need the object to overlap itself in the neighbour; "ended" items need some to vanish.
    expect(ended).toBeGreaterThan(0);
    expect(overlapping / (objects - ended)).toBeGreaterThan(0.95);
  });

  it("covers dark and bright objects, gray and RGB, sizes from dozens of pixels to most of the image, and both sides of 1024", () => {
    const polarities = new Set<string>();
    const modalities = new Set<string>();
    let small = 0;
    let large = 0;
    let big = 0;
    let tiny = 0;
    for (let s = 0; s < 60; s++) {
      const plan = planScene(2_200_000 + s);
      const r = renderScene(plan, 0);
      modalities.add(plan.modality);
      if (Math.max(plan.width, plan.height) > 1024) big++;
      if (Math.max(plan.width, plan.height) < 400) tiny++;
      const gray = encoderPixels(r.image, plan.intensity).gray;
      const { objects } = extractObjects({ width: plan.width, height: plan.height, data: r.labels });
      for (const o of objects) {
        polarities.add(polarity(gray, o, r.labels));
        if (o.area < 200) small++;
        if (o.area > 0.25 * plan.width * plan.height) large++;
      }
    }
    expect([...polarities].sort()).toEqual(["bright", "dark", "flat"]);
    expect([...modalities].sort()).toEqual(["ct", "gray", "mr", "rgb"]);
    expect(small).toBeGreaterThan(10);
    expect(large).toBeGreaterThan(0);
    expect(big).toBeGreaterThan(0);
    expect(tiny).toBeGreaterThan(10);
  });

  it("writes train.py's layout: offsets and sizes that tile the blobs, pairs of equal size, RGB beside the luma", () => {
    const dir = join(tmp, "shapes");
    const r = writeShapeSet(dir, 12, 2_300_000);
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    expect(index.slices).toHaveLength(r.slices);
    let offset = 0;
    let rgbOffset = 0;
    const byPair = new Map<number, { width: number; height: number }[]>();
    for (const e of index.slices) {
      expect(e.offset).toBe(offset);
      offset += e.width * e.height;
      if (e.channels === 3) {
        expect(e.rgbOffset).toBe(rgbOffset);
        rgbOffset += 3 * e.width * e.height;
      } else expect(e.rgbOffset).toBeUndefined();
      byPair.set(e.pair, [...(byPair.get(e.pair) ?? []), e]);
    }
    for (const name of ["images", "labels", "body"]) expect(readFileSync(join(dir, `${name}.u8`)).length).toBe(offset);
    expect(readFileSync(join(dir, "rgb.u8")).length).toBe(rgbOffset);
    for (const slices of byPair.values()) {
      expect(slices).toHaveLength(2);
      expect(slices[1]).toMatchObject({ width: slices[0]!.width, height: slices[0]!.height });
    }
    // The stored gray is what the engine's intensity code gives for that slice.
    const e = index.slices[3];
    const plan = planScene(e.seed);
    const expected = encoderPixels(renderScene(plan, e.slice).image, plan.intensity).gray;
    expect(Buffer.from(readFileSync(join(dir, "images.u8")).subarray(e.offset, e.offset + e.width * e.height)).equals(Buffer.from(expected))).toBe(true);
  });
});

describe("merge-sets", () => {
  it("keeps every slice's bytes and pairs, renumbers pairs apart, and takes the first N pairs of a source", () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    writeShapeSet(a, 3, 2_400_000);
    writeShapeSet(b, 5, 2_500_000);
    const out = join(tmp, "ab");
    const r = mergeSets(out, [{ dir: a }, { dir: b, pairs: 2 }]);
    expect(r).toEqual({ slices: 10, pairs: 5 });
    const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
    const ia = JSON.parse(readFileSync(join(a, "index.json"), "utf8"));
    const ib = JSON.parse(readFileSync(join(b, "index.json"), "utf8"));
    const src = [...ia.slices.map((e: object) => [a, e]), ...ib.slices.slice(0, 4).map((e: object) => [b, e])] as [string, { offset: number; width: number; height: number; seed: number; rgbOffset?: number }][];
    const labels = readFileSync(join(out, "labels.u8"));
    const rgb = readFileSync(join(out, "rgb.u8"));
    index.slices.forEach((e: { offset: number; width: number; height: number; seed: number; pair: number; rgbOffset?: number }, k: number) => {
      const [dir, s] = src[k]!;
      expect(e.seed).toBe(s.seed);
      const n = e.width * e.height;
      expect(labels.subarray(e.offset, e.offset + n).equals(readFileSync(join(dir, "labels.u8")).subarray(s.offset, s.offset + n))).toBe(true);
      if (s.rgbOffset !== undefined) expect(rgb.subarray(e.rgbOffset!, e.rgbOffset! + 3 * n).equals(readFileSync(join(dir, "rgb.u8")).subarray(s.rgbOffset, s.rgbOffset + 3 * n))).toBe(true);
    });
    expect(index.slices.map((e: { pair: number }) => e.pair)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  });
});

describe("evaluation family (eval-scenes)", () => {
  it("is a function of its seed and draws every style", () => {
    const a = evalScene(3_000_007);
    const b = evalScene(3_000_007);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    const styles = new Set(Array.from({ length: 24 }, (_, i) => evalScene(3_100_000 + i).style));
    expect([...styles].sort()).toEqual([...EVAL_STYLES].sort());
  });

  it("shares no code with the training family", () => {
    for (const f of ["scene.ts", "draw.ts"]) {
      const src = readFileSync(`models/demo/eval-scenes/${f}`, "utf8");
      expect(src).not.toMatch(/shapes\/|phantom\//);
    }
  });
});

describe("spearman", () => {
  it("is 1 for any increasing relation, -1 for a decreasing one, and uses average ranks for ties", () => {
    expect(spearman([1, 2, 3, 4], [10, 100, 1000, 1e4])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks a: 0, 1.5, 1.5, 3; b: 0, 1, 2, 3 -> Pearson of the ranks
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
  });
});
