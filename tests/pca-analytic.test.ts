/**
 * PCA of real encoder output: the analytic test model's encoder writes the 16x16 average pool of
 * the normalised R, G, B into channels 0..2 and their mean into channel 3 (the rest is zero). For
 * a gray image those four channels move together, so PC1 must carry all the variance and follow
 * the image's brightness, with a positive sign (all four loadings share it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cosineSimilarityAt } from "../kernel/analysis/similarity.js";
import { pcaView } from "../kernel/display/figures-pca.js";
import { DISPLAY } from "../kernel/display/plotly.js";
import type { Image2D } from "../kernel/io/image.js";
import { generatePhantomSlice } from "../kernel/phantom/index.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";

let model: SamModel;
let images: Image2D[];
let embeddings: Embedding[];

beforeAll(async () => {
  model = await loadModel("models/analytic");
  images = [12, 24].map((slice) => {
    const p = generatePhantomSlice({ seed: 3, modality: "ct", slice });
    return { width: p.width, height: p.height, channels: 1, data: p.data };
  });
  embeddings = [];
  for (const img of images) embeddings.push(await model.embed(img));
});

afterAll(async () => {
  await model?.dispose();
});

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe("PCA of the analytic encoder's embeddings", () => {
  it("puts all the variance of a gray image in PC1, which follows brightness", async () => {
    const view = await pcaView(embeddings, { names: ["slice 12", "slice 24"], style: "comparison" });
    expect(view.basis.explainedVarianceRatio[0]).toBeGreaterThan(0.999);
    expect(view.basis.fitTokens).toBe(embeddings.reduce((s, e) => s + 64 * Math.ceil(e.resizedSize.height / 16), 0));
    // PC1 per token against the encoder's own channel 3 (mean of the pooled normalised RGB).
    for (const p of view.projections) {
      const cells = p.grid.rows * p.grid.cols;
      const channel3 = Float32Array.from({ length: cells }, (_, t) => p.embedding.data[3 * 4096 + Math.floor(t / p.grid.cols) * 64 + (t % p.grid.cols)]!);
      expect(correlation(p.values.subarray(0, cells), channel3)).toBeGreaterThan(0.9999);
    }
    // The RGB picture: red = PC1 (brightness); green and blue carry no variance.
    const [rgb] = view.rgbImages();
    expect(rgb!.width).toBe(images[0]!.width);
    const red = Float64Array.from({ length: rgb!.width * rgb!.height }, (_, i) => rgb!.data[3 * i]!);
    const img = images[0]!;
    // Brightness of the image pooled like the tokens: compare on the 16 px token blocks.
    const pooled = new Float64Array(red.length);
    const scale = 1024 / Math.max(img.width, img.height);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const ty = Math.floor(((y + 0.5) * scale) / 16);
        const tx = Math.floor(((x + 0.5) * scale) / 16);
        pooled[y * img.width + x] = embeddings[0]!.data[3 * 4096 + ty * 64 + tx]!;
      }
    }
    expect(correlation(red, pooled)).toBeGreaterThan(0.99);
    const bundle = await view[DISPLAY]();
    expect(bundle["text/html"] as string).toContain("slice 24");
    expect(bundle["image/png"]).toBeTypeOf("string");
    const sim = cosineSimilarityAt(embeddings[0]!, 10, 10);
    expect(Math.max(...sim.values)).toBeCloseTo(1, 5);
  });
});
