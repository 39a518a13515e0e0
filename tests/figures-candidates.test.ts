/**
 * candidatesView on a hand-made decoder answer: one panel per token with its predicted IoU, its
 * true IoU against the object, its area and the choice; the title names the rule that chose.
 */
import { describe, expect, it } from "vitest";
import { candidateCaptions, candidatesView } from "../kernel/display/figures-candidates.js";
import { MISSED_COLOR } from "../kernel/display/figures-teaching.js";
import type { RgbImage8 } from "../kernel/io/image.js";
import type { SegmentResult } from "../kernel/sam/segment-result.js";

const W = 50;
const H = 40;

function rect(x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
  return m;
}

const image: RgbImage8 = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(90) };
const target = rect(10, 10, 30, 30); // 400 px
// Token 0: the object; 1: a quarter of it; 2: half of it; 3: a sliver beside it.
const masks = [rect(10, 10, 30, 30), rect(10, 10, 20, 20), rect(10, 10, 30, 20), rect(32, 10, 34, 30)];
const ious = [0.7, 0.5, 0.9, 0.95];

function result(chosen: number): SegmentResult {
  const candidates = masks.map((mask, token) => ({ token, mask, iou: ious[token]!, chosen: token === chosen, lowResLogits: new Float32Array(0) }));
  return { width: W, height: H, mask: masks[chosen]!, logits: new Float32Array(0), iou: ious[chosen]!, token: chosen, ious, lowResLogits: new Float32Array(0), candidates };
}

describe("candidatesView", () => {
  it("captions each token with the choice, predicted and true IoU and area", () => {
    expect(candidateCaptions(result(2), target)).toEqual([
      "token 0 (single-mask)\npredicted IoU 0.70 · true 1.00\n400 px",
      "token 1 (multimask)\npredicted IoU 0.50 · true 0.25\n100 px",
      "token 2 (multimask) · chosen\npredicted IoU 0.90 · true 0.50\n200 px",
      "token 3 (multimask)\npredicted IoU 0.95 · true 0.00\n40 px",
    ]);
    expect(candidateCaptions(result(2))[0]).toBe("token 0 (single-mask)\npredicted IoU 0.70\n400 px");
  });

  it("draws one panel per token, shaded against the object, and names the rule in the title", () => {
    const click = { points: [{ x: 15, y: 15, positive: true }] };
    const grid = candidatesView(image, click, result(2), { target, names: ["bg", "organ"] });
    expect(grid.panels).toHaveLength(4);
    expect(grid.options.title).toBe("The decoder's 4 answers to one prompt; token 2 kept: the best predicted IoU among tokens 1-3 (one positive click)");
    // Token 1 misses the lower right of the object: shaded magenta there.
    const p1 = grid.panels[1]!.image;
    const i = 25 * W + 25;
    expect(Array.from(p1.data.subarray(3 * i, 3 * i + 3))).toEqual(MISSED_COLOR.map((c) => Math.round(90 * 0.4 + c * 0.6)));
    const boxed = candidatesView(image, { box: { x0: 10, y0: 10, x1: 30, y1: 30 } }, result(0), { target, zoom: true });
    expect(boxed.options.title).toMatch(/token 0 kept: the prompt is more than one positive click/);
    expect(boxed.panels[0]!.image.width).toBeGreaterThanOrEqual(240);
    expect(boxed.options.legend!.map((e) => e.name)).toEqual(["label 1, correct", "missed (FN)", "spilled (FP)", "true outline", "box (white)"]);
  });

  it("refuses a result of another image size", () => {
    expect(() => candidatesView({ width: 10, height: 10, data: new Uint8Array(300) }, {}, result(0))).toThrow(/result is 50x40 but the image is 10x10/);
  });
});
