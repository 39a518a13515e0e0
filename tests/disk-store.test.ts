/**
 * The on-disk embedding store (kernel/cache/disk-store.ts) and what sits on it: half-precision
 * conversion (exhaustive, and against numpy), chunks and manifest on disk, and VolumeEmbeddings'
 * precompute/priority/interrupt behaviour with the real engine (encoder process, onnxruntime) and
 * the analytic test model.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHalf, encodeHalf, fromHalfBits, toHalfBits } from "../kernel/cache/float16.js";
import { formatProgress, VolumeEmbeddings, type Embedder, type PrecomputeProgress } from "../kernel/cache/volume-embeddings.js";
import { SLICE_BYTES, VolumeEmbeddingStore } from "../kernel/cache/disk-store.js";
import type { Image2D } from "../kernel/io/image.js";
import type { Volume } from "../kernel/io/volume.js";
import type { IntensitySpec } from "../kernel/intensity/spec.js";
import { EMBEDDING_LENGTH, type Embedding } from "../kernel/sam/embedding.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { makePhantom, phantomVolume } from "./helpers/phantom3d.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "vstore-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("float16", () => {
  it("decodes every half value as IEEE 754 defines it, and encodes each back to itself", () => {
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      const expected = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
      const got = fromHalfBits(h);
      if (Number.isNaN(expected)) expect(Number.isNaN(got)).toBe(true);
      else {
        expect(got).toBe(expected);
        expect(toHalfBits(got)).toBe(h);
      }
    }
  });

  it("rounds to nearest, ties to even, overflow to infinity", () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even (1)
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: even is 1+2^-9
    expect(toHalfBits(65520)).toBe(0x7c00); // halfway to the next power: rounds to infinity
    expect(toHalfBits(65519)).toBe(0x7bff);
    expect(toHalfBits(2 ** -25)).toBe(0); // half the smallest subnormal: tie to even (0)
    expect(toHalfBits(2 ** -25 * 1.0001)).toBe(1);
    expect(toHalfBits(-0)).toBe(0x8000);
  });

  it.runIf(canRun(pythonHas("numpy"), "python3-numpy is needed to compare float16 rounding with numpy"))(
    "equals numpy's astype(float16) on 200k random float32 values across the range",
    () => {
      const n = 200_000;
      const src = new Float32Array(n);
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      for (let i = 0; i < n; i++) src[i] = (rnd() - 0.5) * 2 ** Math.floor(rnd() * 50 - 30);
      const file = join(dir, "f32.bin");
      writeFileSync(file, new Uint8Array(src.buffer));
      const ref = runPythonJson<number[]>(
        "import sys, json, numpy as np\nx = np.fromfile(sys.argv[1], '<f4')\nprint(json.dumps(x.astype(np.float16).view(np.uint16).tolist()))",
        [file],
      );
      expect(Array.from(encodeHalf(src))).toEqual(ref);
    },
  );
});

function fakeEmbedding(seed: number): Embedding {
  const data = new Float32Array(EMBEDDING_LENGTH);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001 + seed) * 3;
  return { data, originalSize: { height: 56, width: 64 }, resizedSize: { height: 896, width: 1024 }, modelName: "m", key: "k" };
}

describe("VolumeEmbeddingStore", () => {
  const id = { dataSignature: "abc", model: { name: "m", identity: "sha256:1" }, settings: { view: "axial", intensity: { mode: "minmax" } } };
  const geometry = { depth: 5, originalSize: { height: 56, width: 64 }, resizedSize: { height: 896, width: 1024 } };

  it("writes one 2 MiB half-precision chunk per slice and a manifest; reopening finds them", async () => {
    const root = join(dir, "store1");
    const s = await VolumeEmbeddingStore.open(root, id, geometry);
    await s.write(3, fakeEmbedding(3));
    const chunk = join(s.dir, "slices", "0003.f16");
    expect(statSync(chunk).size).toBe(2 * 1024 * 1024);
    expect(SLICE_BYTES * 300).toBe(600 * 2 ** 20); // 600 MiB per 300-slice volume
    const manifest = JSON.parse(readFileSync(join(s.dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ format: "medicosam-volume-embeddings/1", dataSignature: "abc", dtype: "float16-le", depth: 5, shape: [256, 64, 64] });
    const again = await VolumeEmbeddingStore.open(root, id, geometry);
    expect(again.dir).toBe(s.dir);
    expect(again.has(3)).toBe(true);
    expect(again.missing([0, 1, 2, 3, 4])).toEqual([0, 1, 2, 4]);
    const e = await again.read(3);
    const src = fakeEmbedding(3).data;
    let maxRel = 0;
    for (let i = 0; i < src.length; i++) maxRel = Math.max(maxRel, Math.abs(e.data[i]! - src[i]!) / Math.max(Math.abs(src[i]!), 2 ** -14));
    expect(maxRel).toBeLessThanOrEqual(2 ** -11);
    expect(Array.from(e.data.subarray(0, 1000))).toEqual(Array.from(decodeHalf(encodeHalf(src.subarray(0, 1000)))));
    expect(e.originalSize).toEqual(geometry.originalSize);
  });

  it("other data, model or settings get another folder; a manifest that disagrees is refused", async () => {
    const root = join(dir, "store2");
    const a = await VolumeEmbeddingStore.open(root, id, geometry);
    const b = await VolumeEmbeddingStore.open(root, { ...id, settings: { ...id.settings, intensity: { mode: "window", level: 40, width: 400 } } }, geometry);
    const c = await VolumeEmbeddingStore.open(root, { ...id, dataSignature: "other" }, geometry);
    expect(new Set([a.dir, b.dir, c.dir]).size).toBe(3);
    const m = JSON.parse(readFileSync(join(a.dir, "manifest.json"), "utf8"));
    writeFileSync(join(a.dir, "manifest.json"), JSON.stringify({ ...m, dataSignature: "tampered" }));
    await expect(VolumeEmbeddingStore.open(root, id, geometry)).rejects.toThrow(/made for something else \(the volume data differ/);
  });

  it("a damaged chunk is reported, not decoded", async () => {
    const s = await VolumeEmbeddingStore.open(join(dir, "store3"), id, geometry);
    await s.write(1, fakeEmbedding(1));
    writeFileSync(join(s.dir, "slices", "0001.f16"), new Uint8Array(100));
    await expect(s.read(1)).rejects.toThrow(/100 bytes, expected 2097152 \(a damaged chunk/);
  });
});

/** The engine, with a log of which slice each encoder call was for (by the slice's pixels). */
class Recording implements Embedder {
  calls: number[] = [];
  constructor(
    readonly inner: SamModel,
    private readonly sliceOf: (image: Image2D) => number,
  ) {}
  get manifest() {
    return this.inner.manifest;
  }
  get encoderPath() {
    return this.inner.encoderPath;
  }
  embed(image: Image2D, options?: { intensity?: IntensitySpec }) {
    this.calls.push(this.sliceOf(image));
    this.inner.cache.clear(); // every call is a real encoder run
    return this.inner.embed(image, options);
  }
  cancel() {
    return this.inner.cancel();
  }
}

describe("VolumeEmbeddings with the engine and the analytic model", () => {
  let model: SamModel;
  const ph = makePhantom({ dims: [48, 40, 12] });
  const volume: Volume = phantomVolume(ph);
  /** Axial slices of this phantom differ in their first pixel row? Identify them by a checksum instead. */
  const sums = new Map<number, number>();
  const checksum = (img: Image2D) => Array.from(img.data).reduce((a, v, i) => a + v * ((i % 97) + 1), 0);
  beforeAll(async () => {
    model = await loadModel("models/analytic");
  });
  afterAll(async () => {
    await model?.dispose();
  });
  const recorder = (ve?: VolumeEmbeddings) => {
    const r = new Recording(model, (img) => {
      const s = checksum(img);
      for (const [z, v] of sums) if (v === s) return z;
      return -1;
    });
    if (ve) for (let z = 0; z < ve.depth; z++) sums.set(z, checksum(ve.slice(z)));
    return r;
  };

  it("get(z) equals the engine's own embedding of that slice (to half precision)", async () => {
    const probe = await VolumeEmbeddings.open(volume, model, { storeRoot: join(dir, "ve0") });
    const direct = await model.embed(probe.slice(5), { intensity: { mode: "minmax" } });
    const viaStore = await probe.get(5);
    expect(viaStore.data).not.toBe(direct.data);
    for (let i = 0; i < EMBEDDING_LENGTH; i += 37) expect(Math.abs(viaStore.data[i]! - direct.data[i]!)).toBeLessThanOrEqual(Math.abs(direct.data[i]!) * 2 ** -11 + 1e-7);
    expect(viaStore.originalSize).toEqual({ height: 40, width: 48 });
    expect(viaStore.resizedSize).toEqual(direct.resizedSize);
  });

  it("precomputes with progress, reuses the store on the next open, and puts the viewed slice first", async () => {
    const root = join(dir, "ve1");
    const first = await VolumeEmbeddings.open(volume, model, { storeRoot: root });
    const rec = recorder(first);
    const ve = await VolumeEmbeddings.open(volume, rec, { storeRoot: root });
    const seen: PrecomputeProgress[] = [];
    const job = ve.precompute({ onProgress: (p) => seen.push(p) });
    // The user scrolls to slice 10 while slice 0 is encoding: it must be next, not 11th.
    await new Promise((r) => setTimeout(r, 0));
    const got10 = await ve.get(10);
    expect(got10.originalSize.width).toBe(48);
    const final = await job;
    expect(rec.calls.slice(0, 2)).toEqual([0, 10]);
    expect([...rec.calls].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, z) => z));
    expect(final).toMatchObject({ done: 12, total: 12, finished: true, interrupted: false, fromStore: 0 });
    expect(final.computed).toBe(12);
    expect(final.rate).toBeGreaterThan(0);
    const mid = seen.find((p) => p.done === 6)!;
    expect(mid.etaS).toBeCloseTo((12 - 6) / mid.rate, 6);
    expect(formatProgress(mid)).toMatch(/^6\/12 slices \(6 computed, 0 from the store\), \d+\.\d\d slices\/s, ETA \d+ s$/);
    expect(readdirSync(join(ve.store!.dir, "slices")).filter((f) => f.endsWith(".f16")).length).toBe(12);

    const rec2 = recorder();
    const reopened = await VolumeEmbeddings.open(volume, rec2, { storeRoot: root });
    const again = await reopened.precompute();
    expect(again).toMatchObject({ done: 12, fromStore: 12, computed: 0, finished: true });
    const e7 = await reopened.get(7);
    expect(rec2.calls).toEqual([]);
    expect(Array.from(e7.data.subarray(0, 500))).toEqual(Array.from((await ve.get(7)).data.subarray(0, 500)));
  });

  it("an interrupted precompute stops, keeps what it finished, and the next one continues", async () => {
    const root = join(dir, "ve2");
    const base = await VolumeEmbeddings.open(volume, model, { storeRoot: root });
    const rec = recorder(base);
    const ve = await VolumeEmbeddings.open(volume, rec, { storeRoot: root });
    const ctrl = new AbortController();
    const p = await ve.precompute({
      from: 2,
      to: 9,
      signal: ctrl.signal,
      onProgress: (pr) => {
        if (pr.computed === 3) ctrl.abort();
      },
    });
    expect(p.interrupted).toBe(true);
    expect(formatProgress(p)).toMatch(/^interrupted at [34]\/8 slices/);
    const stored = [2, 3, 4, 5, 6, 7, 8, 9].filter((z) => ve.store!.has(z));
    expect(stored.length).toBeGreaterThanOrEqual(3);
    expect(stored.length).toBeLessThan(8);
    const rest = await ve.precompute({ from: 2, to: 9 });
    expect(rest).toMatchObject({ done: 8, finished: true, fromStore: stored.length, computed: 8 - stored.length });
  });

  it("per-volume and window intensity are separate stores with their own pixels", async () => {
    const root = join(dir, "ve3");
    const a = await VolumeEmbeddings.open(volume, model, { storeRoot: root, intensity: { mode: "per-slice" } });
    const b = await VolumeEmbeddings.open(volume, model, { storeRoot: root, intensity: { mode: "per-volume" } });
    const c = await VolumeEmbeddings.open(volume, model, { storeRoot: root, intensity: { mode: "window", level: 0, width: 100 } });
    expect(new Set([a.store!.dir, b.store!.dir, c.store!.dir]).size).toBe(3);
    expect(b.intensitySpec).toEqual({ mode: "window", level: (-100 + Math.max(...ph.image)) / 2, width: Math.max(...ph.image) + 100 });
    const [ea, eb] = [await a.get(0), await b.get(0)];
    // slice 0 holds only background; per-slice stretches it to 0..255, per-volume keeps it dark
    expect(ea.data[3 * 4096 + 100]).not.toBeCloseTo(eb.data[3 * 4096 + 100]!, 2);
  });
});
