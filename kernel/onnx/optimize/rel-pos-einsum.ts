/**
 * Replaces the two Einsums of SAM's `add_decomposed_rel_pos` by batched MatMuls.
 *
 *   rel_h = einsum("bhwc,hkc->bhwk", r_q, Rh)    one [c, k] product per query row h
 *   rel_w = einsum("bhwc,wkc->bhwk", r_q, Rw)    one per query column w
 *
 * Why: onnxruntime's CPU Einsum ran these products at about a quarter of its MatMul throughput.
 * Profiled on SAM ViT-B's layout (2-core EPYC; docs/performance.md, "The encoder graph
 * optimizer"): the 24 Einsums took 74 ms of a 3.4 s run; as Transpose + MatMul + Transpose they
 * take ~40 ms. A small gain, but the same sums of the same c terms, and MatMuls are what the
 * rest of the toolchain (profiles, quantization, other providers) handles best.
 *
 * For rel_h: r_q [b, h, w, c] -> [h, b*w, c] (Transpose + Reshape), times Rh^T [h, c, k], gives
 * [h, b*w, k] -> [h, b, w, k] -> [b, h, w, k]. rel_w is the same with the roles of h and w swapped.
 */
import type { EditableGraph, Node } from "./editable-graph.js";

const RELATIVE_EQUATIONS: Record<string, "rows" | "columns"> = {
  "bhwc,hkc->bhwk": "rows",
  "bhwc,wkc->bhwk": "columns",
};

function equationOf(node: Node): string | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === "equation");
  if (!a?.s) return undefined;
  return new TextDecoder().decode(a.s).replace(/\s+/g, "");
}

/** True when `node` is one of add_decomposed_rel_pos's Einsums. */
export function isRelPosEinsum(node: Node): boolean {
  return node.opType === "Einsum" && (equationOf(node) ?? "") in RELATIVE_EQUATIONS;
}

/**
 * The shape [b, h, w, c] of the Einsum's r_q, read from the Reshape that makes it (SAM's
 * `q.reshape(B, q_h, q_w, dim)`); undefined when it is not a constant-shape Reshape.
 */
function queryShape(g: EditableGraph, node: Node): number[] | undefined {
  const r = g.producer(node.input?.[0] ?? "");
  if (r?.opType !== "Reshape") return undefined;
  const shape = g.int64s(r.input?.[1] ?? "");
  return shape && shape.length === 4 && shape.every((d) => d > 0) ? shape : undefined;
}

/** Rewrites one Einsum; returns false (graph untouched) when the query shape is unknown. */
export function rewriteRelPosEinsum(g: EditableGraph, node: Node): boolean {
  const kind = RELATIVE_EQUATIONS[equationOf(node) ?? ""];
  const shape = queryShape(g, node);
  if (!kind || !shape) return false;
  const [b, h, w, c] = shape as [number, number, number, number];
  const [rq, table] = [node.input![0]!, node.input![1]!];
  const out = node.output![0]!;
  g.remove(node);
  // The batched axis first: rows -> [h, b, w, c], columns -> [w, b, h, c].
  const batch = kind === "rows" ? h : w;
  const other = kind === "rows" ? w : h;
  const [moved] = g.addNode("Transpose", [rq], 1, { perm: kind === "rows" ? [1, 0, 2, 3] : [2, 0, 1, 3] });
  const [flat] = g.addNode("Reshape", [moved!, g.int64Constant([batch, b * other, c], "optimize_shape")], 1);
  // table [batch, k, c] -> [batch, c, k]; a constant, folded by onnxruntime when the session loads.
  const [tableT] = g.addNode("Transpose", [table], 1, { perm: [0, 2, 1] });
  const [product] = g.addNode("MatMul", [flat!, tableT!], 1);
  const k = kind === "rows" ? h : w;
  const [unflat] = g.addNode("Reshape", [product!, g.int64Constant([batch, b, other, k], "optimize_shape")], 1);
  g.addNode("Transpose", [unflat!], [out], { perm: kind === "rows" ? [1, 0, 2, 3] : [1, 2, 0, 3] });
  return true;
}
