/**
 * Dynamic int8 quantization of an ONNX graph's MatMul weights, written on the ModelProto
 * itself (onnx-proto), so that `medicosam quantize` needs Node alone — no Python, no
 * onnxruntime.quantization.
 *
 * Every `MatMul(A, W)` whose W is a constant float32 initializer of rank 2 becomes
 *
 *   DynamicQuantizeLinear(A)            -> A_q (uint8), A_scale, A_zero   (per run, per tensor)
 *   MatMulInteger(A_q, W_q, A_zero)     -> int32                          (W_q int8, zero point 0)
 *   Cast(to float) * Mul(A_scale, W_scale)                                (W_scale per column or scalar)
 *
 * and the bias `Add` that follows stays as it is. This is the exact pattern onnxruntime's
 * optimizer fuses (MatMulIntegerToFloatFusion, then DynamicQuantizeMatMulFusion, both at the
 * default "all" level) into one `com.microsoft.DynamicQuantizeMatMul` kernel with the bias
 * folded in; the order of the scale Mul's inputs (A_scale first) and one DynamicQuantizeLinear
 * per MatMul are what those fusions look for. Activation x activation MatMuls (attention) and
 * convolutions stay float32.
 *
 * Activations are quantized per tensor at run time (DynamicQuantizeLinear has no other mode),
 * which is why this is called dynamic quantization: no calibration data is needed.
 */
import onnxProto from "onnx-proto";
import { u8s8MaySaturate } from "./cpu-features.js";
import { quantizeWeights, type ScaleGranularity, type WeightQuantizeOptions } from "./quantize-weights.js";

const { onnx } = onnxProto;
type IModel = onnxProto.onnx.IModelProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT8 = onnx.TensorProto.DataType.INT8;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/** Key of the model metadata entry that records how the file was made. */
export const QUANTIZATION_METADATA_KEY = "medicosam.quantization";

export interface QuantizeOptions extends WeightQuantizeOptions {
  /** Leave weights with fewer elements than this in float32 (default 0: quantize every eligible MatMul). */
  readonly minElements?: number;
}

export interface SkippedMatMul {
  readonly node: string;
  readonly reason: string;
}

export interface QuantizeReport {
  readonly matmuls: number;
  readonly quantized: number;
  readonly skipped: readonly SkippedMatMul[];
  /** Distinct weight tensors turned into int8 (a weight used by two MatMuls counts once). */
  readonly weightTensors: number;
  readonly weightElements: number;
  readonly granularity: ScaleGranularity;
  readonly reduceRange: boolean;
  /** Largest |w - dequantized w| over all quantized weights. */
  readonly maxWeightError: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export class QuantizeError extends Error {
  override name = "QuantizeError";
}

function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

/** A float32 initializer's values, from raw_data (copied: protobuf slices are not 4-byte aligned) or float_data. */
function floatValues(t: ITensor): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData.length);
    copy.set(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function defaultOpset(model: IModel): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return toNumber(entry?.version as number | { toNumber(): number } | undefined);
}

/** Names already used by values or nodes, so that new ones never collide. */
class Names {
  private readonly used = new Set<string>();
  constructor(graph: onnxProto.onnx.IGraphProto) {
    for (const n of graph.node ?? []) {
      if (n.name) this.used.add(n.name);
      for (const o of n.output ?? []) this.used.add(o);
      for (const i of n.input ?? []) this.used.add(i);
    }
    for (const t of graph.initializer ?? []) if (t.name) this.used.add(t.name);
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (v.name) this.used.add(v.name);
  }
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

function node(opType: string, inputs: string[], outputs: string[], name: string, attribute: onnxProto.onnx.IAttributeProto[] = []): INode {
  return { opType, input: inputs, output: outputs, name, domain: "", attribute };
}

/**
 * Quantizes a serialized model; returns the new bytes and what was done. The input bytes
 * are not modified.
 */
export function quantizeModel(bytes: Uint8Array, options: QuantizeOptions = {}): { bytes: Uint8Array; report: QuantizeReport } {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new QuantizeError(`not an ONNX model (${(err as Error).message}).`);
  }
  const graph = model.graph;
  if (!graph) throw new QuantizeError("the model has no graph.");
  const opset = defaultOpset(model);
  if (opset < 11) {
    throw new QuantizeError(
      `the model imports opset ${opset}; DynamicQuantizeLinear needs opset >= 11. Export with opset 17 (models/export does).`,
    );
  }
  const granularity = options.granularity ?? "per-column";
  const minElements = options.minElements ?? 0;
  // 7-bit weights by default where 8-bit ones would saturate in onnxruntime (cpu-features.ts).
  const reduceRange = options.reduceRange ?? u8s8MaySaturate();

  const initializers = new Map<string, ITensor>();
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation === EXTERNAL) {
      throw new QuantizeError(
        `initializer '${t.name}' is stored in an external data file; quantize needs a self-contained model ` +
          "(export without --encoder-data-file; SAM ViT-B fits in one file).",
      );
    }
    if (t.name) initializers.set(t.name, t);
  }
  // An initializer that is also a graph input is only a default: the caller may override it.
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name ?? ""));

  const names = new Names(graph);
  const quantizedWeights = new Map<string, { q: string; scale: string }>();
  const newInitializers: ITensor[] = [];
  const newNodes: INode[] = [];
  const skipped: SkippedMatMul[] = [];
  let matmuls = 0;
  let quantized = 0;
  let weightElements = 0;
  let maxWeightError = 0;

  for (const [index, n] of (graph.node ?? []).entries()) {
    const isMatMul = n.opType === "MatMul" && (!n.domain || n.domain === "ai.onnx");
    if (!isMatMul) {
      newNodes.push(n);
      continue;
    }
    matmuls++;
    const label = n.name || `MatMul#${index}`;
    const [a, w] = n.input ?? [];
    const out = n.output?.[0];
    const skip = (reason: string): void => {
      skipped.push({ node: label, reason });
      newNodes.push(n);
    };
    if (!a || !w || !out) {
      skip("malformed MatMul (missing input or output)");
      continue;
    }
    const weight = initializers.get(w);
    if (!weight) {
      skip("second input is not an initializer (activation x activation)");
      continue;
    }
    if (graphInputs.has(w)) {
      skip(`weight '${w}' is also a graph input, so it can be overridden at run time`);
      continue;
    }
    if (weight.dataType !== FLOAT) {
      skip(`weight '${w}' is not float32 (data type ${weight.dataType})`);
      continue;
    }
    const dims = (weight.dims ?? []).map((d) => toNumber(d as number | { toNumber(): number }));
    if (dims.length !== 2) {
      skip(`weight '${w}' has rank ${dims.length}, not 2`);
      continue;
    }
    const [rows, cols] = dims as [number, number];
    if (rows * cols < minElements) {
      skip(`weight '${w}' has ${rows * cols} elements (< minElements ${minElements})`);
      continue;
    }

    let qw = quantizedWeights.get(w);
    if (!qw) {
      const result = quantizeWeights(floatValues(weight), rows, cols, { ...options, reduceRange });
      const qName = names.fresh(`${w}_quantized`);
      const sName = names.fresh(`${w}_scale`);
      newInitializers.push({
        name: qName,
        dataType: INT8,
        dims: [rows, cols],
        rawData: new Uint8Array(result.values.buffer, result.values.byteOffset, result.values.byteLength),
      });
      newInitializers.push({
        name: sName,
        dataType: FLOAT,
        // MatMulIntegerToFloat takes a scalar or a [N] scale; a scalar keeps per-tensor exact.
        dims: granularity === "per-column" ? [cols] : [],
        rawData: new Uint8Array(result.scales.buffer, result.scales.byteOffset, result.scales.byteLength),
      });
      qw = { q: qName, scale: sName };
      quantizedWeights.set(w, qw);
      weightElements += rows * cols;
      maxWeightError = Math.max(maxWeightError, result.maxAbsError);
    }

    const base = n.name || `MatMul_${index}`;
    const aQ = names.fresh(`${a}_quantized_for_${base}`);
    const aScale = names.fresh(`${a}_scale_for_${base}`);
    const aZero = names.fresh(`${a}_zero_point_for_${base}`);
    const yInt = names.fresh(`${out}_int32`);
    const yFloat = names.fresh(`${out}_float_unscaled`);
    const scale = names.fresh(`${out}_scale`);
    newNodes.push(
      node("DynamicQuantizeLinear", [a], [aQ, aScale, aZero], names.fresh(`${base}_DynamicQuantizeLinear`)),
      node("MatMulInteger", [aQ, qw.q, aZero], [yInt], names.fresh(`${base}_MatMulInteger`)),
      node("Cast", [yInt], [yFloat], names.fresh(`${base}_Cast`), [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }]),
      node("Mul", [aScale, qw.scale], [scale], names.fresh(`${base}_scales_Mul`)),
      node("Mul", [yFloat, scale], [out], names.fresh(`${base}_output_Mul`)),
    );
    quantized++;
  }

  if (quantized === 0) {
    const reasons = [...new Set(skipped.map((s) => s.reason))].slice(0, 3).join("; ");
    throw new QuantizeError(
      `nothing to quantize: the graph has ${matmuls} MatMul node(s) and none has a constant float32 rank-2 weight` +
        (reasons ? ` (${reasons})` : "") +
        ". Only MatMul weights are quantized (nn.Linear as torch.onnx exports it); convolution-only models gain nothing.",
    );
  }

  // Float weights that no remaining node reads are dropped; shared ones stay.
  const stillRead = new Set<string>();
  for (const n of newNodes) for (const i of n.input ?? []) stillRead.add(i);
  for (const v of graph.output ?? []) if (v.name) stillRead.add(v.name);
  graph.initializer = [
    ...(graph.initializer ?? []).filter((t) => !t.name || !quantizedWeights.has(t.name) || stillRead.has(t.name) || graphInputs.has(t.name)),
    ...newInitializers,
  ];
  graph.node = newNodes;

  const report: Omit<QuantizeReport, "bytesOut"> = {
    matmuls,
    quantized,
    skipped,
    weightTensors: quantizedWeights.size,
    weightElements,
    granularity,
    reduceRange,
    maxWeightError,
    bytesIn: bytes.length,
  };
  const metadata = (model.metadataProps ?? []).filter((p) => p.key !== QUANTIZATION_METADATA_KEY);
  metadata.push({
    key: QUANTIZATION_METADATA_KEY,
    value: JSON.stringify({
      method: "dynamic int8: DynamicQuantizeLinear -> MatMulInteger (int8 weights, zero point 0) -> Cast -> Mul(A_scale*W_scale)",
      granularity,
      reduceRange: report.reduceRange,
      quantized,
      matmuls,
    }),
  });
  model.metadataProps = metadata;
  const out = onnx.ModelProto.encode(model).finish();
  return { bytes: out, report: { ...report, bytesOut: out.length } };
}
