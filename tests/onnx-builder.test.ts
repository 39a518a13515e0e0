import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { GraphBuilder, float, floats, tensor } from "../kernel/onnx/graph.js";

async function run(g: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(g.toBytes());
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe("GraphBuilder", () => {
  it("builds a graph with weights, attributes and a dynamic axis that onnxruntime runs", async () => {
    // y = relu(x @ W + b) * alpha, with x [N, 3] dynamic in N.
    const g = new GraphBuilder("mlp");
    const x = g.input("x", "float32", ["n", 3]);
    const W = Float32Array.from([1, -1, 0.5, 2, 0, -3]); // [3, 2] row-major
    const b = Float32Array.from([0.25, -0.5]);
    const w = g.initializer("W", W, [3, 2]);
    const bias = g.initializer(undefined, b, [2]);
    const mm = g.op("MatMul", [x, w]);
    const added = g.op("Add", [mm, bias]);
    const relu = g.op("Relu", [added]);
    const alpha = g.op("Constant", [], { value: tensor(Float32Array.of(1.5), []) });
    g.op("Mul", [relu, alpha], {}, "y");
    g.output("y", "float32", ["n", 2]);

    const xs = [
      [1, 2, 3],
      [-1, 0.5, 4],
    ];
    const out = await run(g, { x: new ort.Tensor("float32", Float32Array.from(xs.flat()), [2, 3]) });
    const y = out.y!;
    expect(y.dims).toEqual([2, 2]);
    const expected: number[] = [];
    for (const row of xs) {
      for (let j = 0; j < 2; j++) {
        let s = b[j]!;
        for (let k = 0; k < 3; k++) s += row[k]! * W[k * 2 + j]!;
        expected.push(Math.max(s, 0) * 1.5);
      }
    }
    const got = Array.from(y.data as Float32Array);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  it("does shape arithmetic with int64 constants and typed int/float/string attributes", async () => {
    // Resize x [1,1,2,2] to twice its size computed in the graph from Shape(x), then LeakyRelu.
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [1, 1, "h", "w"]);
    const shape = g.op("Shape", [x]);
    const hw = g.op("Slice", [shape, g.constInt64([2]), g.constInt64([4]), g.constInt64([0])]);
    const hw2 = g.op("Mul", [hw, g.constInt64(2)]);
    const sizes = g.op("Concat", [g.constInt64([1, 1]), hw2], { axis: 0 });
    const up = g.op("Resize", [x, "", "", sizes], { mode: "nearest", coordinate_transformation_mode: "asymmetric" });
    const leaky = g.op("LeakyRelu", [up], { alpha: float(0.5) });
    const clipped = g.op("Clip", [leaky, g.constFloat(-1), g.constFloat(3)]);
    const [sorted] = g.node("TopK", [g.op("Reshape", [clipped, g.constInt64([-1])]), g.constInt64([3])], {}, {
      outputs: ["top", "top_idx"],
    });
    g.output(sorted!, "float32", [3]);
    g.output("top_idx", "int64");
    g.output(clipped, "float32");

    const out = await run(g, { x: new ort.Tensor("float32", Float32Array.from([1, -4, 7, 2]), [1, 1, 2, 2]) });
    const big = out[clipped]!;
    expect(big.dims).toEqual([1, 1, 4, 4]);
    // nearest/asymmetric upsampling by 2 repeats each pixel in a 2x2 block.
    const src = [1, -4, 7, 2];
    const f = (v: number) => Math.min(3, Math.max(-1, v >= 0 ? v : 0.5 * v));
    const expected: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expected.push(f(src[(i >> 1) * 2 + (j >> 1)]!));
    expect(Array.from(big.data as Float32Array)).toEqual(expected);
    expect(Array.from(out.top!.data as Float32Array)).toEqual([3, 3, 3]);
    expect(out.top_idx!.type).toBe("int64");
  });

  it("stores float lists, int32 and int64 initializers with the right element types", async () => {
    const g = new GraphBuilder();
    const a = g.initializer("a", Int32Array.from([3, -2, 7]), [3]);
    const b = g.initializer("b", BigInt64Array.from([10n, 20n, 30n]), [3]);
    const sum = g.op("Add", [g.op("Cast", [a], { to: 7 }), b], {}, "sum");
    g.output(sum, "int64", [3]);
    // A float list attribute: Constant value_floats.
    g.op("Constant", [], { value_floats: floats([0.5, 1.25]) }, "fl");
    g.output("fl", "float32", [2]);
    const out = await run(g, {});
    expect(Array.from(out.sum!.data as BigInt64Array)).toEqual([13n, 18n, 37n]);
    expect(Array.from(out.fl!.data as Float32Array)).toEqual([0.5, 1.25]);
  });

  it("shares identical small constants and generates unique names", () => {
    const g = new GraphBuilder();
    expect(g.constInt64([0, 1])).toBe(g.constInt64([0, 1]));
    expect(g.constFloat(2)).not.toBe(g.constFloat([2]));
    expect(g.constFloat(2)).not.toBe(g.constInt64(2));
    const n1 = g.uniqueName("t");
    const n2 = g.uniqueName("t");
    expect(n1).not.toBe(n2);
  });

  it("names the problem when a graph is wired wrong", () => {
    const g = new GraphBuilder("bad");
    const x = g.input("x", "float32", [2]);
    expect(() => g.op("Relu", ["nope"])).toThrow(/input "nope" is not produced/);
    expect(() => g.op("LeakyRelu", [x], { alpha: 0.1 })).toThrow(/float\(0\.1\)/);
    expect(() => g.input("x", "float32", [2])).toThrow(/already used/);
    expect(() => g.initializer("w", Float32Array.of(1, 2, 3), [2, 2])).toThrow(/4 elements but the data has 3/);
    expect(() => g.output("missing", "float32")).toThrow(/no node, input or initializer produces it/);
    expect(() => g.toBytes()).toThrow(/no outputs/);
  });

  it("serializes a large float initializer as raw bytes without per-element overhead", async () => {
    // 16 M floats = 64 MiB: float_data lists would cost ~1 GB of writer ops; raw_data is one copy.
    const n = 16 * 1024 * 1024;
    const w = new Float32Array(n);
    for (let i = 0; i < n; i += 4099) w[i] = i;
    const g = new GraphBuilder();
    const x = g.input("x", "float32", [n]);
    g.op("Add", [x, g.initializer("w", w, [n])], {}, "y");
    g.output("y", "float32", [n]);
    const heapBefore = process.memoryUsage().heapUsed;
    const bytes = g.toBytes();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(bytes.byteLength).toBeGreaterThan(n * 4);
    expect(bytes.byteLength).toBeLessThan(n * 4 + 1024);
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);
    const out = await run(g, { x: new ort.Tensor("float32", new Float32Array(n), [n]) });
    const y = out.y!.data as Float32Array;
    expect(y[4099 * 3]).toBe(4099 * 3);
    expect(y[1]).toBe(0);
  });
});
