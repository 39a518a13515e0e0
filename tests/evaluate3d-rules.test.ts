/**
 * micro_sam's 3D evaluation rules on small synthetic cases, without a model: the defaults and
 * grid of `segment_slices_from_ground_truth` / `default_grid_search_values_multi_dimensional_segmentation`,
 * the negative-point region of `PointAndBoxPromptGenerator` and the `dice_per_class` scoring
 * (later labels overwrite earlier ones), with expected values from numpy / scipy (Debian's python3).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_GRID_3D, DEFAULT_SETTING_3D, evaluate3d, negativeRegion } from "../kernel/evaluation/evaluate3d.js";
import type { Segmenter, SliceStack } from "../kernel/interactive/propagate.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "evaluate3d-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const needs = canRun(pythonHas("numpy", "scipy"), "python3-numpy and python3-scipy (Debian) are needed for micro_sam's evaluation rules");

const W = 48;
const H = 40;
function ellipse(cx: number, cy: number, rx: number, ry: number): Uint8Array {
  return Uint8Array.from({ length: W * H }, (_, p) => (((p % W) - cx) / rx) ** 2 + ((Math.floor(p / W) - cy) / ry) ** 2 <= 1 ? 1 : 0);
}

describe("micro_sam's evaluation settings", () => {
  it.runIf(needs)("defaults and grid are segment_slices_from_ground_truth's and _get_range_of_search_values'", () => {
    expect(DEFAULT_SETTING_3D).toEqual({ projection: "mask", iouThreshold: 0.8, boxExtension: 0.025 });
    const ref = runPythonJson<{ iou: number[]; ext: number[] }>(String.raw`
import json, numpy as np
rng = lambda a, b, s: [round(e, 3) for e in np.arange(a, b + s, s)]
print(json.dumps(dict(iou=rng(0.5, 0.9, 0.1), ext=rng(0, 0.25, 0.025))))
`);
    expect(DEFAULT_GRID_3D.iouThresholds).toEqual(ref.iou);
    expect(DEFAULT_GRID_3D.boxExtensions).toEqual(ref.ext);
  });

  it.runIf(needs)("the negative region is the box grown by 10 px minus the object dilated 10 times with a 3x3 element", () => {
    const cases = [ellipse(24, 20, 8, 8), ellipse(6, 20, 4, 12), ellipse(30, 12, 14, 3)];
    const specs = cases.map((m, i) => {
      const file = join(dir, `neg${i}.bin`);
      writeFileSync(file, m);
      return { file, w: W, h: H };
    });
    // PointAndBoxPromptGenerator._sample_negative_points with scipy's binary_dilation in place of kornia's
    const ref = runPythonJson<number[][]>(
      String.raw`
import sys, json, numpy as np
from scipy.ndimage import binary_dilation
out = []
for spec in json.loads(sys.argv[1]):
    m = np.fromfile(spec['file'], np.uint8).reshape(spec['h'], spec['w'])
    ys, xs = np.where(m)
    bb = (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    dil = binary_dilation(m, structure=np.ones((3, 3)), iterations=10).astype(int)
    bg = np.zeros(m.shape, int)
    bg[max(bb[0] - 10, 0):min(bb[2] + 10, m.shape[0]), max(bb[1] - 10, 0):min(bb[3] + 10, m.shape[1])] = 1
    out.append(np.abs(bg - dil).ravel().tolist())
print(json.dumps(out))
`,
      [JSON.stringify(specs)],
    );
    cases.forEach((m, i) => {
      const region = negativeRegion(m, W, H);
      expect(Array.from(region)).toEqual(ref[i]);
    });
    expect(ref[0]!.some((v) => v === 1)).toBe(true); // the disc leaves the box's corners
  });
});

/** Slices whose "segmentation" of a prompt is a fixed disc chosen by the prompt's box centre. */
function discStack(depth: number, discs: { cx: number; cy: number; mask: Uint8Array }[]) {
  const stack: SliceStack = { depth, width: W, height: H, get: (z) => Promise.resolve({ z } as unknown as Embedding) };
  const segmenter: Segmenter = {
    segment(_e, prompt) {
      const b = prompt.box ?? { x0: prompt.points![0]!.x, x1: prompt.points![0]!.x, y0: prompt.points![0]!.y, y1: prompt.points![0]!.y };
      const cx = (b.x0 + b.x1) / 2;
      const cy = (b.y0 + b.y1) / 2;
      const nearest = discs.reduce((a, d) => (Math.hypot(d.cx - cx, d.cy - cy) < Math.hypot(a.cx - cx, a.cy - cy) ? d : a));
      return Promise.resolve({ width: W, height: H, mask: nearest.mask, logits: new Float32Array(0), iou: 0.9, token: 0, ious: [0.9], lowResLogits: new Float32Array(0), candidates: [] });
    },
  };
  return { stack, segmenter };
}

describe("dice_per_class", () => {
  it.runIf(needs)("paints the objects in ascending label order, later labels overwriting earlier ones, and scores each with elf's dice_score", async () => {
    const depth = 6;
    const truth = [
      { label: 1, cx: 18, cy: 20, r: 9 },
      { label: 2, cx: 28, cy: 20, r: 8 },
    ];
    // every slice holds both objects; the "model" over-segments object 1 into object 2's area
    const gt = new Int32Array(depth * W * H);
    for (let z = 0; z < depth; z++) {
      for (const t of truth) ellipse(t.cx, t.cy, t.r, t.r).forEach((v, p) => v && (gt[z * W * H + p] = t.label));
    }
    const predicted = [ellipse(20, 20, 11, 11), ellipse(28, 20, 8, 8)];
    const { stack, segmenter } = discStack(depth, [
      { cx: 20, cy: 20, mask: predicted[0]! },
      { cx: 28, cy: 20, mask: predicted[1]! },
    ]);
    const labels = { depth, width: W, height: H, data: gt };
    const r = await evaluate3d(stack, segmenter, labels, { prompt: "box", iouThreshold: 0.5 });
    const own = await evaluate3d(stack, segmenter, labels, { prompt: "box", iouThreshold: 0.5, scoring: "per-object" });
    const gtFile = join(dir, "gt.bin");
    writeFileSync(gtFile, new Uint8Array(gt.buffer));
    const predFiles = predicted.map((m, i) => {
      const f = join(dir, `pred${i}.bin`);
      writeFileSync(f, m);
      return f;
    });
    // segment_slices_from_ground_truth: final_segmentation[this_seg == 1] = label_id per object,
    // then dice_per_class = mean of dice_score(final == i, gt == i); per object on its own too
    const ref = runPythonJson<{ perClass: number[]; own: number[] }>(
      String.raw`
import sys, json, numpy as np
a = json.loads(sys.argv[1])
gt = np.fromfile(a['gt'], np.int32).reshape(a['d'], a['h'], a['w'])
final = np.zeros_like(gt)
preds = []
for label, f in zip([1, 2], a['preds']):
    p = np.broadcast_to(np.fromfile(f, np.uint8).reshape(a['h'], a['w']), gt.shape)
    preds.append(p)
    final[p == 1] = label
def dice_score(seg, g):
    return float(2 * np.sum(g * seg)) / float(np.sum(g) + np.sum(seg) + 1e-7)
print(json.dumps(dict(perClass=[dice_score(final == i, gt == i) for i in [1, 2]],
    own=[dice_score(p == 1, gt == i) for i, p in zip([1, 2], preds)])))
`,
      [JSON.stringify({ gt: gtFile, preds: predFiles, d: depth, h: H, w: W })],
    );
    expect(r.scoring).toBe("dice_per_class");
    r.objects.forEach((o, i) => expect(o.dice).toBeCloseTo(ref.perClass[i]!, 12));
    own.objects.forEach((o, i) => expect(o.dice).toBeCloseTo(ref.own[i]!, 12));
    // the difference shows: object 1 loses the pixels object 2 painted over
    expect(r.objects[0]!.dice!).not.toBeCloseTo(own.objects[0]!.dice!, 3);
  });
});
