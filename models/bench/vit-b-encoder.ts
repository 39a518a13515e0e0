/**
 * A random-weight ONNX model with the exact shape of SAM ViT-B's image encoder (MedicoSAM's
 * encoder), for timing and memory measurements only.
 *
 * It follows segment_anything/modeling/image_encoder.py op for op, the way torch.onnx traces it:
 * patch embedding, absolute position embedding, 12 pre-norm blocks with windowed attention
 * (window 14: pad 64 -> 70, 25 windows) except global attention in blocks 2, 5, 8, 11, decomposed
 * relative position embeddings added to the attention logits, an erf-GELU MLP, and the conv /
 * LayerNorm2d neck. The global blocks' attention logits are [12, 4096, 4096] float32 (805 MB),
 * which is what makes SAM's encoder memory-hungry; a faithful copy must keep that.
 */
import { Net } from "./layers.js";

export interface VitBConfig {
  readonly imageSize: number;
  readonly patchSize: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly mlpDim: number;
  readonly windowSize: number;
  readonly globalAttnIndexes: readonly number[];
  readonly outChans: number;
}

/** SAM ViT-B (build_sam_vit_b): the configuration MedicoSAM uses. */
export const VIT_B: VitBConfig = {
  imageSize: 1024,
  patchSize: 16,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpDim: 3072,
  windowSize: 14,
  globalAttnIndexes: [2, 5, 8, 11],
  outChans: 256,
};

/** SAM ViT-B image encoder's parameter count (torch: sum of numel of image_encoder parameters). */
export const VIT_B_ENCODER_PARAMS = 89_670_912;

export interface BuiltModel {
  readonly bytes: Uint8Array;
  /** Learnable parameters, to compare with the real network. */
  readonly params: number;
}

/**
 * SAM's get_rel_pos for equal query/key sizes: index table [S, S] into rel_pos [2S-1, C] with
 * entry (i, j) = i - j + S - 1. The table is a constant of the traced graph; the Gather stays.
 */
function relPosIndex(size: number): BigInt64Array {
  const idx = new BigInt64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) idx[i * size + j] = BigInt(i - j + size - 1);
  return idx;
}

/**
 * Attention with decomposed relative position embeddings on x [B, S, S, dim] (NHWC), as SAM's
 * image_encoder.Attention with use_rel_pos=True.
 */
function attention(net: Net, x: string, batch: number, size: number, cfg: VitBConfig, name: string): string {
  const g = net.g;
  const heads = cfg.numHeads;
  const hd = cfg.embedDim / heads;
  const tokens = size * size;
  const bh = batch * heads;

  const qkv = net.linear(x, cfg.embedDim, 3 * cfg.embedDim, `${name}.qkv`);
  // qkv.reshape(B, H*W, 3, heads, hd).permute(2, 0, 3, 1, 4).reshape(3, B*heads, H*W, hd).unbind(0)
  const qkv5 = net.transpose(net.reshape(qkv, [batch, tokens, 3, heads, hd]), [2, 0, 3, 1, 4]);
  const qkv4 = net.reshape(qkv5, [3, bh, tokens, hd]);
  const [q, k, v] = [0, 1, 2].map((i) => g.op("Gather", [qkv4, g.constInt64(i)], { axis: 0 })) as [string, string, string];

  // add_decomposed_rel_pos uses the UNscaled q; its tables are shared by all slices.
  const relH = net.param(`${name}.rel_pos_h`, [2 * size - 1, hd], 0.02);
  const relW = net.param(`${name}.rel_pos_w`, [2 * size - 1, hd], 0.02);
  const index = g.initializer(`${name}.rel_pos_index`, relPosIndex(size), [size, size]);
  const Rh = g.op("Gather", [relH, index], { axis: 0 }); // [S, S, hd]
  const Rw = g.op("Gather", [relW, index], { axis: 0 });

  /** softmax(q k^T * scale + rel_pos) v for `n` of the (batch x heads) rows. */
  const core = (q: string, k: string, v: string, n: number): string => {
    const scaledQ = g.op("Mul", [q, g.constFloat(1 / Math.sqrt(hd))]);
    const logits = g.op("MatMul", [scaledQ, net.transpose(k, [0, 2, 1])]); // [n, tokens, tokens]
    const rq = net.reshape(q, [n, size, size, hd]);
    const relHTerm = g.op("Einsum", [rq, Rh], { equation: "bhwc,hkc->bhwk" });
    const relWTerm = g.op("Einsum", [rq, Rw], { equation: "bhwc,wkc->bhwk" });
    const logits5 = net.reshape(logits, [n, size, size, size, size]);
    const withH = g.op("Add", [logits5, g.op("Unsqueeze", [relHTerm, g.constInt64([4])])]);
    const withHW = g.op("Add", [withH, g.op("Unsqueeze", [relWTerm, g.constInt64([3])])]);
    const attn = g.op("Softmax", [net.reshape(withHW, [n, tokens, tokens])], { axis: -1 });
    return g.op("MatMul", [attn, v]); // [n, tokens, hd]
  };

  const out = core(q, k, v, bh);
  const merged = net.reshape(net.transpose(net.reshape(out, [batch, heads, size, size, hd]), [0, 2, 3, 1, 4]), [batch, size, size, cfg.embedDim]);
  return net.linear(merged, cfg.embedDim, cfg.embedDim, `${name}.proj`);
}

/** One ViT block on x [1, G, G, dim]; window 0 means global attention. */
function block(net: Net, x: string, grid: number, window: number, cfg: VitBConfig, name: string): string {
  const g = net.g;
  const dim = cfg.embedDim;
  let h = net.layerNorm(x, dim, 1e-6, `${name}.norm1`);
  if (window > 0) {
    // window_partition: pad bottom/right to a multiple of the window, cut into windows.
    const padded = Math.ceil(grid / window) * window;
    const nw = padded / window;
    const pad = padded - grid;
    h = g.op("Pad", [h, g.constInt64([0, 0, 0, 0, 0, pad, pad, 0])], { mode: "constant" });
    h = net.reshape(net.transpose(net.reshape(h, [1, nw, window, nw, window, dim]), [0, 1, 3, 2, 4, 5]), [nw * nw, window, window, dim]);
    h = attention(net, h, nw * nw, window, cfg, `${name}.attn`);
    // window_unpartition, then crop the padding away.
    h = net.reshape(net.transpose(net.reshape(h, [1, nw, nw, window, window, dim]), [0, 1, 3, 2, 4, 5]), [1, padded, padded, dim]);
    h = g.op("Slice", [h, g.constInt64([0, 0]), g.constInt64([grid, grid]), g.constInt64([1, 2])]);
  } else {
    h = attention(net, h, 1, grid, cfg, `${name}.attn`);
  }
  const x1 = g.op("Add", [x, h]);
  const m = net.layerNorm(x1, dim, 1e-6, `${name}.norm2`);
  const mlp = net.linear(net.gelu(net.linear(m, dim, cfg.mlpDim, `${name}.mlp.lin1`)), cfg.mlpDim, dim, `${name}.mlp.lin2`);
  return g.op("Add", [x1, mlp]);
}

/**
 * Builds the encoder: input `image` float32 [1,3,1024,1024], output `image_embeddings`
 * float32 [1,256,64,64]. Deterministic for a given seed.
 */
export function buildVitBEncoder(seed = 1, cfg: VitBConfig = VIT_B): BuiltModel {
  const net = new Net("sam_vit_b_image_encoder_random", seed);
  const g = net.g;
  const grid = cfg.imageSize / cfg.patchSize;
  const image = g.input("image", "float32", [1, 3, cfg.imageSize, cfg.imageSize]);

  const patches = net.conv(image, 3, cfg.embedDim, cfg.patchSize, "patch_embed.proj", { stride: cfg.patchSize });
  let x = net.transpose(patches, [0, 2, 3, 1]); // B C H W -> B H W C
  x = g.op("Add", [x, net.param("pos_embed", [1, grid, grid, cfg.embedDim], 0.02)]);

  for (let i = 0; i < cfg.depth; i++) {
    const window = cfg.globalAttnIndexes.includes(i) ? 0 : cfg.windowSize;
    x = block(net, x, grid, window, cfg, `blocks.${i}`);
  }

  let y = net.transpose(x, [0, 3, 1, 2]);
  y = net.conv(y, cfg.embedDim, cfg.outChans, 1, "neck.0", { bias: false });
  y = net.layerNorm2d(y, cfg.outChans, 1e-6, "neck.1");
  y = net.conv(y, cfg.outChans, cfg.outChans, 3, "neck.2", { pad: 1, bias: false });
  const out = net.layerNorm2d(y, cfg.outChans, 1e-6, "neck.3");
  g.op("Identity", [out], {}, "image_embeddings");
  g.output("image_embeddings", "float32", [1, cfg.outChans, grid, grid]);

  const bytes = g.toBytes({
    docString: `SAM ViT-B image encoder architecture with RANDOM weights (seed ${seed}); for benchmarks only, its embeddings mean nothing.`,
  });
  return { bytes, params: net.params };
}
