/**
 * X X^T of a row-major float32 matrix through onnxruntime's SGEMM (MLAS), the one place where
 * the analysis code leans on the inference runtime: for one embedding (256 x 4096) it takes
 * 5-8 ms here, against 100-130 ms for the best plain-JavaScript float64 kernel we wrote
 * (4x4 register blocks), which with the eigendecomposition's ~110 ms (pca.ts) would take a
 * one-slice PCA to the edge of its 300 ms budget.
 *
 * The product accumulates in float32 inside one call; callers keep calls to a few thousand
 * columns of centred data and add the results up in float64 (see covariance.ts).
 */
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../onnx/graph.js";

let session: Promise<ort.InferenceSession> | undefined;

function gramModel(): Uint8Array {
  const g = new GraphBuilder("gram");
  const x = g.input("x", "float32", ["rows", "cols"]);
  const xt = g.op("Transpose", [x], { perm: [1, 0] });
  g.op("MatMul", [x, xt], {}, "gram");
  g.output("gram", "float32", ["rows", "rows"]);
  return g.toBytes();
}

function gramSession(): Promise<ort.InferenceSession> {
  session ??= ort.InferenceSession.create(gramModel(), { graphOptimizationLevel: "all" }).catch((err: unknown) => {
    session = undefined;
    throw new Error(`could not start onnxruntime for the PCA covariance: ${err instanceof Error ? err.message : String(err)}`);
  });
  return session;
}

/** `x` is rows x cols, row-major; returns the rows x rows product x x^T, row-major. */
export async function gram(x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
  if (x.length !== rows * cols) throw new Error(`gram: ${x.length} values for a ${rows}x${cols} matrix.`);
  const s = await gramSession();
  const out = await s.run({ x: new ort.Tensor("float32", x, [rows, cols]) });
  const g = out.gram;
  if (!g) throw new Error("gram: onnxruntime returned no 'gram' output.");
  return g.data as Float32Array;
}
