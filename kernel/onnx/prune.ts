/**
 * Cuts an ONNX model down to some of its outputs: the other outputs, every node that no kept
 * output depends on, and the initializers only those nodes read are removed.
 *
 * Why by hand: onnxruntime does not do it for us. Neither asking `session.run` for a subset of
 * the outputs nor deleting an output from the graph stops the nodes that fed it from running:
 * profiled on the demo decoder (onnxruntime-node 1.x, `enableProfiling`), a graph without its
 * `masks` output still spent 64 % of its kernel time in the upscaling to 1024x1024 and the crop
 * that only `masks` used (30 ms -> 10 ms of kernel time per call once they were pruned here).
 *
 * Graph inputs are all kept, used or not, so callers feed the same names as to the full model
 * (onnxruntime accepts a feed for an input that no node reads).
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type Graph = InstanceType<typeof onnx.GraphProto>;
type Node = InstanceType<typeof onnx.NodeProto>;

/** Names a node reads, including those its subgraphs (If, Loop, Scan bodies) read from outside. */
function namesRead(node: Node): string[] {
  const names = [...(node.input ?? [])];
  for (const attribute of node.attribute ?? []) {
    const graphs = [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])];
    for (const sub of graphs) for (const inner of sub.node ?? []) names.push(...namesRead(inner as Node));
  }
  return names;
}

export interface PruneResult {
  readonly bytes: Uint8Array;
  /** Nodes removed because no kept output depends on them. */
  readonly removedNodes: number;
  /** The model's outputs that were not kept. */
  readonly removedOutputs: readonly string[];
}

/**
 * `keep`: the output names to keep, each of which must be an output of the model (a typo would
 * otherwise prune the whole graph away).
 */
export function pruneToOutputs(bytes: Uint8Array, keep: readonly string[]): PruneResult {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as Graph;
  const outputs = (graph.output ?? []).map((o) => o.name ?? "");
  const unknown = keep.filter((name) => !outputs.includes(name));
  if (unknown.length > 0) throw new Error(`cannot keep output(s) ${unknown.join(", ")}: the model's outputs are ${outputs.join(", ")}.`);
  graph.output = (graph.output ?? []).filter((o) => keep.includes(o.name ?? ""));

  // ONNX requires nodes in topological order, so one backward sweep finds every needed node.
  const needed = new Set<string>(keep);
  const kept: Node[] = [];
  const nodes = (graph.node ?? []) as Node[];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k]!;
    if (!(node.output ?? []).some((name) => needed.has(name))) continue;
    kept.push(node);
    for (const name of namesRead(node)) needed.add(name);
  }
  kept.reverse();
  graph.node = kept;
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ""));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? ""));
  return { bytes: onnx.ModelProto.encode(model).finish(), removedNodes: nodes.length - kept.length, removedOutputs: outputs.filter((o) => !keep.includes(o)) };
}
