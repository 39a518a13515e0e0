/**
 * `medicosam quantize` on whole model folders: model.json bookkeeping, loading with
 * `precision: "int8"`, staleness, and quality: embeddings and masks of the int8 encoder
 * against float32 on a small ViT-shaped encoder (the architecture MedicoSAM's encoder has,
 * fewer and narrower blocks so that the test runs in seconds) with the benchmark's
 * random-weight SAM decoder; and, on the shipped demo model (convolutional), the refusal.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImage } from "../kernel/io/read-image.js";
import { compareModels, fixedPrompts } from "../kernel/onnx/quantize-check.js";
import { INT8_ENCODER_FILE, quantizeModelFolder } from "../kernel/onnx/quantize-folder.js";
import type { ModelManifest } from "../kernel/sam/manifest.js";
import { loadModel } from "../kernel/sam/model.js";
import { buildSamDecoder } from "../models/bench/sam-decoder.js";
import { buildVitBEncoder, VIT_B } from "../models/bench/vit-b-encoder.js";

const tmp = mkdtempSync(join(tmpdir(), "quantize-model-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Two ViT blocks (one windowed, one global) of width 192: SAM ViT-B's ops and shapes, scaled down. */
const SMALL_VIT = { ...VIT_B, embedDim: 192, numHeads: 3, mlpDim: 768, depth: 2, globalAttnIndexes: [1] };

function writeFolder(dir: string, encoder: Uint8Array, decoder: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "encoder.onnx"), encoder);
  writeFileSync(join(dir, "decoder.onnx"), decoder);
  const manifest: ModelManifest = {
    name: "small-vit-test",
    source: "tests/quantize-model.test.ts: random-weight ViT (2 blocks, width 192) + random SAM decoder",
    encoder: { file: "encoder.onnx", sha256: sha256(encoder) },
    decoder: { file: "decoder.onnx", sha256: sha256(decoder), numMasks: 4 },
  };
  writeFileSync(join(dir, "model.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

let folder: string;
let decoderBytes: Uint8Array;

beforeAll(() => {
  folder = join(tmp, "small-vit");
  decoderBytes = buildSamDecoder(2).bytes;
  writeFolder(folder, buildVitBEncoder(11, SMALL_VIT).bytes, decoderBytes);
});

describe("quantizeModelFolder", () => {
  it("writes encoder.int8.onnx and records it (file, sha256, source encoder) in model.json", async () => {
    const before = JSON.parse(readFileSync(join(folder, "model.json"), "utf8")) as ModelManifest;
    const result = await quantizeModelFolder(folder);
    // 4 weight MatMuls per block (qkv, proj, mlp.lin1, mlp.lin2); attention's 2 per block stay float.
    expect(result.report.quantized).toBe(8);
    expect(result.report.matmuls).toBe(12);
    const bytes = readFileSync(join(folder, INT8_ENCODER_FILE));
    const after = JSON.parse(readFileSync(join(folder, "model.json"), "utf8")) as ModelManifest;
    expect(after.encoderInt8).toMatchObject({ file: INT8_ENCODER_FILE, sha256: sha256(bytes), fromSha256: before.encoder.sha256 });
    expect(after.encoderInt8!.method).toMatch(/8 of 12 MatMuls.*per-column/);
    // Everything else is untouched.
    expect({ ...after, encoderInt8: undefined }).toEqual({ ...before, encoderInt8: undefined });
  });

  it("loads the int8 encoder with precision int8, and its masks agree with float32 (IoU >= 0.95)", async () => {
    const fp32 = await loadModel(folder);
    const int8 = await loadModel(folder, { precision: "int8" });
    try {
      expect(fp32.encoderPath.endsWith("encoder.onnx")).toBe(true);
      expect(int8.encoderPath.endsWith(INT8_ENCODER_FILE)).toBe(true);
      const image = await readImage("data/phantom-slice.png");
      const c = await compareModels(fp32, int8, image);
      // The int8 embedding is close but not identical (it is really the quantized encoder).
      expect(c.embedding.relative).toBeGreaterThan(1e-4);
      expect(c.embedding.relative).toBeLessThan(0.03);
      expect(c.prompts).toHaveLength(fixedPrompts(image.width, image.height).length);
      // Random decoder weights still give masks that depend on the embedding; they must not be empty.
      expect(c.prompts.filter((p) => p.area > 0).length).toBeGreaterThan(c.prompts.length / 2);
      for (const p of c.prompts) expect(p.iou).toBeGreaterThanOrEqual(0.95);
    } finally {
      await Promise.all([fp32.dispose(), int8.dispose()]);
    }
  });

  it("refuses int8 without a quantized encoder, with a stale one, and for explicit files", async () => {
    const plain = join(tmp, "plain");
    writeFolder(plain, buildVitBEncoder(12, SMALL_VIT).bytes, decoderBytes);
    await expect(loadModel(plain, { precision: "int8" })).rejects.toThrow(/no int8 encoder.*medicosam quantize/s);
    await expect(
      loadModel({ encoder: join(plain, "encoder.onnx"), decoder: join(plain, "decoder.onnx") }, { precision: "int8" }),
    ).rejects.toThrow(/pass the int8 encoder as 'encoder'/);

    // Re-export the float32 encoder after quantizing: the int8 file no longer matches it.
    await quantizeModelFolder(plain);
    const m = JSON.parse(readFileSync(join(plain, "model.json"), "utf8")) as ModelManifest;
    const reexported = buildVitBEncoder(13, SMALL_VIT).bytes;
    writeFileSync(join(plain, "encoder.onnx"), reexported);
    writeFileSync(join(plain, "model.json"), JSON.stringify({ ...m, encoder: { file: "encoder.onnx", sha256: sha256(reexported) } }));
    await expect(loadModel(plain, { precision: "int8" })).rejects.toThrow(/stale.*medicosam quantize/s);
    await expect(loadModel(plain, { precision: "fp16" as never })).rejects.toThrow(/not one of fp32, int8/);
  });

  it("refuses a model without weight MatMuls (the analytic test model) and leaves its folder alone", async () => {
    const copy = join(tmp, "analytic");
    cpSync("models/analytic", copy, { recursive: true });
    const before = readFileSync(join(copy, "model.json"), "utf8");
    await expect(quantizeModelFolder(copy)).rejects.toThrow(/nothing to quantize/);
    expect(readFileSync(join(copy, "model.json"), "utf8")).toBe(before);
    expect(existsSync(join(copy, INT8_ENCODER_FILE))).toBe(false);
  });
});

describe("medicosam quantize (CLI)", () => {
  it("quantizes a folder, reports what it did, and checks masks with --check", () => {
    if (!existsSync("dist/kernel/cli.js")) throw new Error("dist/ is missing: run `npm run build` (npm test does it).");
    const dir = join(tmp, "cli");
    writeFolder(dir, buildVitBEncoder(14, SMALL_VIT).bytes, decoderBytes);
    const r = spawnSync(process.execPath, ["bin/medicosam.js", "quantize", dir, "--check"], { encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/quantized 8 of 12 MatMuls/);
    expect(r.stdout).toMatch(/kept float32: 4 MatMul\(s\): second input is not an initializer/);
    expect(r.stdout).toMatch(/mask IoU min (0\.9[5-9]\d*|1\.0000)/);
    expect(existsSync(join(dir, INT8_ENCODER_FILE))).toBe(true);

    const bad = spawnSync(process.execPath, ["bin/medicosam.js", "quantize"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/no MODEL given/);
  });
});

describe("int8 on the demo model", () => {
  // The shipped demo encoder is convolutional: it has no weight MatMuls, so int8 (which
  // quantizes those) cannot apply. `medicosam quantize` must say so, not write a copy that
  // only looks quantized.
  it("refuses the demo model's convolutional encoder: nothing to quantize", async () => {
    const copy = join(tmp, "demo");
    cpSync("models/demo", copy, { recursive: true });
    await expect(quantizeModelFolder(copy)).rejects.toThrow(/nothing to quantize/);
    expect(existsSync(join(copy, "encoder.int8.onnx"))).toBe(false);
  });
});
