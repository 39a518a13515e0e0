/**
 * The pipelined volume precompute (VolumeEmbeddings with `pipeline`, SamModel.prepare /
 * embedPrepared): the kernel prepares the next slice while the encoder process runs the current
 * one, and the embeddings are the sequential ones byte for byte. With the demo model (a real
 * convolutional encoder, so a wrong resize or a shifted row would show) and its encoder process.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VolumeEmbeddings, type Embedder } from "../kernel/cache/volume-embeddings.js";
import type { Image2D, RgbImage8 } from "../kernel/io/image.js";
import type { Volume } from "../kernel/io/volume.js";
import type { IntensitySpec } from "../kernel/intensity/spec.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { loadModel, type PreparedImage, type SamModel } from "../kernel/sam/model.js";
import { preprocess, preprocessResized, resizeForEncoder } from "../kernel/sam/preprocess.js";
import { makePhantom, phantomVolume } from "./helpers/phantom3d.js";

const dir = mkdtempSync(join(tmpdir(), "medicosam-pipeline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rgbImage(width: number, height: number, seed: number): RgbImage8 {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { width, height, data };
}

describe("preprocessing in two halves", () => {
  it("resizeForEncoder then preprocessResized is preprocess, bit for bit (up, down, wide, tall)", () => {
    for (const [w, h] of [[300, 170], [170, 300], [1500, 900], [64, 64], [1024, 1024]] as const) {
      const rgb = rgbImage(w, h, w * 7 + h);
      const whole = preprocess(rgb);
      const halves = preprocessResized(resizeForEncoder(rgb), { width: w, height: h });
      expect(halves.resizedSize).toEqual(whole.resizedSize);
      expect(halves.originalSize).toEqual(whole.originalSize);
      expect(Buffer.from(halves.tensor.buffer).equals(Buffer.from(whole.tensor.buffer))).toBe(true);
    }
  });

  it("refuses a resized image that does not belong to the original size", () => {
    const resized = resizeForEncoder(rgbImage(300, 170, 1));
    expect(() => preprocessResized(resized, { width: 300, height: 200 })).toThrow(/a 300x200 image resizes to 1024x683 RGB, got 1024x580/);
    expect(() => preprocessResized(resized, { width: 170, height: 300 })).toThrow(/a 170x300 image resizes to 580x1024 RGB, got 1024x580/);
  });
});

/** The model, recording when each slice is prepared and when its embedding comes back. */
class Recorder implements Embedder {
  readonly events: string[] = [];
  private readonly preparedSlices = new Map<PreparedImage, number>();
  constructor(
    private readonly model: SamModel,
    private readonly sliceOf: (image: Image2D) => number,
  ) {}
  get manifest() {
    return this.model.manifest;
  }
  get encoderPath() {
    return this.model.encoderPath;
  }
  embed(image: Image2D, options?: { intensity?: IntensitySpec; cache?: boolean }): Promise<Embedding> {
    return this.model.embed(image, options);
  }
  prepare(image: Image2D, options?: { intensity?: IntensitySpec }): PreparedImage {
    const z = this.sliceOf(image);
    this.events.push(`prepare ${z}`);
    const prepared = this.model.prepare(image, options);
    this.preparedSlices.set(prepared, z);
    return prepared;
  }
  async embedPrepared(prepared: PreparedImage, options?: { cache?: boolean; onStarted?: () => void }): Promise<Embedding> {
    const z = this.preparedSlices.get(prepared) ?? -1;
    this.events.push(`send ${z}`);
    const e = await this.model.embedPrepared(prepared, options);
    this.events.push(`embedded ${z}`);
    return e;
  }
}

describe("pipelined precompute with the demo model", () => {
  let model: SamModel;
  const ph = makePhantom({ dims: [72, 56, 6] });
  const volume: Volume = phantomVolume(ph);
  beforeAll(async () => {
    model = await loadModel("models/demo");
  });
  afterAll(async () => {
    await model?.dispose();
  });

  const chunks = (root: string) =>
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".f16"))
      .map((e) => relative(root, join(e.parentPath, e.name)))
      .sort();

  it("stores the same bytes as the sequential precompute; each slice is prepared during the previous run and sent before the previous is stored", async () => {
    const sequentialRoot = join(dir, "sequential");
    const pipelinedRoot = join(dir, "pipelined");
    const sequential = await VolumeEmbeddings.open(volume, model, { storeRoot: sequentialRoot, pipeline: false });
    const slices = Array.from({ length: sequential.depth }, (_, z) => sequential.slice(z).data);
    const sliceOf = (image: Image2D) => slices.findIndex((d) => d.length === image.data.length && d.every((v, i) => v === image.data[i]));
    const recorder = new Recorder(model, sliceOf);
    const pipelined = await VolumeEmbeddings.open(volume, recorder, { storeRoot: pipelinedRoot, pipeline: true });
    // Neither finds the other's store, nor the engine's memory cache (precompute bypasses it).
    model.cache.clear();
    const a = await sequential.precompute();
    const b = await pipelined.precompute({ onProgress: (p) => p.slice !== undefined && recorder.events.push(`stored ${p.slice}`) });
    expect(a.computed).toBe(volume.dims[2]);
    expect(b.computed).toBe(volume.dims[2]);
    expect(b.rate).toBeGreaterThan(0);

    const names = chunks(sequentialRoot).map((f) => f.split("/").pop());
    expect(names).toHaveLength(volume.dims[2]);
    expect(chunks(pipelinedRoot).map((f) => f.split("/").pop())).toEqual(names);
    for (const [fa, fb] of chunks(sequentialRoot).map((f, i) => [join(sequentialRoot, f), join(pipelinedRoot, chunks(pipelinedRoot)[i]!)] as const)) {
      expect(readFileSync(fb).equals(readFileSync(fa))).toBe(true);
    }
    for (let z = 0; z < volume.dims[2]; z++) {
      const [ea, eb] = [await sequential.get(z), await pipelined.get(z)];
      expect(Buffer.from(eb.data.buffer, eb.data.byteOffset, eb.data.byteLength).equals(Buffer.from(ea.data.buffer, ea.data.byteOffset, ea.data.byteLength))).toBe(true);
    }
    // The pipeline: slice z+1 is prepared while slice z is in the encoder, and sent before z is stored.
    const ev = recorder.events;
    expect(ev.filter((e) => e.startsWith("prepare"))).toEqual(Array.from({ length: volume.dims[2] }, (_, z) => `prepare ${z}`));
    for (let z = 0; z + 1 < volume.dims[2]; z++) {
      expect(ev.indexOf(`prepare ${z + 1}`)).toBeLessThan(ev.indexOf(`embedded ${z}`));
      expect(ev.indexOf(`send ${z + 1}`)).toBeLessThan(ev.indexOf(`stored ${z}`));
    }
  });

  it("the embedding of a prepared image is embed()'s, with the same cache key (sent as it is, and resized in the kernel)", async () => {
    for (const [width, height] of [[90, 60], [1200, 700]] as const) {
      const gray = rgbImage(width, height, width).data.subarray(0, width * height);
      const image: Image2D = { width, height, channels: 1, data: gray };
      model.cache.clear();
      const direct = await model.embed(image, { cache: false });
      const prepared = model.prepare(image);
      expect(prepared.resized).toBe(width > 1024);
      const viaPrepared = await model.embedPrepared(prepared, { cache: false });
      expect(prepared.key).toBe(direct.key);
      expect(viaPrepared.resizedSize).toEqual(direct.resizedSize);
      expect(viaPrepared.originalSize).toEqual({ width, height });
      expect(Buffer.from(viaPrepared.data.buffer).equals(Buffer.from(direct.data.buffer))).toBe(true);
    }
  });
});
