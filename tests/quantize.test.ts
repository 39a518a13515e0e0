/**
 * int8 quantization: the weight arithmetic by hand, the graph rewrite by inspection, and the
 * rewritten graph run in onnxruntime against (1) a JavaScript model of the quantized
 * arithmetic and (2) the error bound that arithmetic implies, plus proof that onnxruntime fuses
 * the pattern into its integer kernel (where the speed comes from).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { u8s8MaySaturate } from "../kernel/onnx/cpu-features.js";
import { GraphBuilder } from "../kernel/onnx/graph.js";
import { QUANTIZATION_METADATA_KEY, QuantizeError, quantizeModel } from "../kernel/onnx/quantize.js";
import { quantizeWeights, roundHalfEven } from "../kernel/onnx/quantize-weights.js";

const { onnx } = onnxProto;
const tmp = mkdtempSync(join(tmpdir(), "quantize-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic pseudo-random numbers in [-0.5, 0.5). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function decode(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, options: ort.InferenceSession.SessionOptions = {}) {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe("quantizeWeights", () => {
  it("rounds half to even like onnxruntime and numpy", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 1, 3]);
  });

  it("gives each column its own symmetric scale max|w|/127 and an all-zero column scale 1", () => {
    // [K=3, N=3]; columns with very different ranges.
    const w = Float32Array.from([1, -0.01, 0, -2, 0.005, 0, 0.5, 0.02, 0]);
    const q = quantizeWeights(w, 3, 3);
    expect(q.granularity).toBe("per-column");
    expect(Array.from(q.scales)).toEqual([Math.fround(2 / 127), Math.fround(0.02 / 127), 1]);
    // Every value is round(w / scale) of its own column's scale, and the column maximum hits +-127.
    expect(Array.from(q.values)).toEqual([
      roundHalfEven(1 / q.scales[0]!), roundHalfEven(-0.01 / q.scales[1]!), 0,
      -127, roundHalfEven(0.005 / q.scales[1]!), 0,
      roundHalfEven(0.5 / q.scales[0]!), 127, 0,
    ]);
    expect(q.maxAbsError).toBeLessThanOrEqual(Math.max(...q.scales.slice(0, 2)) / 2 + 1e-9);
  });

  it("per-tensor uses one scale; reduced range keeps weights in [-63, 63]", () => {
    const w = Float32Array.from([1, -0.01, -2, 0.005]);
    const t = quantizeWeights(w, 2, 2, { granularity: "per-tensor" });
    expect(Array.from(t.scales)).toEqual([Math.fround(2 / 127)]);
    expect(Array.from(t.values)).toEqual([roundHalfEven(1 / t.scales[0]!), roundHalfEven(-0.01 / t.scales[0]!), -127, 0]);
    const r = quantizeWeights(w, 2, 2, { reduceRange: true });
    expect(Array.from(r.scales)).toEqual([Math.fround(2 / 63), Math.fround(0.01 / 63)]);
    expect(Math.max(...Array.from(r.values, Math.abs))).toBe(63);
  });

  it("refuses non-finite weights and wrong sizes", () => {
    expect(() => quantizeWeights(Float32Array.from([1, NaN]), 1, 2)).toThrow(/non-finite/);
    expect(() => quantizeWeights(Float32Array.from([1, 2, 3]), 2, 2)).toThrow(/has 4 values, got 3/);
  });
});

/**
 * y = MatMul(x, W) + b with x [2, 5, K]; columns of W scaled 1..1000x apart, so per-column
 * scales matter; plus an activation x activation MatMul and a rank-3 weight that must stay float.
 */
function testGraph(K = 24, N = 8) {
  const r = rng(7);
  const W = Float32Array.from({ length: K * N }, (_, i) => r() * 10 ** ((i % N) / 3 - 1));
  const b = Float32Array.from({ length: N }, () => r());
  const g = new GraphBuilder("q");
  const x = g.input("x", "float32", [2, 5, K]);
  const mm = g.op("MatMul", [x, g.initializer("W", W, [K, N])], {}, "mm");
  g.op("Add", [mm, g.initializer("b", b, [N])], {}, "y");
  g.output("y", "float32", [2, 5, N]);
  // Activation x activation (attention-like): stays float.
  const xt = g.op("Transpose", [x], { perm: [0, 2, 1] });
  g.op("MatMul", [x, xt], {}, "gram");
  g.output("gram", "float32", [2, 5, 5]);
  // Batched weight of rank 3: not a plain linear layer, stays float.
  const W3 = Float32Array.from({ length: 2 * K * 3 }, () => r());
  g.op("MatMul", [x, g.initializer("W3", W3, [2, K, 3])], {}, "batched");
  g.output("batched", "float32", [2, 5, 3]);
  const xs = Float32Array.from({ length: 2 * 5 * K }, () => 4 * r() + 0.3);
  return { bytes: g.toBytes(), W, b, xs, K, N };
}

/**
 * The arithmetic the int8 graph stands for, in float64: ONNX DynamicQuantizeLinear on x, the
 * integer product with the int8 weights, the two scales, the bias. Returns y and the bound on
 * |y_int8 - y_float| implied by rounding x and W to their grids.
 */
function emulate(xs: Float32Array, W: Float32Array, b: Float32Array, K: number, N: number, reduceRange: boolean) {
  const q = quantizeWeights(W, K, N, { reduceRange });
  const lo = Math.min(0, ...xs);
  const hi = Math.max(0, ...xs);
  const aScale = Math.fround((hi - lo) / 255);
  const aZero = Math.max(0, Math.min(255, roundHalfEven(-lo / aScale)));
  const rows = xs.length / K;
  const y = new Float64Array(rows * N);
  const bound = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      let err = 0;
      for (let k = 0; k < K; k++) {
        const xq = Math.max(0, Math.min(255, roundHalfEven(xs[r * K + k]! / aScale) + aZero)) - aZero;
        const wq = q.values[k * N + n]!;
        acc += xq * wq;
        // |x w - x^ w^| <= |x - x^| |w^| + |x| |w - w^|
        err += (aScale / 2) * Math.abs(wq * q.scales[n]!) + Math.abs(xs[r * K + k]!) * (q.scales[n]! / 2);
      }
      y[r * N + n] = acc * aScale * q.scales[n]! + b[n]!;
      bound[r * N + n] = err;
    }
  }
  return { y, bound, aScale };
}

describe("quantizeModel", () => {
  it("rewrites only MatMuls with a constant rank-2 float weight, into the fusable pattern", () => {
    const { bytes } = testGraph();
    const { bytes: out, report } = quantizeModel(bytes);
    expect(report.matmuls).toBe(3);
    expect(report.quantized).toBe(1);
    expect(report.skipped.map((s) => s.reason)).toEqual([
      "second input is not an initializer (activation x activation)",
      "weight 'W3' has rank 3, not 2",
    ]);
    const m = decode(out);
    const ops = m.graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === "MatMul")).toHaveLength(2);
    const dql = m.graph!.node!.find((n) => n.opType === "DynamicQuantizeLinear")!;
    const mmi = m.graph!.node!.find((n) => n.opType === "MatMulInteger")!;
    const muls = m.graph!.node!.filter((n) => n.opType === "Mul");
    // A_scale first, then W_scale: the order onnxruntime's fusion reads them in.
    const scaleMul = muls.find((n) => n.input![0] === dql.output![1])!;
    expect(scaleMul.input![1]).toBe("W_scale");
    expect(mmi.input).toEqual([dql.output![0], "W_quantized", dql.output![2]]);
    const outMul = muls.find((n) => n.output![0] === "mm")!;
    expect(outMul.input![1]).toBe(scaleMul.output![0]);
    // The float weight is gone, the int8 one and its [N] scales are there.
    const inits = new Map(m.graph!.initializer!.map((t) => [t.name!, t]));
    expect(inits.has("W")).toBe(false);
    expect(inits.get("W_quantized")!.dataType).toBe(onnx.TensorProto.DataType.INT8);
    expect(inits.get("W_scale")!.dims!.map(Number)).toEqual([8]);
    const meta = m.metadataProps!.find((p) => p.key === QUANTIZATION_METADATA_KEY)!;
    expect(JSON.parse(meta.value!)).toMatchObject({ granularity: "per-column", quantized: 1, matmuls: 3 });
  });

  it("runs in onnxruntime as the quantized arithmetic says, within the error bound of float32", async () => {
    const { bytes, W, b, xs, K, N } = testGraph();
    const { bytes: out, report } = quantizeModel(bytes);
    const feeds = { x: new ort.Tensor("float32", xs, [2, 5, K]) };
    const [f, q] = [await run(bytes, feeds), await run(out, feeds)];
    const yf = f.y!.data as Float32Array;
    const yq = q.y!.data as Float32Array;
    const { y, bound } = emulate(xs, W, b, K, N, report.reduceRange);
    const scale = Math.max(...Array.from(yf, Math.abs));
    for (let i = 0; i < yq.length; i++) {
      // onnxruntime computes exactly this arithmetic (float32 rounding aside)...
      expect(Math.abs(yq[i]! - y[i]!)).toBeLessThan(1e-5 * scale + 1e-6);
      // ...and it stays within the rounding bound of the float32 result.
      expect(Math.abs(yq[i]! - yf[i]!)).toBeLessThanOrEqual(bound[i]! * 1.0001 + 1e-5);
    }
    // It is really quantized (not float32 passed through): the int8 result differs somewhere.
    expect(Math.max(...Array.from(yq, (v, i) => Math.abs(v - yf[i]!)))).toBeGreaterThan(1e-4 * scale);
    // The untouched float MatMuls give identical results.
    expect(Array.from(q.gram!.data as Float32Array)).toEqual(Array.from(f.gram!.data as Float32Array));
    expect(Array.from(q.batched!.data as Float32Array)).toEqual(Array.from(f.batched!.data as Float32Array));
  });

  it(`8-bit weights saturate in onnxruntime exactly where the CPU check says (here: ${u8s8MaySaturate() ? "x86 without VNNI, saturates" : "does not saturate"}); the default weights never do`, async () => {
    // Worst case for the int16 pair sums of the AVX2 kernel: every activation quantizes to 255
    // and every weight to the top of its range, so exact int8 arithmetic gives y = K.
    const K = 8;
    const g = new GraphBuilder("sat");
    g.op("MatMul", [g.input("x", "float32", [1, K]), g.initializer("W", new Float32Array(K).fill(1), [K, 1])], {}, "y");
    g.output("y", "float32", [1, 1]);
    const feeds = { x: new ort.Tensor("float32", new Float32Array(K).fill(1), [1, K]) };
    const y = async (reduceRange?: boolean) => {
      const q = quantizeModel(g.toBytes(), reduceRange === undefined ? {} : { reduceRange });
      return ((await run(q.bytes, feeds)).y!.data as Float32Array)[0]!;
    };
    const fullRange = await y(false);
    expect(Math.abs(fullRange - K) > 0.05).toBe(u8s8MaySaturate());
    expect(await y(true)).toBeCloseTo(K, 3);
    expect(await y()).toBeCloseTo(K, 3);
    expect(quantizeModel(g.toBytes()).report.reduceRange).toBe(u8s8MaySaturate());
  });

  it("per-column scales are more accurate than per-tensor on columns of different ranges", async () => {
    const { bytes, xs, K } = testGraph();
    const feeds = { x: new ort.Tensor("float32", xs, [2, 5, K]) };
    const yf = (await run(bytes, feeds)).y!.data as Float32Array;
    const err = async (granularity: "per-column" | "per-tensor") => {
      const y = (await run(quantizeModel(bytes, { granularity }).bytes, feeds)).y!.data as Float32Array;
      // Error relative to each column's own magnitude, summed over columns.
      let total = 0;
      for (let n = 0; n < 8; n++) {
        let e = 0;
        let m = 0;
        for (let r = 0; r < 10; r++) {
          e = Math.max(e, Math.abs(y[r * 8 + n]! - yf[r * 8 + n]!));
          m = Math.max(m, Math.abs(yf[r * 8 + n]!));
        }
        total += e / m;
      }
      return total;
    };
    expect(await err("per-column")).toBeLessThan((await err("per-tensor")) / 3);
  });

  it("is fused by onnxruntime into DynamicQuantizeMatMul (the integer kernel), bias included", async () => {
    const { bytes, xs, K } = testGraph();
    const optimized = join(tmp, "fused.onnx");
    await run(quantizeModel(bytes).bytes, { x: new ort.Tensor("float32", xs, [2, 5, K]) }, {
      graphOptimizationLevel: "all",
      optimizedModelFilePath: optimized,
    });
    const ops = decode(readFileSync(optimized)).graph!.node!.map((n) => `${n.domain || "ai.onnx"}:${n.opType}`);
    expect(ops).toContain("com.microsoft:DynamicQuantizeMatMul");
    expect(ops.filter((o) => /MatMulInteger|DynamicQuantizeLinear|:Cast$|:Add$/.test(o))).toEqual([]);
  });

  it("quantizes a weight shared by two MatMuls once and keeps a float weight that other nodes still read", () => {
    const g = new GraphBuilder("shared");
    const x = g.input("x", "float32", [3, 4]);
    const w = g.initializer("W", Float32Array.from({ length: 16 }, (_, i) => i - 7.5), [4, 4]);
    const a = g.op("MatMul", [x, w]);
    const bMm = g.op("MatMul", [a, w]);
    g.op("Add", [bMm, g.op("ReduceSum", [w], { keepdims: 0 })], {}, "y");
    g.output("y", "float32", [3, 4]);
    const { bytes, report } = quantizeModel(g.toBytes());
    expect(report.quantized).toBe(2);
    expect(report.weightTensors).toBe(1);
    const names = decode(bytes).graph!.initializer!.map((t) => t.name);
    expect(names.filter((n) => n === "W_quantized")).toHaveLength(1);
    expect(names).toContain("W"); // ReduceSum still reads the float weight
  });

  it("says why when there is nothing to quantize, the opset is too old, or weights are external", () => {
    const conv = new GraphBuilder("conv");
    const x = conv.input("x", "float32", [1, 1, 4, 4]);
    conv.op("Conv", [x, conv.initializer("k", new Float32Array(9).fill(1), [1, 1, 3, 3])], { kernel_shape: [3, 3] }, "y");
    conv.output("y", "float32", [1, 1, 2, 2]);
    expect(() => quantizeModel(conv.toBytes())).toThrow(/nothing to quantize: the graph has 0 MatMul/);
    expect(() => quantizeModel(readFileSync("models/analytic/encoder.onnx"))).toThrow(QuantizeError);

    const { bytes } = testGraph();
    const old = decode(bytes);
    old.opsetImport = [{ domain: "", version: 10 }];
    expect(() => quantizeModel(onnx.ModelProto.encode(old).finish())).toThrow(/opset 10; DynamicQuantizeLinear needs opset >= 11/);

    const ext = decode(bytes);
    ext.graph!.initializer![0]!.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    expect(() => quantizeModel(onnx.ModelProto.encode(ext).finish())).toThrow(/external data file/);
    expect(() => quantizeModel(Uint8Array.from([1, 2, 3, 255]))).toThrow(/not an ONNX model/);
  });
});
