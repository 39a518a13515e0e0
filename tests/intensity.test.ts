/**
 * Intensity modes: hand-computed values for each mode and its edge cases, and every reference
 * mode against numpy running the reference code itself (micro_sam's two `_to_image` versions,
 * torch_em's `normalize_percentile` as MedicoSAM's training used it, and np.percentile).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Image2D, PixelArray } from "../kernel/io/image.js";
import { percentiles, toRgb8 } from "../kernel/intensity/normalize.js";
import { formatIntensity, parseIntensity } from "../kernel/intensity/parse.js";
import { percentileOfSorted } from "../kernel/intensity/percentile.js";
import { WINDOW_PRESETS } from "../kernel/intensity/presets.js";
import type { IntensitySpec } from "../kernel/intensity/spec.js";
import { canRun } from "./helpers/require.js";

const PYTHON = "/usr/bin/python3";
const hasNumpy = spawnSync(PYTHON, ["-c", "import numpy"], { stdio: "ignore" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "intensity-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const img = (data: PixelArray, width: number, height: number, channels: number): Image2D => ({ data, width, height, channels });
/** Channel c of every pixel of an RGB result. */
const channel = (rgb: Uint8Array, c: number) => Array.from(rgb.filter((_, i) => i % 3 === c));

describe("minmax (micro_sam >= 1.7)", () => {
  it("16-bit gray: (x - min) / (max - min + 1e-7) * 255, truncated, replicated", () => {
    // 300 -> 200/400 = 0.5 -> 127.5 -> 127 (truncated, not rounded); 500 -> 255.
    const out = toRgb8(img(Uint16Array.from([100, 300, 500, 200]), 2, 2, 1), { mode: "minmax" });
    expect(Array.from(out.data)).toEqual([0, 0, 0, 127, 127, 127, 255, 255, 255, 63, 63, 63]);
  });

  it("the float32 epsilon shows on tiny ranges: uint8 {0, 1} becomes {0, 254}", () => {
    // float32(1 + 1e-7) = 1 + 2^-23, so 1 / that = 1 - 2^-23 and * 255 = 254.99997 -> 254.
    const out = toRgb8(img(Uint8Array.from([0, 1]), 2, 1, 1), { mode: "minmax" });
    expect(Array.from(out.data)).toEqual([0, 0, 0, 254, 254, 254]);
  });

  it("normalises each RGB channel on its own", () => {
    const data = Int16Array.from([
      -1000, 0, 7, // pixel 0: R, G, B
      1000, 10, 7, // pixel 1
    ]);
    const out = toRgb8(img(data, 2, 1, 3), { mode: "minmax" });
    // R: -1000..1000, G: 0..10, B constant (0 / 1e-7 = 0)
    expect(Array.from(out.data)).toEqual([0, 0, 0, 255, 255, 0]);
  });

  it("2 channels get a zero third channel; more than 3 keep the first 3", () => {
    const two = toRgb8(img(Float32Array.from([0, 5, 2, 10]), 2, 1, 2), { mode: "minmax" });
    expect(Array.from(two.data)).toEqual([0, 0, 0, 255, 255, 0]);
    // The 4th channel holds extreme values; it must not affect anything.
    const four = toRgb8(img(Uint16Array.from([0, 0, 0, 65535, 4, 8, 2, 0]), 2, 1, 4), { mode: "minmax" });
    expect(Array.from(four.data)).toEqual([0, 0, 0, 255, 255, 255]);
  });

  it("ignores NaN and infinities in the statistics; NaN -> 0, +Inf -> 255", () => {
    const out = toRgb8(img(Float32Array.from([Number.NaN, 2, 4, Infinity, -Infinity]), 5, 1, 1), { mode: "minmax" });
    expect(channel(out.data, 0)).toEqual([0, 0, 255, 255, 0]);
  });
});

describe("minmax-legacy (micro_sam < 1.7)", () => {
  it("leaves uint8 unchanged where the current version stretches it", () => {
    const data = Uint8Array.from([0, 1]);
    expect(channel(toRgb8(img(data, 2, 1, 1), { mode: "minmax-legacy" }).data, 0)).toEqual([0, 1]);
    expect(channel(toRgb8(img(data, 2, 1, 1), { mode: "minmax" }).data, 0)).toEqual([0, 254]);
  });

  it("uses one global min/max over all channels (no epsilon)", () => {
    // R spans 0..1000, G 0..500: legacy puts G's max at 500/1000 * 255 = 127.5 -> 127,
    // the current version stretches G to 255 as well.
    const data = Uint16Array.from([0, 0, 0, 1000, 500, 250]);
    const legacy = toRgb8(img(data, 2, 1, 3), { mode: "minmax-legacy" });
    const current = toRgb8(img(data, 2, 1, 3), { mode: "minmax" });
    expect(Array.from(legacy.data)).toEqual([0, 0, 0, 255, 127, 63]);
    expect(Array.from(current.data)).toEqual([0, 0, 0, 255, 255, 255]);
  });

  it("gives 0 for a constant image (the reference divides 0 by 0)", () => {
    expect(Array.from(toRgb8(img(Int16Array.from([7, 7]), 2, 1, 1), { mode: "minmax-legacy" }).data)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe("percentile", () => {
  it("numpy's linear percentiles by hand on 0..99", () => {
    const v = Array.from({ length: 100 }, (_, i) => i);
    // virtual index 99 * 0.01 = 0.99 -> 0.99; 99 * 0.99 = 98.01 -> 98.01; median 49.5
    expect(percentileOfSorted(v, 1)).toBeCloseTo(0.99, 12);
    expect(percentileOfSorted(v, 99)).toBeCloseTo(98.01, 12);
    expect(percentileOfSorted(v, 50)).toBe(49.5);
    expect(percentileOfSorted(v, 0)).toBe(0);
    expect(percentileOfSorted(v, 100)).toBe(99);
    expect(percentileOfSorted([5], 37)).toBe(5);
  });

  it("maps (x - p1) / (p99 - p1) * 255, clipped, truncated", () => {
    const data = Int16Array.from({ length: 100 }, (_, i) => i);
    const out = channel(toRgb8(img(data, 100, 1, 1), { mode: "percentile", low: 1, high: 99 }).data, 0);
    // x = 50: (50 - 0.99) / 97.02 * 255 = 128.81 -> 128; below p1 -> 0, above p99 -> 255
    expect(out[50]).toBe(128);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(0); // (1 - 0.99) / 97.02 * 255 = 0.026
    expect(out[99]).toBe(255);
    expect(out[98]).toBe(254); // (98 - 0.99) / 97.02 * 255 = 254.97
  });
});

describe("window", () => {
  it("abdomen 40/400 on CT values", () => {
    const hu = Int16Array.from([-1000, -160, 0, 40, 240, 1000]);
    const out = channel(toRgb8(img(hu, 6, 1, 1), { mode: "window", level: 40, width: 400 }).data, 0);
    // [-160, 240] -> [0, 255]: 0 HU is 160/400 * 255 = 102; 40 HU is 127.5 -> 127
    expect(out).toEqual([0, 0, 102, 127, 255, 255]);
  });

  it("refuses a non-positive width", () => {
    expect(() => toRgb8(img(Int16Array.from([1]), 1, 1, 1), { mode: "window", level: 0, width: 0 })).toThrow(/width > 0/);
  });
});

describe("none", () => {
  it("passes uint8 through and applies only the channel rule", () => {
    const out = toRgb8(img(Uint8Array.from([3, 200]), 2, 1, 1), { mode: "none" });
    expect(Array.from(out.data)).toEqual([3, 3, 3, 200, 200, 200]);
  });

  it("refuses other types and suggests a mode", () => {
    expect(() => toRgb8(img(Uint16Array.from([1]), 1, 1, 1), { mode: "none" })).toThrow(/needs a uint8 image but this one is uint16.*minmax/);
  });
});

describe("input checks", () => {
  it("names the mismatch between data and shape", () => {
    expect(() => toRgb8(img(new Uint8Array(5), 2, 2, 1))).toThrow(/holds 5 values but 2x2x1 needs 4/);
  });
});

describe("parseIntensity", () => {
  it("parses every form", () => {
    expect(parseIntensity("none")).toEqual({ mode: "none" });
    expect(parseIntensity("minmax")).toEqual({ mode: "minmax" });
    expect(parseIntensity("MinMax-Legacy")).toEqual({ mode: "minmax-legacy" });
    expect(parseIntensity("percentile")).toEqual({ mode: "percentile", low: 1, high: 99 });
    expect(parseIntensity("percentile:0.5,99.5")).toEqual({ mode: "percentile", low: 0.5, high: 99.5 });
    expect(parseIntensity("window:-600,1500")).toEqual({ mode: "window", level: -600, width: 1500 });
    expect(parseIntensity("lung")).toEqual({ mode: "window", level: -600, width: 1500 });
    expect(parseIntensity("window:brain")).toEqual({ mode: "window", level: 40, width: 80 });
  });

  it("has the usual CT presets", () => {
    const lw = (n: string) => [WINDOW_PRESETS[n]!.level, WINDOW_PRESETS[n]!.width];
    expect(lw("brain")).toEqual([40, 80]);
    expect(lw("lung")).toEqual([-600, 1500]);
    expect(lw("mediastinum")).toEqual([50, 350]);
    expect(lw("abdomen")).toEqual([40, 400]);
    expect(lw("soft-tissue")).toEqual([40, 400]);
    expect(lw("liver")).toEqual([60, 160]);
    expect(lw("bone")).toEqual([400, 1800]);
  });

  it("round-trips through formatIntensity", () => {
    const specs: IntensitySpec[] = [
      { mode: "none" },
      { mode: "minmax" },
      { mode: "minmax-legacy" },
      { mode: "percentile", low: 2, high: 98.5 },
      { mode: "window", level: -50.5, width: 7 },
    ];
    for (const s of specs) expect(parseIntensity(formatIntensity(s))).toEqual(s);
  });

  it("lists the valid forms in its errors", () => {
    for (const bad of ["minmx", "percentile:99,1", "percentile:1", "window:40", "window:40,-1", "window:a,b", ""]) {
      expect(() => parseIntensity(bad)).toThrow(/Valid forms:[\s\S]*percentile:LOW,HIGH[\s\S]*window:LEVEL,WIDTH[\s\S]*lung/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// numpy running the reference code.
// ---------------------------------------------------------------------------------------------

const REFERENCE = `
import sys, json
import numpy as np

def current(x):  # micro_sam >= 1.7 _to_image, as docs/inference.md §3 describes it
    if x.ndim == 2:
        x = np.concatenate([x[..., None]] * 3, axis=-1)
    elif x.shape[-1] == 1:
        x = np.concatenate([x] * 3, axis=-1)
    elif x.shape[-1] == 2:
        x = np.concatenate([x, np.zeros_like(x[..., :1])], axis=-1)
    elif x.shape[-1] > 3:
        x = x[..., :3]
    x = x.astype("float32")
    x -= x.min(axis=(0, 1))[None, None]
    x /= (x.max(axis=(0, 1))[None, None] + 1e-7)
    x *= 255
    return x.astype("uint8")

def legacy(x):  # micro_sam < 1.7 _to_image
    if x.dtype != np.dtype("uint8"):
        x = x.astype("float32") - x.min()
        x = x / x.max()
        x = (x * 255).astype("uint8")
    if x.ndim == 2:
        x = np.concatenate([x[..., None]] * 3, axis=-1)
    return x

def percentile(x, lo, hi):  # torch_em normalize_percentile, MedicoSAM's "* 255", then clip + uint8
    v_lower = np.percentile(x, lo, axis=None, keepdims=True)
    v_upper = np.percentile(x, hi, axis=None, keepdims=True) - v_lower
    r = x.astype("float32")
    r -= v_lower
    r /= (v_upper + 1e-7)
    r = r * 255
    r = np.clip(r, 0, 255).astype("uint8")
    return np.concatenate([r[..., None]] * 3, axis=-1) if r.ndim == 2 else r

out = {}
for j in json.loads(sys.argv[1]):
    x = np.fromfile(j["src"], dtype=j["dtype"]).reshape(j["shape"])
    if j["fn"] == "current":
        y = current(x)
    elif j["fn"] == "legacy":
        y = legacy(x)
    elif j["fn"] == "percentile":
        y = percentile(x, j["low"], j["high"])
    elif j["fn"] == "np.percentile":
        out[j["src"]] = [float(np.percentile(x, q)) for q in j["qs"]]
        continue
    np.ascontiguousarray(y).tofile(j["dst"])
json.dump(out, sys.stdout)
`;

/** Deterministic float noise in [0, 1). */
function rand(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

const DTYPE: [new (n: number) => PixelArray, string][] = [
  [Uint8Array, "u1"],
  [Int16Array, "<i2"],
  [Uint16Array, "<u2"],
  [Int32Array, "<i4"],
  [Float32Array, "<f4"],
  [Float64Array, "<f8"],
];

function makeCase(ctor: new (n: number) => PixelArray, h: number, w: number, c: number, seed: number, lo: number, hi: number) {
  const r = rand(h * w * c, seed);
  const data = new ctor(h * w * c);
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  // Skewed values with a few outliers, like CT: most in a band, some far out.
  for (let i = 0; i < data.length; i++) {
    const u = r[i]!;
    const v = u < 0.02 ? lo : u > 0.99 ? hi : lo + (hi - lo) * (0.3 + 0.2 * u);
    data[i] = isFloat ? v + u : Math.round(v);
  }
  return data;
}

describe("against numpy running the reference code", () => {
  it("minmax, minmax-legacy and percentile are bit-exact on many types and shapes", () => {
    if (!canRun(hasNumpy, "python3 with numpy (Debian python3-numpy) not found")) return;
    type Job = { image: Image2D; spec: IntensitySpec; fn: string; dtype: string; shape: number[]; low?: number; high?: number };
    const jobs: Job[] = [];
    let seed = 1;
    for (const [ctor, dtype] of DTYPE) {
      const range: [number, number] =
        ctor === Uint8Array ? [3, 250] : ctor === Uint16Array ? [100, 60000] : ctor === Int32Array ? [-5_000_000, 90_000_000] : [-1024, 3071];
      for (const c of [1, 2, 3, 4]) {
        const [h, w] = [23, 37];
        const image = img(makeCase(ctor, h, w, c, seed++, ...range), w, h, c);
        const shape = c === 1 ? [h, w] : [h, w, c];
        jobs.push({ image, spec: { mode: "minmax" }, fn: "current", dtype, shape });
        // the legacy code accepts only gray and RGB
        if (c === 1 || c === 3) jobs.push({ image, spec: { mode: "minmax-legacy" }, fn: "legacy", dtype, shape });
        if (c === 1) {
          jobs.push({ image, spec: { mode: "percentile", low: 1, high: 99 }, fn: "percentile", dtype, shape, low: 1, high: 99 });
          jobs.push({ image, spec: { mode: "percentile", low: 0.5, high: 97.3 }, fn: "percentile", dtype, shape, low: 0.5, high: 97.3 });
        }
      }
    }
    // The uint8 full ramp: the current version applies its arithmetic to uint8 too.
    const ramp = Uint8Array.from({ length: 256 }, (_, i) => i);
    jobs.push({ image: img(ramp, 16, 16, 1), spec: { mode: "minmax" }, fn: "current", dtype: "u1", shape: [16, 16] });

    const spec = jobs.map((j, i) => {
      const src = join(work, `in-${i}.bin`);
      writeFileSync(src, Buffer.from(j.image.data.buffer, j.image.data.byteOffset, j.image.data.byteLength));
      return { src, dst: join(work, `out-${i}.bin`), dtype: j.dtype, shape: j.shape, fn: j.fn, low: j.low, high: j.high };
    });
    execFileSync(PYTHON, ["-c", REFERENCE, JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
    const failures: string[] = [];
    jobs.forEach((j, i) => {
      const ours = toRgb8(j.image, j.spec).data;
      const ref = readFileSync(spec[i]!.dst);
      if (!Buffer.from(ours).equals(ref)) {
        failures.push(`${j.fn} ${j.dtype} ${j.shape.join("x")} (${formatIntensity(j.spec)})`);
      }
    });
    expect(failures).toEqual([]);
    // A full-range uint8 image comes back unchanged (numpy agrees, above): the epsilon only
    // bites on tiny ranges, as in the {0, 1} case.
    const rampOut = channel(toRgb8(img(ramp, 16, 16, 1), { mode: "minmax" }).data, 0);
    expect(rampOut).toEqual(Array.from(ramp));
  });

  it("percentiles equal np.percentile for integer (histogram) and float (sorted) data", () => {
    if (!canRun(hasNumpy, "python3 with numpy (Debian python3-numpy) not found")) return;
    const qs = [0, 0.5, 1, 2.5, 25, 50, 75, 97.5, 99, 99.5, 100];
    const cases = [
      { data: makeCase(Int16Array, 50, 41, 1, 91, -1024, 3071), dtype: "<i2" },
      { data: makeCase(Uint16Array, 7, 3, 1, 92, 0, 65535), dtype: "<u2" },
      { data: makeCase(Float32Array, 33, 31, 1, 93, -3.5, 12.25), dtype: "<f4" },
      { data: makeCase(Uint8Array, 1, 2, 1, 94, 0, 255), dtype: "u1" },
    ];
    const spec = cases.map((c, i) => {
      const src = join(work, `p-${i}.bin`);
      writeFileSync(src, Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
      return { src, dtype: c.dtype, shape: [c.data.length], fn: "np.percentile", qs };
    });
    const out = JSON.parse(execFileSync(PYTHON, ["-c", REFERENCE, JSON.stringify(spec)], { encoding: "utf8" })) as Record<
      string,
      number[]
    >;
    cases.forEach((c, i) => {
      const sorted = Float64Array.from(c.data).sort();
      expect(qs.map((q) => percentileOfSorted(sorted, q))).toEqual(out[spec[i]!.src]);
      // what toRgb8 uses: a histogram for 8/16-bit integers, a sort otherwise
      expect(percentiles(c.data, 1, [0], qs)).toEqual(out[spec[i]!.src]);
    });
  });
});
