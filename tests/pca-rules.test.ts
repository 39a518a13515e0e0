/**
 * micro_sam's PCA picture (`project_embeddings_for_visualization` -> `compute_pca` -> elf's
 * `embedding_pca`, then `_get_crop`) on a non-square image's embedding, against the same rule in
 * numpy (Debian's python3): fit on all 64x64 tokens, padding included; the three components scaled
 * together and truncated to uint8; `int(aspect * 64)` token rows kept. Also the fit inside a mask
 * and the similarity picture's colour bar.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { microSamCrop, microSamPcaImage } from "../kernel/analysis/pca-image.js";
import { fitPca } from "../kernel/analysis/pca.js";
import { SeededRandom } from "../kernel/analysis/rng.js";
import { imageTokenGrid } from "../kernel/analysis/tokens.js";
import { pcaView, similarityView } from "../kernel/display/figures-pca.js";
import type { Embedding } from "../kernel/sam/embedding.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const dir = mkdtempSync(join(tmpdir(), "pca-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const needs = canRun(pythonHas("numpy"), "python3-numpy (Debian) is needed for micro_sam's PCA rule");

const C = 256;
const PLANE = 4096;

/**
 * A 512x300 (W x H) image's embedding: resized 1024x600, so 37.5 token rows see the image (38
 * partly) and the rest is padding. Image tokens vary along three planted directions with a
 * left-right and top-bottom structure; padding tokens sit apart with little variance.
 */
function nonSquareEmbedding(seed: number): Embedding {
  const rng = new SeededRandom(seed);
  const g = () => Math.sqrt(-2 * Math.log(rng.next() || 1e-300)) * Math.cos(2 * Math.PI * rng.next());
  const dirs = [0, 1, 2].map(() => Float64Array.from({ length: C }, g));
  const pad = Float64Array.from({ length: C }, g);
  const data = new Float32Array(C * PLANE);
  for (let r = 0; r < 64; r++) {
    for (let c = 0; c < 64; c++) {
      const inImage = r < 38;
      const a = inImage ? [Math.sin(c / 9) * 3 + g(), (r / 38) * 2 + 0.5 * g(), g()] : [0, 0, 0];
      for (let ch = 0; ch < C; ch++) {
        let v = inImage ? 0.2 * g() : 2 * pad[ch]! + 0.1 * g();
        for (let i = 0; i < 3; i++) v += a[i]! * dirs[i]![ch]!;
        data[ch * PLANE + r * 64 + c] = v;
      }
    }
  }
  return { data, originalSize: { height: 300, width: 512 }, resizedSize: { height: 600, width: 1024 }, modelName: "synthetic", key: `ns-${seed}` };
}

describe("micro_sam's PCA picture", () => {
  it.runIf(needs)("a non-square image: all tokens fitted, one min and range, uint8, int(aspect * 64) rows kept", async () => {
    const e = nonSquareEmbedding(3);
    const view = await pcaView(e);
    expect(view.style).toBe("micro_sam");
    const { crop, tokens, image } = microSamPcaImage(view.projections[0]!);
    // the crop differs from the tokens that see the image: int(300/512*64) = 37 vs ceil(37.5) = 38
    expect(crop).toEqual({ rows: 37, cols: 64 });
    expect(imageTokenGrid(e).rows).toBe(38);
    expect(microSamCrop(e)).toEqual(crop);
    expect([image.width, image.height]).toEqual([512, 300]);
    expect(view.basis.fitTokens).toBe(4096);
    const file = join(dir, "emb.f32");
    writeFileSync(file, Buffer.from(e.data.buffer));
    // elf's embedding_pca (sklearn PCA, whose svd_flip makes each component's largest loading
    // positive from sklearn 1.5 on), then micro_sam's _get_crop; numpy's SVD in float64
    const ref = runPythonJson<number[]>(
      String.raw`
import sys, json, numpy as np
a = json.loads(sys.argv[1])
emb = np.fromfile(a['file'], np.float32).reshape(256, 64, 64).astype(np.float64)
X = emb.reshape(256, -1).T
Xc = X - X.mean(axis=0)
U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
Vt = Vt[:3]
Vt *= np.sign(Vt[np.arange(3), np.argmax(np.abs(Vt), axis=1)])[:, None]
p = (Xc @ Vt.T).T.reshape(3, 64, 64)
p = 255 * (p - p.min()) / np.ptp(p)
vis = p.astype("uint8").transpose((1, 2, 0))
shape = (a['h'], a['w'])
if shape[0] == shape[1]: crop = np.s_[:, :, :]
elif shape[0] > shape[1]: crop = np.s_[:, :int(float(shape[1] / shape[0]) * vis.shape[1])]
else: crop = np.s_[:int(float(shape[0] / shape[1]) * vis.shape[0]), :]
print(json.dumps(vis[crop].ravel().tolist()))
`,
      [JSON.stringify({ file, h: 300, w: 512 })],
    );
    expect(tokens.length).toBe(ref.length);
    // float rounding can move a value across an integer before the truncation: at most by 1
    let off = 0;
    tokens.forEach((v, i) => {
      expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1);
      if (v !== ref[i]) off++;
    });
    expect(off / tokens.length).toBeLessThan(0.01);
    // the comparison style is ours: image tokens only, so a different fit and picture
    const comparison = await pcaView(e, { style: "comparison" });
    expect(comparison.basis.fitTokens).toBe(38 * 64);
    await expect(pcaView(e, { fit: "each" })).rejects.toThrow(/style "comparison"/);
  });

  it.runIf(needs)("fitted inside a mask: only the inside tokens, as numpy's PCA of them", async () => {
    const e = nonSquareEmbedding(5);
    // the left half of the image (256 of 512 columns = token columns 0..31), all rows
    const mask = { width: 512, height: 300, data: Uint8Array.from({ length: 512 * 300 }, (_, p) => (p % 512 < 256 ? 1 : 0)) };
    const basis = await fitPca(e, { mask });
    expect(basis.fitTokens).toBe(38 * 32);
    const file = join(dir, "emb5.f32");
    writeFileSync(file, Buffer.from(e.data.buffer));
    const ref = runPythonJson<number[][]>(
      String.raw`
import sys, json, numpy as np
a = json.loads(sys.argv[1])
emb = np.fromfile(a['file'], np.float32).reshape(256, 64, 64).astype(np.float64)
X = emb[:, :38, :32].reshape(256, -1).T
U, S, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
print(json.dumps(Vt[:3].tolist()))
`,
      [JSON.stringify({ file })],
    );
    for (let i = 0; i < 3; i++) {
      let d = 0;
      for (let c = 0; c < C; c++) d += basis.components[i * C + c]! * ref[i]![c]!;
      expect(Math.abs(d)).toBeGreaterThan(0.9999);
    }
    const view = await pcaView(e, { mask, style: "comparison" });
    const rgb = view.rgbImages()[0]!;
    expect(Array.from(rgb.data.subarray(3 * (10 * 512 + 400), 3 * (10 * 512 + 400) + 3))).toEqual([40, 40, 40]); // outside: dark
    const chart = view.scatter({ width: 512, height: 300, data: new Uint8Array(512 * 300) });
    const figure = (chart as unknown as { figure: { data: { x: number[] }[] } }).figure;
    expect(figure.data.reduce((s, t) => s + t.x.length, 0)).toBe(38 * 32); // only the inside tokens
  });
});

describe("similarity picture", () => {
  it("carries a colour bar; inside a mask the data range comes from the inside tokens", () => {
    const e = nonSquareEmbedding(7);
    const full = similarityView(e, 100, 100);
    expect(full.options.legend!.map((l) => l.name)).toEqual(["-1.00", "-0.50", "0.00", "0.50", "1.00"]);
    const mask = { width: 512, height: 300, data: Uint8Array.from({ length: 512 * 300 }, (_, p) => (p % 512 < 128 ? 1 : 0)) };
    const inside = similarityView(e, 100, 100, { range: "data", mask });
    const all = similarityView(e, 100, 100, { range: "data" });
    const lo = (v: ReturnType<typeof similarityView>) => Number(v.options.legend![0]!.name);
    expect(lo(inside)).toBeGreaterThanOrEqual(lo(all));
    expect(Number(inside.options.legend![4]!.name)).toBeCloseTo(1, 2); // the clicked token itself
  });
});
