/**
 * The decoder as the generator calls it: one positive point (plus SAM's padding point) per
 * call, all mask tokens' predicted IoU and 256x256 logits back.
 *
 * One point per call: the shipped decoders (and the official exports) take a batch of one,
 * and a batch axis can save little for the demo model, whose decoder is a per-prompt network.
 * Profiled per node (onnxruntime's profiler, graph optimizations off so that node names
 * survive), the part of a call that depends on the embedding alone, which a batch would share,
 * is 15 % of its kernel time; the rest is per prompt and compute-bound. (A batched re-export
 * once measured 19.4 against 20.6 ms of CPU per prompt, but both still ran the dead upscaling
 * that `withoutMasksOutput` now prunes: ~9 ms per prompt remain.)
 * onnxruntime-node runs a session's calls on the JS thread, one at a time, so calls in flight
 * on one session do not overlap either: the generator runs one of these per worker thread
 * instead (decoder-pool.ts).
 */
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import type { Size2D } from "../io/image.js";
import { pruneToOutputs } from "../onnx/prune.js";
import { LOW_RES_SIDE } from "../sam/decoder.js";
import { samSessionOptions } from "../sam/session-options.js";
import { EMBEDDING_LENGTH, type Embedding } from "../sam/embedding.js";
import { encodePrompt } from "../sam/prompt-encoding.js";

const LOW_RES_LENGTH = LOW_RES_SIDE * LOW_RES_SIDE;

/** What one decoder call gives the generator, for the tokens SAM's generator uses. */
export interface PointDecoding {
  /** Predicted IoU of each used token (float32 values). */
  readonly ious: Float32Array;
  /** The used tokens' 256x256 logits, concatenated. */
  readonly lowRes: Float32Array;
  /** The used tokens' logits at the crop's size, concatenated (only with `withMasks`). */
  readonly masks?: Float32Array;
}

/**
 * The decoder's ONNX bytes without its `masks` output and without the nodes that only fed it
 * (the upscaling of every token to the image size, 2/3 of a demo decoder call): the generator
 * upscales only the few masks that pass the predicted-IoU filter (full-resolution.ts).
 * onnxruntime keeps running nodes whose outputs nobody reads, so they are pruned here
 * (kernel/onnx/prune.ts has the profile).
 */
export function withoutMasksOutput(bytes: Uint8Array): Uint8Array {
  const pruned = pruneToOutputs(bytes, ["iou_predictions", "low_res_masks"]);
  if (!pruned.removedOutputs.includes("masks")) throw new Error("the decoder has no 'masks' output to remove; is it a SAM decoder?");
  return pruned.bytes;
}

export class PointDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** True: the session still has `masks` and calls fetch it (the reference path). */
    readonly withMasks: boolean,
  ) {}

  /**
   * `withMasks: false` (the generator's default) prunes the upscaling out of the graph;
   * `true` keeps the decoder as exported and returns its full-resolution logits.
   */
  static async load(decoderPath: string, withMasks: boolean, sessionOptions: ort.InferenceSession.SessionOptions = {}): Promise<PointDecoder> {
    const bytes = readFileSync(decoderPath);
    const session = await ort.InferenceSession.create(withMasks ? bytes : withoutMasksOutput(bytes), { ...samSessionOptions(), ...sessionOptions });
    return new PointDecoder(session, withMasks);
  }

  /**
   * segment_anything's generator asks for `multimask_output=True`, i.e. tokens 1..3 of a
   * 4-token decoder; a single-mask export has chosen one mask in its graph, which is used.
   */
  async decode(embedding: Embedding, point: { x: number; y: number }): Promise<PointDecoding> {
    if (embedding.data.length !== EMBEDDING_LENGTH) throw new Error(`embedding has ${embedding.data.length} values; expected ${EMBEDDING_LENGTH}.`);
    const size: Size2D = embedding.originalSize;
    const prompt = encodePrompt({ points: [{ x: point.x, y: point.y, positive: true }] }, size, embedding.resizedSize);
    const feeds = {
      image_embeddings: new ort.Tensor("float32", embedding.data, [1, 256, 64, 64]),
      point_coords: new ort.Tensor("float32", prompt.coords, [1, prompt.count, 2]),
      point_labels: new ort.Tensor("float32", prompt.labels, [1, prompt.count]),
      mask_input: new ort.Tensor("float32", new Float32Array(LOW_RES_LENGTH), [1, 1, LOW_RES_SIDE, LOW_RES_SIDE]),
      has_mask_input: new ort.Tensor("float32", new Float32Array(1), [1]),
      orig_im_size: new ort.Tensor("float32", Float32Array.of(size.height, size.width), [2]),
    };
    const out = this.withMasks ? await this.session.run(feeds) : await this.session.run(feeds, ["iou_predictions", "low_res_masks"]);
    const ious = out["iou_predictions"]!.data as Float32Array;
    const lowRes = out["low_res_masks"]!.data as Float32Array;
    const c = ious.length;
    if (c !== 1 && c !== 4) throw new Error(`the decoder returned ${c} masks; expected 4 (or 1 for a single-mask export).`);
    const first = c === 4 ? 1 : 0;
    const result: PointDecoding = {
      ious: ious.slice(first),
      lowRes: lowRes.slice(first * LOW_RES_LENGTH),
      ...(this.withMasks ? { masks: (out["masks"]!.data as Float32Array).slice(first * size.height * size.width) } : {}),
    };
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
