/**
 * `medicosam optimize` (kernel/onnx/optimize/): the rewritten encoder computes what the original
 * computes, on the layout torch.onnx really exports (a tiny segment_anything ImageEncoderViT,
 * tests/fixtures/onnx/, made by models/export/tests/make_vit_fixture.py) and on the ViT-B-shaped
 * random encoder of models/bench; the chunks are as small as asked; what is not SAM attention is
 * refused with a reason; model folders record and use the result, and never a stale one.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../kernel/onnx/graph.js";
import { canonicalize } from "../kernel/onnx/optimize/canonicalize.js";
import { EditableGraph } from "../kernel/onnx/optimize/editable-graph.js";
import { NotAnEncoderError, optimizeEncoder } from "../kernel/onnx/optimize/optimize-encoder.js";
import { EquivalenceError, optimizeTarget, OPTIMIZED_ENCODER_FILE } from "../kernel/onnx/optimize/optimize-folder.js";
import { verifyEquivalence } from "../kernel/onnx/optimize/verify-equivalence.js";
import { quantizeModel } from "../kernel/onnx/quantize.js";
import { quantizeModelFolder } from "../kernel/onnx/quantize-folder.js";
import { resolveModel } from "../kernel/sam/model-files.js";
import { loadModel } from "../kernel/sam/model.js";
import { readImage } from "../kernel/io/read-image.js";
import { buildVitBEncoder, VIT_B } from "../models/bench/vit-b-encoder.js";
import { buildSamDecoder } from "../models/bench/sam-decoder.js";

const FIXTURE = "tests/fixtures/onnx/sam-vit-tiny-torch.onnx";
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "optimize-test-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Shape constant of the Reshape feeding each Softmax of a rewritten graph. */
function softmaxInputShapes(bytes: Uint8Array): number[][] {
  const g = EditableGraph.decode(bytes);
  return (g.graph.node ?? [])
    .filter((n) => n.opType === "Softmax")
    .map((s) => {
      const r = g.producer(s.input![0]!);
      expect(r?.opType).toBe("Reshape");
      return g.int64s(r!.input![1]!)!;
    });
}

describe("on segment_anything's encoder as torch.onnx exports it", () => {
  const original = readFileSync(FIXTURE);

  it("rewrites every attention into chunks no larger than asked, with the original's outputs", async () => {
    const chunkBytes = 4096;
    const { bytes, report } = await optimizeEncoder(original, { chunkBytes });
    // 2 windowed blocks (9 windows x 4 heads, 3x3 queries) and 2 global ones (4 heads, 8x8).
    expect(report.attention.map((a) => a.shape)).toEqual([
      [36, 3, 3],
      [4, 8, 8],
      [36, 3, 3],
      [4, 8, 8],
    ]);
    expect(report.einsumsRewritten).toBe(8);
    expect(report.unrecognised).toEqual([]);
    // The export's run-time shape arithmetic is gone before the patterns are matched.
    expect(report.nodesCanonical).toBeLessThan(report.nodesIn / 2);
    expect(EditableGraph.decode(bytes).graph.node!.some((n) => n.opType === "Einsum")).toBe(false);

    const shapes = softmaxInputShapes(bytes);
    expect(shapes.length).toBe(report.attention.reduce((n, a) => n + a.chunks, 0));
    for (const s of shapes) expect(s.reduce((a, b) => a * b, 1) * 4).toBeLessThanOrEqual(chunkBytes);
    // Both ways of chunking are exercised: by heads (windows) and by query rows (global).
    expect(report.attention.map((a) => a.plan)).toEqual([
      { heads: 12, rows: 3 },
      { heads: 1, rows: 2 },
      { heads: 12, rows: 3 },
      { heads: 1, rows: 2 },
    ]);

    const eq = await verifyEquivalence(original, bytes);
    expect(eq.inputs.map((i) => i.name)).toEqual(["random", "CT phantom slice"]);
    for (const i of eq.inputs) {
      expect(i.maxAbsValue).toBeGreaterThan(0.5); // outputs that are not trivially zero
      expect(i.maxAbsDiff).toBeLessThan(1e-5);
    }
    expect(eq.ok).toBe(true);
  });

  it("the equivalence check catches a wrong rewrite", async () => {
    const { bytes } = await optimizeEncoder(original, { chunkBytes: 4096 });
    const g = EditableGraph.decode(bytes);
    // Subtract instead of adding one relative-position term in one chunk.
    const add = g.graph.node!.find((n) => n.opType === "Add" && g.producer(n.input![1]!)?.opType === "Unsqueeze");
    expect(add).toBeDefined();
    add!.opType = "Sub";
    const eq = await verifyEquivalence(original, g.encode());
    expect(eq.ok).toBe(false);
    expect(eq.maxAbsDiff).toBeGreaterThan(1e-3);
  });

  it("a budget above the whole logits keeps one chunk per attention, still equivalent", async () => {
    const { bytes, report } = await optimizeEncoder(original, { chunkBytes: 2 ** 30 });
    expect(report.attention.every((a) => a.chunks === 1)).toBe(true);
    expect((await verifyEquivalence(original, bytes)).maxAbsDiff).toBeLessThan(1e-5);
  });
});

describe("on the ViT-B-shaped random encoder (models/bench)", () => {
  it("rewrites all 12 blocks of SAM ViT-B's layout and keeps its outputs within 1e-4", async () => {
    // Full ViT-B width, depth and weights; a 256x256 input keeps the test fast (grid 16, 4 windows).
    const { bytes: original } = buildVitBEncoder(3, { ...VIT_B, imageSize: 256 });
    const chunkBytes = 256 * 1024;
    const { bytes, report } = await optimizeEncoder(original, { chunkBytes });
    expect(report.attention.length).toBe(12);
    expect(report.attention.filter((a) => a.shape[0] === 12 && a.shape[1] === 16).length).toBe(4); // global blocks 2, 5, 8, 11
    expect(report.einsumsRewritten).toBe(24);
    for (const s of softmaxInputShapes(bytes)) expect(s.reduce((a, b) => a * b, 1) * 4).toBeLessThanOrEqual(chunkBytes);
    const eq = await verifyEquivalence(original, bytes);
    expect(eq.maxAbsDiff).toBeLessThan(1e-4);
    expect(Math.min(...eq.inputs.map((i) => i.maxAbsValue))).toBeGreaterThan(0.5);
  }, 120_000);
});

describe("what the optimizer does not know", () => {
  it("refuses the demo and analytic encoders (no attention) with the reason", async () => {
    for (const file of ["models/demo/encoder.onnx", "models/analytic/encoder.onnx"]) {
      const err = await optimizeEncoder(readFileSync(file)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotAnEncoderError);
      expect((err as Error).message).toMatch(/found no SAM-style attention/);
      expect((err as Error).message).toMatch(/run this model as it is/);
    }
  });

  it("its first step, constant folding, leaves the demo and analytic encoders computing the same", async () => {
    // What the optimizer does to any graph before it looks for attention: checked on the two
    // shipped models, whose encoders are not ViTs (so nothing else applies to them).
    for (const file of ["models/demo/encoder.onnx", "models/analytic/encoder.onnx"]) {
      const original = readFileSync(file);
      const folded = await canonicalize(original);
      const eq = await verifyEquivalence(original, folded);
      expect(eq.maxAbsDiff, file).toBeLessThanOrEqual(1e-5);
      expect(Math.max(...eq.inputs.map((i) => i.maxAbsValue)), file).toBeGreaterThan(0.1);
    }
  });

  it("names a softmax attention without SAM's relative-position terms", async () => {
    const g = new GraphBuilder("plain-attention");
    const q = g.input("q", "float32", [2, 16, 8]);
    const k = g.input("k", "float32", [2, 16, 8]);
    const v = g.input("v", "float32", [2, 16, 8]);
    const p = g.op("Softmax", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: [0, 2, 1] })])], { axis: -1 });
    g.op("MatMul", [p, v], {}, "out");
    g.output("out", "float32", [2, 16, 8]);
    const err = await optimizeEncoder(g.toBytes()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAnEncoderError);
    expect((err as Error).message).toMatch(/Softmax.*softmax input is not a Reshape \(no decomposed relative-position terms\?\)/);
  });

  it("says when an input size left symbolic at export hides the attention shapes", async () => {
    // As torch.onnx writes attention under dynamic_axes: the reshape's shape is computed at run time.
    const g = new GraphBuilder("dynamic-attention");
    const x = g.input("image", "float32", [1, "tokens", 16]);
    const logits = g.op("MatMul", [x, g.op("Transpose", [x], { perm: [0, 2, 1] })]);
    const p = g.op("Softmax", [g.op("Reshape", [logits, g.op("Shape", [logits])])], { axis: -1 });
    g.op("MatMul", [p, x], {}, "out");
    g.output("out", "float32", [1, "tokens", 16]);
    const err = await optimizeEncoder(g.toBytes()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAnEncoderError);
    expect((err as Error).message).toMatch(/the reshape before the softmax has no constant 3-D shape/);
    expect((err as Error).message).toMatch(/symbolic dimensions \(image \[1, tokens, 16\]\).*export it with a fixed input size/);
  });

  it("says when the bytes are not ONNX at all", async () => {
    const err = await optimizeEncoder(new TextEncoder().encode("this is not a model")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotAnEncoderError);
    expect((err as Error).message).toMatch(/not an ONNX model/);
  });
});

/** A model folder around `encoder` with the analytic decoder (resolveModel does not run them). */
function folderWith(name: string, encoder: Uint8Array): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  spawnSync("mkdir", ["-p", dir]);
  writeFileSync(join(dir, "encoder.onnx"), encoder);
  copyFileSync("models/analytic/decoder.onnx", join(dir, "decoder.onnx"));
  const manifest = {
    name,
    source: "test",
    encoder: { file: "encoder.onnx", sha256: sha256(encoder) },
    decoder: { file: "decoder.onnx", sha256: sha256(readFileSync("models/analytic/decoder.onnx")) },
  };
  writeFileSync(join(dir, "model.json"), JSON.stringify(manifest, null, 2));
  return dir;
}

describe("model folders", () => {
  it("records the optimized encoder, runs it by default, and falls back (with a notice) when stale or missing", async () => {
    const original = readFileSync(FIXTURE);
    const dir = folderWith("tiny", original);
    const result = await optimizeTarget(dir, { chunkBytes: 4096 });
    const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(manifest.encoderOptimized.file).toBe(OPTIMIZED_ENCODER_FILE);
    expect(manifest.encoderOptimized.fromSha256).toBe(sha256(original));
    expect(manifest.encoderOptimized.sha256).toBe(sha256(readFileSync(join(dir, OPTIMIZED_ENCODER_FILE))));
    expect(manifest.encoderOptimized.maxAbsDiff).toBe(result.equivalence!.maxAbsDiff);
    expect(manifest.encoderOptimized.method).toMatch(/4 attention core|2 attention core/);
    expect(manifest.encoder).toEqual({ file: "encoder.onnx", sha256: sha256(original) });

    const chosen = await resolveModel(dir);
    expect(chosen.encoderPath).toBe(join(dir, OPTIMIZED_ENCODER_FILE));
    expect(chosen.optimized).toBe(true);
    // The cache identity stays the original's: same embeddings within 1e-4.
    expect(chosen.manifest.encoder.sha256).toBe(sha256(original));
    expect((await resolveModel(dir, { optimized: false })).encoderPath).toBe(join(dir, "encoder.onnx"));

    // A corrupted optimized file is caught by its checksum, like the original would be.
    const good = readFileSync(join(dir, OPTIMIZED_ENCODER_FILE));
    const bad = Uint8Array.from(good);
    bad[bad.length - 10]! ^= 0xff;
    writeFileSync(join(dir, OPTIMIZED_ENCODER_FILE), bad);
    await expect(resolveModel(dir)).rejects.toThrow(/encoder\.optimized\.onnx: sha256 .* does not match model\.json.*medicosam optimize .*--unoptimized/);
    writeFileSync(join(dir, OPTIMIZED_ENCODER_FILE), good);

    // Re-exported encoder: the rewrite belongs to the old weights and is not run.
    const reexported = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    writeFileSync(join(dir, "model.json"), JSON.stringify({ ...reexported, encoder: { file: "encoder.onnx", sha256: "0".repeat(64) } }));
    const stale = await resolveModel(dir, { verifyChecksums: false });
    expect(stale.encoderPath).toBe(join(dir, "encoder.onnx"));
    expect(stale.optimizedNotice).toMatch(/stale.*medicosam optimize/);
    writeFileSync(join(dir, "model.json"), JSON.stringify(reexported));

    rmSync(join(dir, OPTIMIZED_ENCODER_FILE));
    const missing = await resolveModel(dir);
    expect(missing.encoderPath).toBe(join(dir, "encoder.onnx"));
    expect(missing.optimizedNotice).toMatch(/missing.*medicosam optimize/);
  });

  it("writes nothing when the outputs differ beyond the tolerance", async () => {
    const original = readFileSync(FIXTURE);
    const dir = folderWith("strict", original);
    const before = readFileSync(join(dir, "model.json"), "utf8");
    // The chunked sums round differently from the whole ones (measured ~1e-6 here), so a
    // tolerance of 1e-12 must fail.
    const { bytes } = await optimizeEncoder(original, { chunkBytes: 4096 });
    expect((await verifyEquivalence(original, bytes)).maxAbsDiff).toBeGreaterThan(1e-12);
    const err = await optimizeTarget(dir, { chunkBytes: 4096, tolerance: 1e-12 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EquivalenceError);
    expect((err as Error).message).toMatch(/differs from the original by up to .*nothing was written/);
    expect(existsSync(join(dir, OPTIMIZED_ENCODER_FILE))).toBe(false);
    expect(readFileSync(join(dir, "model.json"), "utf8")).toBe(before);
  });

  it("loadModel embeds with the optimized encoder, and the embedding is the original's within 1e-4", async () => {
    // A small SAM-layout model whose embeddings the official-layout decoder accepts: 1024 input,
    // 64x64 grid, 256 channels; narrow and shallow so that it runs in a second.
    const { bytes: encoder } = buildVitBEncoder(5, { ...VIT_B, embedDim: 96, numHeads: 4, mlpDim: 192, depth: 3, globalAttnIndexes: [1] });
    const dir = folderWith("small-sam", encoder);
    const decoder = buildSamDecoder(2).bytes;
    writeFileSync(join(dir, "decoder.onnx"), decoder);
    const m = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    writeFileSync(join(dir, "model.json"), JSON.stringify({ ...m, decoder: { file: "decoder.onnx", sha256: sha256(decoder), numMasks: 4 } }));
    await optimizeTarget(dir);
    const image = await readImage("data/phantom-slice.png");
    const embeddings: Float32Array[] = [];
    for (const optimized of [true, false]) {
      const model = await loadModel(dir, { optimized });
      try {
        expect(model.encoderPath.endsWith(optimized ? OPTIMIZED_ENCODER_FILE : "encoder.onnx")).toBe(true);
        embeddings.push(Float32Array.from((await model.embed(image)).data));
      } finally {
        await model.dispose();
      }
    }
    let maxDiff = 0;
    for (let i = 0; i < embeddings[0]!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(embeddings[0]![i]! - embeddings[1]![i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(embeddings[0]!.some((x) => Math.abs(x) > 0.1)).toBe(true);
  }, 120_000);
});

describe("int8 after optimize", () => {
  it("quantizes the optimized graph: the same weights quantized, the attention still in chunks", async () => {
    const { bytes: encoder } = buildVitBEncoder(6, { ...VIT_B, embedDim: 96, numHeads: 4, mlpDim: 192, depth: 3, globalAttnIndexes: [1] });
    const dir = folderWith("int8-after-optimize", encoder);
    await optimizeTarget(dir, { verify: false });
    const fromOriginal = quantizeModel(encoder).report;
    const { report, file } = await quantizeModelFolder(dir);
    expect(report.quantized).toBe(fromOriginal.quantized);
    expect(report.quantized).toBeGreaterThanOrEqual(12); // qkv, proj, 2 MLP per block
    const int8 = readFileSync(file);
    const softmaxes = EditableGraph.decode(int8).graph.node!.filter((n) => n.opType === "Softmax").length;
    expect(softmaxes).toBeGreaterThan(3 * 2); // chunked: more than a few per block
    const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(manifest.encoderInt8.fromSha256).toBe(sha256(encoder)); // keyed on the export, as the rewrite is
  }, 120_000);
});

describe("medicosam optimize (command line)", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ["bin/medicosam.js", "optimize", ...args], { encoding: "utf8", timeout: 120_000 });

  it("optimizes an encoder file beside it and prints what it did and the measured difference", () => {
    const file = join(tmp, "tiny-encoder.onnx");
    copyFileSync(FIXTURE, file);
    const r = cli(file, "--chunk-mb", "0.004");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/2 x attention 36 x 3x3 queries: 3 chunks of 12 x 9/);
    expect(r.stdout).toMatch(/2 x attention 4 x 8x8 queries: 16 chunks of 1 x 16/);
    expect(r.stdout).toMatch(/8 relative-position Einsum\(s\) as batched MatMuls/);
    expect(r.stdout).toMatch(/checked: largest output difference random \d\.\d\de-\d+ .*CT phantom slice/);
    expect(existsSync(join(tmp, "tiny-encoder.optimized.onnx"))).toBe(true);
  });

  it("refuses a model without SAM attention and leaves its folder as it was", () => {
    const dir = join(tmp, "analytic-copy");
    spawnSync("cp", ["-r", "models/analytic", dir]);
    const before = readFileSync(join(dir, "model.json"), "utf8");
    const r = cli(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/found no SAM-style attention/);
    expect(existsSync(join(dir, OPTIMIZED_ENCODER_FILE))).toBe(false);
    expect(readFileSync(join(dir, "model.json"), "utf8")).toBe(before);
  });

  it("usage errors exit 2 with the reason", () => {
    const none = cli();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no MODEL given/);
    const bad = cli(FIXTURE, "--chunk-mb", "0");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--chunk-mb must be a positive number/);
  });
});
