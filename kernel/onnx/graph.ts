/**
 * A small typed builder for ONNX models (opset 17, IR version 8) over `onnx-proto`.
 *
 * Why it exists: we have no trained weights in the repository, yet tests and benchmarks need
 * real ONNX files with the exact SAM contract (analytic test models, a random-weight ViT-B for
 * timing). Writing them from TypeScript keeps the toolchain to Node alone.
 *
 * Design choices:
 * - Every tensor (initializers, tensor attributes) is stored as `raw_data` bytes, never as
 *   `float_data` lists: protobufjs encodes repeated numbers one write op per element, which for a
 *   ViT-B (~90 M floats) would take gigabytes of heap; raw bytes are one copy at `finish()`.
 * - Node inputs are checked against the values known so far, so a typo fails at build time with
 *   the node named, instead of as an opaque onnxruntime load error.
 * - Attribute values are typed explicitly where JS cannot tell int from float (see `float`).
 */
import { endianness } from "node:os";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** Opset of the default ("ai.onnx") domain. 17 is what the official SAM exporter targets. */
export const OPSET = 17;
/** IR version 8 is the newest that onnx-proto 8 (onnx 1.10) describes; ORT 1.x reads it. */
export const IR_VERSION = 8;

/** Element types we declare for graph inputs/outputs and tensors. */
export type ElemType = "float32" | "int64" | "int32" | "bool" | "uint8" | "float16" | "float64";

const ELEM_CODE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
};

/** A dimension: a fixed size, or a symbolic name (dynamic axis), e.g. "num_points". */
export type Dim = number | string;

/** Typed arrays we can store as tensors, with their ONNX element type. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** A tensor value: data plus shape. Used for tensor attributes (e.g. `Constant`). */
export interface TensorValue {
  readonly data: TensorData;
  readonly dims: readonly number[];
}

/**
 * Tagged attribute values for the cases a plain JS value cannot express unambiguously.
 * Plain values: integer `number`/`bigint` -> INT, `number[]` of integers -> INTS, `string` -> STRING,
 * `string[]` -> STRINGS. Use `float()`/`floats()` for FLOAT(S) and `tensor()` for TENSOR.
 */
export type TaggedAttr =
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "floats"; readonly value: readonly number[] }
  | { readonly kind: "tensor"; readonly value: TensorValue };

export type AttrValue = number | bigint | readonly number[] | string | readonly string[] | TaggedAttr;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** A FLOAT attribute (JS numbers cannot say whether `1` is meant as int or float). */
export function float(value: number): TaggedAttr {
  return { kind: "float", value };
}
/** A FLOATS attribute. */
export function floats(value: readonly number[]): TaggedAttr {
  return { kind: "floats", value };
}
/** A TENSOR attribute, e.g. the `value` of a `Constant` node. */
export function tensor(data: TensorData, dims: readonly number[]): TaggedAttr {
  return { kind: "tensor", value: { data, dims } };
}

export interface NodeOptions {
  /** Output names, or how many fresh outputs to create. Default: one fresh output. */
  readonly outputs?: number | readonly string[];
  /** Node name; default a fresh name from the op type. */
  readonly name?: string;
  /** Operator domain; default the standard "" (ai.onnx) domain. */
  readonly domain?: string;
}

export interface ModelOptions {
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
}

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  return "uint8";
}

function checkDims(what: string, data: TensorData, dims: readonly number[]): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${what}: dims must be non-negative integers, got [${dims.join(", ")}]`);
    }
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(
      `${what}: shape [${dims.join(", ")}] holds ${count} elements but the data has ${data.length}`,
    );
  }
}

/**
 * Tensor bytes as ONNX `raw_data` (little-endian). On a little-endian host this is a view of
 * the typed array without a copy; big-endian hosts are refused rather than written wrongly.
 */
function rawBytes(data: TensorData): Uint8Array {
  if (endianness() !== "LE") {
    throw new Error("ONNX raw_data is little-endian; writing models on a big-endian host is not supported");
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorProto(name: string, data: TensorData, dims: readonly number[]): onnxProto.onnx.ITensorProto {
  checkDims(`tensor "${name}"`, data, dims);
  return {
    name,
    dims: [...dims],
    dataType: ELEM_CODE[elemTypeOf(data)],
    rawData: rawBytes(data),
  };
}

function valueInfo(name: string, type: ElemType, dims?: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: ELEM_CODE[type] };
  if (dims !== undefined) {
    tensorType.shape = {
      dim: dims.map((d) => {
        if (typeof d === "string") return { dimParam: d };
        if (!Number.isInteger(d) || d < 0) {
          throw new Error(`value "${name}": dimension ${d} is not a non-negative integer or a name`);
        }
        return { dimValue: d };
      }),
    };
  }
  return { name, type: { tensorType } };
}

function isTagged(v: AttrValue): v is TaggedAttr {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "kind" in v;
}

function attributeProto(node: string, name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const where = `node "${node}" attribute "${name}"`;
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === "bigint") return { name, type: T.INT, i: Number(v) };
  if (typeof v === "number") {
    if (!Number.isInteger(v)) {
      throw new Error(`${where}: ${v} is not an integer; wrap float attributes as float(${v})`);
    }
    return { name, type: T.INT, i: v };
  }
  if (isTagged(v)) {
    switch (v.kind) {
      case "float":
        return { name, type: T.FLOAT, f: v.value };
      case "floats":
        return { name, type: T.FLOATS, floats: [...v.value] };
      case "tensor":
        return { name, type: T.TENSOR, t: tensorProto(`${node}.${name}`, v.value.data, v.value.dims) };
    }
  }
  const list = v as readonly (number | string)[];
  if (list.length > 0 && list.every((x) => typeof x === "string")) {
    const enc = new TextEncoder();
    return { name, type: T.STRINGS, strings: (list as string[]).map((s) => enc.encode(s)) };
  }
  for (const x of list) {
    if (typeof x !== "number" || !Number.isInteger(x)) {
      throw new Error(`${where}: [${list.join(", ")}] is not a list of integers; wrap float lists as floats([...])`);
    }
  }
  return { name, type: T.INTS, ints: [...(list as number[])] };
}

/**
 * Builds one ONNX graph. Methods return value names (strings) so that graphs read like code:
 * `const y = g.op("Add", [x, g.constFloat(1)])`.
 */
export class GraphBuilder {
  private readonly used = new Set<string>();
  private readonly known = new Set<string>();
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly constCache = new Map<string, string>();
  private readonly domains = new Set<string>();

  constructor(readonly graphName = "graph") {}

  /** A name not used yet, derived from `prefix` (kept as is when free). */
  uniqueName(prefix: string): string {
    let name = prefix;
    for (let i = 1; this.used.has(name); i++) name = `${prefix}_${i}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string, what: string): string {
    if (this.used.has(name)) throw new Error(`${what} "${name}": the name is already used in graph "${this.graphName}"`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.claim(name, "input");
    this.known.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Declares an existing value (a node output, input or initializer) as a graph output.
   * `dims` may be omitted when the shape is not worth declaring.
   */
  output(name: string, type: ElemType, dims?: readonly Dim[]): void {
    if (!this.known.has(name)) {
      throw new Error(`output "${name}": no node, input or initializer produces it yet; add the node first`);
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a weight/constant tensor stored in the model; returns its name. */
  initializer(name: string | undefined, data: TensorData, dims: readonly number[]): string {
    const n = name === undefined ? this.uniqueName("init") : this.claim(name, "initializer");
    return this.addTensor(n, data, dims);
  }

  private addTensor(claimedName: string, data: TensorData, dims: readonly number[]): string {
    this.initializers.push(tensorProto(claimedName, data, dims));
    this.known.add(claimedName);
    return claimedName;
  }

  private cachedConst(key: string, make: () => string): string {
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const name = make();
    this.constCache.set(key, name);
    return name;
  }

  /**
   * A float32 constant: a scalar for a number, 1-D for an array unless `dims` says otherwise.
   * Identical small constants are shared so shape arithmetic does not bloat the graph.
   */
  constFloat(value: number | readonly number[] | Float32Array, dims?: readonly number[]): string {
    const data = typeof value === "number" ? Float32Array.of(value) : Float32Array.from(value);
    const shape = dims ?? (typeof value === "number" ? [] : [data.length]);
    if (data.length > 64) return this.initializer(undefined, data, shape);
    return this.cachedConst(`f:${shape.join("x")}:${Array.from(data).join(",")}`, () =>
      this.addTensor(this.uniqueName("const_f"), data, shape),
    );
  }

  /** An int64 constant (shapes, axes, indices): a scalar for a number, else 1-D unless `dims`. */
  constInt64(value: number | bigint | readonly (number | bigint)[], dims?: readonly number[]): string {
    const list = typeof value === "number" || typeof value === "bigint" ? [value] : value;
    for (const v of list) {
      if (typeof v === "number" && !Number.isSafeInteger(v)) {
        throw new Error(`constInt64: ${v} is not a safe integer`);
      }
    }
    const data = BigInt64Array.from(list.map((v) => BigInt(v)));
    const shape = dims ?? (typeof value === "number" || typeof value === "bigint" ? [] : [data.length]);
    if (data.length > 64) return this.initializer(undefined, data, shape);
    return this.cachedConst(`i:${shape.join("x")}:${Array.from(data).join(",")}`, () =>
      this.addTensor(this.uniqueName("const_i"), data, shape),
    );
  }

  /**
   * Adds a node; returns its output names. Inputs must already exist (use "" for an omitted
   * optional input, as ONNX does).
   */
  node(opType: string, inputs: readonly string[], attrs: Attrs = {}, options: NodeOptions = {}): string[] {
    const nodeName = options.name === undefined ? this.uniqueName(opType) : this.claim(options.name, "node");
    for (const i of inputs) {
      if (i !== "" && !this.known.has(i)) {
        throw new Error(`node "${nodeName}" (${opType}): input "${i}" is not produced by anything added before it`);
      }
    }
    const outs = options.outputs ?? 1;
    const outputNames =
      typeof outs === "number"
        ? Array.from({ length: outs }, (_, k) => this.uniqueName(outs === 1 ? `${nodeName}_out` : `${nodeName}_out${k}`))
        : outs.map((o) => this.claim(o, `output of node "${nodeName}"`));
    for (const o of outputNames) this.known.add(o);
    const domain = options.domain ?? "";
    if (domain !== "") this.domains.add(domain);
    this.nodes.push({
      name: nodeName,
      opType,
      domain,
      input: [...inputs],
      output: outputNames,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(nodeName, k, v)),
    });
    return outputNames;
  }

  /** A single-output node; returns the output name (optionally a chosen one). */
  op(opType: string, inputs: readonly string[], attrs: Attrs = {}, outputName?: string): string {
    const outputs = outputName === undefined ? 1 : [outputName];
    const [out] = this.node(opType, inputs, attrs, { outputs });
    return out!;
  }

  /** The ModelProto (mostly for inspection; `toBytes` is what gets written). */
  toModelProto(options: ModelOptions = {}): onnxProto.onnx.ModelProto {
    if (this.outputs.length === 0) throw new Error(`graph "${this.graphName}" has no outputs; declare them with output()`);
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: options.producerName ?? "medicosam-notebook",
      producerVersion: options.producerVersion ?? "",
      docString: options.docString ?? "",
      opsetImport: [
        { domain: "", version: OPSET },
        ...[...this.domains].map((domain) => ({ domain, version: 1 })),
      ],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  /** Serialized ModelProto bytes, ready for `InferenceSession.create` or a file. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    return onnx.ModelProto.encode(this.toModelProto(options)).finish();
  }
}
