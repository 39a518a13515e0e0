/**
 * teachingView on a hand-made protocol run, so every pixel's expected colour follows from the
 * masks: correct, missed and spilled pixels shaded apart, the box frame, the zoomed crop and
 * where the points land in it, and the captions (Dice, true and predicted IoU, point sources).
 */
import { describe, expect, it } from "vitest";
import { MISSED_COLOR, SPILLED_COLOR, teachingPanels, teachingView } from "../kernel/display/figures-teaching.js";
import type { ObjectRun, RoundResult } from "../kernel/evaluation/protocol.js";
import type { RgbImage8 } from "../kernel/io/image.js";
import { labelColor } from "../kernel/display/overlay.js";

const W = 60;
const H = 40;
const GRAY = 100;

function rect(x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
  return m;
}

const image: RgbImage8 = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(GRAY) };
// The object: columns 20..35, rows 10..25. Round 0 predicts it shifted 4 px right (missed on the
// left, spilled on the right); round 1 gets it exactly.
const target = rect(20, 10, 36, 26);
const box = { x0: 20, y0: 10, x1: 36, y1: 26 };
const round = (r: number, mask: Uint8Array, extra: Partial<RoundResult>): RoundResult => ({
  round: r,
  points: [],
  box,
  usedMaskPrompt: false,
  dice: r === 0 ? 0.75 : 1,
  iou: r === 0 ? 0.6 : 1,
  predictedArea: 256,
  predictedIou: r === 0 ? 0.91 : 0.88,
  token: 0,
  mask,
  ...extra,
});
const run: ObjectRun = {
  classId: 3,
  component: 0,
  area: 256,
  box,
  center: { x: 27, y: 17 },
  start: "box",
  rounds: [
    round(0, rect(24, 10, 40, 26), {}),
    round(1, target, {
      points: [
        { x: 21, y: 17, positive: true },
        { x: 38, y: 17, positive: false },
      ],
      positiveSource: "false-negative",
      negativeSource: "box-ring",
    }),
  ],
};

const px = (img: RgbImage8, x: number, y: number) => Array.from(img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3));
const blend = (c: readonly number[], a: number) => c.map((v) => Math.round(GRAY * (1 - a) + v * a));

describe("teachingView", () => {
  it("shades correct, missed and spilled pixels apart and frames the box", () => {
    const [p0, p1] = teachingPanels(image, run, { target });
    expect([p0!.image.width, p0!.image.height]).toEqual([W, H]);
    expect(px(p0!.image, 22, 18)).toEqual(blend(MISSED_COLOR, 0.6)); // in the object, not predicted
    expect(px(p0!.image, 39, 18)).toEqual(blend(SPILLED_COLOR, 0.6)); // predicted, outside the object (and the frame)
    expect(px(p0!.image, 30, 18)).toEqual(blend(labelColor(3), 0.4)); // correct, inside
    expect(px(p0!.image, 30, 10)).toEqual([255, 220, 0]); // the true outline
    expect(px(p0!.image, 5, 5)).toEqual([GRAY, GRAY, GRAY]);
    // The box (pixel edges 20..36 x 10..26) is framed just outside its pixels, white on a dark rim.
    expect(px(p0!.image, 19, 18)).toEqual([255, 255, 255]);
    expect(px(p0!.image, 18, 18)).toEqual([255, 255, 255]);
    expect(px(p0!.image, 17, 18)).toEqual([0, 0, 0]);
    expect(px(p0!.image, 36, 5 + 4)).toEqual([255, 255, 255]);
    // Round 1 is exact: nothing shaded as an error.
    for (let i = 0; i < W * H; i++) {
      const c = px(p1!.image, i % W, Math.floor(i / W));
      expect(c).not.toEqual(blend(MISSED_COLOR, 0.6));
      expect(c).not.toEqual(blend(SPILLED_COLOR, 0.6));
    }
    // Without shading the spilled pixels are drawn as prediction.
    const [plain] = teachingPanels(image, run, { target, shadeErrors: false });
    expect(px(plain!.image, 39, 20)).toEqual([...labelColor(3)]); // the prediction's right edge, opaque
    expect(px(plain!.image, 22, 18)).toEqual([GRAY, GRAY, GRAY]);
  });

  it("captions carry Dice, true and predicted IoU, and where each round's points came from", () => {
    const panels = teachingPanels(image, run, { target });
    expect(panels.map((p) => p.caption)).toEqual([
      "box start · Dice 0.750\nIoU 0.60 · predicted 0.91\nstart: the box",
      "round 1 · Dice 1.000\nIoU 1.00 · predicted 0.88\nnew: + on missed, − box ring (none spilled)",
    ]);
  });

  it("zoom crops to the object with a margin and enlarges it by a whole factor; points follow", () => {
    const panels = teachingPanels(image, run, { target, zoom: 4 });
    // x: box and points cover pixels 20..38 -> 16..42 with the margin (27 px); y: 10..25 -> 6..29
    // (24 px). 240 / 27 asks for 9x; the factor stops at 8.
    const s = 8;
    expect([panels[0]!.image.width, panels[0]!.image.height]).toEqual([27 * s, 24 * s]);
    const img = panels[1]!.image;
    // The positive point (21, 17) is at the centre of its s x s block: green.
    const cx = (21 - 16) * s + Math.round((s - 1) / 2);
    const cy = (17 - 6) * s + Math.round((s - 1) / 2);
    expect(px(img, cx, cy)).toEqual([0, 230, 0]);
    // A missed pixel of round 0 fills its whole block.
    const mx = (22 - 16) * s;
    const my = (18 - 6) * s;
    for (const [dx, dy] of [[0, 0], [s - 1, s - 1]]) expect(px(panels[0]!.image, mx + dx!, my + dy!)).toEqual(blend(MISSED_COLOR, 0.6));
    const grid = teachingView(image, run, { target, zoom: true, names: ["bg", "a", "b", "kidney"] });
    expect(grid.options.title).toMatch(/kidney, object 1: box start and 1 correction rounds \(zoomed on the object\)/);
    expect(grid.options.legend!.map((e) => e.name)).toEqual(["kidney, correct", "missed (FN)", "spilled (FP)", "true outline", "box (white)"]);
  });

  it("refuses a run without masks and a target of another size", () => {
    const bare: ObjectRun = { ...run, rounds: run.rounds.map(({ mask: _mask, ...r }) => r) };
    expect(() => teachingPanels(image, bare)).toThrow(/keepMasks: true/);
    expect(() => teachingPanels(image, run, { target: new Uint8Array(10) })).toThrow(/target has 10 pixels/);
  });
});
