/**
 * Pruning a model to some of its outputs (kernel/onnx/prune.ts): what is left computes the kept
 * outputs exactly, and nothing is left that no output reads (onnxruntime would run it: the
 * generator's decoder once spent 2/3 of its time on such nodes).
 */
import { readFileSync } from "node:fs";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { PointDecoder, withoutMasksOutput } from "../kernel/automatic/point-decoder.js";
import { GraphBuilder } from "../kernel/onnx/graph.js";
import { pruneToOutputs } from "../kernel/onnx/prune.js";
import { generatePhantomSlice } from "../kernel/phantom/index.js";
import { loadModel } from "../kernel/sam/model.js";

const { onnx } = onnxProto;

/** Names produced by a node that no node, and no graph output, reads. */
function deadEnds(bytes: Uint8Array): string[] {
  const graph = onnx.ModelProto.decode(bytes).graph!;
  const read = new Set<string>([...graph.output!.map((o) => o.name!), ...graph.node!.flatMap((n) => n.input!)]);
  return graph.node!.filter((n) => !n.output!.some((o) => read.has(o))).map((n) => `${n.opType} ${n.name}`);
}

/** x -> Relu -> kept; x -> Exp -> Neg -> dropped, with a weight only the dropped branch reads. */
function twoBranches(): Uint8Array {
  const g = new GraphBuilder("two_branches");
  const x = g.input("x", "float32", [2, 3]);
  g.op("Relu", [g.op("Add", [x, g.constFloat(1)])], {}, "kept");
  g.op("Neg", [g.op("Mul", [g.op("Exp", [x]), g.constFloat(3)])], {}, "dropped");
  g.output("kept", "float32", [2, 3]);
  g.output("dropped", "float32", [2, 3]);
  return g.toBytes();
}

describe("pruneToOutputs", () => {
  it("keeps only the nodes and weights the kept outputs need, and they compute the same values", async () => {
    const full = twoBranches();
    const { bytes, removedNodes } = pruneToOutputs(full, ["kept"]);
    const graph = onnx.ModelProto.decode(bytes).graph!;
    expect(graph.output!.map((o) => o.name)).toEqual(["kept"]);
    expect(graph.node!.map((n) => n.opType)).not.toContain("Exp");
    expect(removedNodes).toBeGreaterThanOrEqual(3);
    expect(pruneToOutputs(full, ["kept"]).removedOutputs).toEqual(["dropped"]);
    expect(deadEnds(full)).toEqual([]);
    const x = new ort.Tensor("float32", Float32Array.of(-3, -1, 0, 0.5, 2, 7), [2, 3]);
    const [a, b] = await Promise.all([full, bytes].map((m) => ort.InferenceSession.create(m)));
    const expected = (await a!.run({ x }))["kept"]!.data;
    expect((await b!.run({ x }))["kept"]!.data).toEqual(expected);
    expect(Array.from(expected as Float32Array)).toEqual([0, 0, 1, 1.5, 3, 8]);
  });

  it("names the model's outputs when asked to keep one it does not have", () => {
    expect(() => pruneToOutputs(twoBranches(), ["kept", "masks"])).toThrow(/cannot keep output\(s\) masks: the model's outputs are kept, dropped/);
  });

  it("the demo decoder without `masks`: no node left that nothing reads, the same IoUs and low-res logits", async () => {
    const model = await loadModel("models/demo");
    const full = readFileSync(model.decoderPath);
    const pruned = withoutMasksOutput(full);
    // Removing the output alone (what an earlier version did) leaves the upscaling as dead ends.
    const outputOnly = onnx.ModelProto.decode(full);
    outputOnly.graph!.output = outputOnly.graph!.output!.filter((o) => o.name !== "masks");
    expect(deadEnds(onnx.ModelProto.encode(outputOnly).finish()).length).toBeGreaterThan(0);
    expect(deadEnds(pruned)).toEqual([]);
    expect(onnx.ModelProto.decode(pruned).graph!.node!.length).toBeLessThan(outputOnly.graph!.node!.length);

    const image = generatePhantomSlice({ seed: 7, modality: "ct", width: 200, height: 160, depth: 20, slice: 10 });
    const embedding = await model.embed(image, { cache: false });
    const [reference, lean] = await Promise.all([PointDecoder.load(model.decoderPath, true), PointDecoder.load(model.decoderPath, false)]);
    try {
      for (const point of [{ x: 60, y: 80 }, { x: 150, y: 40 }]) {
        const [r, l] = [await reference.decode(embedding, point), await lean.decode(embedding, point)];
        expect(l.ious).toEqual(r.ious);
        expect(l.lowRes).toEqual(r.lowRes);
        expect(l.masks).toBeUndefined();
      }
    } finally {
      await Promise.all([reference.release(), lean.release(), model.dispose()]);
    }
  }, 60_000);
});
