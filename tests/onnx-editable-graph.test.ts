/**
 * EditableGraph (kernel/onnx/optimize/editable-graph.ts): the rewrites' bookkeeping. Its
 * topological sort must see the values a subgraph (If / Loop / Scan body) reads from outside,
 * or a replaced producer could land after the node whose body reads it, and onnxruntime would
 * refuse the model.
 */
import onnxProto from "onnx-proto";
import ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { EditableGraph } from "../kernel/onnx/optimize/editable-graph.js";

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const BOOL = onnx.TensorProto.DataType.BOOL;
const vi = (name: string, elemType: number, dims: number[]) =>
  onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

/** y = If(cond) then Identity(r) else Neg(r), with r = Relu(x) computed outside the branches. */
function ifReadingOuterValue(): Uint8Array {
  const branch = (op: string, name: string) =>
    onnx.GraphProto.create({ name, node: [{ opType: op, input: ["r"], output: [`${name}_out`], name: `${name}_node` }], output: [vi(`${name}_out`, FLOAT, [4])] });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "if-outer",
      input: [vi("x", FLOAT, [4]), vi("cond", BOOL, [])],
      output: [vi("y", FLOAT, [4])],
      node: [
        { name: "relu", opType: "Relu", input: ["x"], output: ["r"] },
        {
          name: "if",
          opType: "If",
          input: ["cond"],
          output: ["y"],
          attribute: [
            { name: "then_branch", type: onnx.AttributeProto.AttributeType.GRAPH, g: branch("Identity", "then") },
            { name: "else_branch", type: onnx.AttributeProto.AttributeType.GRAPH, g: branch("Neg", "else") },
          ],
        },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

describe("EditableGraph", () => {
  it("counts a subgraph's reads of outer values as readers and as dependencies of the sort", async () => {
    const g = EditableGraph.decode(ifReadingOuterValue());
    const relu = g.producer("r")!;
    // The If node reads r only inside its branches: it still counts as r's reader.
    expect(g.readersOf("r").map((n) => n.opType)).toEqual(["If"]);
    // Replace the producer of r by an equivalent node added at the end of the node list.
    g.remove(relu);
    g.addNode("Abs", [g.addNode("Relu", ["x"], 1)[0]!], ["r"]);
    g.commit();
    const order = g.graph.node!.map((n) => n.opType);
    expect(order.indexOf("If")).toBeGreaterThan(order.indexOf("Abs"));

    const session = await ort.InferenceSession.create(g.encode());
    const x = new ort.Tensor("float32", Float32Array.from([-2, -1, 1, 2]), [4]);
    const y = await session.run({ x, cond: new ort.Tensor("bool", Uint8Array.from([0]), []) });
    expect(Array.from(y.y!.data as Float32Array)).toEqual([-0, -0, -1, -2]);
    await session.release();
  });
});
