/**
 * The SAM engine end to end (image -> worker encoder -> decoder -> mask) with the analytic
 * test model, whose answers follow from its definition (models/analytic/generate.ts):
 * a single positive click gives a disc of radius 64 in the 1024 frame (token 2), other
 * prompts radius 96 (token 0), negatives cut holes of radius 48, boxes bound the mask, and
 * a mask prompt is echoed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Image2D } from "../kernel/io/image.js";
import { loadModel, SAM_PIXEL_MEAN, SAM_PIXEL_STD, type SamModel } from "../kernel/sam/model.js";
import { encodePrompt } from "../kernel/sam/prompt-encoding.js";
import { writeAnalyticModel } from "../models/analytic/generate.js";

const MODEL_DIR = "models/analytic";

/** A smooth gray image (so minmax normalization has a range), uint8, 1 channel. */
function grayImage(width: number, height: number): Image2D {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = (x * 7 + y * 3) % 256;
  return { width, height, channels: 1, data };
}

function stats(mask: Uint8Array, width: number): { area: number; cx: number; cy: number } {
  let area = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    area++;
    sx += i % width;
    sy += Math.floor(i / width);
  }
  return { area, cx: sx / area, cy: sy / area };
}

/** Radius in original pixels of a disc of radius r in the 1024 frame. */
function origRadius(r: number, width: number, height: number): number {
  return r / (1024 / Math.max(width, height));
}

let model: SamModel;
beforeAll(async () => {
  model = await loadModel(MODEL_DIR);
});
afterAll(async () => {
  await model?.dispose();
});

describe("a click gives a mask centred on it", () => {
  const cases: [number, number, number, number][] = [
    // width, height, x, y
    [512, 512, 200, 300],
    [512, 512, 333, 121],
    [300, 457, 150, 200],
    [300, 457, 71, 390],
    [1000, 640, 620, 333],
    [1000, 640, 150, 500],
  ];
  it.each(cases)("%ix%i image, click (%i, %i)", async (width, height, x, y) => {
    const e = await model.embed(grayImage(width, height));
    expect(e.originalSize).toEqual({ width, height });
    const r = await model.segment(e, { points: [{ x, y, positive: true }] });
    expect(r.width).toBe(width);
    expect(r.height).toBe(height);
    const s = stats(r.mask, width);
    // SAM's +0.5 shift and the pixel-centre convention agree to within half a pixel.
    expect(Math.abs(s.cx - x)).toBeLessThanOrEqual(1);
    expect(Math.abs(s.cy - y)).toBeLessThanOrEqual(1);
    // micro_sam's rule for one positive click: best of tokens 1..3 (iou 0.6, 0.9, 0.7) -> token 2, radius 64.
    expect(r.token).toBe(2);
    expect(r.iou).toBeCloseTo(0.9, 5);
    const radius = origRadius(64, width, height);
    expect(s.area / (Math.PI * radius * radius)).toBeGreaterThan(0.93);
    expect(s.area / (Math.PI * radius * radius)).toBeLessThan(1.07);
  });
});

describe("prompts", () => {
  const W = 300;
  const H = 457;

  it("a box bounds the mask", async () => {
    const e = await model.embed(grayImage(W, H));
    const box = { x0: 100, y0: 150, x1: 180, y1: 230 };
    // A click whose disc (radius 96 -> 41 px) overflows the box on every side.
    const r = await model.segment(e, { points: [{ x: 140, y: 190, positive: true }], box });
    expect(r.token).toBe(0);
    let outside = 0;
    let inside = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!r.mask[y * W + x]) continue;
        if (x < box.x0 - 1 || x > box.x1 + 1 || y < box.y0 - 1 || y > box.y1 + 1) outside++;
        else inside++;
      }
    }
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(0.5 * (box.x1 - box.x0) * (box.y1 - box.y0));
  });

  it("a box alone fills the box", async () => {
    const e = await model.embed(grayImage(W, H));
    const box = { x0: 40, y0: 60, x1: 120, y1: 100 };
    const r = await model.segment(e, { box });
    const s = stats(r.mask, W);
    const boxArea = (box.x1 - box.x0) * (box.y1 - box.y0);
    expect(Math.abs(s.area - boxArea) / boxArea).toBeLessThan(0.08);
    expect(Math.abs(s.cx - (box.x0 + box.x1) / 2)).toBeLessThanOrEqual(1);
  });

  it("a negative click cuts a hole", async () => {
    const e = await model.embed(grayImage(W, H));
    const pos = { x: 150, y: 200, positive: true };
    const neg = { x: 170, y: 200, positive: false };
    const before = await model.segment(e, { points: [pos, pos] }); // two points: token 0, radius 96
    const after = await model.segment(e, { points: [pos, neg] });
    expect(before.mask[200 * W + 170]).toBe(1);
    expect(after.mask[200 * W + 170]).toBe(0);
    expect(stats(after.mask, W).area).toBeLessThan(stats(before.mask, W).area);
  });

  it("low-res logits fed back as a mask prompt round-trip exactly", async () => {
    const e = await model.embed(grayImage(W, H));
    const first = await model.segment(e, { points: [{ x: 150, y: 200, positive: true }] });
    const again = await model.segment(e, { mask: { kind: "logits", logits: first.lowResLogits } });
    expect(again.lowResLogits).toEqual(first.lowResLogits);
    expect(again.mask).toEqual(first.mask);
  });

  it("a binary mask prompt becomes +-6.9068 logits of the same shape", async () => {
    const e = await model.embed(grayImage(W, H));
    const first = await model.segment(e, { points: [{ x: 150, y: 200, positive: true }] });
    const again = await model.segment(e, { mask: { kind: "binary", width: W, height: H, mask: first.mask } });
    const values = new Set(again.lowResLogits);
    expect([...values].sort()).toEqual([-Math.log(999), Math.log(999)].map(Math.fround).sort());
    let inter = 0;
    let union = 0;
    for (let i = 0; i < first.mask.length; i++) {
      inter += first.mask[i]! & again.mask[i]!;
      union += first.mask[i]! | again.mask[i]!;
    }
    expect(inter / union).toBeGreaterThan(0.93);
  });

  it("refuses points outside the image instead of clipping them", async () => {
    const e = await model.embed(grayImage(W, H));
    await expect(model.segment(e, { points: [{ x: W + 5, y: 10, positive: true }] })).rejects.toThrow(/outside the 300x457 image/);
    await expect(model.segment(e, {})).rejects.toThrow(/empty prompt/);
  });
});

describe("multimask choice", () => {
  it("auto uses the multimask tokens only for a single positive click", async () => {
    const e = await model.embed(grayImage(512, 512));
    const one = await model.segment(e, { points: [{ x: 256, y: 256, positive: true }] });
    const two = await model.segment(e, {
      points: [
        { x: 256, y: 256, positive: true },
        { x: 260, y: 256, positive: true },
      ],
    });
    const negOnly = await model.segment(e, { points: [{ x: 100, y: 100, positive: false }], box: { x0: 200, y0: 200, x1: 300, y1: 300 } });
    expect(one.token).toBe(2);
    expect(two.token).toBe(0);
    expect(negOnly.token).toBe(0);
    expect(one.ious).toEqual([0.95, 0.6, 0.9, 0.7].map(Math.fround));
  });

  it("on/off override the rule", async () => {
    const e = await model.embed(grayImage(512, 512));
    const click = { points: [{ x: 256, y: 256, positive: true }] };
    expect((await model.segment(e, click, { multimask: "off" })).token).toBe(0);
    expect((await model.segment(e, { box: { x0: 10, y0: 10, x1: 90, y1: 90 } }, { multimask: "on" })).token).toBe(2);
    // Token 0 (radius 96) vs token 2 (radius 64): the masks differ as the radii say.
    const off = stats((await model.segment(e, click, { multimask: "off" })).mask, 512).area;
    const auto = stats((await model.segment(e, click)).mask, 512).area;
    expect(off / auto).toBeCloseTo((96 * 96) / (64 * 64), 1);
  });

  it("takes the first token on ties, among tokens 1..3 only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "medicosam-tie-"));
    try {
      await writeAnalyticModel(dir, { iouScores: [0.99, 0.8, 0.8, 0.5] });
      const tie = await loadModel(dir);
      try {
        const e = await tie.embed(grayImage(256, 256));
        const r = await tie.segment(e, { points: [{ x: 128, y: 128, positive: true }] });
        expect(r.token).toBe(1);
        expect(stats(r.mask, 256).area / (Math.PI * origRadius(32, 256, 256) ** 2)).toBeCloseTo(1, 1);
      } finally {
        await tie.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("supports single-mask decoders", async () => {
    const dir = mkdtempSync(join(tmpdir(), "medicosam-single-"));
    try {
      await writeAnalyticModel(dir, { numMasks: 1 });
      const single = await loadModel(dir);
      try {
        expect(single.numMasks).toBe(1);
        const e = await single.embed(grayImage(256, 256));
        const r = await single.segment(e, { points: [{ x: 128, y: 128, positive: true }] });
        expect(r.token).toBe(0);
        expect(r.ious).toHaveLength(1);
        expect(stats(r.mask, 256).area / (Math.PI * origRadius(96, 256, 256) ** 2)).toBeCloseTo(1, 1);
        await expect(single.segment(e, { points: [{ x: 1, y: 1, positive: true }] }, { multimask: "on" })).rejects.toThrow(
          /single mask/,
        );
      } finally {
        await single.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("candidates: every token's answer", () => {
  it("a click returns all four masks with their predicted IoU, the chosen one marked, from one decoder run", async () => {
    const e = await model.embed(grayImage(512, 512));
    const decoder = (model as unknown as { decoder: { run: (...a: unknown[]) => Promise<unknown> } }).decoder;
    const run = decoder.run.bind(decoder);
    let runs = 0;
    decoder.run = (...a: unknown[]) => {
      runs++;
      return run(...a);
    };
    let r;
    try {
      r = await model.segment(e, { points: [{ x: 256, y: 256, positive: true }] });
    } finally {
      decoder.run = run;
    }
    expect(runs).toBe(1);
    expect(r.candidates.map((c) => c.token)).toEqual([0, 1, 2, 3]);
    expect(r.candidates.map((c) => c.iou)).toEqual(r.ious);
    expect(r.candidates.map((c) => c.chosen)).toEqual([false, false, true, false]);
    expect(r.candidates[r.token]!.mask).toEqual(r.mask);
    expect(r.candidates[r.token]!.lowResLogits).toEqual(r.lowResLogits);
    // The analytic decoder draws a disc of radius 96, 32, 64, 128 (1024 frame; 512 px image -> half).
    [96, 32, 64, 128].forEach((radius, t) => {
      const s = stats(r.candidates[t]!.mask, 512);
      expect(s.area / (Math.PI * origRadius(radius, 512, 512) ** 2)).toBeCloseTo(1, 1);
      expect(Math.abs(s.cx - 256)).toBeLessThanOrEqual(1);
    });
  });

  it("a candidate's low-res logits continue from that candidate as a mask prompt", async () => {
    const e = await model.embed(grayImage(512, 512));
    const r = await model.segment(e, { points: [{ x: 200, y: 300, positive: true }] });
    const big = r.candidates[3]!;
    const next = await model.segment(e, { mask: { kind: "logits", logits: big.lowResLogits } });
    expect(next.mask).toEqual(big.mask);
  });

  it("a richer prompt still returns every token, with token 0 chosen", async () => {
    const e = await model.embed(grayImage(512, 512));
    const r = await model.segment(e, { points: [{ x: 256, y: 256, positive: true }], box: { x0: 180, y0: 180, x1: 330, y1: 330 } });
    expect(r.candidates).toHaveLength(4);
    expect(r.candidates.filter((c) => c.chosen).map((c) => c.token)).toEqual([0]);
    expect(r.candidates[0]!.mask).toEqual(r.mask);
    expect(r.candidates[1]!.mask).not.toEqual(r.mask);
  });

  it("a single-mask decoder returns its one candidate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "medicosam-single-cand-"));
    try {
      await writeAnalyticModel(dir, { numMasks: 1 });
      const single = await loadModel(dir);
      try {
        const e = await single.embed(grayImage(256, 256));
        const r = await single.segment(e, { points: [{ x: 128, y: 128, positive: true }] });
        expect(r.candidates).toHaveLength(1);
        expect(r.candidates[0]).toMatchObject({ token: 0, chosen: true, iou: r.iou });
        expect(r.candidates[0]!.mask).toEqual(r.mask);
      } finally {
        await single.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("prompt tensors", () => {
  const original = { width: 300, height: 457 };
  const resized = { width: 672, height: 1024 }; // floor(300 * 1024/457 + 0.5) = 672

  it("appends the padding point exactly when there is no box", () => {
    const noBox = encodePrompt({ points: [{ x: 10, y: 20, positive: true }] }, original, resized);
    expect(Array.from(noBox.labels)).toEqual([1, -1]);
    expect(Array.from(noBox.coords.slice(2))).toEqual([0, 0]);
    const withBox = encodePrompt(
      { points: [{ x: 10, y: 20, positive: false }], box: { x0: 1, y0: 2, x1: 30, y1: 40 } },
      original,
      resized,
    );
    expect(Array.from(withBox.labels)).toEqual([0, 2, 3]);
    const boxOnly = encodePrompt({ box: { x0: 1, y0: 2, x1: 30, y1: 40 } }, original, resized);
    expect(Array.from(boxOnly.labels)).toEqual([2, 3]);
  });

  it("scales each axis by its own resized/original ratio", () => {
    const t = encodePrompt({ points: [{ x: 299, y: 456, positive: true }] }, original, resized);
    expect(t.coords[0]).toBe(Math.fround((299 * 672) / 300));
    expect(t.coords[1]).toBe(Math.fround((456 * 1024) / 457));
  });
});

describe("embedding", () => {
  it("carries the normalized, zero-padded image (the analytic encoder pools it)", async () => {
    // A constant RGB image: minmax maps a constant channel to 0 ((x-min)/(0+eps)*255 = 0).
    const w = 320;
    const h = 160; // resized 1024 x 512: the lower half of the 1024 frame is padding
    const data = new Uint8Array(w * h * 3).fill(77);
    const e = await model.embed({ width: w, height: h, channels: 3, data }, { intensity: { mode: "none" } });
    expect(e.resizedSize).toEqual({ width: 1024, height: 512 });
    for (let c = 0; c < 3; c++) {
      const expected = (77 - SAM_PIXEL_MEAN[c]!) / SAM_PIXEL_STD[c]!;
      expect(e.data[c * 4096 + 10 * 64 + 10]).toBeCloseTo(expected, 4); // inside the image
      expect(e.data[c * 4096 + 50 * 64 + 10]).toBe(0); // in the padding
    }
  });

  it("is computed once per image and settings (cache)", async () => {
    const img = grayImage(200, 100);
    const misses = model.cache.misses;
    const [a, b] = await Promise.all([model.embed(img), model.embed(img)]);
    const c = await model.embed({ ...img, data: new Uint8Array(img.data as Uint8Array) });
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(model.cache.misses).toBe(misses + 1);
    // Settings that change the pixels change the key; ones that do not (a 0..255 image under
    // `none` equals its minmax) may share it: the key covers the encoder's input pixels.
    const other = await model.embed(img, { intensity: { mode: "window", level: 100, width: 50 } });
    expect(other.key).not.toBe(a.key);
    expect(model.cache.misses).toBe(misses + 2);
  });

  it("rejects an embedding of another model", async () => {
    const e = await model.embed(grayImage(64, 64));
    await expect(model.segment({ ...e, modelName: "other" }, { points: [{ x: 1, y: 1, positive: true }] })).rejects.toThrow(
      /computed by model 'other'/,
    );
  });
});

describe("loading", () => {
  it("names swapped files and how to export", async () => {
    await expect(loadModel({ encoder: join(MODEL_DIR, "decoder.onnx"), decoder: join(MODEL_DIR, "encoder.onnx") })).rejects.toThrow(
      /exactly one input[\s\S]*models\/export|decoder input\(s\) missing[\s\S]*swapped/,
    );
  });

  it("verifies model.json checksums", async () => {
    const dir = mkdtempSync(join(tmpdir(), "medicosam-sha-"));
    try {
      cpSync(MODEL_DIR, dir, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
      manifest.decoder.sha256 = "0".repeat(64);
      writeFileSync(join(dir, "model.json"), JSON.stringify(manifest));
      await expect(loadModel(dir)).rejects.toThrow(/sha256 [0-9a-f]{64} does not match model.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("explains a folder without model.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "medicosam-empty-"));
    try {
      await expect(loadModel(dir)).rejects.toThrow(/has no model.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embed without caching", () => {
  it("returns a fresh embedding and leaves the cache as it was", async () => {
    const img = grayImage(96, 80);
    const before = model.cache.size;
    const a = await model.embed(img, { cache: false });
    expect(model.cache.size).toBe(before);
    const b = await model.embed(img);
    expect(b).not.toBe(a);
    expect(b.data).toEqual(a.data);
    expect(model.cache.size).toBe(before + 1);
    // A cached embedding is still used when there is one.
    expect(await model.embed(img, { cache: false })).toBe(b);
  });
});
