/**
 * The two heads, as parameters plus forward and backward passes over one image's tokens.
 *
 * linear  a 1x1 convolution 256 -> C on the 64x64 token grid: the probe, "how linearly do these
 *         features separate the classes". Predictions are its logits upsampled bilinearly.
 * conv    1x1 256 -> hidden + ReLU, then two outputs summed on a grid 4x finer than the tokens:
 *         a 3x3 convolution hidden -> C (context from neighbouring tokens) upsampled bilinearly,
 *         and a 1x1 hidden -> C*16 rearranged into each token's 4x4 sub-cells (detail inside a
 *         token, as a transposed convolution with stride 4 would give). Trained on targets at
 *         that finer grid, so it learns boundaries below the token size.
 */
import { EMBEDDING_CHANNELS } from "../sam/embedding.js";
import type { Random } from "../analysis/rng.js";
import {
  bilinearBackward,
  bilinearForward,
  conv3x3Backward,
  conv3x3Forward,
  denseBackward,
  denseForward,
  shuffleAdd,
  shuffleBackward,
} from "./layers.js";
import { fineTaps, type CellGrid } from "./grid.js";

export type HeadKind = "linear" | "conv";

export const HEAD_KINDS: readonly HeadKind[] = ["linear", "conv"];

/** Sub-cells per token side of each head's output grid. */
export function headFactor(kind: HeadKind): number {
  return kind === "conv" ? 4 : 1;
}

export interface HeadShape {
  readonly kind: HeadKind;
  /** Output classes. */
  readonly classes: number;
  /** Width of the conv head's hidden layer (0 for linear). */
  readonly hidden: number;
}

/** A named tensor; `shape` is documentation and a check on load, data is row-major float32. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type HeadParams = Record<string, Tensor>;

/** The tensors a head of this shape has, with their shapes (the file format lists the same). */
export function paramShapes(shape: HeadShape): Record<string, readonly number[]> {
  const k = EMBEDDING_CHANNELS;
  const c = shape.classes;
  if (shape.kind === "linear") return { w: [c, k], b: [c] };
  const h = shape.hidden;
  return { w1: [h, k], b1: [h], w2: [c, 3, 3, h], b2: [c], w3: [c * 16, h], b3: [c * 16] };
}

function gaussian(rng: Random): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** He-initialised weights (fan-in scaling), zero biases. */
export function initParams(shape: HeadShape, rng: Random): HeadParams {
  const out: HeadParams = {};
  for (const [name, dims] of Object.entries(paramShapes(shape))) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (dims.length > 1) {
      const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
      const sd = Math.sqrt((name === "w1" ? 2 : 1) / fanIn);
      for (let i = 0; i < n; i++) data[i] = gaussian(rng) * sd;
    }
    out[name] = { shape: dims, data };
  }
  return out;
}

export function cloneParams(p: HeadParams): HeadParams {
  const out: HeadParams = {};
  for (const [name, t] of Object.entries(p)) out[name] = { shape: t.shape, data: t.data.slice() };
  return out;
}

export function zeroGrads(p: HeadParams): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(p)) out[name] = new Float32Array(t.data.length);
  return out;
}

/** What a forward pass keeps for its backward pass. */
export interface ForwardState {
  readonly logits: Float32Array;
  readonly pre?: Float32Array;
  readonly act?: Float32Array;
}

const t = (p: HeadParams, name: string): Float32Array => {
  const v = p[name];
  if (!v) throw new Error(`internal: head has no tensor '${name}'`);
  return v.data;
};

/** Logits on the head's cell grid, [rows*cols, C]. `x` is token-major features [tokens, 256]. */
export function forward(shape: HeadShape, p: HeadParams, x: Float32Array, grid: CellGrid): ForwardState {
  const k = EMBEDDING_CHANNELS;
  const c = shape.classes;
  const tokens = grid.tokenRows * grid.tokenCols;
  if (shape.kind === "linear") return { logits: denseForward(x, tokens, k, t(p, "w"), t(p, "b"), c) };
  const h = shape.hidden;
  const pre = denseForward(x, tokens, k, t(p, "w1"), t(p, "b1"), h);
  const act = new Float32Array(pre.length);
  for (let i = 0; i < pre.length; i++) act[i] = pre[i]! > 0 ? pre[i]! : 0;
  const coarse = conv3x3Forward(act, grid.tokenRows, grid.tokenCols, h, t(p, "w2"), t(p, "b2"), c);
  const taps = fineTaps(grid);
  const logits = bilinearForward(coarse, grid.tokenCols, c, taps.rows, taps.cols);
  const sub = denseForward(act, tokens, h, t(p, "w3"), t(p, "b3"), c * 16);
  shuffleAdd(sub, grid.tokenRows, grid.tokenCols, c, 4, logits);
  return { logits, pre, act };
}

/** Accumulates the gradients of the loss whose logit gradient is `dlogits` into `grads`. */
export function backward(
  shape: HeadShape,
  p: HeadParams,
  x: Float32Array,
  grid: CellGrid,
  state: ForwardState,
  dlogits: Float32Array,
  grads: Record<string, Float32Array>,
): void {
  const k = EMBEDDING_CHANNELS;
  const c = shape.classes;
  const tokens = grid.tokenRows * grid.tokenCols;
  if (shape.kind === "linear") {
    denseBackward(x, tokens, k, t(p, "w"), c, dlogits, grads.w!, grads.b!, false);
    return;
  }
  const h = shape.hidden;
  const act = state.act!;
  const pre = state.pre!;
  const taps = fineTaps(grid);
  const dcoarse = bilinearBackward(dlogits, grid.tokenRows, grid.tokenCols, c, taps.rows, taps.cols);
  const dsub = shuffleBackward(dlogits, grid.tokenRows, grid.tokenCols, c, 4);
  const dact = conv3x3Backward(act, grid.tokenRows, grid.tokenCols, h, t(p, "w2"), c, dcoarse, grads.w2!, grads.b2!);
  const dact2 = denseBackward(act, tokens, h, t(p, "w3"), c * 16, dsub, grads.w3!, grads.b3!, true)!;
  for (let i = 0; i < dact.length; i++) dact[i] = pre[i]! > 0 ? dact[i]! + dact2[i]! : 0;
  denseBackward(x, tokens, k, t(p, "w1"), h, dact, grads.w1!, grads.b1!, false);
}
