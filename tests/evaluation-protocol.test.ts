import { describe, expect, it } from "vitest";
import { dice, iou } from "../kernel/analysis/metrics.js";
import { extractObjects, type ProtocolObject } from "../kernel/analysis/objects.js";
import { deepestPoint } from "../kernel/analysis/geometry.js";
import { evaluateObjects } from "../kernel/evaluation/protocol-image.js";
import { correctionPoints, startPrompt } from "../kernel/evaluation/protocol-prompts.js";
import { classRows, objectRows, summarize, toCsv, type ClassRow } from "../kernel/evaluation/protocol-table.js";
import { runObject, type ProtocolEngine } from "../kernel/evaluation/protocol.js";
import { SeededRandom } from "../kernel/analysis/rng.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import type { Prompt } from "../kernel/sam/prompt.js";
import type { SegmentResult } from "../kernel/sam/segment-result.js";

const W = 20;
const H = 16;

function maskFrom(cells: [number, number][], width = W, height = H): Uint8Array {
  const m = new Uint8Array(width * height);
  for (const [x, y] of cells) m[y * width + x] = 1;
  return m;
}

function rect(x0: number, y0: number, x1: number, y1: number, width = W, height = H): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * width + x] = 1;
  return m;
}

/** An object given by its mask; box and centre written out by hand in each test. */
function object(mask: Uint8Array, box: ProtocolObject["box"], center: { x: number; y: number }, classId = 1, component = 0): ProtocolObject {
  let area = 0;
  for (const v of mask) area += v;
  return { classId, component, width: W, height: H, mask, area, box, center };
}

const key = (p: { x: number; y: number }) => `${p.x},${p.y}`;

describe("metrics", () => {
  it("computes Dice and IoU of known masks", () => {
    const p = maskFrom([[0, 0], [1, 0], [2, 0], [3, 0]]);
    const t = maskFrom([[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [6, 0]]);
    expect(dice(p, t)).toBeCloseTo(6 / 10, 12); // 2 * 3 / (4 + 6)
    expect(iou(p, t)).toBeCloseTo(3 / 7, 12);
    expect(dice(t, t)).toBe(1);
    expect(dice(new Uint8Array(5), new Uint8Array(5))).toBe(0); // the reference's 1e-7 floor, not 1
    expect(iou(new Uint8Array(5), new Uint8Array(5))).toBe(0);
    expect(() => dice(new Uint8Array(3), new Uint8Array(4))).toThrow(/differ in size/);
  });
});

describe("objects of a label map", () => {
  it("splits classes into components, drops small ones, and finds boxes and deepest points", () => {
    const data = new Uint8Array(W * H);
    const paint = (m: Uint8Array, id: number) => m.forEach((v, i) => v && (data[i] = id));
    // Depth of a pixel of a block = distance to the nearest pixel outside it along a row or column.
    paint(rect(1, 1, 8, 6), 1); // 7x5 = 35 px; (3..5, 3) are 3 px deep, the deepest
    paint(rect(12, 2, 14, 4), 1); // 4 px: dropped
    paint(rect(10, 8, 19, 15), 2); // 9x7 = 63 px; (13..15, 11) are 4 px deep
    paint(rect(1, 10, 6, 14), 1); // 5x4 = 20 px: kept (the limit is "under 20")
    const { objects, dropped } = extractObjects({ width: W, height: H, data }, { center: "deepest" });
    expect(dropped).toEqual([{ classId: 1, area: 4 }]);
    expect(objects.map((o) => [o.classId, o.component, o.area])).toEqual([[1, 0, 35], [1, 1, 20], [2, 0, 63]]);
    expect(objects[0]!.box).toEqual({ x0: 1, y0: 1, x1: 8, y1: 6 });
    // Ties go to the first pixel in row-major order, as numpy's argmax.
    expect(objects[0]!.center).toEqual({ x: 3, y: 3 });
    expect(objects[2]!.center).toEqual({ x: 13, y: 11 });
    expect(objects[1]!.center).toEqual({ x: 2, y: 11 }); // 5x4 block: rows 11 and 12 are 2 px deep
    expect(objects[1]!.mask.reduce((a, b) => a + b, 0)).toBe(20);
    expect(extractObjects({ width: W, height: H, data }, { classes: [2] }).objects).toHaveLength(1);
    expect(extractObjects({ width: W, height: H, data }, { minSize: 1 }).objects).toHaveLength(4);
    // Diagonal neighbours join under 8-connectivity (the default), not under 4.
    const diag = new Uint8Array(W * H);
    for (let k = 0; k < 12; k++) diag[k * W + k] = 3;
    expect(extractObjects({ width: W, height: H, data: diag }, { minSize: 1 }).objects).toHaveLength(1);
    expect(extractObjects({ width: W, height: H, data: diag }, { minSize: 1, connectivity: 4 }).objects).toHaveLength(12);
  });
});

describe("deepest points", () => {
  it("match geometry's whole-image deepestPoint on random blobs, also at the image border", () => {
    const r = new SeededRandom(12);
    const w = 40;
    const h = 30;
    for (let trial = 0; trial < 60; trial++) {
      // A union of random discs, some cut by the image border.
      const data = new Uint8Array(w * h);
      for (let k = 0; k < 3; k++) {
        const cx = r.int(w);
        const cy = r.int(h);
        const rad = 2 + r.int(8);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) data[y * w + x] = 1;
      }
      for (const outsideIsBackground of [false, true]) {
        const { objects } = extractObjects({ width: w, height: h, data }, { minSize: 1, center: "deepest", centerOutsideIsBackground: outsideIsBackground });
        for (const o of objects) expect(o.center).toEqual(deepestPoint(o.mask, w, h, { outsideIsBackground }));
      }
    }
  });
});

describe("protocol prompts", () => {
  // A 6x4 rectangle at x 5..10, y 4..7; box with exclusive max.
  const mask = rect(5, 4, 11, 8);
  const obj = object(mask, { x0: 5, y0: 4, x1: 11, y1: 8 }, { x: 7, y: 5 });

  it("starts from the deepest point or the tight box", () => {
    expect(startPrompt(obj, "point")).toEqual({ points: [{ x: 7, y: 5, positive: true }] });
    expect(startPrompt(obj, "box")).toEqual({ points: [], box: { x0: 5, y0: 4, x1: 11, y1: 8 } });
  });

  it("takes the positive point from the false negatives and the negative one from the false positives", () => {
    // Prediction: the object minus pixel (9, 6), plus pixel (15, 12).
    const pred = Uint8Array.from(mask);
    pred[6 * W + 9] = 0;
    pred[12 * W + 15] = 1;
    for (let seed = 0; seed < 5; seed++) {
      const c = correctionPoints(obj, pred, new SeededRandom(seed));
      expect(c.positive).toEqual({ x: 9, y: 6, positive: true });
      expect(c.positiveSource).toBe("false-negative");
      expect(c.negative).toEqual({ x: 15, y: 12, positive: false });
      expect(c.negativeSource).toBe("false-positive");
    }
  });

  it("samples each region uniformly", () => {
    // Nothing predicted: every object pixel is a false negative (24 of them).
    const pred = new Uint8Array(W * H);
    const counts = new Map<string, number>();
    const r = new SeededRandom(3);
    const draws = 24 * 400;
    for (let i = 0; i < draws; i++) {
      const c = correctionPoints(obj, pred, r);
      expect(mask[c.positive.y * W + c.positive.x]).toBe(1);
      counts.set(key(c.positive), (counts.get(key(c.positive)) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const chi2 = [...counts.values()].reduce((s, k) => s + (k - 400) ** 2 / 400, 0);
    expect(chi2).toBeLessThan(49.7); // 23 degrees of freedom, p = 0.001
  });

  it("falls back to the true positives, then to the box grown by 3 px minus the object", () => {
    // Perfect prediction: no false negatives, no false positives.
    const seenPos = new Set<string>();
    const seenNeg = new Set<string>();
    const r = new SeededRandom(9);
    for (let i = 0; i < 3000; i++) {
      const c = correctionPoints(obj, mask, r);
      expect(c.positiveSource).toBe("true-positive");
      expect(mask[c.positive.y * W + c.positive.x]).toBe(1);
      expect(c.negativeSource).toBe("box-ring");
      const n = c.negative!;
      expect(mask[n.y * W + n.x]).toBe(0);
      // Grown box: x 2..13, y 1..10 (inclusive).
      expect(n.x).toBeGreaterThanOrEqual(2);
      expect(n.x).toBeLessThanOrEqual(13);
      expect(n.y).toBeGreaterThanOrEqual(1);
      expect(n.y).toBeLessThanOrEqual(10);
      seenPos.add(key(c.positive));
      seenNeg.add(key(n));
    }
    expect(seenPos.size).toBe(24);
    expect(seenNeg.size).toBe(12 * 10 - 24); // the whole ring is reachable
  });

  it("clips the grown box at the image border", () => {
    const corner = rect(0, 0, 2, 2);
    const o = object(corner, { x0: 0, y0: 0, x1: 2, y1: 2 }, { x: 0, y: 0 });
    const seen = new Set<string>();
    const r = new SeededRandom(1);
    for (let i = 0; i < 2000; i++) {
      const n = correctionPoints(o, corner, r).negative!;
      expect(n.x <= 4 && n.y <= 4).toBe(true);
      seen.add(key(n));
    }
    expect(seen.size).toBe(25 - 4);
  });

  it("gives no negative point when the object fills the image", () => {
    const all = rect(0, 0, W, H);
    const o = object(all, { x0: 0, y0: 0, x1: W, y1: H }, { x: 10, y: 8 });
    const c = correctionPoints(o, new Uint8Array(W * H), new SeededRandom(0));
    expect(c.positiveSource).toBe("false-negative");
    expect(c.negative).toBeUndefined();
    expect(c.negativeSource).toBeUndefined();
  });

  it("reproduces the points from the seed", () => {
    const pred = rect(7, 2, 14, 6);
    const seq = (seed: number) => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 10 }, () => correctionPoints(obj, pred, r));
    };
    expect(seq(5)).toEqual(seq(5));
    expect(seq(5)).not.toEqual(seq(6));
  });
});

/** A stand-in engine returning scripted masks and recording every call. */
class ScriptedEngine implements ProtocolEngine {
  calls: { prompt: Prompt; multimask: string | undefined }[] = [];
  constructor(private readonly masks: (call: number) => Uint8Array) {}
  async segment(_e: Embedding, prompt: Prompt, options?: { multimask?: string }): Promise<SegmentResult> {
    const call = this.calls.length;
    this.calls.push({ prompt, multimask: options?.multimask });
    const mask = this.masks(call);
    const lowResLogits = new Float32Array(256 * 256).fill(call);
    return { width: W, height: H, mask, logits: new Float32Array(W * H), iou: 0.5, token: 0, ious: [0.5], lowResLogits,
      candidates: [{ token: 0, mask, iou: 0.5, chosen: true, lowResLogits }] };
  }
}

const embedding: Embedding = {
  data: new Float32Array(256 * 64 * 64),
  originalSize: { height: H, width: W },
  resizedSize: { height: 819, width: 1024 },
  modelName: "scripted",
  key: "k",
};

describe("protocol runner", () => {
  const mask = rect(5, 4, 11, 8); // 24 px
  const obj = object(mask, { x0: 5, y0: 4, x1: 11, y1: 8 }, { x: 7, y: 5 });

  it("prompts a point start as docs/inference.md §8 says and scores every round", async () => {
    // Round k predicts the first 3k + 3 pixels of the object's first row band (capped).
    const engine = new ScriptedEngine((k) => rect(5, 4, 5 + Math.min(6, k + 1), 8));
    const run = await runObject(engine, embedding, obj, { start: "point", seed: 1 });
    expect(run.rounds).toHaveLength(8);
    expect(engine.calls).toHaveLength(8);
    expect(engine.calls[0]).toEqual({ prompt: { points: [{ x: 7, y: 5, positive: true }] }, multimask: "auto" });
    for (let k = 1; k < 8; k++) {
      const { prompt, multimask } = engine.calls[k]!;
      expect(multimask).toBe("off");
      expect(prompt.box).toBeUndefined();
      expect(prompt.mask).toBeUndefined();
      // One positive and one negative point per round, accumulating; the first stays first.
      expect(prompt.points).toHaveLength(1 + 2 * k);
      expect(prompt.points![0]).toEqual({ x: 7, y: 5, positive: true });
      expect(prompt.points!.slice(0, 1 + 2 * (k - 1))).toEqual(engine.calls[k - 1]!.prompt.points);
      const [pos, neg] = prompt.points!.slice(-2);
      expect(pos!.positive).toBe(true);
      expect(neg!.positive).toBe(false);
      // The previous prediction covered columns 5 .. 5 + min(6, k) - 1: while that leaves false
      // negatives, the positive point lies right of it; then it falls back to the whole object.
      if (k < 6) expect(pos!.x).toBeGreaterThanOrEqual(5 + k);
      expect(mask[pos!.y * W + pos!.x]).toBe(1);
      expect(run.rounds[k]!.positiveSource).toBe(k < 6 ? "false-negative" : "true-positive");
      expect(run.rounds[k]!.negativeSource).toBe("box-ring");
    }
    // Dice of a 4 * w px prediction inside the 24 px object: 2 * 4w / (4w + 24).
    run.rounds.forEach((r, k) => {
      const w = Math.min(6, k + 1);
      expect(r.dice).toBeCloseTo((8 * w) / (4 * w + 24), 12);
    });
    // Same seed, same points; the masks are not kept unless asked.
    const again = new ScriptedEngine((k) => rect(5, 4, 5 + Math.min(6, k + 1), 8));
    await runObject(again, embedding, obj, { start: "point", seed: 1 });
    expect(again.calls.map((c) => c.prompt)).toEqual(engine.calls.map((c) => c.prompt));
    expect(run.rounds[0]!.mask).toBeUndefined();
  });

  it("keeps the box of a box start and feeds back the previous logits when asked", async () => {
    const engine = new ScriptedEngine(() => rect(5, 4, 8, 8));
    const run = await runObject(engine, embedding, obj, { start: "box", useMask: true, corrections: 3, keepMasks: true });
    expect(run.rounds).toHaveLength(4);
    expect(engine.calls[0]).toEqual({ prompt: { box: { x0: 5, y0: 4, x1: 11, y1: 8 } }, multimask: "off" });
    for (let k = 1; k < 4; k++) {
      const { prompt } = engine.calls[k]!;
      expect(prompt.box).toEqual({ x0: 5, y0: 4, x1: 11, y1: 8 });
      expect(prompt.points).toHaveLength(2 * k);
      expect(prompt.mask?.kind).toBe("logits");
      // The scripted engine fills call k's logits with k: round k must get call k - 1's.
      expect((prompt.mask as { logits: Float32Array }).logits[0]).toBe(k - 1);
      expect(run.rounds[k]!.usedMaskPrompt).toBe(true);
    }
    expect(run.rounds[0]!.usedMaskPrompt).toBe(false);
    expect(run.rounds[2]!.mask).toEqual(rect(5, 4, 8, 8));
  });

  it("scores classes as the union of their objects and averages like the paper", async () => {
    const a = object(rect(1, 1, 4, 4), { x0: 1, y0: 1, x1: 4, y1: 4 }, { x: 2, y: 2 }, 1, 0); // 9 px
    const b = object(rect(10, 10, 13, 13), { x0: 10, y0: 10, x1: 13, y1: 13 }, { x: 11, y: 11 }, 1, 1); // 9 px
    const c = object(rect(15, 1, 19, 3), { x0: 15, y0: 1, x1: 19, y1: 3 }, { x: 16, y: 1 }, 2, 0); // 8 px
    // Each object's prediction is exactly the object for object a and c, empty for b.
    const engine: ProtocolEngine = {
      async segment(_e, prompt) {
        const p = prompt.points![0]!;
        const m = p.x === 2 ? a.mask : p.x === 16 ? c.mask : new Uint8Array(W * H);
        return { width: W, height: H, mask: m, logits: new Float32Array(W * H), iou: 1, token: 0, ious: [1], lowResLogits: new Float32Array(65536), candidates: [] };
      },
    };
    const ev = await evaluateObjects(engine, embedding, [a, b, c], { start: "point", corrections: 1 });
    expect(ev.objects).toHaveLength(3);
    const class1 = ev.classes.filter((r) => r.classId === 1);
    expect(class1).toHaveLength(2);
    expect(class1[0]!.dice).toBeCloseTo((2 * 9) / (9 + 18), 12); // union of a (hit) and b (missed)
    expect(class1[0]!.objects).toBe(2);
    expect(ev.classes.find((r) => r.classId === 2)!.dice).toBe(1);

    const rows = objectRows(ev, { dataset: "d", model: "m", image: "i1" });
    expect(rows).toHaveLength(6);
    expect(rows[1]).toMatchObject({ classId: 1, component: 0, round: 1, positivePoints: 2, negativePoints: 1, dice: 1 });
    expect(classRows(ev, { dataset: "d", model: "m", image: "i1" })[0]).toMatchObject({ dataset: "d", start: "point", classId: 1, round: 0 });
  });
});

describe("protocol tables", () => {
  const row = (dataset: string, image: string, classId: number, dice: number): ClassRow => ({
    dataset, model: "m", image, start: "box", classId, round: 0, dice, iou: dice / 2, objects: 1,
  });

  it("averages over images, then classes, then datasets", () => {
    const rows = [
      // Dataset A: class 1 in three images (0.9, 0.6, 0.3 -> 0.6), class 2 in one image (1.0).
      row("A", "a1", 1, 0.9), row("A", "a2", 1, 0.6), row("A", "a3", 1, 0.3), row("A", "a1", 2, 1.0),
      // Dataset B: one image, one class.
      row("B", "b1", 1, 0.2),
    ];
    const { perDataset, overall } = summarize(rows);
    expect(perDataset).toHaveLength(2);
    expect(perDataset[0]).toMatchObject({ dataset: "A", classes: 2, images: 3 });
    expect(perDataset[0]!.dice).toBeCloseTo(0.8, 12); // (0.6 + 1.0) / 2, not the pooled 0.7
    expect(perDataset[1]!.dice).toBeCloseTo(0.2, 12);
    expect(overall).toHaveLength(1);
    expect(overall[0]!.dice).toBeCloseTo(0.5, 12); // (0.8 + 0.2) / 2
    expect(overall[0]!.iou).toBeCloseTo(0.25, 12);
    expect(overall[0]).toMatchObject({ model: "m", start: "box", round: 0, datasets: 2 });
  });

  it("writes CSV with RFC 4180 quoting", () => {
    const csv = toCsv([{ name: 'liver, "left"', dice: 0.5 }, { name: "x", dice: 1, extra: true }]);
    expect(csv).toBe('name,dice,extra\n"liver, ""left""",0.5,\nx,1,true\n');
  });
});
