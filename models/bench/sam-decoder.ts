/**
 * A random-weight ONNX decoder of the real size and structure of SAM's prompt encoder + mask
 * decoder as written by the official exporter (segment_anything/utils/onnx.py, SamOnnxModel with
 * return_single_mask=False, i.e. 4 masks), for timing only.
 *
 * Contract (docs/inference.md §2): inputs image_embeddings [1,256,64,64], point_coords [1,N,2],
 * point_labels [1,N], mask_input [1,1,256,256], has_mask_input [1], orig_im_size [2]; outputs
 * masks [1,4,H,W], iou_predictions [1,4], low_res_masks [1,4,256,256].
 *
 * Simplifications that change no cost of note (each a few hundred flops or a no-op):
 * - The dense positional encoding (get_dense_pe) depends on nothing but the random Fourier
 *   matrix, so it is stored precomputed in the [1, 4096, 256] layout the transformer consumes;
 *   torch.onnx constant-folds it the same way.
 * - `expand_as` of the labels and the batch `repeat_interleave` (batch 1) are left to broadcasting.
 */
import { Net } from "./layers.js";
import type { BuiltModel } from "./vit-b-encoder.js";

const EMBED = 256;
const GRID = 64;
const HEADS = 8;
const MLP_DIM = 2048;
const NUM_MASK_TOKENS = 4;
const IMAGE_SIZE = 1024;

/** SAM ViT-B's prompt encoder (6,220) + mask decoder (4,058,340) parameter count. */
export const SAM_DECODER_PARAMS = 4_064_560;

/** segment_anything.modeling.transformer.Attention on [1, n, 256] tensors (n may be dynamic). */
function attention(net: Net, q: string, k: string, v: string, downsample: number, name: string): string {
  const internal = EMBED / downsample;
  const perHead = internal / HEADS;
  const split = (x: string) => net.transpose(net.reshape(x, [1, -1, HEADS, perHead]), [0, 2, 1, 3]);
  const qh = split(net.linear(q, EMBED, internal, `${name}.q_proj`));
  const kh = split(net.linear(k, EMBED, internal, `${name}.k_proj`));
  const vh = split(net.linear(v, EMBED, internal, `${name}.v_proj`));
  const g = net.g;
  const logits = g.op("Div", [g.op("MatMul", [qh, net.transpose(kh, [0, 1, 3, 2])]), g.constFloat(Math.sqrt(perHead))]);
  const out = g.op("MatMul", [g.op("Softmax", [logits], { axis: -1 }), vh]);
  const merged = net.reshape(net.transpose(out, [0, 2, 1, 3]), [1, -1, internal]);
  return net.linear(merged, internal, EMBED, `${name}.out_proj`);
}

/** segment_anything's MLP (ReLU between layers, none after the last). */
function mlp(net: Net, x: string, dims: readonly number[], name: string): string {
  let h = x;
  for (let i = 0; i + 1 < dims.length; i++) {
    h = net.linear(h, dims[i]!, dims[i + 1]!, `${name}.layers.${i}`);
    if (i + 2 < dims.length) h = net.g.op("Relu", [h]);
  }
  return h;
}

/** TwoWayAttentionBlock.forward; returns [queries, keys]. */
function twoWayBlock(net: Net, queries: string, keys: string, queryPe: string, keyPe: string, skipFirstPe: boolean, name: string): [string, string] {
  const g = net.g;
  if (skipFirstPe) {
    queries = attention(net, queries, queries, queries, 1, `${name}.self_attn`);
  } else {
    const q = g.op("Add", [queries, queryPe]);
    queries = g.op("Add", [queries, attention(net, q, q, queries, 1, `${name}.self_attn`)]);
  }
  queries = net.layerNorm(queries, EMBED, 1e-5, `${name}.norm1`);

  let q = g.op("Add", [queries, queryPe]);
  let k = g.op("Add", [keys, keyPe]);
  queries = g.op("Add", [queries, attention(net, q, k, keys, 2, `${name}.cross_attn_token_to_image`)]);
  queries = net.layerNorm(queries, EMBED, 1e-5, `${name}.norm2`);

  const m = net.linear(g.op("Relu", [net.linear(queries, EMBED, MLP_DIM, `${name}.mlp.lin1`)]), MLP_DIM, EMBED, `${name}.mlp.lin2`);
  queries = net.layerNorm(g.op("Add", [queries, m]), EMBED, 1e-5, `${name}.norm3`);

  q = g.op("Add", [queries, queryPe]);
  k = g.op("Add", [keys, keyPe]);
  keys = g.op("Add", [keys, attention(net, k, q, queries, 2, `${name}.cross_attn_image_to_token`)]);
  keys = net.layerNorm(keys, EMBED, 1e-5, `${name}.norm4`);
  return [queries, keys];
}

/** PositionEmbeddingRandom._pe_encoding of coordinates in [0, 1]: [..., 2] -> [..., 256]. */
function peEncoding(net: Net, coords: string, gaussianMatrix: string): string {
  const g = net.g;
  const c = g.op("Sub", [g.op("Mul", [coords, g.constFloat(2)]), g.constFloat(1)]);
  const p = g.op("Mul", [g.op("MatMul", [c, gaussianMatrix]), g.constFloat(2 * Math.PI)]);
  return g.op("Concat", [g.op("Sin", [p]), g.op("Cos", [p])], { axis: -1 });
}

/** get_dense_pe() for the 64x64 grid, computed here in float64 and stored as [1, 4096, 256]. */
function densePe(gauss: Float32Array): Float32Array {
  const half = EMBED / 2;
  const out = new Float32Array(GRID * GRID * EMBED);
  for (let y = 0; y < GRID; y++) {
    for (let x = 0; x < GRID; x++) {
      const cx = 2 * ((x + 0.5) / GRID) - 1;
      const cy = 2 * ((y + 0.5) / GRID) - 1;
      const base = (y * GRID + x) * EMBED;
      for (let j = 0; j < half; j++) {
        const v = 2 * Math.PI * (cx * gauss[j]! + cy * gauss[half + j]!);
        out[base + j] = Math.sin(v);
        out[base + half + j] = Math.cos(v);
      }
    }
  }
  return out;
}

export interface DecoderBuildOptions {
  /**
   * false: stop before SamOnnxModel.mask_postprocessing (outputs iou_predictions and
   * low_res_masks only). NOT the ONNX contract; it measures what the official postprocessing of
   * all 4 masks costs against upscaling only the chosen mask outside the graph.
   */
  readonly postprocess?: boolean;
}

/** Builds the decoder; deterministic for a given seed. */
export function buildSamDecoder(seed = 2, options: DecoderBuildOptions = {}): BuiltModel {
  const net = new Net("sam_vit_b_decoder_random", seed);
  const g = net.g;
  const emb = g.input("image_embeddings", "float32", [1, EMBED, GRID, GRID]);
  const coords = g.input("point_coords", "float32", [1, "num_points", 2]);
  const labels = g.input("point_labels", "float32", [1, "num_points"]);
  const maskInput = g.input("mask_input", "float32", [1, 1, 4 * GRID, 4 * GRID]);
  const hasMask = g.input("has_mask_input", "float32", [1]);
  const origSize = g.input("orig_im_size", "float32", [2]);

  // --- prompt encoder: points (SamOnnxModel._embed_points) ---
  const gauss = net.gaussianValues(2 * (EMBED / 2)); // PositionEmbeddingRandom buffer, scale 1
  const gaussMatrix = g.initializer("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", gauss, [2, EMBED / 2]);
  const normCoords = g.op("Div", [g.op("Add", [coords, g.constFloat(0.5)]), g.constFloat(IMAGE_SIZE)]);
  let sparse = peEncoding(net, normCoords, gaussMatrix); // [1, N, 256]
  const lab = g.op("Unsqueeze", [labels, g.constInt64([2])]); // [1, N, 1]
  const isLabel = (v: number) => g.op("Cast", [g.op("Equal", [lab, g.constFloat(v)])], { to: 1 });
  const notPadding = g.op("Cast", [g.op("Not", [g.op("Equal", [lab, g.constFloat(-1)])])], { to: 1 });
  sparse = g.op("Mul", [sparse, notPadding]);
  sparse = g.op("Add", [sparse, g.op("Mul", [net.gaussianParam("prompt_encoder.not_a_point_embed.weight", [1, EMBED]), isLabel(-1)])]);
  for (let i = 0; i < 4; i++) {
    const w = net.gaussianParam(`prompt_encoder.point_embeddings.${i}.weight`, [1, EMBED]);
    sparse = g.op("Add", [sparse, g.op("Mul", [w, isLabel(i)])]);
  }

  // --- prompt encoder: dense mask embedding (SamOnnxModel._embed_masks) ---
  let md = net.conv(maskInput, 1, 4, 2, "prompt_encoder.mask_downscaling.0", { stride: 2 });
  md = net.gelu(net.layerNorm2d(md, 4, 1e-6, "prompt_encoder.mask_downscaling.1"));
  md = net.conv(md, 4, 16, 2, "prompt_encoder.mask_downscaling.3", { stride: 2 });
  md = net.gelu(net.layerNorm2d(md, 16, 1e-6, "prompt_encoder.mask_downscaling.4"));
  md = net.conv(md, 16, EMBED, 1, "prompt_encoder.mask_downscaling.6");
  const noMask = net.gaussianParam("prompt_encoder.no_mask_embed.weight", [1, EMBED, 1, 1]);
  const dense = g.op("Add", [
    g.op("Mul", [hasMask, md]),
    g.op("Mul", [g.op("Sub", [g.constFloat(1), hasMask]), noMask]),
  ]);

  // --- mask decoder (MaskDecoder.predict_masks) ---
  const outputTokens = g.op("Unsqueeze", [
    g.op("Concat", [net.gaussianParam("mask_decoder.iou_token.weight", [1, EMBED]), net.gaussianParam("mask_decoder.mask_tokens.weight", [NUM_MASK_TOKENS, EMBED])], { axis: 0 }),
    g.constInt64([0]),
  ]);
  const tokens = g.op("Concat", [outputTokens, sparse], { axis: 1 }); // [1, 5 + N, 256]
  const src = g.op("Add", [emb, dense]);
  const keyPe = g.initializer("dense_pe", densePe(gauss), [1, GRID * GRID, EMBED]);

  // TwoWayTransformer, depth 2
  let keys = net.transpose(net.reshape(src, [1, EMBED, GRID * GRID]), [0, 2, 1]);
  let queries = tokens;
  for (let i = 0; i < 2; i++) {
    [queries, keys] = twoWayBlock(net, queries, keys, tokens, keyPe, i === 0, `mask_decoder.transformer.layers.${i}`);
  }
  const qf = g.op("Add", [queries, tokens]);
  const kf = g.op("Add", [keys, keyPe]);
  queries = g.op("Add", [queries, attention(net, qf, kf, keys, 2, "mask_decoder.transformer.final_attn_token_to_image")]);
  const hs = net.layerNorm(queries, EMBED, 1e-5, "mask_decoder.transformer.norm_final_attn");

  const iouTokenOut = g.op("Gather", [hs, g.constInt64(0)], { axis: 1 }); // [1, 256]
  const srcImage = net.reshape(net.transpose(keys, [0, 2, 1]), [1, EMBED, GRID, GRID]);
  let up = net.convTranspose(srcImage, EMBED, EMBED / 4, 2, "mask_decoder.output_upscaling.0");
  up = net.gelu(net.layerNorm2d(up, EMBED / 4, 1e-6, "mask_decoder.output_upscaling.1"));
  up = net.gelu(net.convTranspose(up, EMBED / 4, EMBED / 8, 2, "mask_decoder.output_upscaling.3")); // [1, 32, 256, 256]

  const hyper: string[] = [];
  for (let i = 0; i < NUM_MASK_TOKENS; i++) {
    const token = g.op("Gather", [hs, g.constInt64(1 + i)], { axis: 1 }); // mask_tokens_out[:, i, :]
    const h = mlp(net, token, [EMBED, EMBED, EMBED, EMBED / 8], `mask_decoder.output_hypernetworks_mlps.${i}`);
    hyper.push(g.op("Unsqueeze", [h, g.constInt64([1])]));
  }
  const hyperIn = g.op("Concat", hyper, { axis: 1 }); // [1, 4, 32]
  const side = 4 * GRID;
  const lowRes = net.reshape(g.op("MatMul", [hyperIn, net.reshape(up, [1, EMBED / 8, side * side])]), [1, NUM_MASK_TOKENS, side, side]);
  g.op("Identity", [lowRes], {}, "low_res_masks");
  const iouHead = mlp(net, iouTokenOut, [EMBED, 256, 256, NUM_MASK_TOKENS], "mask_decoder.iou_prediction_head");
  g.op("Identity", [iouHead], {}, "iou_predictions");

  if (options.postprocess === false) {
    g.output("iou_predictions", "float32", [1, NUM_MASK_TOKENS]);
    g.output("low_res_masks", "float32", [1, NUM_MASK_TOKENS, side, side]);
    return { bytes: g.toBytes({ docString: "SAM decoder without mask_postprocessing (benchmark only)" }), params: net.params };
  }

  // --- SamOnnxModel.mask_postprocessing ---
  const resizeAttrs = { mode: "linear", coordinate_transformation_mode: "pytorch_half_pixel" };
  const full = g.op("Resize", [lowRes, "", "", g.constInt64([1, NUM_MASK_TOKENS, IMAGE_SIZE, IMAGE_SIZE])], resizeAttrs);
  // resize_longest_image_size: floor(size * 1024 / max(size) + 0.5), as int64
  const scale = g.op("Div", [g.constFloat(IMAGE_SIZE), g.op("ReduceMax", [origSize], { keepdims: 0 })]);
  const prepadded = g.op("Cast", [g.op("Floor", [g.op("Add", [g.op("Mul", [origSize, scale]), g.constFloat(0.5)])])], { to: 7 });
  const cropped = g.op("Slice", [full, g.constInt64([0, 0]), prepadded, g.constInt64([2, 3])]);
  const sizes = g.op("Concat", [g.constInt64([1, NUM_MASK_TOKENS]), g.op("Cast", [origSize], { to: 7 })], { axis: 0 });
  g.op("Resize", [cropped, "", "", sizes], resizeAttrs, "masks");

  g.output("masks", "float32", [1, NUM_MASK_TOKENS, "height", "width"]);
  g.output("iou_predictions", "float32", [1, NUM_MASK_TOKENS]);
  g.output("low_res_masks", "float32", [1, NUM_MASK_TOKENS, side, side]);
  const bytes = g.toBytes({
    docString: `SAM ViT-B prompt encoder + mask decoder architecture (official ONNX layout, 4 masks) with RANDOM weights (seed ${seed}); for benchmarks only.`,
  });
  return { bytes, params: net.params };
}
