/**
 * An ONNX graph opened for rewriting: who produces and who reads each value, constant lookup,
 * new nodes and initializers under names that cannot clash, and a final topological sort.
 *
 * Why not GraphBuilder (graph.ts): that builds graphs from nothing; a rewrite changes a few
 * hundred nodes of a graph it did not write, and must keep every other node, initializer and
 * attribute byte for byte.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
export type Model = InstanceType<typeof onnx.ModelProto>;
export type Graph = InstanceType<typeof onnx.GraphProto>;
export type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * Names a node reads: its inputs and, for If / Loop / Scan, whatever the bodies read (names the
 * bodies produce themselves included; callers keep only those produced outside).
 */
function namesRead(node: Node): string[] {
  const names = (node.input ?? []).filter((i) => i !== "");
  for (const attribute of node.attribute ?? []) {
    for (const sub of [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])]) {
      for (const inner of sub.node ?? []) names.push(...namesRead(inner as Node));
    }
  }
  return names;
}

/** protobufjs gives int64 fields as numbers or Long objects, depending on what is installed. */
function toNumber(v: unknown): number {
  return typeof v === "number" ? v : Number(String(v));
}

export class EditableGraph {
  readonly graph: Graph;
  private readonly producers = new Map<string, Node>();
  private readonly readers = new Map<string, Node[]>();
  private readonly initializers = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private readonly removed = new Set<Node>();
  private readonly added: Node[] = [];
  private counter = 0;

  constructor(readonly model: Model) {
    if (!model.graph) throw new Error("the ONNX model has no graph");
    this.graph = model.graph as Graph;
    for (const t of (this.graph.initializer ?? []) as Tensor[]) {
      this.initializers.set(t.name ?? "", t);
      this.names.add(t.name ?? "");
    }
    for (const v of this.graph.input ?? []) this.names.add(v.name ?? "");
    for (const node of (this.graph.node ?? []) as Node[]) this.index(node);
  }

  static decode(bytes: Uint8Array): EditableGraph {
    return new EditableGraph(onnx.ModelProto.decode(bytes));
  }

  private index(node: Node): void {
    if (node.name) this.names.add(node.name);
    for (const o of node.output ?? []) {
      this.producers.set(o, node);
      this.names.add(o);
    }
    for (const i of new Set(namesRead(node))) {
      const list = this.readers.get(i) ?? [];
      list.push(node);
      this.readers.set(i, list);
    }
  }

  /** The node that computes `value`, if any (graph inputs and initializers have none). */
  producer(value: string): Node | undefined {
    const node = this.producers.get(value);
    return node && !this.removed.has(node) ? node : undefined;
  }

  /** The nodes that read `value`, plus a flag for graph outputs (which count as readers). */
  readersOf(value: string): Node[] {
    return (this.readers.get(value) ?? []).filter((n) => !this.removed.has(n));
  }

  isGraphOutput(value: string): boolean {
    return (this.graph.output ?? []).some((o) => o.name === value);
  }

  /** True when `value` is read by exactly one node and is not a graph output. */
  readOnceBy(value: string, node: Node): boolean {
    const r = this.readersOf(value);
    return r.length === 1 && r[0] === node && !this.isGraphOutput(value);
  }

  /**
   * The int64 values of a constant (an initializer or a Constant node's tensor), or undefined
   * when `value` is computed at run time.
   */
  int64s(value: string): number[] | undefined {
    let t: Tensor | undefined = this.initializers.get(value);
    if (!t) {
      const node = this.producer(value);
      if (node?.opType === "Constant") t = (node.attribute ?? []).find((a) => a.name === "value")?.t as Tensor | undefined;
    }
    if (!t || t.dataType !== INT64) return undefined;
    if (t.rawData && t.rawData.length > 0) {
      const copy = new Uint8Array(t.rawData.length);
      copy.set(t.rawData);
      return Array.from(new BigInt64Array(copy.buffer), (v) => Number(v));
    }
    return (t.int64Data ?? []).map(toNumber);
  }

  /** An integer or integer-list attribute of `node`. */
  intsAttribute(node: Node, name: string): number[] | undefined {
    const a = (node.attribute ?? []).find((x) => x.name === name);
    if (!a) return undefined;
    if (a.ints && a.ints.length > 0) return a.ints.map(toNumber);
    if (a.i !== undefined && a.i !== null) return [toNumber(a.i)];
    return undefined;
  }

  /** A name that no value, node or initializer of the graph uses yet. */
  freshName(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  /** An int64 initializer (shapes, axes, split sizes); returns its name. */
  int64Constant(values: readonly number[], prefix = "optimize_const"): string {
    const name = this.freshName(prefix);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    const t = onnx.TensorProto.create({ name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
    (this.graph.initializer ??= []).push(t);
    this.initializers.set(name, t);
    return name;
  }

  /**
   * Adds a node. `outputs`: a count of fresh names, or exact names (used to take over the
   * output of a node being replaced). Integer-list attributes are given as number arrays.
   */
  addNode(opType: string, inputs: readonly string[], outputs: number | readonly string[], attrs: Record<string, number | readonly number[]> = {}, prefix = "optimize"): string[] {
    const name = this.freshName(`${prefix}/${opType}`);
    const outNames = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.freshName(`${prefix}/${opType}_out`)) : [...outputs];
    const T = onnx.AttributeProto.AttributeType;
    const node = onnx.NodeProto.create({
      name,
      opType,
      input: [...inputs],
      output: outNames,
      attribute: Object.entries(attrs).map(([k, v]) =>
        typeof v === "number" ? { name: k, type: T.INT, i: v } : { name: k, type: T.INTS, ints: [...v] },
      ),
    });
    // A taken-over output must stop pointing at the node it came from.
    for (const o of outNames) {
      const previous = this.producers.get(o);
      if (previous && !this.removed.has(previous)) throw new Error(`internal: ${o} is still produced by ${previous.name}; remove that node first`);
    }
    this.index(node);
    this.added.push(node);
    return outNames;
  }

  remove(node: Node): void {
    this.removed.add(node);
  }

  /**
   * Writes the edits back: removed nodes dropped, added ones in, all in topological order
   * (ONNX requires it), original nodes keeping their relative order; initializers nobody reads
   * any more are dropped.
   */
  commit(): void {
    const nodes = [...((this.graph.node ?? []) as Node[]).filter((n) => !this.removed.has(n)), ...this.added];
    const available = new Set<string>([...this.initializers.keys(), ...(this.graph.input ?? []).map((v) => v.name ?? "")]);
    const producedHere = new Set(nodes.flatMap((n) => n.output ?? []));
    const waiting = new Map<Node, number>();
    const waitersOf = new Map<string, Node[]>();
    const ready: Node[] = [];
    for (const node of nodes) {
      // A subgraph's reads of this graph's values are dependencies too (names it makes itself are not).
      const missing = new Set(namesRead(node).filter((i) => producedHere.has(i) && !available.has(i)));
      waiting.set(node, missing.size);
      for (const m of missing) (waitersOf.get(m) ?? waitersOf.set(m, []).get(m)!).push(node);
      if (missing.size === 0) ready.push(node);
    }
    // Depth-first: a freed node runs before the rest of the ready list, so the chunks of a
    // rewritten attention come out one after the other rather than interleaved.
    const order: Node[] = [];
    ready.reverse();
    while (ready.length > 0) {
      const node = ready.pop()!;
      order.push(node);
      const freed: Node[] = [];
      for (const o of node.output ?? []) {
        for (const w of waitersOf.get(o) ?? []) {
          const left = waiting.get(w)! - 1;
          waiting.set(w, left);
          if (left === 0) freed.push(w);
        }
        waitersOf.delete(o);
      }
      for (let k = freed.length - 1; k >= 0; k--) ready.push(freed[k]!);
    }
    if (order.length !== nodes.length) {
      const stuck = nodes.filter((n) => !order.includes(n)).slice(0, 3).map((n) => `${n.opType} ${n.name}`);
      throw new Error(`internal: the rewritten graph has a cycle or a missing value (${stuck.join(", ")})`);
    }
    this.graph.node = order;
    const read = new Set<string>();
    for (const n of order) for (const i of namesRead(n)) read.add(i);
    for (const o of this.graph.output ?? []) read.add(o.name ?? "");
    this.graph.initializer = ((this.graph.initializer ?? []) as Tensor[]).filter((t) => read.has(t.name ?? ""));
    // Shapes recorded for values that no longer exist would only mislead.
    const values = new Set<string>([...read, ...order.flatMap((n) => n.output ?? [])]);
    this.graph.valueInfo = (this.graph.valueInfo ?? []).filter((v) => values.has(v.name ?? ""));
  }

  encode(): Uint8Array {
    return onnx.ModelProto.encode(this.model).finish();
  }
}
