/**
 * The analytic test models: ONNX files with the exact SAM ONNX contract (docs/inference.md §2) whose
 * outputs follow closed-form rules, so engine tests can predict every logit without weights.
 *
 * Encoder: `input_image` [1,3,1024,1024] -> `image_embeddings` [1,256,64,64]; channels 0..2 are
 * the 16x16 average pool of the input channels, channel 3 their mean, channels 4..255 zero.
 * The input is deliberately not called `image`: engines must read names from the session.
 *
 * Decoder (official SamOnnxModel inputs/outputs): for token k and low-res cell (row i, col j)
 * with centre c = (4j+2, 4i+2) in the 1024 frame, points shifted by SAM's +0.5:
 *   pos_k = max over label-1 points of (R_k - |c - p|); without one: +1e4 with a box, else -1e4
 *   box   = min(cx - b0x, b1x - cx, cy - b0y, b1y - cy)  (b0/b1: labels 2/3); +1e4 without a box
 *   neg   = min over label-0 points of (|c - n| - negativeRadius); +1e4 without one
 *   low_res_k = has_mask_input * mask_input + (1 - has_mask_input) * min(pos_k, box, neg)
 * `masks` is the official postprocessing of `low_res_masks` (bilinear to 1024, crop to the
 * resized image size computed in the graph from `orig_im_size`, bilinear to `orig_im_size`);
 * `iou_predictions` are per-token constants. So a click draws a disc of radius R_k.
 *
 * Run `npx tsx models/analytic/generate.ts [outDir]` to (re)write encoder.onnx, decoder.onnx
 * and model.json (default outDir: this folder). Output is byte-for-byte deterministic.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GraphBuilder } from "../../kernel/onnx/graph.js";
import type { ModelManifest } from "../../kernel/sam/manifest.js";

export interface AnalyticDecoderOptions {
  /** 4 = multimask layout (tokens 0..3), 1 = single-mask layout (token 0 only). */
  readonly numMasks?: 1 | 4;
  /** Disc radius per token, in 1024-frame pixels. */
  readonly radii?: readonly number[];
  /** Constant `iou_predictions` per token. */
  readonly iouScores?: readonly number[];
  /** Radius of the hole a negative point cuts, in 1024-frame pixels. */
  readonly negativeRadius?: number;
  /**
   * Makes the masks depend on the image (off by default): low-res logit = min(prompt logit,
   * gain * (embedding channel 3 - threshold)), channel 3 being the encoder's 16x16 mean of the
   * normalized image. A mask is then "the prompted region where the image is brighter than
   * `thresholdGray`", so a propagation can find where an object ends (the plain model echoes
   * mask prompts and never can). Used by the propagation tests (tests/helpers/gated-model.ts).
   */
  readonly imageGate?: { readonly thresholdGray: number; readonly gain: number };
}

export const DEFAULT_DECODER_OPTIONS = {
  numMasks: 4,
  radii: [96, 32, 64, 128],
  iouScores: [0.95, 0.6, 0.9, 0.7],
  negativeRadius: 48,
} as const satisfies Required<Omit<AnalyticDecoderOptions, "imageGate">>;

/** Value used where a term does not apply (no box, no negative point, ...). */
export const NO_CONSTRAINT = 1e4;

const IMAGE_SIZE = 1024;
const EMBED_CHANNELS = 256;
const EMBED_SIZE = 64;
const LOW_RES = 256;
/** Low-res cell pitch in the 1024 frame. */
const CELL = IMAGE_SIZE / LOW_RES;
/** SAM's normalization, for the image gate's threshold. */
const SAM_MEAN = [123.675, 116.28, 103.53];
const SAM_STD = [58.395, 57.12, 57.375];
/** Masks out points of other labels before a min/max; never reaches an output (a Where picks). */
const SENTINEL = 1e30;

function resolveOptions(options: AnalyticDecoderOptions): Required<Omit<AnalyticDecoderOptions, "imageGate">> {
  const numMasks = options.numMasks ?? DEFAULT_DECODER_OPTIONS.numMasks;
  if (numMasks !== 1 && numMasks !== 4) throw new Error(`numMasks must be 1 or 4, got ${String(numMasks)}`);
  const radii = options.radii ?? DEFAULT_DECODER_OPTIONS.radii.slice(0, numMasks);
  const iouScores = options.iouScores ?? DEFAULT_DECODER_OPTIONS.iouScores.slice(0, numMasks);
  if (radii.length !== numMasks || iouScores.length !== numMasks) {
    throw new Error(
      `radii (${radii.length}) and iouScores (${iouScores.length}) need one value per mask token (numMasks = ${numMasks})`,
    );
  }
  return { numMasks, radii, iouScores, negativeRadius: options.negativeRadius ?? DEFAULT_DECODER_OPTIONS.negativeRadius };
}

/** The encoder model bytes. */
export function buildEncoder(): Uint8Array {
  const g = new GraphBuilder("analytic_encoder");
  const x = g.input("input_image", "float32", [1, 3, IMAGE_SIZE, IMAGE_SIZE]);
  const patch = IMAGE_SIZE / EMBED_SIZE;
  const pooled = g.op("AveragePool", [x], { kernel_shape: [patch, patch], strides: [patch, patch] });
  const mean = g.op("ReduceMean", [pooled], { axes: [1], keepdims: 1 });
  const four = g.op("Concat", [pooled, mean], { axis: 1 });
  // Pad instead of a zero initializer: a [1,252,64,64] constant would add 4 MB to the file.
  const pads = g.constInt64([0, 0, 0, 0, 0, EMBED_CHANNELS - 4, 0, 0]);
  g.op("Pad", [four, pads], { mode: "constant" }, "image_embeddings");
  g.output("image_embeddings", "float32", [1, EMBED_CHANNELS, EMBED_SIZE, EMBED_SIZE]);
  return g.toBytes({ docString: "analytic test encoder: 16x16 average pool of the input channels" });
}

/** The decoder model bytes. */
export function buildDecoder(options: AnalyticDecoderOptions = {}): Uint8Array {
  const { numMasks: K, radii, iouScores, negativeRadius } = resolveOptions(options);
  const gated = options.imageGate;
  const g = new GraphBuilder(gated ? "gated_analytic_decoder" : "analytic_decoder");
  // Without the image gate the embedding does not shape the answer; onnxruntime accepts (and
  // lists) an unused input.
  const emb = g.input("image_embeddings", "float32", [1, EMBED_CHANNELS, EMBED_SIZE, EMBED_SIZE]);
  const coordsIn = g.input("point_coords", "float32", [1, "num_points", 2]);
  const labelsIn = g.input("point_labels", "float32", [1, "num_points"]);
  const maskInput = g.input("mask_input", "float32", [1, 1, LOW_RES, LOW_RES]);
  const hasMask = g.input("has_mask_input", "float32", [1]);
  const origSize = g.input("orig_im_size", "float32", [2]);

  const f = (v: number) => g.constFloat(v);
  const i64 = (v: number | number[]) => g.constInt64(v);

  // One extra padding point (label -1) so every reduction below runs over at least one point,
  // even for N = 0; padding points are ignored by definition, so this changes no output.
  const coords = g.op("Concat", [coordsIn, g.constFloat([0, 0], [1, 1, 2])], { axis: 1 });
  const labels = g.op("Concat", [labelsIn, g.constFloat([-1], [1, 1])], { axis: 1 });

  // p = coords + 0.5 (SAM's pixel-centre shift), split into x and y shaped [N,1,1].
  const shifted = g.op("Add", [coords, f(0.5)]);
  const perPoint = i64([-1, 1, 1]);
  const px = g.op("Reshape", [g.op("Gather", [shifted, i64(0)], { axis: 2 }), perPoint]);
  const py = g.op("Reshape", [g.op("Gather", [shifted, i64(1)], { axis: 2 }), perPoint]);
  const lab = g.op("Reshape", [labels, perPoint]);

  // Low-res cell centres in the 1024 frame: columns along the last axis, rows along the middle.
  const centres = Float32Array.from({ length: LOW_RES }, (_, j) => CELL * j + CELL / 2);
  const cx = g.initializer("cell_centre_x", centres, [1, 1, LOW_RES]);
  const cy = g.initializer("cell_centre_y", centres, [1, LOW_RES, 1]);
  const dx = g.op("Sub", [cx, px]); // [N,1,256]
  const dy = g.op("Sub", [cy, py]); // [N,256,1]
  const dist = g.op("Sqrt", [g.op("Add", [g.op("Mul", [dx, dx]), g.op("Mul", [dy, dy])])]); // [N,256,256]

  const isLabel = (v: number) => g.op("Equal", [lab, f(v)]); // [N,1,1] bool
  const anyOf = (mask: string) =>
    g.op("Cast", [g.op("ReduceMax", [g.op("Cast", [mask], { to: 1 })], { keepdims: 0 })], { to: 9 }); // scalar bool
  // min over the selected points of dist; max_p(R - d_p) = R - min_p d_p exactly (rounding is monotone).
  const minDist = (mask: string) =>
    g.op("ReduceMin", [g.op("Where", [mask, dist, f(SENTINEL)])], { axes: [0], keepdims: 0 }); // [256,256]

  const isPos = isLabel(1);
  const isNeg = isLabel(0);
  const isTL = isLabel(2);
  const isBR = isLabel(3);
  const hasBox = g.op("And", [anyOf(isTL), anyOf(isBR)]);

  // Box corners: the label-2 / label-3 point (the mean if a caller passes several).
  const corner = (mask: string) => {
    const w = g.op("Cast", [g.op("Reshape", [mask, i64([1, -1, 1])])], { to: 1 }); // [1,N,1]
    const sum = g.op("ReduceSum", [g.op("Mul", [shifted, w]), i64([1])], { keepdims: 0 }); // [1,2]
    const count = g.op("Max", [g.op("ReduceSum", [w], { keepdims: 0 }), f(1)]);
    const c = g.op("Div", [sum, count]);
    return {
      x: g.op("Gather", [c, i64(0)], { axis: 1 }), // [1]
      y: g.op("Gather", [c, i64(1)], { axis: 1 }),
    };
  };
  const b0 = corner(isTL);
  const b1 = corner(isBR);
  const boxDist = g.op("Min", [
    g.op("Sub", [cx, g.op("Reshape", [b0.x, i64([1, 1, 1])])]),
    g.op("Sub", [g.op("Reshape", [b1.x, i64([1, 1, 1])]), cx]),
    g.op("Sub", [cy, g.op("Reshape", [b0.y, i64([1, 1, 1])])]),
    g.op("Sub", [g.op("Reshape", [b1.y, i64([1, 1, 1])]), cy]),
  ]); // [1,256,256]
  const box = g.op("Where", [hasBox, boxDist, f(NO_CONSTRAINT)]);

  const radiiT = g.initializer("token_radii", Float32Array.from(radii), [K, 1, 1]);
  const posDisc = g.op("Sub", [radiiT, minDist(isPos)]); // [K,256,256]
  const posNone = g.op("Where", [hasBox, f(NO_CONSTRAINT), f(-NO_CONSTRAINT)]);
  const pos = g.op("Where", [anyOf(isPos), posDisc, posNone]);

  const negHole = g.op("Sub", [minDist(isNeg), f(negativeRadius)]);
  const neg = g.op("Where", [anyOf(isNeg), negHole, f(NO_CONSTRAINT)]);

  const raw = g.op("Unsqueeze", [g.op("Min", [pos, box, neg]), i64([0])]); // [1,K,256,256]
  const echoed = g.op("Mul", [hasMask, maskInput]);
  const computed = g.op("Mul", [g.op("Sub", [f(1), hasMask]), raw]);
  let lowRes: string;
  if (!gated) {
    lowRes = g.op("Add", [echoed, computed], {}, "low_res_masks");
  } else {
    // Threshold in normalized units: the mean over the three channels of (gray - mean) / std.
    const thr = [0, 1, 2].reduce((a, c) => a + (gated.thresholdGray - SAM_MEAN[c]!) / SAM_STD[c]!, 0) / 3;
    const ch3 = g.op("Slice", [emb, i64([3]), i64([4]), i64([1])]);
    const up = g.op("Resize", [ch3, "", "", i64([1, 1, LOW_RES, LOW_RES])], { mode: "nearest" });
    const gate = g.op("Mul", [g.op("Sub", [up, f(thr)]), f(gated.gain)]);
    lowRes = g.op("Min", [g.op("Add", [echoed, computed]), gate], {}, "low_res_masks");
  }

  // Official postprocessing (SamOnnxModel.mask_postprocessing). Resize linear with
  // pytorch_half_pixel, no antialias = F.interpolate(bilinear, align_corners=False).
  const resize = (x: string, sizes: string) =>
    g.op("Resize", [x, "", "", sizes], {
      mode: "linear",
      coordinate_transformation_mode: "pytorch_half_pixel",
    });
  const batchAndTokens = i64([1, K]);
  const up = resize(lowRes, i64([1, K, IMAGE_SIZE, IMAGE_SIZE]));
  // Pre-padded size as the exporter computes it: scale = 1024 / max(orig) in float32, then
  // floor(scale * orig + 0.5).
  const scale = g.op("Div", [f(IMAGE_SIZE), g.op("ReduceMax", [origSize], { keepdims: 0 })]);
  const prepadded = g.op("Cast", [g.op("Floor", [g.op("Add", [g.op("Mul", [origSize, scale]), f(0.5)])])], { to: 7 });
  const cropped = g.op("Slice", [up, i64([0, 0]), prepadded, i64([2, 3])]);
  const origInt = g.op("Cast", [origSize], { to: 7 });
  g.node(
    "Resize",
    [cropped, "", "", g.op("Concat", [batchAndTokens, origInt], { axis: 0 })],
    { mode: "linear", coordinate_transformation_mode: "pytorch_half_pixel" },
    { outputs: ["masks"] },
  );

  const iou = g.initializer("token_iou", Float32Array.from(iouScores), [1, K]);
  g.op("Identity", [iou], {}, "iou_predictions");

  g.output("masks", "float32", [1, K, "orig_height", "orig_width"]);
  g.output("iou_predictions", "float32", [1, K]);
  g.output("low_res_masks", "float32", [1, K, LOW_RES, LOW_RES]);
  return g.toBytes({
    docString: gated
      ? "gated analytic test decoder: analytic prompt rules AND image brighter than a threshold"
      : "analytic test decoder: discs around clicks, holes around negatives, box bounds",
  });
}

export const ENCODER_FILE = "encoder.onnx";
export const DECODER_FILE = "decoder.onnx";
export const MANIFEST_FILE = "model.json";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** model.json for a pair of generated files. */
export function buildManifest(
  encoder: Uint8Array,
  decoder: Uint8Array,
  options: AnalyticDecoderOptions = {},
): ModelManifest {
  const o = resolveOptions(options);
  return {
    name: "analytic-test",
    notice: "analytic test model (draws discs around clicks) — not MedicoSAM",
    source:
      "generated by models/analytic/generate.ts (npx tsx models/analytic/generate.ts); " +
      "encoder: 16x16 average pool; decoder: discs of radii " +
      `[${o.radii.join(", ")}] around positive points, holes of radius ${o.negativeRadius} around negative points, ` +
      `bounded by the box; iou [${o.iouScores.join(", ")}]`,
    encoder: { file: ENCODER_FILE, sha256: sha256(encoder) },
    decoder: { file: DECODER_FILE, sha256: sha256(decoder), numMasks: o.numMasks },
    preprocessing: {
      imageSize: IMAGE_SIZE,
      pixelMean: [123.675, 116.28, 103.53],
      pixelStd: [58.395, 57.12, 57.375],
    },
  };
}

export interface AnalyticModelFiles {
  readonly encoder: Uint8Array;
  readonly decoder: Uint8Array;
  /** The exact text written to model.json. */
  readonly manifestText: string;
}

/** All three files in memory, as `writeAnalyticModel` would write them. */
export function buildAnalyticModel(options: AnalyticDecoderOptions = {}): AnalyticModelFiles {
  const encoder = buildEncoder();
  const decoder = buildDecoder(options);
  const manifestText = `${JSON.stringify(buildManifest(encoder, decoder, options), null, 2)}\n`;
  return { encoder, decoder, manifestText };
}

/** Writes a complete model folder (e.g. a test variant in a temp dir); returns the file paths. */
export async function writeAnalyticModel(
  dir: string,
  options: AnalyticDecoderOptions = {},
): Promise<{ encoder: string; decoder: string; manifest: string }> {
  const files = buildAnalyticModel(options);
  await mkdir(dir, { recursive: true });
  const paths = { encoder: join(dir, ENCODER_FILE), decoder: join(dir, DECODER_FILE), manifest: join(dir, MANIFEST_FILE) };
  await writeFile(paths.encoder, files.encoder);
  await writeFile(paths.decoder, files.decoder);
  await writeFile(paths.manifest, files.manifestText);
  return paths;
}

/** The folder this module lives in: where the committed model files are. */
export const ANALYTIC_MODEL_DIR = fileURLToPath(new URL(".", import.meta.url));

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outDir = process.argv[2] ?? ANALYTIC_MODEL_DIR;
  writeAnalyticModel(outDir).then(
    (p) => console.log(`wrote ${p.encoder}, ${p.decoder}, ${p.manifest}`),
    (err: unknown) => {
      console.error(`generate: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
