/**
 * Resizes against (1) an independent, deliberately naive transcription of the resize formula in
 * docs/inference.md §3 (step 3) written here, (2) hand-worked small cases, and (3) the real
 * Pillow and numpy (Debian python3-pil / python3-numpy), bit for bit.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bilinearCoefficients,
  longestSideSize,
  resizeBilinearFloat32,
  resizeBilinearTorch,
  resizeBilinearUint8,
  resizeBilinearUint8Rows,
} from "../kernel/sam/resize.js";
import { canRun } from "./helpers/require.js";

const PYTHON = "/usr/bin/python3";
const hasPillow = spawnSync(PYTHON, ["-c", "import numpy, PIL"], { stdio: "ignore" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "resize-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) & 255;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Naive reference, straight from docs/inference.md §3: float64 weights per output pixel, 22-bit fixed point,
// horizontal pass into an 8-bit buffer, then vertical; a pass whose size is unchanged is skipped.
// ---------------------------------------------------------------------------------------------

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** [first input index, fixed-point weights] for output index i of an in -> out axis. */
function specTaps(inSize: number, outSize: number, i: number): [number, number[]] {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filterscale;
  const center = (i + 0.5) * scale;
  const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
  const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
  const w: number[] = [];
  // Pillow multiplies by 1/filterscale; docs/inference.md writes "/ filterscale". The two agree on every
  // size below (and the Pillow comparison further down would catch a difference).
  for (let x = xmin; x < xmax; x++) w.push(triangle((x - center + 0.5) * (1 / filterscale)));
  const sum = w.reduce((a, b) => a + b, 0);
  const fixed = w.map((v) => {
    const n = sum !== 0 ? v / sum : v;
    return Math.trunc(n < 0 ? n * 2 ** 22 - 0.5 : n * 2 ** 22 + 0.5);
  });
  return [xmin, fixed];
}

function specPass(
  src: Uint8Array,
  h: number,
  w: number,
  c: number,
  axis: "x" | "y",
  outSize: number,
): Uint8Array {
  const oh = axis === "y" ? outSize : h;
  const ow = axis === "x" ? outSize : w;
  const out = new Uint8Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const [first, taps] = axis === "x" ? specTaps(w, ow, x) : specTaps(h, oh, y);
      for (let ch = 0; ch < c; ch++) {
        let acc = 2 ** 21;
        taps.forEach((k, t) => {
          const sy = axis === "y" ? first + t : y;
          const sx = axis === "x" ? first + t : x;
          acc += src[(sy * w + sx) * c + ch]! * k;
        });
        out[(y * ow + x) * c + ch] = Math.min(255, Math.max(0, Math.floor(acc / 2 ** 22)));
      }
    }
  }
  return out;
}

function specResize(src: Uint8Array, h: number, w: number, c: number, oh: number, ow: number): Uint8Array {
  let cur = src;
  if (ow !== w) cur = specPass(cur, h, w, c, "x", ow);
  if (oh !== h) cur = specPass(cur, h, ow, c, "y", oh);
  return cur;
}

// ---------------------------------------------------------------------------------------------

describe("longestSideSize", () => {
  it("rounds the documented way in float64", () => {
    expect(longestSideSize(512, 512)).toEqual({ height: 1024, width: 1024 });
    // 300 * 1024/457 = 672.21 -> 672
    expect(longestSideSize(300, 457)).toEqual({ height: 672, width: 1024 });
    // 640 * 1024/1000 = 655.36 -> 655; the other orientation likewise
    expect(longestSideSize(640, 1000)).toEqual({ height: 655, width: 1024 });
    expect(longestSideSize(1000, 640)).toEqual({ height: 1024, width: 655 });
    // 1024/9 = 113.78 -> 114; 1024/3 = 341.33 -> 341
    expect(longestSideSize(1, 9)).toEqual({ height: 114, width: 1024 });
    expect(longestSideSize(3, 1)).toEqual({ height: 1024, width: 341 });
    // an exact half: 1 * 256/2 = 128.0, and 3 * 1024/2048 = 1.5 rounds up to 2
    expect(longestSideSize(3, 2048)).toEqual({ height: 2, width: 1024 });
    expect(longestSideSize(2, 1, 256)).toEqual({ height: 256, width: 128 });
  });

  it("refuses empty sizes", () => {
    expect(() => longestSideSize(0, 5)).toThrow(/positive integers/);
  });
});

describe("Pillow BILINEAR coefficients", () => {
  it("hand-worked 4 -> 2 downscale: antialiased taps 3/7, 3/7, 1/7", () => {
    const c = bilinearCoefficients(4, 2);
    expect(c.ksize).toBe(5); // ceil(support 2) * 2 + 1
    expect(Array.from(c.start)).toEqual([0, 1]);
    expect(Array.from(c.count)).toEqual([3, 3]);
    const w0 = Array.from(c.weights.subarray(0, 3));
    [3 / 7, 3 / 7, 1 / 7].forEach((v, i) => expect(w0[i]).toBeCloseTo(v, 15));
  });
});

describe("resizeBilinearUint8: hand-worked cases", () => {
  it("1x2 -> 1x4 upscale of [0, 255] gives [0, 64, 191, 255]", () => {
    // Output 1 has taps 0.75 / 0.25: 63.75 exactly, and the fixed-point half-bias lifts it to 64;
    // output 2 is 191.25 -> 191. Outputs 0 and 3 see a single tap.
    const out = resizeBilinearUint8(Uint8Array.from([0, 255]), { height: 1, width: 2 }, 1, { height: 1, width: 4 });
    expect(Array.from(out)).toEqual([0, 64, 191, 255]);
  });

  it("1x4 -> 1x2 downscale of [10, 20, 30, 40] gives [17, 33] (plain bilinear would give 15, 35)", () => {
    // (3*10 + 3*20 + 1*30) / 7 = 17.14 and (1*20 + 3*30 + 3*40) / 7 = 32.86, each with the
    // 22-bit fixed-point weights: 17 and 33.
    const out = resizeBilinearUint8(Uint8Array.from([10, 20, 30, 40]), { height: 1, width: 4 }, 1, { height: 1, width: 2 });
    expect(Array.from(out)).toEqual([17, 33]);
  });

  it("the vertical pass is the same filter: 2x1 -> 4x1", () => {
    const out = resizeBilinearUint8(Uint8Array.from([0, 255]), { height: 2, width: 1 }, 1, { height: 4, width: 1 });
    expect(Array.from(out)).toEqual([0, 64, 191, 255]);
  });

  it("returns the input unchanged when the size is unchanged", () => {
    const src = noise(5 * 4 * 3, 9);
    expect(resizeBilinearUint8(src, { height: 5, width: 4 }, 3, { height: 5, width: 4 })).toEqual(src);
  });

  it("checks buffer sizes", () => {
    expect(() => resizeBilinearUint8(new Uint8Array(5), { height: 2, width: 2 }, 1, { height: 4, width: 4 })).toThrow(
      /holds 5 values but 2x2x1 needs 4/,
    );
  });
});

const CASES: { name: string; h: number; w: number; oh: number; ow: number; c: number }[] = [
  { name: "7 -> 3 (horizontal only)", h: 4, w: 7, oh: 4, ow: 3, c: 3 },
  { name: "5 -> 11 (vertical only)", h: 5, w: 6, oh: 11, ow: 6, c: 3 },
  { name: "7x5 -> 3x11", h: 7, w: 5, oh: 3, ow: 11, c: 3 },
  { name: "1x9 -> longest 1024", h: 1, w: 9, ...sz(1, 9), c: 3 },
  { name: "3x1 -> longest 1024", h: 3, w: 1, ...sz(3, 1), c: 3 },
  { name: "300x457 -> longest 1024", h: 300, w: 457, ...sz(300, 457), c: 3 },
  { name: "640x1000 -> longest 1024", h: 640, w: 1000, ...sz(640, 1000), c: 3 },
  { name: "1000x640 -> longest 1024", h: 1000, w: 640, ...sz(1000, 640), c: 3 },
  { name: "1000x640 -> longest 256 (strong downscale)", h: 1000, w: 640, ...sz(1000, 640, 256), c: 3 },
  { name: "37x23 gray -> 101x13", h: 37, w: 23, oh: 101, ow: 13, c: 1 },
  { name: "odd 2-channel 9x14 -> 4x6", h: 9, w: 14, oh: 4, ow: 6, c: 2 },
];

function sz(h: number, w: number, t = 1024) {
  const s = longestSideSize(h, w, t);
  return { oh: s.height, ow: s.width };
}

describe("resizeBilinearUint8 against the documented formula", () => {
  for (const k of CASES) {
    it(k.name, () => {
      const src = noise(k.h * k.w * k.c, k.h * 131 + k.w);
      const ours = resizeBilinearUint8(src, { height: k.h, width: k.w }, k.c, { height: k.oh, width: k.ow });
      const ref = specResize(src, k.h, k.w, k.c, k.oh, k.ow);
      expect(ours.length).toBe(ref.length);
      expect(Buffer.from(ours).equals(Buffer.from(ref))).toBe(true);
    });
  }

  it("512x512 -> 1024x1024", () => {
    const src = noise(512 * 512 * 3, 77);
    const ours = resizeBilinearUint8(src, { height: 512, width: 512 }, 3, { height: 1024, width: 1024 });
    const ref = specResize(src, 512, 512, 3, 1024, 1024);
    expect(Buffer.from(ours).equals(Buffer.from(ref))).toBe(true);
  });
});

describe("resizeBilinearUint8Rows", () => {
  it("delivers exactly the rows of resizeBilinearUint8, in order, for every kind of pass", () => {
    const shapes = [
      ...CASES,
      { name: "unchanged", h: 6, w: 5, oh: 6, ow: 5, c: 3 },
      { name: "horizontal only", h: 6, w: 5, oh: 6, ow: 9, c: 3 },
    ];
    for (const k of shapes) {
      const src = noise(k.h * k.w * k.c, k.w * 17 + k.h);
      const whole = resizeBilinearUint8(src, { height: k.h, width: k.w }, k.c, { height: k.oh, width: k.ow });
      const joined = new Uint8Array(whole.length);
      const seen: number[] = [];
      resizeBilinearUint8Rows(src, { height: k.h, width: k.w }, k.c, { height: k.oh, width: k.ow }, (y, row) => {
        seen.push(y);
        joined.set(row, y * k.ow * k.c);
      });
      expect(seen).toEqual(Array.from({ length: k.oh }, (_, i) => i));
      expect(Buffer.from(joined).equals(Buffer.from(whole))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The real Pillow, via Debian's python3-pil.
// ---------------------------------------------------------------------------------------------

const PILLOW_SCRIPT = `
import sys, json
import numpy as np
from PIL import Image
job = json.loads(sys.argv[1])
for j in job:
    raw = np.fromfile(j["src"], dtype=j["dtype"]).reshape(j["shape"])
    if j["mode"] == "F":
        out = [np.asarray(Image.fromarray(raw[..., c], mode="F").resize((j["ow"], j["oh"]), Image.BILINEAR))
               for c in range(raw.shape[2])]
        out = np.stack(out, axis=-1).astype(np.float32)
    elif j["mode"] == "L":
        out = np.asarray(Image.fromarray(raw[..., 0], mode="L").resize((j["ow"], j["oh"]), Image.BILINEAR))
    else:
        out = np.asarray(Image.fromarray(raw, mode="RGB").resize((j["ow"], j["oh"]), Image.BILINEAR))
    np.ascontiguousarray(out).tofile(j["dst"])
`;

function pillowResize(jobs: { src: Uint8Array | Float32Array; h: number; w: number; c: number; oh: number; ow: number }[]) {
  const spec = jobs.map((j, i) => {
    const src = join(work, `pil-in-${i}.bin`);
    const dst = join(work, `pil-out-${i}.bin`);
    writeFileSync(src, Buffer.from(j.src.buffer, j.src.byteOffset, j.src.byteLength));
    const float = j.src instanceof Float32Array;
    return {
      src,
      dst,
      dtype: float ? "<f4" : "u1",
      shape: [j.h, j.w, j.c],
      mode: float ? "F" : j.c === 1 ? "L" : "RGB",
      oh: j.oh,
      ow: j.ow,
    };
  });
  execFileSync(PYTHON, ["-c", PILLOW_SCRIPT, JSON.stringify(spec)], { stdio: ["ignore", "inherit", "inherit"] });
  return spec.map((s) => readFileSync(s.dst));
}

describe("resize against the real Pillow", () => {
  it("uint8 RGB and gray, bit-exact, for every size above", () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    const jobs = [
      ...CASES.filter((k) => k.c !== 2).map((k) => ({ ...k, src: noise(k.h * k.w * k.c, k.h * 7 + k.w * 3) })),
      { h: 512, w: 512, oh: 1024, ow: 1024, c: 3, src: noise(512 * 512 * 3, 11) },
      { h: 1024, w: 1024, oh: 1024, ow: 1024, c: 3, src: noise(1024 * 1024 * 3, 12) },
    ];
    const refs = pillowResize(jobs);
    jobs.forEach((j, i) => {
      const ours = resizeBilinearUint8(j.src, { height: j.h, width: j.w }, j.c, { height: j.oh, width: j.ow });
      expect({ size: `${j.h}x${j.w}->${j.oh}x${j.ow}`, equal: Buffer.from(ours).equals(refs[i]!) }).toEqual({
        size: `${j.h}x${j.w}->${j.oh}x${j.ow}`,
        equal: true,
      });
    });
  });

  it("float32 ('F' mode, the mask-prompt path), bit-exact", () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    const mk = (h: number, w: number, c: number, seed: number) => {
      const b = noise(h * w * c, seed);
      // A binary mask (as mask prompts use) for c = 1, signed noise otherwise.
      return Float32Array.from(b, (v) => (c === 1 ? (v > 127 ? 1 : 0) : (v - 128) / 7.3));
    };
    const jobs = [
      { h: 300, w: 457, ...sz(300, 457, 256), c: 1, src: mk(300, 457, 1, 3) },
      { h: 1000, w: 640, ...sz(1000, 640, 256), c: 1, src: mk(1000, 640, 1, 4) },
      { h: 7, w: 5, oh: 3, ow: 11, c: 2, src: mk(7, 5, 2, 5) },
      { h: 64, w: 64, oh: 256, ow: 256, c: 1, src: mk(64, 64, 1, 6) },
    ];
    const refs = pillowResize(jobs);
    jobs.forEach((j, i) => {
      const ours = resizeBilinearFloat32(j.src, { height: j.h, width: j.w }, j.c, { height: j.oh, width: j.ow });
      const ref = new Float32Array(refs[i]!.buffer, refs[i]!.byteOffset, refs[i]!.byteLength / 4);
      expect(ours.length).toBe(ref.length);
      let mismatches = 0;
      for (let k = 0; k < ref.length; k++) if (!Object.is(ours[k], ref[k])) mismatches++;
      expect(mismatches).toBe(0);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// PyTorch bilinear (align_corners=False), against a transcription of its formula (float32
// source index, float64 interpolation).
// ---------------------------------------------------------------------------------------------

function torchRef(src: Float32Array, h: number, w: number, oh: number, ow: number): Float64Array {
  const idx = (inS: number, outS: number, d: number): [number, number, number] => {
    if (inS === outS) return [d, d, 0];
    // PyTorch computes the source index in float32 (its opmath type for float tensors); in
    // float64 the index of a 672 -> 300 shrink drifts by ~1e-5 px, visible on sharp edges.
    const f = Math.fround;
    const s = Math.max(f(f(f(inS / outS) * f(d + 0.5)) - 0.5), 0);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, inS - 1), s - i0];
  };
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const [y0, y1, ly] = idx(h, oh, y);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, lx] = idx(w, ow, x);
      const top = src[y0 * w + x0]! * (1 - lx) + src[y0 * w + x1]! * lx;
      const bot = src[y1 * w + x0]! * (1 - lx) + src[y1 * w + x1]! * lx;
      out[y * ow + x] = top * (1 - ly) + bot * ly;
    }
  }
  return out;
}

describe("resizeBilinearTorch", () => {
  it("hand-worked 1x2 -> 1x4 of [0, 1]: [0, 0.25, 0.75, 1] (edge clamped)", () => {
    const out = resizeBilinearTorch(Float32Array.from([0, 1]), { height: 1, width: 2 }, { height: 1, width: 4 });
    expect(Array.from(out)).toEqual([0, 0.25, 0.75, 1]);
  });

  it("hand-worked 1x4 -> 1x2 of [0, 10, 20, 30]: no antialias, samples at 0.5 and 2.5", () => {
    const out = resizeBilinearTorch(Float32Array.from([0, 10, 20, 30]), { height: 1, width: 4 }, { height: 1, width: 2 });
    expect(Array.from(out)).toEqual([5, 25]);
  });

  it("256 -> 1024 -> crop -> original size within float32 rounding of the formula", () => {
    const lo = Float32Array.from(noise(256 * 256, 21), (v) => (v - 128) / 9);
    const up = resizeBilinearTorch(lo, { height: 256, width: 256 }, { height: 1024, width: 1024 });
    const refUp = torchRef(lo, 256, 256, 1024, 1024);
    let worst = 0;
    for (let i = 0; i < up.length; i++) worst = Math.max(worst, Math.abs(up[i]! - refUp[i]!));
    expect(worst).toBeLessThan(1e-5);
    // crop [:672, :1024] then to 300x457, two planes at once
    const crop = new Float32Array(672 * 1024);
    for (let y = 0; y < 672; y++) crop.set(up.subarray(y * 1024, y * 1024 + 1024), y * 1024);
    const two = new Float32Array(2 * 672 * 1024);
    two.set(crop, 0);
    two.set(crop.map((v) => -v), 672 * 1024);
    const down = resizeBilinearTorch(two, { height: 672, width: 1024 }, { height: 300, width: 457 }, 2);
    const refDown = torchRef(crop, 672, 1024, 300, 457);
    worst = 0;
    for (let i = 0; i < refDown.length; i++) {
      worst = Math.max(worst, Math.abs(down[i]! - refDown[i]!), Math.abs(down[300 * 457 + i]! + refDown[i]!));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it("copies when the size is unchanged", () => {
    const src = Float32Array.from([1.5, -2, 3.25, 4]);
    expect(Array.from(resizeBilinearTorch(src, { height: 2, width: 2 }, { height: 2, width: 2 }))).toEqual([1.5, -2, 3.25, 4]);
  });
});
