/**
 * Finds the attention cores of SAM-family ViT encoders in an ONNX graph and computes them in
 * chunks.
 *
 * The core, as torch.onnx traces segment_anything's `Attention.forward` with
 * `add_decomposed_rel_pos` (after constant folding, see canonicalize.ts):
 *
 *   logits = MatMul(q * scale, k^T)                       [BH, T, T]     T = h * w tokens
 *   l5     = Reshape(logits, [BH, h, w, h, w])
 *   l5     = l5 + Unsqueeze(relH, 4) + Unsqueeze(relW, 3) relH [BH, h, w, h], relW [BH, h, w, w]
 *   probs  = Softmax(Reshape(l5, [BH, T, T]), -1)
 *   out    = MatMul(probs, v)                              [BH, T, c]
 *
 * BH is batch x heads (windows x heads in the windowed blocks). For a global block of ViT-B the
 * [12, 4096, 4096] logits are 805 MB, and each of the five ops after the first MatMul streams
 * them through memory once more: the two broadcast adds alone took 40 ms each per block on a
 * 2-core EPYC (docs/performance.md, "The encoder graph optimizer").
 *
 * The rewrite computes the same arithmetic for a few heads and a few query rows at a time, so
 * that one chunk's logits stay in the CPU's cache between the ops, and so that only one chunk's
 * logits are alive at once (the peak memory of the encoder). Each chunk is a copy of the
 * original ops on slices: its outputs are those of the original graph up to float rounding of
 * the same operations (softmax rows are whole in every chunk).
 */
import type { EditableGraph, Node } from "./editable-graph.js";

export interface AttentionCore {
  /** The MatMul q k^T, the first node of the core. */
  readonly logits: Node;
  readonly reshape5: Node;
  readonly addFirst: Node;
  readonly addSecond: Node;
  readonly reshape3: Node;
  readonly softmax: Node;
  /** The MatMul probs v, the last node of the core; its output is the core's output. */
  readonly weighted: Node;
  /** The two rel-pos terms before their Unsqueeze, with the Unsqueeze axis (3 or 4). */
  readonly terms: readonly { readonly value: string; readonly axis: number; readonly unsqueeze: Node }[];
  readonly q: string;
  readonly kT: string;
  readonly v: string;
  /** batch x heads, query grid height and width. */
  readonly bh: number;
  readonly h: number;
  readonly w: number;
}

/** Why a Softmax that looked like attention was left alone. */
export interface Unrecognised {
  readonly node: string;
  readonly reason: string;
}

function only(g: EditableGraph, value: string, reader: Node): boolean {
  return g.readOnceBy(value, reader);
}

function unsqueezeAxis(g: EditableGraph, node: Node): number | undefined {
  const axes = node.input && node.input.length > 1 ? g.int64s(node.input[1]!) : g.intsAttribute(node, "axes");
  return axes && axes.length === 1 ? axes[0] : undefined;
}

/** Matches the core ending in `softmax`, or says why it does not match. */
export function matchAttentionCore(g: EditableGraph, softmax: Node): AttentionCore | Unrecognised {
  const at = (reason: string): Unrecognised => ({ node: softmax.name ?? "Softmax", reason });
  const axis = g.intsAttribute(softmax, "axis")?.[0] ?? -1;
  const reshape3 = g.producer(softmax.input?.[0] ?? "");
  if (!reshape3 || reshape3.opType !== "Reshape") return at("the softmax input is not a Reshape (no decomposed relative-position terms?)");
  const shape3 = g.int64s(reshape3.input?.[1] ?? "");
  if (!shape3 || shape3.length !== 3) return at("the reshape before the softmax has no constant 3-D shape");
  if (axis !== -1 && axis !== 2) return at(`softmax over axis ${axis}, not the key axis`);
  const addSecond = g.producer(reshape3.input?.[0] ?? "");
  if (!addSecond || addSecond.opType !== "Add") return at("no Add of a relative-position term before the softmax");

  const terms: { value: string; axis: number; unsqueeze: Node }[] = [];
  /** Splits an Add into (its other operand, the Unsqueeze'd term); undefined if neither side is one. */
  const peel = (add: Node): string | undefined => {
    for (const [side, other] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const u = g.producer(add.input?.[side] ?? "");
      if (u?.opType !== "Unsqueeze" || !only(g, add.input![side]!, add)) continue;
      const ax = unsqueezeAxis(g, u);
      if (ax !== 3 && ax !== 4) continue;
      terms.push({ value: u.input![0]!, axis: ax, unsqueeze: u });
      return add.input?.[other];
    }
    return undefined;
  };
  const afterFirst = peel(addSecond);
  const addFirst = afterFirst === undefined ? undefined : g.producer(afterFirst);
  if (!addFirst || addFirst.opType !== "Add") return at("the logits do not get two relative-position terms added");
  const l5 = peel(addFirst);
  const reshape5 = l5 === undefined ? undefined : g.producer(l5);
  if (!reshape5 || reshape5.opType !== "Reshape") return at("the relative-position terms are not added to 5-D reshaped logits");
  if (terms.length !== 2 || terms[0]!.axis === terms[1]!.axis) return at("expected one term on the key rows (Unsqueeze axis 4) and one on the key columns (axis 3)");
  const shape5 = g.int64s(reshape5.input?.[1] ?? "");
  if (!shape5 || shape5.length !== 5 || shape5.some((d) => d <= 0)) return at("the 5-D reshape of the logits has no constant shape");
  const [bh, h, w, kh, kw] = shape5 as [number, number, number, number, number];
  if (kh !== h || kw !== w) return at(`query grid ${h}x${w} and key grid ${kh}x${kw} differ`);
  if (shape3[0] !== bh || shape3[1] !== h * w || shape3[2] !== h * w) return at(`the 3-D reshape [${shape3.join(", ")}] is not [${bh}, ${h * w}, ${h * w}]`);
  const logits = g.producer(reshape5.input?.[0] ?? "");
  if (!logits || logits.opType !== "MatMul") return at("the logits are not a MatMul");

  const readers = g.readersOf(softmax.output![0]!);
  const weighted = readers[0];
  if (readers.length !== 1 || weighted?.opType !== "MatMul" || weighted.input?.[0] !== softmax.output![0]) return at("the probabilities are not multiplied by the values in one MatMul");

  const chain: [string, Node][] = [
    [logits.output![0]!, reshape5],
    [reshape5.output![0]!, addFirst],
    [addFirst.output![0]!, addSecond],
    [addSecond.output![0]!, reshape3],
    [reshape3.output![0]!, softmax],
  ];
  for (const [value, reader] of chain) if (!only(g, value, reader)) return at(`${value} is also read outside the attention`);

  return {
    logits,
    reshape5,
    addFirst,
    addSecond,
    reshape3,
    softmax,
    weighted,
    terms,
    q: logits.input![0]!,
    kT: logits.input![1]!,
    v: weighted.input![1]!,
    bh,
    h,
    w,
  };
}

export interface ChunkPlan {
  /** Rows of the batch x heads axis per chunk (divides bh). */
  readonly heads: number;
  /** Query grid rows per chunk (divides h); a chunk holds rows x w queries. */
  readonly rows: number;
}

/** Largest divisor of n that is at most `cap` (at least 1). */
function divisorAtMost(n: number, cap: number): number {
  for (let d = Math.max(1, Math.min(n, Math.floor(cap))); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * Chunk sizes whose logits fit `chunkBytes`: whole query rows first (one head), then more heads
 * when one head's whole logits fit.
 */
export function planChunks(core: Pick<AttentionCore, "bh" | "h" | "w">, chunkBytes: number): ChunkPlan {
  const tokens = core.h * core.w;
  const perRow = core.w * tokens * 4; // one query-grid row of one head, float32
  const rows = divisorAtMost(core.h, chunkBytes / perRow);
  if (rows < core.h) return { heads: 1, rows };
  const heads = divisorAtMost(core.bh, chunkBytes / (core.h * perRow));
  return { heads, rows: core.h };
}

/** Splits `value` along `axis` into `parts` equal pieces (one Split node); no-op for 1 part. */
function split(g: EditableGraph, value: string, axis: number, parts: number, size: number): string[] {
  if (parts === 1) return [value];
  const sizes = g.int64Constant(new Array<number>(parts).fill(size), "optimize_split");
  return g.addNode("Split", [value, sizes], parts, { axis });
}

/** Replaces the core by its chunked form; the core's output keeps its name. */
export function chunkAttentionCore(g: EditableGraph, core: AttentionCore, plan: ChunkPlan): void {
  const { bh, h, w } = core;
  const tokens = h * w;
  if (bh % plan.heads !== 0 || h % plan.rows !== 0) throw new Error(`internal: chunk plan ${plan.heads}x${plan.rows} does not divide ${bh}x${h}`);
  const groups = bh / plan.heads;
  const rowChunks = h / plan.rows;
  for (const n of [core.logits, core.reshape5, core.addFirst, core.addSecond, core.reshape3, core.softmax, core.weighted, ...core.terms.map((t) => t.unsqueeze)]) g.remove(n);

  // k^T: slice k before its transpose when it is one, so that onnxruntime can still fuse the
  // transpose into the MatMul of each chunk.
  const kTNode = g.producer(core.kT);
  const perm = kTNode?.opType === "Transpose" ? g.intsAttribute(kTNode, "perm") : undefined;
  const transposedK = perm !== undefined && perm.join(",") === "0,2,1" && g.readOnceBy(core.kT, core.logits);
  let kTs: string[];
  if (transposedK) {
    g.remove(kTNode!);
    kTs = split(g, kTNode!.input![0]!, 0, groups, plan.heads).map((k) => g.addNode("Transpose", [k], 1, { perm: [0, 2, 1] })[0]!);
  } else {
    kTs = split(g, core.kT, 0, groups, plan.heads);
  }
  const vs = split(g, core.v, 0, groups, plan.heads);
  const qs = split(g, core.q, 0, groups, plan.heads).map((q) => split(g, q, 1, rowChunks, plan.rows * w));
  const termSlices = core.terms.map((t) => split(g, t.value, 0, groups, plan.heads).map((x) => split(g, x, 1, rowChunks, plan.rows)));

  const shape5 = g.int64Constant([plan.heads, plan.rows, w, h, w], "optimize_shape");
  const shape3 = g.int64Constant([plan.heads, plan.rows * w, tokens], "optimize_shape");
  const axes = new Map(core.terms.map((t) => [t.axis, g.int64Constant([t.axis], "optimize_axes")]));
  const softmaxAxis = g.intsAttribute(core.softmax, "axis")?.[0] ?? -1;
  const out = core.weighted.output![0]!;

  const groupOutputs: string[] = [];
  for (let gi = 0; gi < groups; gi++) {
    const rowOutputs: string[] = [];
    for (let ri = 0; ri < rowChunks; ri++) {
      const last = groups === 1 && rowChunks === 1;
      const [logits] = g.addNode("MatMul", [qs[gi]![ri]!, kTs[gi]!], 1);
      let x = g.addNode("Reshape", [logits!, shape5], 1)[0]!;
      core.terms.forEach((t, ti) => {
        const term = g.addNode("Unsqueeze", [termSlices[ti]![gi]![ri]!, axes.get(t.axis)!], 1)[0]!;
        x = g.addNode("Add", [x, term], 1)[0]!;
      });
      const flat = g.addNode("Reshape", [x, shape3], 1)[0]!;
      const probs = g.addNode("Softmax", [flat], 1, { axis: softmaxAxis })[0]!;
      rowOutputs.push(g.addNode("MatMul", [probs, vs[gi]!], last ? [out] : 1)[0]!);
    }
    if (rowChunks > 1) groupOutputs.push(g.addNode("Concat", rowOutputs, groups === 1 ? [out] : 1, { axis: 1 })[0]!);
    else groupOutputs.push(rowOutputs[0]!);
  }
  if (groups > 1) g.addNode("Concat", groupOutputs, [out], { axis: 0 });
}
