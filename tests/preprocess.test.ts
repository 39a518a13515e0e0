/**
 * SAM preprocessing: sizes, exact zero padding, normalised values at known pixels, and the whole
 * tensor against the reference pipeline rebuilt from Pillow + numpy float32 (what
 * `SamPredictor.set_image` computes with torch on CPU: Pillow resize, float32 subtract/divide).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RgbImage8 } from "../kernel/io/image.js";
import { preprocess, SAM_PIXEL_MEAN, SAM_PIXEL_STD } from "../kernel/sam/preprocess.js";
import { canRun } from "./helpers/require.js";

const PYTHON = "/usr/bin/python3";
const hasPillow = spawnSync(PYTHON, ["-c", "import numpy, PIL"], { stdio: "ignore" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "preprocess-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function noiseImage(height: number, width: number, seed: number): RgbImage8 {
  const data = new Uint8Array(height * width * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { height, width, data };
}

function solidImage(height: number, width: number, rgb: [number, number, number]): RgbImage8 {
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < height * width; i++) data.set(rgb, i * 3);
  return { height, width, data };
}

const S = 1024;
const at = (t: Float32Array, c: number, y: number, x: number) => t[c * S * S + y * S + x]!;

/** Every value outside [0, h) x [0, w) must be +0 exactly, in all three channels. */
function paddingIsZero(t: Float32Array, h: number, w: number): boolean {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < S; y++) {
      const row = c * S * S + y * S;
      for (let x = y < h ? w : 0; x < S; x++) if (!Object.is(t[row + x], 0)) return false;
    }
  }
  return true;
}

describe("preprocess", () => {
  it.each([
    [512, 512, 1024, 1024],
    [300, 457, 672, 1024],
    [1000, 640, 1024, 655],
    [640, 1000, 655, 1024],
  ])("%ix%i -> resized %ix%i, padding exactly 0", (h, w, rh, rw) => {
    const r = preprocess(noiseImage(h, w, h + w));
    expect(r.tensor.length).toBe(3 * S * S);
    expect(r.originalSize).toEqual({ height: h, width: w });
    expect(r.resizedSize).toEqual({ height: rh, width: rw });
    expect(paddingIsZero(r.tensor, rh, rw)).toBe(true);
  });

  it("normalises per channel in float32: (x - mean) / std at known pixels", () => {
    // A solid colour stays solid through the resize (weights sum to one), so every valid pixel
    // is one known byte per channel.
    const rgb: [number, number, number] = [255, 0, 128];
    const r = preprocess(solidImage(300, 457, rgb));
    // The same numbers numpy gives for (np.float32(x) - np.float32(m)) / np.float32(s):
    const expected = [2.2489083, -2.0357144, 0.4264924];
    for (let c = 0; c < 3; c++) {
      const f = Math.fround;
      const exact = f(f(rgb[c]! - f(SAM_PIXEL_MEAN[c]!)) / f(SAM_PIXEL_STD[c]!));
      for (const [y, x] of [[0, 0], [671, 1023], [300, 500]] as const) expect(at(r.tensor, c, y, x)).toBe(exact);
      expect(at(r.tensor, c, 0, 0)).toBeCloseTo(expected[c]!, 6);
    }
    // Just past the valid region: padding, not -mean/std.
    expect(at(r.tensor, 0, 672, 0)).toBe(0);
  });

  it("a black pixel maps to -mean/std, unlike the padding", () => {
    const r = preprocess(solidImage(8, 8, [0, 0, 0]));
    expect(at(r.tensor, 0, 0, 0)).toBeCloseTo(-123.675 / 58.395, 6);
    expect(at(r.tensor, 2, 1023, 1023)).toBeCloseTo(-103.53 / 57.375, 6);
  });

  it("overwrites a reused buffer completely, padding included", () => {
    const out = new Float32Array(3 * S * S).fill(Number.NaN);
    const r = preprocess(noiseImage(300, 457, 4), { out });
    expect(r.tensor).toBe(out);
    expect(paddingIsZero(out, 672, 1024)).toBe(true);
    expect(out.some((v) => Number.isNaN(v))).toBe(false);
  });

  it("honours imageSize and custom mean/std", () => {
    const r = preprocess(solidImage(10, 20, [10, 20, 30]), { imageSize: 64, pixelMean: [0, 0, 0], pixelStd: [1, 2, 4] });
    expect(r.resizedSize).toEqual({ height: 32, width: 64 });
    expect(r.tensor.length).toBe(3 * 64 * 64);
    expect([r.tensor[0], r.tensor[64 * 64], r.tensor[2 * 64 * 64]]).toEqual([10, 10, 7.5]);
    expect(r.tensor[32 * 64]).toBe(0);
  });

  it("rejects a wrong buffer or bad options with a clear message", () => {
    expect(() => preprocess({ width: 4, height: 4, data: new Uint8Array(10) })).toThrow(/holds 10 bytes but 4x4x3 needs 48/);
    expect(() => preprocess(solidImage(4, 4, [0, 0, 0]), { pixelStd: [1, 0, 1] })).toThrow(/pixelStd/);
    expect(() => preprocess(solidImage(4, 4, [0, 0, 0]), { out: new Float32Array(5) })).toThrow(/out buffer/);
  });
});

const REFERENCE = `
import sys, json
import numpy as np
from PIL import Image
for j in json.loads(sys.argv[1]):
    h, w = j["h"], j["w"]
    img = np.fromfile(j["src"], dtype=np.uint8).reshape(h, w, 3)
    # segment-anything ResizeLongestSide.get_preprocess_shape + apply_image (Pillow BILINEAR)
    scale = 1024 * 1.0 / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    x = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR)).transpose(2, 0, 1)
    # Sam.preprocess: float32 (x - mean) / std, then zero-pad right/bottom
    mean = np.array([123.675, 116.28, 103.53], dtype=np.float32).reshape(3, 1, 1)
    std = np.array([58.395, 57.12, 57.375], dtype=np.float32).reshape(3, 1, 1)
    x = (x.astype(np.float32) - mean) / std
    out = np.zeros((3, 1024, 1024), dtype=np.float32)
    out[:, :nh, :nw] = x
    out.tofile(j["dst"])
`;

describe("preprocess against Pillow + numpy float32", () => {
  it("is bit-exact for 300x457 and 1000x640", () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    const images = [noiseImage(300, 457, 8), noiseImage(1000, 640, 9)];
    const jobs = images.map((img, i) => {
      const src = join(work, `in-${i}.bin`);
      writeFileSync(src, img.data);
      return { src, dst: join(work, `out-${i}.bin`), h: img.height, w: img.width };
    });
    execFileSync(PYTHON, ["-c", REFERENCE, JSON.stringify(jobs)], { stdio: ["ignore", "inherit", "inherit"] });
    images.forEach((img, i) => {
      const ref = readFileSync(jobs[i]!.dst);
      const ours = preprocess(img).tensor;
      expect(Buffer.from(ours.buffer, ours.byteOffset, ours.byteLength).equals(ref)).toBe(true);
    });
  });
});
