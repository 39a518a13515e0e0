/**
 * An image-aware variant of the analytic test model, for propagation tests.
 *
 * The committed analytic model (models/analytic) ignores the image: its masks are discs and
 * boxes, and it echoes a mask prompt unchanged. Propagating with it can never find where an
 * object ends. This variant keeps the same prompt rules (discs around positive points, holes
 * around negative points, box bounds, mask echo) and intersects the result with an image
 * gate: low-res logit = min(prompt logit, gain * (embedding channel 3 - threshold)), where
 * channel 3 of the analytic encoder is the 16x16 mean of the normalized image. So a mask is
 * "the prompted region, where the image is brighter than `thresholdGray`". Same ONNX contract
 * (numMasks 1), written with the project's GraphBuilder, run by the real engine.
 */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GraphBuilder } from "../../kernel/onnx/graph.js";

const LOW_RES = 256;
const CELL = 1024 / LOW_RES;
const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];
const FAR = 1e4;

export interface GatedOptions {
  /** Gray value (0..255 after intensity normalization) above which the image counts as object. */
  readonly thresholdGray?: number;
  /** Disc radius around positive points, 1024-frame pixels. */
  readonly radius?: number;
  readonly negativeRadius?: number;
  readonly gain?: number;
  readonly iou?: number;
}

export function buildGatedDecoder(o: GatedOptions = {}): Uint8Array {
  const gray = o.thresholdGray ?? 100;
  const thr = [0, 1, 2].reduce((a, c) => a + (gray - MEAN[c]!) / STD[c]!, 0) / 3;
  const radius = o.radius ?? 320;
  const negRadius = o.negativeRadius ?? 48;
  const gain = o.gain ?? 20;
  const g = new GraphBuilder("gated_analytic_decoder");
  const emb = g.input("image_embeddings", "float32", [1, 256, 64, 64]);
  const coordsIn = g.input("point_coords", "float32", [1, "num_points", 2]);
  const labelsIn = g.input("point_labels", "float32", [1, "num_points"]);
  const maskInput = g.input("mask_input", "float32", [1, 1, LOW_RES, LOW_RES]);
  const hasMask = g.input("has_mask_input", "float32", [1]);
  const origSize = g.input("orig_im_size", "float32", [2]);
  const f = (v: number) => g.constFloat(v);
  const i64 = (v: number | number[]) => g.constInt64(v);

  const coords = g.op("Concat", [coordsIn, g.constFloat([0, 0], [1, 1, 2])], { axis: 1 });
  const labels = g.op("Concat", [labelsIn, g.constFloat([-1], [1, 1])], { axis: 1 });
  const shifted = g.op("Add", [coords, f(0.5)]);
  const perPoint = i64([-1, 1, 1]);
  const px = g.op("Reshape", [g.op("Gather", [shifted, i64(0)], { axis: 2 }), perPoint]);
  const py = g.op("Reshape", [g.op("Gather", [shifted, i64(1)], { axis: 2 }), perPoint]);
  const lab = g.op("Reshape", [labels, perPoint]);
  const centres = Float32Array.from({ length: LOW_RES }, (_, j) => CELL * j + CELL / 2);
  const cx = g.initializer("cx", centres, [1, 1, LOW_RES]);
  const cy = g.initializer("cy", centres, [1, LOW_RES, 1]);
  const dx = g.op("Sub", [cx, px]);
  const dy = g.op("Sub", [cy, py]);
  const dist = g.op("Sqrt", [g.op("Add", [g.op("Mul", [dx, dx]), g.op("Mul", [dy, dy])])]);
  const isLabel = (v: number) => g.op("Equal", [lab, f(v)]);
  const anyOf = (m: string) => g.op("Cast", [g.op("ReduceMax", [g.op("Cast", [m], { to: 1 })], { keepdims: 0 })], { to: 9 });
  const minDist = (m: string) => g.op("ReduceMin", [g.op("Where", [m, dist, f(1e30)])], { axes: [0], keepdims: 0 });
  const isPos = isLabel(1);
  const isNeg = isLabel(0);
  const isTL = isLabel(2);
  const isBR = isLabel(3);
  const hasBox = g.op("And", [anyOf(isTL), anyOf(isBR)]);
  const corner = (m: string) => {
    const w = g.op("Cast", [g.op("Reshape", [m, i64([1, -1, 1])])], { to: 1 });
    const sum = g.op("ReduceSum", [g.op("Mul", [shifted, w]), i64([1])], { keepdims: 0 });
    const c = g.op("Div", [sum, g.op("Max", [g.op("ReduceSum", [w], { keepdims: 0 }), f(1)])]);
    return {
      x: g.op("Reshape", [g.op("Gather", [c, i64(0)], { axis: 1 }), i64([1, 1, 1])]),
      y: g.op("Reshape", [g.op("Gather", [c, i64(1)], { axis: 1 }), i64([1, 1, 1])]),
    };
  };
  const b0 = corner(isTL);
  const b1 = corner(isBR);
  const boxDist = g.op("Min", [g.op("Sub", [cx, b0.x]), g.op("Sub", [b1.x, cx]), g.op("Sub", [cy, b0.y]), g.op("Sub", [b1.y, cy])]);
  const box = g.op("Where", [hasBox, boxDist, f(FAR)]);
  const pos = g.op("Where", [anyOf(isPos), g.op("Sub", [f(radius), minDist(isPos)]), g.op("Where", [hasBox, f(FAR), f(-FAR)])]);
  const neg = g.op("Where", [anyOf(isNeg), g.op("Sub", [minDist(isNeg), f(negRadius)]), f(FAR)]);
  const raw = g.op("Unsqueeze", [g.op("Min", [pos, box, neg]), i64([0])]); // [1,256,256] -> [1,1,256,256]
  const prompted = g.op("Add", [g.op("Mul", [hasMask, maskInput]), g.op("Mul", [g.op("Sub", [f(1), hasMask]), raw])]);

  // The image gate: channel 3 of the embedding (mean normalized intensity), up to 256x256.
  const ch3 = g.op("Slice", [emb, i64([3]), i64([4]), i64([1])]);
  const up = g.op("Resize", [ch3, "", "", i64([1, 1, LOW_RES, LOW_RES])], { mode: "nearest" });
  const gate = g.op("Mul", [g.op("Sub", [up, f(thr)]), f(gain)]);
  const lowRes = g.op("Min", [prompted, gate], {}, "low_res_masks");

  const resize = (x: string, sizes: string, name?: string) =>
    g.node("Resize", [x, "", "", sizes], { mode: "linear", coordinate_transformation_mode: "pytorch_half_pixel" }, name ? { outputs: [name] } : {})[0]!;
  const upFull = resize(lowRes, i64([1, 1, 1024, 1024]));
  const scale = g.op("Div", [f(1024), g.op("ReduceMax", [origSize], { keepdims: 0 })]);
  const prepadded = g.op("Cast", [g.op("Floor", [g.op("Add", [g.op("Mul", [origSize, scale]), f(0.5)])])], { to: 7 });
  const cropped = g.op("Slice", [upFull, i64([0, 0]), prepadded, i64([2, 3])]);
  resize(cropped, g.op("Concat", [i64([1, 1]), g.op("Cast", [origSize], { to: 7 })], { axis: 0 }), "masks");
  g.op("Identity", [g.initializer("iou", Float32Array.from([o.iou ?? 0.9]), [1, 1])], {}, "iou_predictions");
  g.output("masks", "float32", [1, 1, "h", "w"]);
  g.output("iou_predictions", "float32", [1, 1]);
  g.output("low_res_masks", "float32", [1, 1, LOW_RES, LOW_RES]);
  return g.toBytes({ docString: "gated analytic test decoder: analytic prompt rules AND image brighter than a threshold" });
}

/** Writes a model folder (encoder copied from models/analytic) and returns its path. */
export async function writeGatedModel(dir: string, options: GatedOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(join("models", "analytic", "encoder.onnx"), join(dir, "encoder.onnx"));
  await writeFile(join(dir, "decoder.onnx"), buildGatedDecoder(options));
  const manifest = {
    name: "gated-analytic-test",
    notice: "image-gated analytic test model — not MedicoSAM",
    source: "tests/helpers/gated-model.ts",
    encoder: { file: "encoder.onnx" },
    decoder: { file: "decoder.onnx", numMasks: 1 },
    preprocessing: { imageSize: 1024, pixelMean: MEAN, pixelStd: STD },
  };
  await writeFile(join(dir, "model.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
