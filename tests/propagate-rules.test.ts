/**
 * micro_sam 1.8's propagation rules on small synthetic cases, without a model: the prompts
 * `_compute_points_from_mask` / `_compute_box_from_mask` derive from a disc and an ellipse in
 * their crops (run in numpy / scipy / scikit-image with Debian's python3), and the control flow
 * of `segment_mask_in_volume` with `segment_slices_with_prompts`' stop annotations (a 4-slice gap,
 * a one-slice gap, stops, an empty mask at threshold 0, an IoU tie) against a scripted segmenter; micro_sam 1.7's smoothing (`release: "micro_sam-1.7"`) too
 * whose masks per slice are fixed in advance.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { extendBox, pointsFromMask, projectMask, roundHalfEven, type ProjectionMode } from "../kernel/interactive/propagate-prompts.js";
import { microSamIou, propagate, type Segmenter, type SliceStack } from "../kernel/interactive/propagate.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import type { Prompt } from "../kernel/sam/prompt.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "propagate-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W = 40;
const H = 32;
function ellipse(cx: number, cy: number, rx: number, ry: number): Uint8Array {
  return Uint8Array.from({ length: W * H }, (_, p) => (((p % W) - cx) / rx) ** 2 + ((Math.floor(p / W) - cy) / ry) ** 2 <= 1 ? 1 : 0);
}
const union = (a: Uint8Array, b: Uint8Array) => Uint8Array.from(a, (v, p) => (v || b[p] ? 1 : 0));

describe("projected prompts", () => {
  it("np.round on the extended box: halves go to the even neighbour", () => {
    expect([0.5, 1.5, 2.5, 4.5, 15.5, 3.4999, 3.5001].map(roundHalfEven)).toEqual([0, 2, 2, 4, 16, 3, 4]);
    // a 10-px wide box grown by 0.05 per side: 4.5 -> 4 and 15.5 -> 16 (truncating gave 4 and 15)
    expect(extendBox({ x0: 5, y0: 2, x1: 15, y1: 32 }, 0.05, 40, 40)).toEqual({ x0: 4, y0: 0, x1: 16, y1: 34 });
  });

  const cases = [
    { name: "disc", mask: ellipse(17, 14, 7, 7), extension: 0.05 },
    { name: "ellipse", mask: ellipse(20, 15, 5, 12), extension: 0.05 },
    { name: "disc, wide crop", mask: ellipse(15, 16, 6, 6), extension: 0.25 },
    { name: "filled crop", mask: Uint8Array.from({ length: W * H }, (_, p) => (p % W >= 8 && p % W < 20 && Math.floor(p / W) >= 5 && Math.floor(p / W) < 13 ? 1 : 0)), extension: 0 },
  ];
  it.runIf(canRun(pythonHas("numpy", "scipy", "skimage"), "python3-scipy and python3-skimage (Debian) are needed for micro_sam's point rule"))(
    "box and points equal micro_sam's _compute_box_from_mask / _compute_points_from_mask (negatives at the crop's corners included)",
    () => {
      // micro_sam 1.8's rule, stated in numpy: box from np.where, _process_box (fraction of the
      // size per side, clipped, np.round), crop, find_boundaries(outer), distance transform
      // (scipy's rule), bioimage_cpp's gaussian_smoothing (float32, radius 3, mirror; stated
      // here as in tests/geometry.test.ts), peak_local_max(exclude_border=False).
      const script = String.raw`
import sys, json, numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.segmentation import find_boundaries
from skimage.feature import peak_local_max
from skimage.filters import gaussian
def mirror(i, n):
    p = 2 * (n - 1); r = i % p
    return p - r if r >= n else r
def smooth_axis(a, h, axis):
    a = np.moveaxis(a, axis, 0); n = a.shape[0]; out = np.empty_like(a)
    for i in range(n):
        acc = (h[0] * a[i]).astype(np.float32)
        for k in range(1, len(h)):
            acc = (acc + (h[k] * (a[mirror(i - k, n)] + a[mirror(i + k, n)])).astype(np.float32)).astype(np.float32)
        out[i] = acc
    return np.moveaxis(out, 0, axis)
def gaussian_smoothing(x):
    raw = np.exp(-np.arange(4) ** 2 * 0.5)
    h = (raw * (1.0 / (raw[0] + 2 * raw[1:].sum()))).astype(np.float32)
    return smooth_axis(smooth_axis(x.astype(np.float32), h, 0), h, 1)
def process_box(box, shape, ext):
    if ext == 0: ey, ex = 0, 0
    elif ext >= 1: ey, ex = ext, ext
    else: ey, ex = ext * (box[2] - box[0]), ext * (box[3] - box[1])
    b = np.array([max(box[1] - ex, 0), max(box[0] - ey, 0), min(box[3] + ex, shape[1]), min(box[2] + ey, shape[0])])
    return np.round(b).astype(int)
def box_from_mask(mask, ext):
    c = np.where(mask == 1)
    return process_box(np.array([c[0].min(), c[1].min(), c[0].max() + 1, c[1].max() + 1]), mask.shape, ext)
out = []
for spec in json.loads(sys.argv[1]):
    mask = np.fromfile(spec['file'], np.uint8).reshape(spec['h'], spec['w'])
    box = box_from_mask(mask, spec['ext'])
    crop = mask[box[1]:box[3], box[0]:box[2]]
    d = distance_transform_edt(find_boundaries(crop, mode='outer') == 0).astype(np.float32)
    dist = gaussian_smoothing(d)
    inner = dist.copy(); inner[crop == 0] = 0
    outer = dist.copy(); outer[crop != 0] = 0
    single = np.unravel_index(inner.argmax(), inner.shape)
    pos = peak_local_max(inner, exclude_border=False, min_distance=3)
    neg = peak_local_max(outer, exclude_border=False, min_distance=5)
    neg_border = peak_local_max(outer, min_distance=5)
    off = np.array([box[1], box[0]])
    # micro_sam 1.7: skimage's gaussian on scipy's distance_transform_edt
    d17 = gaussian(distance_transform_edt(find_boundaries(crop, mode='outer') == 0))
    in17 = d17.copy(); in17[crop == 0] = 0
    out17 = d17.copy(); out17[crop != 0] = 0
    pts17 = [[int(v) for v in p + off] for p in peak_local_max(in17, exclude_border=False, min_distance=3)]
    neg17 = [[int(v) for v in p + off] for p in peak_local_max(out17, exclude_border=False, min_distance=5)]
    out.append(dict(box=box.tolist(), single=[int(v) for v in np.array(single) + off],
        pos=[[int(v) for v in p + off] for p in pos], neg=[[int(v) for v in p + off] for p in neg], negBorder=len(neg_border),
        pos17=pts17, neg17=neg17))
print(json.dumps(out))
`;
      const specs = cases.map((c, i) => {
        const file = join(dir, `mask${i}.bin`);
        writeFileSync(file, c.mask);
        return { file, w: W, h: H, ext: c.extension };
      });
      const ref = runPythonJson<{ box: number[]; single: number[]; pos: number[][]; neg: number[][]; negBorder: number; pos17: number[][]; neg17: number[][] }[]>(script, [JSON.stringify(specs)]);
      // the difference shows: on the disc micro_sam samples 4+ negatives where exclude_border=True finds none
      expect(ref[0]!.neg.length).toBeGreaterThanOrEqual(4);
      expect(ref[0]!.negBorder).toBe(0);
      cases.forEach((c, i) => {
        const r = ref[i]!;
        const [x0, y0, x1, y1] = r.box;
        expect(projectMask(c.mask, W, H, "box", c.extension), c.name).toEqual({ box: { x0, y0, x1, y1 } });
        expect(pointsFromMask(c.mask, W, H, c.extension, true), c.name).toEqual([{ x: r.single[1], y: r.single[0], positive: true }]);
        const pts = pointsFromMask(c.mask, W, H, c.extension, false);
        const key = (p: { x: number; y: number }) => `${p.x},${p.y}`;
        expect(pts.filter((p) => p.positive).map(key).sort(), c.name).toEqual(r.pos.map(([y, x]) => `${x},${y}`).sort());
        expect(pts.filter((p) => !p.positive).map(key).sort(), c.name).toEqual(r.neg.map(([y, x]) => `${x},${y}`).sort());
        const pts17 = pointsFromMask(c.mask, W, H, c.extension, false, "micro_sam-1.7");
        expect(pts17.filter((p) => p.positive).map(key).sort(), `${c.name}, 1.7`).toEqual(r.pos17.map(([y, x]) => `${x},${y}`).sort());
        expect(pts17.filter((p) => !p.positive).map(key).sort(), `${c.name}, 1.7`).toEqual(r.neg17.map(([y, x]) => `${x},${y}`).sort());
      });
    },
  );

  it("an empty mask leaves only the mask prompt (micro_sam skips box and points when mask.sum() == 0)", () => {
    const empty = new Uint8Array(W * H);
    expect(projectMask(empty, W, H, "mask", 0.05)).toEqual({ mask: { kind: "binary", width: W, height: H, mask: empty } });
    expect(projectMask(empty, W, H, "points_and_mask", 0.05)?.points).toBeUndefined();
    for (const m of ["box", "points", "single_point"] as const) expect(projectMask(empty, W, H, m, 0.05)).toBeUndefined();
  });
});

/** A segmenter whose mask for slice z is fixed in advance (the prompt is only recorded). */
function scripted(truth: (z: number) => Uint8Array, depth: number) {
  const calls: { z: number; prompt: Prompt }[] = [];
  const stack: SliceStack & { index: Map<Embedding, number> } = {
    depth,
    width: W,
    height: H,
    index: new Map(),
    get(z: number) {
      const e = { z } as unknown as Embedding;
      stack.index.set(e, z);
      return Promise.resolve(e);
    },
  };
  const segmenter: Segmenter = {
    segment(embedding, prompt) {
      const z = stack.index.get(embedding)!;
      calls.push({ z, prompt });
      const mask = truth(z);
      return Promise.resolve({ width: W, height: H, mask, logits: new Float32Array(0), iou: 0.9, token: 0, ious: [0.9], lowResLogits: new Float32Array(0), candidates: [] });
    },
  };
  return { stack, segmenter, calls };
}

describe("segment_mask_in_volume's control flow", () => {
  // discs that shrink away from slice 5: consecutive IoU well below 0.9
  const disc = (z: number) => ellipse(20, 16, 12 - Math.abs(z - 5) * 1.5, 10 - Math.abs(z - 5) * 1.2);

  it("a 4-slice gap: 3 from 2 and 5 from 6 with the chosen projection, 4 from the union of 3 and 5 with all sampled points", async () => {
    const { stack, segmenter, calls } = scripted(disc, 9);
    const r = await propagate(stack, segmenter, [2, 6].map((z) => ({ z, mask: disc(z) })), { projection: "single_point", iouThreshold: 0.5, stopBelow: true, stopAbove: true });
    const gapCalls = calls.filter((c) => c.z > 2 && c.z < 6);
    expect(gapCalls.map((c) => c.z)).toEqual([3, 5, 4]);
    expect(gapCalls[0]!.prompt).toEqual(projectMask(disc(2), W, H, "single_point", 0.05));
    expect(gapCalls[1]!.prompt).toEqual(projectMask(disc(6), W, H, "single_point", 0.05));
    const middle = gapCalls[2]!.prompt;
    expect(middle).toEqual(projectMask(union(disc(3), disc(5)), W, H, "points", 0.05));
    expect(middle.points!.filter((p) => !p.positive).length).toBeGreaterThan(0); // not a single point
    expect(r.gaps).toEqual([{ from: 2, to: 6, filled: 3 }]);
  });

  it("a one-slice gap is prompted with the union of both neighbours, all points; an odd gap has no middle", async () => {
    const one = scripted(disc, 9);
    await propagate(one.stack, one.segmenter, [3, 5].map((z) => ({ z, mask: disc(z) })), { projection: "single_point", stopBelow: true, stopAbove: true });
    expect(one.calls).toHaveLength(1);
    expect(one.calls[0]!.prompt).toEqual(projectMask(union(disc(3), disc(5)), W, H, "points", 0.05));
    const odd = scripted(disc, 9);
    await propagate(odd.stack, odd.segmenter, [1, 6].map((z) => ({ z, mask: disc(z) })), { projection: "box", stopBelow: true, stopAbove: true });
    // z_mid = 3: from below 2, 3 (np.greater); from above 5, 4 (np.less_equal)
    expect(odd.calls.map((c) => c.z)).toEqual([2, 3, 5, 4]);
    expect(odd.calls[1]!.prompt).toEqual(projectMask(disc(2), W, H, "box", 0.05));
  });

  it("stop annotations: the outermost stops end the object, the slices up to them are filled without the IoU test, inner stops are ignored", async () => {
    const { stack, segmenter } = scripted(disc, 12);
    // IoU 0.99 would refuse every propagated slice; stops 1 and 9 are outermost, 3 is ignored
    const r = await propagate(stack, segmenter, [{ z: 5, mask: disc(5) }], { projection: "mask", iouThreshold: 0.99, stops: [1, 3, 9] });
    expect([...r.masks.keys()].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(r.below).toMatchObject({ lastWritten: 2, reason: "stop-annotation", stoppedAt: 1 });
    expect(r.above).toMatchObject({ lastWritten: 8, reason: "stop-annotation", stoppedAt: 9 });
    expect(r.slices.every((s) => s.kind === "filled" && s.written)).toBe(true);
    // without stops the same threshold refuses the first slice each way
    const free = await propagate(stack, segmenter, [{ z: 5, mask: disc(5) }], { projection: "mask", iouThreshold: 0.99 });
    expect([...free.masks.keys()]).toEqual([5]);
    // a stop between two annotations is ignored: slice 5 is segmented like the rest of the gap
    const between = await propagate(stack, segmenter, [2, 8].map((z) => ({ z, mask: disc(z) })), { projection: "mask", stops: [5], stopBelow: true, stopAbove: true });
    expect([...between.masks.keys()].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it("an empty mask at threshold 0 is written; mask modes go on from it, point and box modes have no prompt left", async () => {
    const gone = (z: number) => (z === 7 ? new Uint8Array(W * H) : disc(z));
    const m = scripted(gone, 10);
    const rm = await propagate(m.stack, m.segmenter, [{ z: 5, mask: disc(5) }], { projection: "mask", iouThreshold: 0, stopBelow: true });
    expect(rm.masks.get(7)!.every((v) => v === 0)).toBe(true);
    expect(m.calls.find((c) => c.z === 8)!.prompt).toEqual({ mask: { kind: "binary", width: W, height: H, mask: gone(7) } });
    expect(rm.above).toMatchObject({ lastWritten: 9, reason: "edge" });
    const p = scripted(gone, 10);
    const rp = await propagate(p.stack, p.segmenter, [{ z: 5, mask: disc(5) }], { projection: "single_point", iouThreshold: 0, stopBelow: true });
    expect(rp.masks.has(7)).toBe(true);
    expect(rp.above).toMatchObject({ lastWritten: 7, reason: "empty", stoppedAt: 8 });
    // with a threshold > 0 the empty mask fails micro_sam's IoU test (0 / (union + 1e-7))
    const t = scripted(gone, 10);
    const rt = await propagate(t.stack, t.segmenter, [{ z: 5, mask: disc(5) }], { projection: "mask", iouThreshold: 0.01, stopBelow: true });
    expect(rt.above).toMatchObject({ lastWritten: 6, reason: "empty", stoppedAt: 7 });
  });

  it("micro_sam's compute_iou: union + 1e-7, so an IoU of exactly the threshold stops", async () => {
    // 100-px square, next slice its left half: intersection 50, union 100
    const square = Uint8Array.from({ length: W * H }, (_, p) => (p % W >= 10 && p % W < 20 && Math.floor(p / W) >= 10 && Math.floor(p / W) < 20 ? 1 : 0));
    const half = Uint8Array.from(square, (v, p) => (v && p % W < 15 ? 1 : 0));
    expect(microSamIou(half, square)).toBe(50 / (100 + 1e-7));
    expect(microSamIou(half, square)).toBeLessThan(0.5);
    const s = scripted((z) => (z === 0 ? square : half), 2);
    const r = await propagate(s.stack, s.segmenter, [{ z: 0, mask: square }], { projection: "box" as ProjectionMode, iouThreshold: 0.5 });
    expect(r.above).toMatchObject({ lastWritten: 0, reason: "iou", stoppedAt: 1 });
    const passes = await propagate(s.stack, s.segmenter, [{ z: 0, mask: square }], { projection: "box", iouThreshold: 0.4999 });
    expect(passes.masks.has(1)).toBe(true);
  });
});
