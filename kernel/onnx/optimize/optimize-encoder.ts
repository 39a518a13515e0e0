/**
 * `medicosam optimize`: rewrites a SAM-family ViT image encoder so that onnxruntime runs it
 * faster and in far less memory, with the same outputs (checked, see verify-equivalence.ts).
 *
 * Steps, each motivated by a profile of onnxruntime's run (docs/performance.md, "The encoder
 * graph optimizer"):
 * 1. canonicalize: fold the export's shape arithmetic into constants (canonicalize.ts);
 * 2. the relative-position Einsums become batched MatMuls (rel-pos-einsum.ts);
 * 3. every attention core is computed in chunks of heads and query rows (sam-attention.ts).
 *
 * What is not recognised is reported, never guessed at: a graph with no attention core left to
 * rewrite is returned with an explanation instead of a silently unchanged file.
 */
import { canonicalize } from "./canonicalize.js";
import { EditableGraph, type Node } from "./editable-graph.js";
import { isRelPosEinsum, rewriteRelPosEinsum } from "./rel-pos-einsum.js";
import { chunkAttentionCore, matchAttentionCore, planChunks, type ChunkPlan } from "./sam-attention.js";

/**
 * Logits per chunk. Measured on SAM ViT-B (2-core EPYC, 1 MB L2 per core, 32 MB L3): 1 MB
 * chunks 3.4 s (too many small nodes), 4 MB 2.9 s and 1.36 GB peak, 16 MB 3.0 s and 1.49 GB,
 * one head (64 MB) 3.1 s and 1.65 GB, unchunked 3.05 s and 3.8 GB.
 */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export interface OptimizeOptions {
  /** Logits bytes per attention chunk (default DEFAULT_CHUNK_BYTES). */
  readonly chunkBytes?: number;
}

export interface AttentionRewrite {
  /** The Softmax node the core was found by. */
  readonly node: string;
  /** batch x heads, query grid h x w. */
  readonly shape: readonly [number, number, number];
  readonly plan: ChunkPlan;
  readonly chunks: number;
}

export interface OptimizeReport {
  readonly nodesIn: number;
  /** Nodes after constant folding, before our rewrites. */
  readonly nodesCanonical: number;
  readonly nodesOut: number;
  readonly einsumsRewritten: number;
  readonly attention: readonly AttentionRewrite[];
  /** Softmax nodes and Einsums left as they were, with the reason. */
  readonly unrecognised: readonly { readonly node: string; readonly reason: string }[];
}

export interface OptimizeResult {
  readonly bytes: Uint8Array;
  readonly report: OptimizeReport;
}

export class NotAnEncoderError extends Error {
  override name = "NotAnEncoderError";
}

/** "image [1, 3, h, w]" for graph inputs with a dimension that is not a fixed number, else undefined. */
function symbolicInputs(g: EditableGraph): string | undefined {
  const named = (g.graph.input ?? []).flatMap((v) => {
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    const fixed = (d: (typeof dims)[number]) => d.dimValue !== undefined && d.dimValue !== null && !d.dimParam;
    if (dims.every(fixed)) return [];
    return [`${v.name} [${dims.map((d) => (fixed(d) ? String(d.dimValue) : d.dimParam || "?")).join(", ")}]`];
  });
  return named.length ? named.join(", ") : undefined;
}

function countNodes(bytes: Uint8Array): number {
  return EditableGraph.decode(bytes).graph.node?.length ?? 0;
}

/** One line per rewrite kind, for the CLI, model.json and docs. */
export function describeRewrites(report: OptimizeReport): string {
  const blocks = new Map<string, number>();
  for (const a of report.attention) {
    const key = `${a.shape[0]} x ${a.shape[1]}x${a.shape[2]} in chunks of ${a.plan.heads} head(s) x ${a.plan.rows} row(s)`;
    blocks.set(key, (blocks.get(key) ?? 0) + 1);
  }
  const parts = [...blocks].map(([k, n]) => `${n} attention core(s) ${k}`);
  return `${parts.join("; ")}; ${report.einsumsRewritten} relative-position Einsum(s) as MatMuls`;
}

export async function optimizeEncoder(input: Uint8Array, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!(chunkBytes > 0)) throw new RangeError(`chunkBytes must be positive, got ${chunkBytes}`);
  let nodesIn: number;
  try {
    nodesIn = countNodes(input);
  } catch (err) {
    throw new NotAnEncoderError(`not an ONNX model (${(err as Error).message}); give the encoder's .onnx file or its model folder.`);
  }
  const canonical = await canonicalize(input);
  const g = EditableGraph.decode(canonical);
  const nodesCanonical = g.graph.node?.length ?? 0;
  const unrecognised: { node: string; reason: string }[] = [];

  let einsumsRewritten = 0;
  for (const node of [...(g.graph.node ?? [])] as Node[]) {
    if (node.opType !== "Einsum") continue;
    if (isRelPosEinsum(node) && rewriteRelPosEinsum(g, node)) einsumsRewritten++;
    else unrecognised.push({ node: node.name ?? "Einsum", reason: "an Einsum that is not one of add_decomposed_rel_pos's two (kept as is)" });
  }

  const attention: AttentionRewrite[] = [];
  for (const softmax of [...(g.graph.node ?? [])] as Node[]) {
    if (softmax.opType !== "Softmax") continue;
    const core = matchAttentionCore(g, softmax);
    if ("reason" in core) {
      unrecognised.push(core);
      continue;
    }
    const plan = planChunks(core, chunkBytes);
    chunkAttentionCore(g, core, plan);
    attention.push({ node: softmax.name ?? "Softmax", shape: [core.bh, core.h, core.w], plan, chunks: (core.bh / plan.heads) * (core.h / plan.rows) });
  }
  if (attention.length === 0) {
    const why = unrecognised.length ? unrecognised.map((u) => `${u.node}: ${u.reason}`).join("; ") : "the graph has no Softmax";
    const symbolic = symbolicInputs(g);
    throw new NotAnEncoderError(
      `found no SAM-style attention (softmax of q k^T plus decomposed relative-position terms) to rewrite: ${why}. ` +
        (symbolic
          ? `The encoder's input has symbolic dimensions (${symbolic}), so its attention shapes are only known at run time: ` +
            "export it with a fixed input size (models/export does: [1, 3, 1024, 1024]) and optimize that. "
          : "") +
        "The optimizer knows the ViT image encoders of segment_anything (SAM, MedicoSAM, MedSAM) as torch.onnx exports them; " +
        "run this model as it is.",
    );
  }
  g.commit();
  const bytes = g.encode();
  return {
    bytes,
    report: { nodesIn, nodesCanonical, nodesOut: g.graph.node?.length ?? 0, einsumsRewritten, attention, unrecognised },
  };
}
