import { PCA } from "ml-pca";
import { describe, expect, it } from "vitest";
import { componentImages, pcaRgbImages } from "../kernel/analysis/pca-image.js";
import { fitPca, pcaOfEmbeddings, projectEmbedding } from "../kernel/analysis/pca.js";
import { SeededRandom } from "../kernel/analysis/rng.js";
import { pcaView } from "../kernel/display/figures-pca.js";
import type { Embedding } from "../kernel/sam/embedding.js";

const C = 256;
const PLANE = 4096;

function gaussian(rng: SeededRandom): () => number {
  return () => {
    const u = rng.next() || 1e-300;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
}

/** k random orthonormal directions in R^256 (Gram-Schmidt of gaussian vectors). */
function orthonormalDirections(k: number, seed: number): Float64Array[] {
  const g = gaussian(new SeededRandom(seed));
  const out: Float64Array[] = [];
  while (out.length < k) {
    const v = Float64Array.from({ length: C }, g);
    for (const q of out) {
      let d = 0;
      for (let i = 0; i < C; i++) d += v[i]! * q[i]!;
      for (let i = 0; i < C; i++) v[i]! -= d * q[i]!;
    }
    const n = Math.hypot(...v);
    out.push(v.map((x) => x / n));
  }
  return out;
}

interface Planted {
  directions: Float64Array[];
  /** Standard deviation along each direction. */
  sd: number[];
  noise: number;
  offset: number;
}

/**
 * An embedding whose image tokens are offset + sum_i a_i * d_i + noise with a_i ~ N(0, sd_i^2):
 * its population covariance has eigenvectors d_i with eigenvalues sd_i^2 + noise^2.
 */
function plantedEmbedding(p: Planted, seed: number, rows = 64, cols = 64, padValue?: number): Embedding {
  const g = gaussian(new SeededRandom(seed));
  const data = new Float32Array(C * PLANE);
  const patch = 16;
  for (let r = 0; r < 64; r++) {
    for (let c = 0; c < 64; c++) {
      const t = r * 64 + c;
      const inside = r < rows && c < cols;
      const a = p.sd.map((s) => s * g());
      for (let ch = 0; ch < C; ch++) {
        let v: number;
        if (inside || padValue === undefined) {
          v = p.offset + p.noise * g();
          for (let i = 0; i < a.length; i++) v += a[i]! * p.directions[i]![ch]!;
        } else {
          v = padValue * (ch % 7 === 0 ? 1 : -1) + 3 * g();
        }
        data[ch * PLANE + t] = v;
      }
    }
  }
  return {
    data,
    originalSize: { height: (rows * patch) / 2, width: (cols * patch) / 2 },
    resizedSize: { height: rows * patch, width: cols * patch },
    modelName: "synthetic",
    key: `synthetic-${seed}`,
  };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const row = (m: Float64Array, i: number) => m.subarray(i * C, (i + 1) * C);

describe("PCA of embeddings", () => {
  const directions = orthonormalDirections(3, 11);
  const planted: Planted = { directions, sd: [5, 3, 2], noise: 0.1, offset: 0.3 };

  it("recovers planted components and their explained variance", async () => {
    const e = plantedEmbedding(planted, 1);
    const basis = await fitPca(e);
    expect(basis.fitTokens).toBe(4096);
    for (let i = 0; i < 3; i++) expect(Math.abs(dot(row(basis.components, i), directions[i]!))).toBeGreaterThan(0.999);
    // Population explained variance: (sd_i^2 + noise^2) / (sum sd^2 + 256 noise^2); a 4096-sample
    // variance estimate has a relative standard error of sqrt(2/4096) = 2.2%.
    const total = 25 + 9 + 4 + C * 0.01;
    const expected = [25.01 / total, 9.01 / total, 4.01 / total];
    basis.explainedVarianceRatio.forEach((r, i) => expect(Math.abs(r - expected[i]!) / expected[i]!).toBeLessThan(0.08));
    expect(basis.totalVariance / total).toBeGreaterThan(0.92);
    expect(basis.totalVariance / total).toBeLessThan(1.08);
  });

  it("matches ml-pca on the same tokens", async () => {
    const e = plantedEmbedding({ ...planted, noise: 0.5 }, 2);
    const rows: number[][] = [];
    for (let t = 0; t < PLANE; t++) rows.push(Array.from({ length: C }, (_, ch) => e.data[ch * PLANE + t]!));
    // ml-pca centres the data itself and solves with ml-matrix's full decomposition.
    const reference = new PCA(rows, { method: "covarianceMatrix" });
    const ours = await fitPca(e, { components: 3 });
    const refValues = reference.getEigenvalues();
    const refVectors = reference.getEigenvectors();
    for (let i = 0; i < 3; i++) {
      // float32 products inside each SGEMM chunk (covariance.ts): agreement to ~1e-6 is the claim.
      expect(ours.variances[i]! / refValues[i]!).toBeCloseTo(1, 6);
      const v = refVectors.getColumn(i);
      expect(Math.abs(dot(row(ours.components, i), v))).toBeGreaterThan(1 - 1e-8);
    }
    const refTotal = refValues.reduce((a, b) => a + b, 0);
    expect(ours.totalVariance / refTotal).toBeCloseTo(1, 6);
  });

  it("gives every component the sign whose largest loading is positive, whatever the token sample", async () => {
    // Each seed fits a different 3000-token sample, hence a slightly different covariance whose
    // eigenvectors the decomposition returns with arbitrary signs; the sign rule must settle them.
    const e = plantedEmbedding(planted, 3);
    const signs = new Set<string>();
    const means = new Set<number>();
    for (let seed = 0; seed < 6; seed++) {
      const basis = await fitPca(e, { seed, maxFitTokens: 3000 });
      means.add(basis.mean[0]!);
      for (let i = 0; i < 3; i++) {
        const v = row(basis.components, i);
        let big = 0;
        for (let ch = 0; ch < C; ch++) if (Math.abs(v[ch]!) > Math.abs(v[big]!)) big = ch;
        expect(v[big]).toBeGreaterThan(0);
        expect(Math.abs(dot(v, directions[i]!))).toBeGreaterThan(0.99);
      }
      signs.add(Array.from({ length: 3 }, (_, i) => Math.sign(dot(row(basis.components, i), directions[i]!))).join(","));
    }
    expect(means.size).toBe(6);
    expect(signs.size).toBe(1);
    // The picture does not depend on the sample either.
    const a = pcaRgbImages((await pcaOfEmbeddings(e, { seed: 0, maxFitTokens: 3000 })).projections)[0]!;
    const b = pcaRgbImages((await pcaOfEmbeddings(e, { seed: 5, maxFitTokens: 3000 })).projections)[0]!;
    let meanDiff = 0;
    for (let i = 0; i < a.data.length; i++) meanDiff += Math.abs(a.data[i]! - b.data[i]!);
    expect(meanDiff / a.data.length).toBeLessThan(3);
  });

  it("fits a stack on a seeded sample and still finds the planted structure", async () => {
    const stack = Array.from({ length: 6 }, (_, i) => plantedEmbedding(planted, 100 + i));
    const basis = await fitPca(stack, { maxFitTokens: 8000, seed: 4 });
    expect(basis.availableTokens).toBe(6 * 4096);
    expect(basis.fitTokens).toBe(8000);
    for (let i = 0; i < 3; i++) expect(Math.abs(dot(row(basis.components, i), directions[i]!))).toBeGreaterThan(0.995);
    const again = await fitPca(stack, { maxFitTokens: 8000, seed: 4 });
    expect(Array.from(again.components)).toEqual(Array.from(basis.components));
    const other = await fitPca(stack, { maxFitTokens: 8000, seed: 5 });
    expect(Array.from(other.mean)).not.toEqual(Array.from(basis.mean));
  });

  it("ignores padding tokens of a non-square image unless asked", async () => {
    // 32 token rows cover the image; the rest is padding with a very different distribution.
    const e = plantedEmbedding(planted, 7, 32, 64, 40);
    const image = await fitPca(e);
    expect(image.fitTokens).toBe(32 * 64);
    for (let i = 0; i < 3; i++) expect(Math.abs(dot(row(image.components, i), directions[i]!))).toBeGreaterThan(0.99);
    const all = await fitPca(e, { region: "all" });
    expect(all.fitTokens).toBe(4096);
    expect(Math.abs(dot(row(all.components, 0), directions[0]!))).toBeLessThan(0.5);
    const p = projectEmbedding(image, e);
    expect(p.grid).toEqual({ rows: 32, cols: 64 });
  });

  it("fits a tall image's token columns (grid narrower than 64) exactly", async () => {
    const e = plantedEmbedding(planted, 13, 64, 24, 40);
    const basis = await fitPca(e);
    expect(basis.fitTokens).toBe(64 * 24);
    // Brute force over the image tokens: per-channel mean and the total variance (trace).
    let trace = 0;
    for (const ch of [0, 5, 255]) {
      let s = 0;
      for (let r = 0; r < 64; r++) for (let c = 0; c < 24; c++) s += e.data[ch * PLANE + r * 64 + c]!;
      expect(basis.mean[ch]).toBeCloseTo(s / (64 * 24), 10);
    }
    for (let ch = 0; ch < C; ch++) {
      let s = 0;
      let ss = 0;
      for (let r = 0; r < 64; r++) for (let c = 0; c < 24; c++) {
        const v = e.data[ch * PLANE + r * 64 + c]!;
        s += v;
        ss += v * v;
      }
      const n = 64 * 24;
      trace += (ss - (s * s) / n) / (n - 1);
    }
    expect(basis.totalVariance / trace).toBeCloseTo(1, 6);
    for (let i = 0; i < 3; i++) expect(Math.abs(dot(row(basis.components, i), directions[i]!))).toBeGreaterThan(0.99);
    // Projection of a narrow grid: token (row 5, col 7) is cell 5 * 24 + 7.
    const p = projectEmbedding(basis, e);
    expect(p.grid).toEqual({ rows: 64, cols: 24 });
    for (let i = 0; i < 3; i++) {
      let s = 0;
      for (let ch = 0; ch < C; ch++) s += (e.data[ch * PLANE + 5 * 64 + 7]! - basis.mean[ch]!) * basis.components[i * C + ch]!;
      expect(p.values[i * 64 * 24 + 5 * 24 + 7]).toBeCloseTo(s, 3);
    }
  });

  it("projects tokens as (x - mean) . component", async () => {
    const e = plantedEmbedding(planted, 8);
    const basis = await fitPca(e);
    const p = projectEmbedding(basis, e);
    for (const t of [0, 17, 2049, 4095]) {
      for (let i = 0; i < 3; i++) {
        let s = 0;
        for (let ch = 0; ch < C; ch++) s += (e.data[ch * PLANE + t]! - basis.mean[ch]!) * basis.components[i * C + ch]!;
        expect(p.values[i * 4096 + t]).toBeCloseTo(s, 3);
      }
    }
    // Projections of the fitted tokens have the fitted variances.
    for (let i = 0; i < 3; i++) {
      let ss = 0;
      for (let t = 0; t < 4096; t++) ss += p.values[i * 4096 + t]! ** 2;
      expect(ss / 4095 / basis.variances[i]!).toBeCloseTo(1, 4);
    }
  });

  it("draws RGB and component pictures at the image size on a shared scale", async () => {
    const a = plantedEmbedding(planted, 9);
    const b = plantedEmbedding({ ...planted, sd: [10, 3, 2] }, 10);
    const { projections } = await pcaOfEmbeddings([a, b]);
    const [ia, ib] = pcaRgbImages(projections);
    expect(ia!.width).toBe(a.originalSize.width);
    expect(ia!.height).toBe(a.originalSize.height);
    // Shared scale: the extremes of PC1 over both panels are 0 and 255, and they lie in b, whose
    // first planted direction varies twice as much.
    const red = (img: typeof ia) => {
      let lo = 255;
      let hi = 0;
      for (let j = 0; j < img!.width * img!.height; j++) {
        lo = Math.min(lo, img!.data[3 * j]!);
        hi = Math.max(hi, img!.data[3 * j]!);
      }
      return { lo, hi };
    };
    expect(red(ib)).toEqual({ lo: 0, hi: 255 });
    expect(red(ia).hi - red(ia).lo).toBeLessThan(200);
    const [ea] = pcaRgbImages(projections, { range: "each" });
    expect(red(ea)).toEqual({ lo: 0, hi: 255 });
    // Nearest upsampling: each 8x8 pixel block (one token here) has one colour.
    expect(ia!.data.subarray(0, 3)).toEqual(ia!.data.subarray(7 * 3, 8 * 3));
    const comps = componentImages(projections, 1, { colormap: "viridis" });
    expect(comps).toHaveLength(2);
    expect(comps[0]!.data.length).toBe(a.originalSize.width * a.originalSize.height * 3);
  });
});

describe("PCA view", () => {
  it("fits one shared basis, or a basis per embedding", async () => {
    const d1 = orthonormalDirections(3, 21);
    const d2 = orthonormalDirections(3, 22);
    const a = plantedEmbedding({ directions: d1, sd: [5, 3, 2], noise: 0.1, offset: 0 }, 31);
    const b = plantedEmbedding({ directions: d2, sd: [5, 3, 2], noise: 0.1, offset: 0 }, 32);
    const shared = await pcaView([a, b], { names: ["A", "B"], style: "comparison" });
    expect(new Set(shared.bases).size).toBe(1);
    expect(shared.describe()).toMatch(/shared basis: PC1 \d+\.\d%/);
    const each = await pcaView([a, b], { names: ["A", "B"], fit: "each", style: "comparison" });
    expect(each.bases).toHaveLength(2);
    expect(Math.abs(dot(row(each.bases[0]!.components, 0), d1[0]!))).toBeGreaterThan(0.999);
    expect(Math.abs(dot(row(each.bases[1]!.components, 0), d2[0]!))).toBeGreaterThan(0.999);
    expect(each.grid().panels.map((p) => p.caption)).toEqual([expect.stringMatching(/^A \(\d+\.\d%\)$/), expect.stringMatching(/^B \(/)]);
    await expect(pcaView([a], { fit: "both" as never, style: "comparison" })).rejects.toThrow(/'shared' or 'each'/);
  });
});
