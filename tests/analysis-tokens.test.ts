import { describe, expect, it } from "vitest";
import { cosineSimilarityAt, cosineSimilarityTo, similarityImage, tokenVector } from "../kernel/analysis/similarity.js";
import { similarityView } from "../kernel/display/figures-pca.js";
import { imageTokenGrid, tokenAt, tokenLabels, upsampleTokens } from "../kernel/analysis/tokens.js";
import type { Embedding } from "../kernel/sam/embedding.js";

/** A 300 (H) x 600 (W) image: resized to 512 x 1024, so tokens cover 32 rows x 64 columns. */
function wideEmbedding(fill: (ch: number, row: number, col: number) => number = () => 0): Embedding {
  const data = new Float32Array(256 * 4096);
  for (let ch = 0; ch < 256; ch++) for (let r = 0; r < 64; r++) for (let c = 0; c < 64; c++) data[ch * 4096 + r * 64 + c] = fill(ch, r, c);
  return { data, originalSize: { height: 300, width: 600 }, resizedSize: { height: 512, width: 1024 }, modelName: "m", key: "k" };
}

describe("token grid geometry", () => {
  it("maps pixels to the tokens that see them", () => {
    const e = wideEmbedding();
    expect(imageTokenGrid(e)).toEqual({ rows: 32, cols: 64 });
    // 600 px wide -> 1024: a token is 16 / (1024/600) = 9.375 px wide; pixel 9 has its centre at
    // 9.5 px = 16.2 frame px, in token 1. Rows: 300 -> 512, the same scale.
    expect(tokenAt(e, 0, 0)).toEqual({ row: 0, col: 0 });
    expect(tokenAt(e, 8, 8)).toEqual({ row: 0, col: 0 });
    expect(tokenAt(e, 9, 9)).toEqual({ row: 1, col: 1 });
    expect(tokenAt(e, 599, 299)).toEqual({ row: 31, col: 63 });
    expect(() => tokenAt(e, 600, 0)).toThrow(/outside the 600x300 image/);
    // A resized side that is not a multiple of 16 still gets its partial last token.
    const odd = { ...e, originalSize: { height: 100, width: 200 }, resizedSize: { height: 520, width: 1024 } };
    expect(imageTokenGrid(odd)).toEqual({ rows: 33, cols: 64 });
  });

  it("upsamples token values to the image size, nearest or bilinear", () => {
    const e = wideEmbedding();
    const grid = { rows: 32, cols: 64 };
    const values = Float32Array.from({ length: 32 * 64 }, (_, t) => t % 64); // = column index
    const near = upsampleTokens(values, grid, e, "nearest");
    expect(near.size).toEqual({ height: 300, width: 600 });
    expect(near.data[8]).toBe(0);
    expect(near.data[9]).toBe(1);
    const bil = upsampleTokens(values, grid, e, "bilinear");
    // Pixel x has token coordinate (x + 0.5) / 9.375 - 0.5, clamped to [0, 63].
    for (const x of [0, 4, 100, 599]) {
      const u = Math.min(63, Math.max(0, (x + 0.5) / 9.375 - 0.5));
      expect(bil.data[5 * 600 + x]).toBeCloseTo(u, 4);
    }
  });

  it("reduces a label map to the majority label per token", () => {
    const e = wideEmbedding();
    const labels = { width: 600, height: 300, data: new Uint8Array(600 * 300) };
    // Label 2 on columns 0..5 of every row (6 of the ~9 pixel columns of token column 0).
    for (let y = 0; y < 300; y++) for (let x = 0; x < 6; x++) labels.data[y * 600 + x] = 2;
    const t = tokenLabels(labels, e, { rows: 32, cols: 64 });
    expect(t[0]).toBe(2);
    expect(t[1]).toBe(0);
    expect(t[64]).toBe(2);
    expect(() => tokenLabels({ width: 10, height: 10, data: new Uint8Array(100) }, e, { rows: 32, cols: 64 })).toThrow(/must match/);
  });
});

describe("cosine similarity", () => {
  it("is 1 at the clicked token, -1 for its opposite, 0 for an orthogonal token", () => {
    // Channel 0 = +1 left half, -1 right half; channel 1 = 1 on row 5 only (where channel 0 is 0).
    const e = wideEmbedding((ch, r, c) => {
      if (r === 5) return ch === 1 ? 1 : 0;
      if (ch === 0) return c < 32 ? 2 : -3;
      return 0;
    });
    const map = cosineSimilarityAt(e, 10, 10);
    expect(map.token).toEqual({ row: 1, col: 1 });
    expect(map.grid).toEqual({ rows: 32, cols: 64 });
    expect(map.values[64 + 1]).toBeCloseTo(1, 6);
    expect(map.values[64 + 40]).toBeCloseTo(-1, 6);
    expect(map.values[5 * 64 + 3]).toBeCloseTo(0, 6);
    const img = similarityImage(map);
    expect(img.width).toBe(600);
    // Viridis ends: yellow (253, 231, 37) at +1 and purple (68, 1, 84) at -1.
    expect(Array.from(img.data.subarray(0, 3))).toEqual([253, 231, 37]);
    expect(Array.from(img.data.subarray(599 * 3, 600 * 3))).toEqual([68, 1, 84]);
    // Blended over the image: 60 % heat map, 40 % image.
    const base = { width: 600, height: 300, data: new Uint8Array(600 * 300 * 3).fill(100) };
    const blended = similarityImage(map, { over: base });
    expect(Array.from(blended.data.subarray(0, 3))).toEqual([Math.round(253 * 0.6 + 40), Math.round(231 * 0.6 + 40), Math.round(37 * 0.6 + 40)]);
    expect(() => similarityImage(map, { over: { ...base, width: 10 } })).toThrow(/'over' is 10x300/);
    const view = similarityView(e, 10, 10, { image: base });
    expect(view.panels[0]!.image.width).toBe(600);
    expect(Array.from(view.panels[0]!.image.data.subarray(3 * (10 * 600 + 12), 3 * (10 * 600 + 12) + 3))).toEqual([0, 230, 0]); // the click marker
    // A reference from elsewhere gives the same map.
    const again = cosineSimilarityTo(e, tokenVector(e, 1, 1));
    expect(Array.from(again.values)).toEqual(Array.from(map.values));
  });
});
