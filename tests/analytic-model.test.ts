/**
 * The committed analytic models, run directly in onnxruntime-node (no engine code), against
 * expectations computed here from the definition in models/analytic/generate.ts: plain loops
 * in float64 over the formula, and the PyTorch bilinear rule of docs/inference.md §7.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import {
  ANALYTIC_MODEL_DIR,
  buildAnalyticModel,
  buildDecoder,
  writeAnalyticModel,
} from "../models/analytic/generate.js";

interface P {
  x: number;
  y: number;
  label: number;
}

interface RefOptions {
  radii: number[];
  negativeRadius: number;
}

const DEFAULTS: RefOptions = { radii: [96, 32, 64, 128], negativeRadius: 48 };
const DEFAULT_IOU = [0.95, 0.6, 0.9, 0.7];

/** The low-res logits of one token, straight from the definition (float64). */
function refLowRes(points: P[], radius: number, negativeRadius: number): Float64Array {
  const pos = points.filter((p) => p.label === 1);
  const neg = points.filter((p) => p.label === 0);
  const tl = points.find((p) => p.label === 2);
  const br = points.find((p) => p.label === 3);
  const hasBox = tl !== undefined && br !== undefined;
  const out = new Float64Array(256 * 256);
  for (let i = 0; i < 256; i++) {
    for (let j = 0; j < 256; j++) {
      const cx = 4 * j + 2;
      const cy = 4 * i + 2;
      let posV = hasBox ? 1e4 : -1e4;
      if (pos.length > 0) {
        posV = -Infinity;
        for (const p of pos) posV = Math.max(posV, radius - Math.hypot(cx - (p.x + 0.5), cy - (p.y + 0.5)));
      }
      const boxV = hasBox
        ? Math.min(cx - (tl.x + 0.5), br.x + 0.5 - cx, cy - (tl.y + 0.5), br.y + 0.5 - cy)
        : 1e4;
      let negV = 1e4;
      if (neg.length > 0) {
        negV = Infinity;
        for (const n of neg) negV = Math.min(negV, Math.hypot(cx - (n.x + 0.5), cy - (n.y + 0.5)) - negativeRadius);
      }
      out[i * 256 + j] = Math.min(posV, boxV, negV);
    }
  }
  return out;
}

/** PyTorch bilinear, align_corners=False, no antialias (docs/inference.md §7), in float64. */
function bilinear(src: ArrayLike<number>, inH: number, inW: number, outH: number, outW: number): Float64Array {
  const axis = (outN: number, inN: number) =>
    Array.from({ length: outN }, (_, d) => {
      const s = Math.max((d + 0.5) * (inN / outN) - 0.5, 0);
      const i0 = Math.min(Math.floor(s), inN - 1);
      return { i0, i1: Math.min(i0 + 1, inN - 1), t: s - i0 };
    });
  const ys = axis(outH, inH);
  const xs = axis(outW, inW);
  const out = new Float64Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const { i0: y0, i1: y1, t: ty } = ys[y]!;
    for (let x = 0; x < outW; x++) {
      const { i0: x0, i1: x1, t: tx } = xs[x]!;
      const top = src[y0 * inW + x0]! * (1 - tx) + src[y0 * inW + x1]! * tx;
      const bottom = src[y1 * inW + x0]! * (1 - tx) + src[y1 * inW + x1]! * tx;
      out[y * outW + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** The resized (pre-padding) image size of docs/inference.md §3, step 3. */
function resizedSize(h: number, w: number): [number, number] {
  const s = 1024 / Math.max(h, w);
  return [Math.floor(h * s + 0.5), Math.floor(w * s + 0.5)];
}

/** Official postprocessing of one token: to 1024, crop to the resized size, to (h, w). */
function refMask(lowRes: ArrayLike<number>, h: number, w: number): Float64Array {
  const up = bilinear(lowRes, 256, 256, 1024, 1024);
  const [nh, nw] = resizedSize(h, w);
  const crop = new Float64Array(nh * nw);
  for (let y = 0; y < nh; y++) crop.set(up.subarray(y * 1024, y * 1024 + nw), y * nw);
  return bilinear(crop, nh, nw, h, w);
}

/** float32 output vs float64 reference: distances up to ~1500 px carry ~1e-4 of rounding. */
function expectClose(got: Float32Array, want: ArrayLike<number>, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / (2e-3 + 1e-6 * Math.abs(want[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst at index ${at}: got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(1);
}

/** Collects sign mismatches so that one expect reports them (per-pixel expects are too slow). */
class SignCheck {
  checked = 0;
  private readonly bad: string[] = [];
  constructor(private readonly what: string) {}
  expect(value: number, positive: boolean, row: number, col: number): void {
    this.checked++;
    if (value > 0 !== positive) this.bad.push(`(${row}, ${col}) = ${value}, want ${positive ? "> 0" : "<= 0"}`);
  }
  done(): void {
    expect(this.bad.slice(0, 5), `${this.what}: ${this.bad.length} of ${this.checked} wrong`).toEqual([]);
    expect(this.checked, `${this.what}: nothing checked`).toBeGreaterThan(0);
  }
}

/** Bit-exact equality of two float arrays (toEqual on 10^5 elements takes seconds). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function token(data: Float32Array, k: number, size: number): Float32Array {
  return data.subarray(k * size, (k + 1) * size);
}

const zeroMask = () => new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);
const zeroEmbedding = new ort.Tensor("float32", new Float32Array(256 * 64 * 64), [1, 256, 64, 64]);

interface DecoderRun {
  masks: Float32Array;
  masksDims: readonly number[];
  lowRes: Float32Array;
  lowResDims: readonly number[];
  iou: Float32Array;
  iouDims: readonly number[];
}

async function decode(
  session: ort.InferenceSession,
  points: P[],
  orig: [number, number],
  mask?: { input: Float32Array; has: number },
): Promise<DecoderRun> {
  const out = await session.run({
    image_embeddings: zeroEmbedding,
    point_coords: new ort.Tensor("float32", Float32Array.from(points.flatMap((p) => [p.x, p.y])), [1, points.length, 2]),
    point_labels: new ort.Tensor("float32", Float32Array.from(points.map((p) => p.label)), [1, points.length]),
    mask_input: mask ? new ort.Tensor("float32", mask.input, [1, 1, 256, 256]) : zeroMask(),
    has_mask_input: new ort.Tensor("float32", Float32Array.of(mask?.has ?? 0), [1]),
    orig_im_size: new ort.Tensor("float32", Float32Array.from(orig), [2]),
  });
  return {
    masks: out.masks!.data as Float32Array,
    masksDims: out.masks!.dims,
    lowRes: out.low_res_masks!.data as Float32Array,
    lowResDims: out.low_res_masks!.dims,
    iou: out.iou_predictions!.data as Float32Array,
    iouDims: out.iou_predictions!.dims,
  };
}

/** Checks every token's low-res and full-size logits against the reference. */
function expectMatchesReference(r: DecoderRun, points: P[], orig: [number, number], opts: RefOptions = DEFAULTS): void {
  const [h, w] = orig;
  const C = opts.radii.length;
  expect(r.lowResDims).toEqual([1, C, 256, 256]);
  expect(r.masksDims).toEqual([1, C, h, w]);
  for (let k = 0; k < C; k++) {
    const low = refLowRes(points, opts.radii[k]!, opts.negativeRadius);
    expectClose(token(r.lowRes, k, 256 * 256), low, `low_res token ${k}`);
    expectClose(token(r.masks, k, h * w), refMask(low, h, w), `masks token ${k}`);
  }
}

/** Scale from original pixels to the 1024 frame, per axis (docs/inference.md §4). */
function to1024(x: number, y: number, h: number, w: number): P {
  const [nh, nw] = resizedSize(h, w);
  return { x: Math.fround(x * (nw / w)), y: Math.fround(y * (nh / h)), label: 1 };
}

let encoder: ort.InferenceSession;
let decoder: ort.InferenceSession;

beforeAll(async () => {
  encoder = await ort.InferenceSession.create(join(ANALYTIC_MODEL_DIR, "encoder.onnx"));
  decoder = await ort.InferenceSession.create(join(ANALYTIC_MODEL_DIR, "decoder.onnx"));
});

afterAll(async () => {
  await encoder?.release();
  await decoder?.release();
});

describe("analytic encoder", () => {
  it("pools each channel 16x16, puts their mean in channel 3 and zeros elsewhere", async () => {
    expect(encoder.inputNames).toEqual(["input_image"]);
    expect(encoder.outputNames).toEqual(["image_embeddings"]);
    const n = 1024 * 1024;
    const img = new Float32Array(3 * n);
    let seed = 12345;
    for (let i = 0; i < img.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      img[i] = (seed >>> 8) / (1 << 24) * 4 - 2 + (i % 1024 === 0 ? 50 : 0);
    }
    const out = await encoder.run({ input_image: new ort.Tensor("float32", img, [1, 3, 1024, 1024]) });
    const emb = out.image_embeddings!;
    expect(emb.dims).toEqual([1, 256, 64, 64]);
    const e = emb.data as Float32Array;
    for (let by = 0; by < 64; by++) {
      for (let bx = 0; bx < 64; bx++) {
        const means: number[] = [];
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let y = by * 16; y < by * 16 + 16; y++) for (let x = bx * 16; x < bx * 16 + 16; x++) s += img[c * n + y * 1024 + x]!;
          means.push(s / 256);
        }
        const cell = by * 64 + bx;
        for (let c = 0; c < 3; c++) expect(Math.abs(e[c * 4096 + cell]! - means[c]!)).toBeLessThan(1e-5);
        expect(Math.abs(e[3 * 4096 + cell]! - (means[0]! + means[1]! + means[2]!) / 3)).toBeLessThan(1e-5);
      }
    }
    expect(e.subarray(4 * 4096).every((v) => v === 0)).toBe(true);
  });
});

describe("analytic decoder", () => {
  it("has the official SamOnnxModel input and output names", () => {
    expect(decoder.inputNames).toEqual([
      "image_embeddings",
      "point_coords",
      "point_labels",
      "mask_input",
      "has_mask_input",
      "orig_im_size",
    ]);
    expect(decoder.outputNames).toEqual(["masks", "iou_predictions", "low_res_masks"]);
  });

  for (const orig of [
    [300, 457],
    [457, 300],
    [1300, 1100],
  ] as [number, number][]) {
    it(`draws a disc of radius R_k around one positive point (orig ${orig[0]}x${orig[1]})`, async () => {
      const [h, w] = orig;
      const ox = Math.round(w * 0.37);
      const oy = Math.round(h * 0.41);
      const p = to1024(ox, oy, h, w);
      const points = [p, { x: 0, y: 0, label: -1 }];
      const r = await decode(decoder, points, orig);
      expectMatchesReference(r, points, orig);
      expect(Array.from(r.iou)).toEqual(DEFAULT_IOU.map(Math.fround));
      expect(r.iouDims).toEqual([1, 4]);

      // Geometry, independent of the reference pipeline: inside R - margin positive, outside
      // R + margin negative, both in the low-res frame and at original resolution.
      const [nh, nw] = resizedSize(h, w);
      const sx = nw / w;
      const sy = nh / h;
      for (let k = 0; k < 4; k++) {
        const R = DEFAULTS.radii[k]!;
        const low = token(r.lowRes, k, 256 * 256);
        const lowCheck = new SignCheck(`token ${k} low_res`);
        for (let i = 0; i < 256; i++) {
          for (let j = 0; j < 256; j++) {
            const d = Math.hypot(4 * j + 2 - (p.x + 0.5), 4 * i + 2 - (p.y + 0.5));
            if (d < R - 0.01) lowCheck.expect(low[i * 256 + j]!, true, i, j);
            if (d > R + 0.01) lowCheck.expect(low[i * 256 + j]!, false, i, j);
          }
        }
        lowCheck.done();
        const m = token(r.masks, k, h * w);
        const maskCheck = new SignCheck(`token ${k} masks`);
        let area = 0;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const v = m[y * w + x]!;
            if (v > 0) area++;
            const d = Math.hypot((x + 0.5) * sx - (p.x + 0.5), (y + 0.5) * sy - (p.y + 0.5));
            if (d < R - 6) maskCheck.expect(v, true, y, x);
            if (d > R + 6) maskCheck.expect(v, false, y, x);
          }
        }
        maskCheck.done();
        // The disc's area in original pixels is pi (R/s)^2, up to the boundary band.
        const expectedArea = (Math.PI * R * R) / (sx * sy);
        expect(Math.abs(area - expectedArea) / expectedArea).toBeLessThan(0.1);
      }
    });
  }

  it("cuts a hole of negativeRadius around a negative point", async () => {
    const points: P[] = [
      { x: 512, y: 512, label: 1 },
      { x: 560, y: 500, label: 0 },
      { x: 0, y: 0, label: -1 },
    ];
    const r = await decode(decoder, points, [1024, 1024]);
    expectMatchesReference(r, points, [1024, 1024]);
    const low = token(r.lowRes, 3, 256 * 256); // R = 128 covers the whole hole
    const hole = new SignCheck("hole");
    for (let i = 0; i < 256; i++) {
      for (let j = 0; j < 256; j++) {
        const dn = Math.hypot(4 * j + 2 - 560.5, 4 * i + 2 - 500.5);
        if (dn < 48 - 0.01) hole.expect(low[i * 256 + j]!, false, i, j);
      }
    }
    hole.done();
    expect(hole.checked).toBeGreaterThan(400);
    // Without the negative point the same cells are foreground.
    const noNeg = await decode(decoder, [points[0]!, points[2]!], [1024, 1024]);
    expect(token(noNeg.lowRes, 3, 256 * 256)[Math.floor(500 / 4) * 256 + Math.floor(560 / 4)]).toBeGreaterThan(0);
  });

  it("bounds the mask by a box (labels 2, 3), alone and with a positive point", async () => {
    const orig: [number, number] = [800, 1000];
    const box: P[] = [
      { x: 300, y: 200, label: 2 },
      { x: 700, y: 600, label: 3 },
    ];
    const alone = await decode(decoder, box, orig);
    expectMatchesReference(alone, box, orig);
    for (let k = 0; k < 4; k++) {
      const low = token(alone.lowRes, k, 256 * 256);
      const check = new SignCheck(`token ${k} box`);
      for (let i = 0; i < 256; i++) {
        for (let j = 0; j < 256; j++) {
          const cx = 4 * j + 2;
          const cy = 4 * i + 2;
          check.expect(low[i * 256 + j]!, cx > 300.5 && cx < 700.5 && cy > 200.5 && cy < 600.5, i, j);
        }
      }
      check.done();
    }
    const withPoint = [{ x: 320, y: 400, label: 1 }, ...box];
    const r = await decode(decoder, withPoint, orig);
    expectMatchesReference(r, withPoint, orig);
    // Token 3 (R = 128) would reach x = 192 without the box; the box stops it at 300.5.
    const low3 = token(r.lowRes, 3, 256 * 256);
    const row = Math.floor(400 / 4);
    expect(low3[row * 256 + Math.floor(290 / 4)]).toBeLessThan(0);
    expect(low3[row * 256 + Math.floor(310 / 4)]).toBeGreaterThan(0);
  });

  it("ignores padding points (label -1), wherever they are and however many", async () => {
    const click = { x: 400, y: 333, label: 1 };
    const orig: [number, number] = [300, 457];
    const bare = await decode(decoder, [click], orig);
    const padded = await decode(decoder, [click, { x: 0, y: 0, label: -1 }], orig);
    const scattered = await decode(
      decoder,
      [{ x: 410, y: 340, label: -1 }, click, { x: 20, y: 900, label: -1 }, { x: 0, y: 0, label: -1 }],
      orig,
    );
    expectMatchesReference(bare, [click], orig);
    expect(sameBits(padded.lowRes, bare.lowRes)).toBe(true);
    expect(sameBits(padded.masks, bare.masks)).toBe(true);
    expect(sameBits(scattered.lowRes, bare.lowRes)).toBe(true);
    expect(sameBits(scattered.masks, bare.masks)).toBe(true);
  });

  it("gives -1e4 everywhere when no point says anything", async () => {
    const r = await decode(decoder, [{ x: 0, y: 0, label: -1 }], [64, 64]);
    expect(r.lowRes.every((v) => v === -1e4)).toBe(true);
    const none = await decode(decoder, [], [64, 64]);
    expect(none.lowRes.every((v) => v === -1e4)).toBe(true);
  });

  it("echoes mask_input exactly when has_mask_input = 1", async () => {
    const input = new Float32Array(256 * 256);
    for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.37) * 20 + (i % 256) / 10 - 6.9;
    const points: P[] = [
      { x: 100, y: 100, label: 1 },
      { x: 0, y: 0, label: -1 },
    ];
    const orig: [number, number] = [300, 457];
    const r = await decode(decoder, points, orig, { input, has: 1 });
    for (let k = 0; k < 4; k++) expect(sameBits(token(r.lowRes, k, 256 * 256), input), `token ${k}`).toBe(true);
    for (let k = 0; k < 4; k++) expectClose(token(r.masks, k, 300 * 457), refMask(input, 300, 457), `masks token ${k}`);
    // has_mask_input = 0 ignores the same mask entirely.
    const off = await decode(decoder, points, orig, { input, has: 0 });
    expectMatchesReference(off, points, orig);
  });
});

describe("analytic decoder variants", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "analytic-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("numMasks 1 returns only token 0 (C = 1), written as a model folder", async () => {
    const paths = await writeAnalyticModel(join(dir, "single"), { numMasks: 1 });
    const manifest = JSON.parse(await readFile(paths.manifest, "utf8"));
    expect(manifest.decoder.numMasks).toBe(1);
    const session = await ort.InferenceSession.create(paths.decoder);
    try {
      const points: P[] = [
        { x: 640, y: 320, label: 1 },
        { x: 0, y: 0, label: -1 },
      ];
      const r = await decode(session, points, [300, 457]);
      expect(r.iouDims).toEqual([1, 1]);
      expect(Array.from(r.iou)).toEqual([Math.fround(0.95)]);
      expectMatchesReference(r, points, [300, 457], { radii: [96], negativeRadius: 48 });
    } finally {
      await session.release();
    }
  });

  it("uses the radii, iou scores and negative radius it was built with", async () => {
    const opts = { radii: [10, 20, 30, 40], iouScores: [0.1, 0.2, 0.3, 0.4], negativeRadius: 5 };
    const session = await ort.InferenceSession.create(buildDecoder(opts));
    try {
      const points: P[] = [
        { x: 200, y: 210, label: 1 },
        { x: 215, y: 210, label: 0 },
        { x: 0, y: 0, label: -1 },
      ];
      const r = await decode(session, points, [512, 512]);
      expect(Array.from(r.iou)).toEqual(opts.iouScores.map(Math.fround));
      expectMatchesReference(r, points, [512, 512], opts);
    } finally {
      await session.release();
    }
  });

  it("refuses inconsistent options with a clear message", () => {
    expect(() => buildDecoder({ numMasks: 1, radii: [1, 2] })).toThrow(/one value per mask token/);
  });
});

describe("committed analytic model files", () => {
  it("regenerate to identical bytes, and model.json describes them", async () => {
    const files = buildAnalyticModel();
    const [enc, dec, manifestText] = await Promise.all([
      readFile(join(ANALYTIC_MODEL_DIR, "encoder.onnx")),
      readFile(join(ANALYTIC_MODEL_DIR, "decoder.onnx")),
      readFile(join(ANALYTIC_MODEL_DIR, "model.json"), "utf8"),
    ]);
    const hint = "committed analytic model is stale: run `npx tsx models/analytic/generate.ts` and commit";
    expect(Buffer.from(files.encoder).equals(enc), hint).toBe(true);
    expect(Buffer.from(files.decoder).equals(dec), hint).toBe(true);
    expect(manifestText, hint).toBe(files.manifestText);

    const m = JSON.parse(manifestText);
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    expect(m.name).toBe("analytic-test");
    expect(m.notice).toBe("analytic test model (draws discs around clicks) — not MedicoSAM");
    expect(m.encoder).toEqual({ file: "encoder.onnx", sha256: sha(enc) });
    expect(m.decoder).toEqual({ file: "decoder.onnx", sha256: sha(dec), numMasks: 4 });
    expect(m.preprocessing).toEqual({
      imageSize: 1024,
      pixelMean: [123.675, 116.28, 103.53],
      pixelStd: [58.395, 57.12, 57.375],
    });
  });
});
