/**
 * The full-resolution half of the decoder, run only for masks that pass the predicted-IoU
 * filter. segment_anything's generator computes the stability score on the upscaled logits
 * (`SamPredictor.predict_torch(return_logits=True)`) after filtering by predicted IoU, so only
 * those masks ever need full resolution; the ONNX decoder, though, upscales all of its masks
 * at every call. We therefore run the decoder without its `masks` output and the nodes that
 * fed only it (point-decoder.ts, `withoutMasksOutput`) and upscale the survivors here.
 *
 * The upscaling is the official exporter's postprocessing (`SamOnnxModel.mask_postprocessing`:
 * bilinear to 1024x1024, crop to the resized image size computed from `orig_im_size`, bilinear
 * to `orig_im_size`; docs/inference.md §7) as ONNX Resize nodes, so onnxruntime runs the same
 * kernel as inside the decoder and the logits are identical to its `masks` output (a test
 * compares them). The graph also thresholds and counts, so that only a 0/1 mask and two
 * pixel counts per mask come back to JavaScript, never the float logits.
 */
import * as ort from "onnxruntime-node";
import type { Size2D } from "../io/image.js";
import { GraphBuilder } from "../onnx/graph.js";
import { LOW_RES_SIDE } from "../sam/decoder.js";
import { samSessionOptions } from "../sam/session-options.js";

/** Masks per call: bounds the float32 [n,1,1024,1024] intermediate to n x 4 MiB. */
export const UPSCALE_CHUNK = 8;

/**
 * Inputs `low_res` [n,1,256,256], `orig_im_size` [2] (h, w as float32, as the decoder takes
 * it), `thresholds` [3] (mask threshold, stability high, stability low); outputs `mask`
 * [n,1,h,w] uint8 (logit > threshold) and `counts` [n,2] int32 (pixels above high, above low).
 */
export function buildUpscaleGraph(imageSize = 1024): Uint8Array {
  const g = new GraphBuilder("sam_mask_postprocessing");
  const low = g.input("low_res", "float32", ["n", 1, LOW_RES_SIDE, LOW_RES_SIDE]);
  const orig = g.input("orig_im_size", "float32", [2]);
  const thresholds = g.input("thresholds", "float32", [3]);
  const i64 = (v: number | number[]) => g.constInt64(v);
  // torch.onnx exports F.interpolate(bilinear, align_corners=False) as this Resize.
  const resize = (x: string, sizes: string) =>
    g.op("Resize", [x, "", "", sizes], { mode: "linear", coordinate_transformation_mode: "half_pixel" });
  const leading = g.op("Slice", [g.op("Shape", [low]), i64([0]), i64([2])]); // [n, 1]
  const up = resize(low, g.op("Concat", [leading, i64([imageSize, imageSize])], { axis: 0 }));
  // SamOnnxModel.resize_longest_image_size: floor(orig * (size / max(orig)) + 0.5), in float32.
  const scale = g.op("Div", [g.constFloat(imageSize), g.op("ReduceMax", [orig], { keepdims: 0 })]);
  const prepadded = g.op("Cast", [g.op("Floor", [g.op("Add", [g.op("Mul", [orig, scale]), g.constFloat(0.5)])])], { to: 7 });
  const cropped = g.op("Slice", [up, i64([0, 0]), prepadded, i64([2, 3])]);
  const full = resize(cropped, g.op("Concat", [leading, g.op("Cast", [orig], { to: 7 })], { axis: 0 }));
  const threshold = (k: number) => g.op("Gather", [thresholds, i64(k)], { axis: 0 });
  g.op("Cast", [g.op("Greater", [full, threshold(0)])], { to: 2 }, "mask");
  const count = (k: number) => g.op("ReduceSum", [g.op("Cast", [g.op("Greater", [full, threshold(k)])], { to: 6 }), i64([2, 3])], { keepdims: 0 });
  g.op("Concat", [count(1), count(2)], { axis: 1 }, "counts");
  g.output("mask", "uint8", ["n", 1, "h", "w"]);
  g.output("counts", "int32", ["n", 2]);
  return g.toBytes({ docString: "SAM's ONNX mask postprocessing, thresholded and counted (kernel/automatic/full-resolution.ts)" });
}

export interface FullResolution {
  /** n masks, each h*w row-major 0/1 (logit > mask threshold). */
  readonly masks: Uint8Array[];
  /** Pixels above the stability thresholds, per mask. */
  readonly aboveHigh: Int32Array;
  readonly aboveLow: Int32Array;
}

/** A session of the graph above, reused for every crop and image. */
export class Upscaler {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(imageSize = 1024): Promise<Upscaler> {
    return new Upscaler(await ort.InferenceSession.create(buildUpscaleGraph(imageSize), samSessionOptions()));
  }

  /** `lowRes`: n planes of 256x256 logits, concatenated. */
  async run(lowRes: Float32Array, size: Size2D, thresholds: { mask: number; high: number; low: number }): Promise<FullResolution> {
    const planeLength = LOW_RES_SIDE * LOW_RES_SIDE;
    const n = lowRes.length / planeLength;
    const masks: Uint8Array[] = [];
    const aboveHigh = new Int32Array(n);
    const aboveLow = new Int32Array(n);
    const pixels = size.height * size.width;
    const thr = new ort.Tensor("float32", Float32Array.of(thresholds.mask, thresholds.high, thresholds.low), [3]);
    const orig = new ort.Tensor("float32", Float32Array.of(size.height, size.width), [2]);
    for (let start = 0; start < n; start += UPSCALE_CHUNK) {
      const m = Math.min(UPSCALE_CHUNK, n - start);
      const out = await this.session.run({
        low_res: new ort.Tensor("float32", lowRes.subarray(start * planeLength, (start + m) * planeLength), [m, 1, LOW_RES_SIDE, LOW_RES_SIDE]),
        orig_im_size: orig,
        thresholds: thr,
      });
      const mask = out["mask"]!.data as Uint8Array;
      const counts = out["counts"]!.data as Int32Array;
      for (let k = 0; k < m; k++) {
        masks.push(mask.slice(k * pixels, (k + 1) * pixels));
        aboveHigh[start + k] = counts[2 * k]!;
        aboveLow[start + k] = counts[2 * k + 1]!;
      }
    }
    return { masks, aboveHigh, aboveLow };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
