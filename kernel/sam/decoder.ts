/**
 * The prompt encoder + mask decoder session. It runs on the calling thread: one call takes
 * tens of milliseconds, and keeping it here avoids shipping the 4 MiB embedding to a worker
 * on every click. It runs on the CPU unless asked otherwise (LoadOptions.decoderDevice says why).
 */
import * as ort from "onnxruntime-node";
import type { Size2D } from "../io/image.js";
import { checkDecoder } from "./onnx-contract.js";
import type { PromptTensors } from "./prompt-encoding.js";
import { EMBEDDING_LENGTH } from "./embedding.js";
import { samSessionOptions } from "./session-options.js";
import type { Device, SessionDevice } from "./device.js";
import { createDeviceSession } from "./device-session.js";

export const LOW_RES_SIDE = 256;
const LOW_RES_LENGTH = LOW_RES_SIDE * LOW_RES_SIDE;

export interface DecoderOutput {
  /** Number of mask tokens returned (C). */
  readonly numMasks: number;
  /** [C, H, W] logits at the original size. */
  readonly masks: Float32Array;
  /** [C] predicted IoU. */
  readonly ious: Float32Array;
  /** [C, 256, 256] logits in the padded low-res frame. */
  readonly lowRes: Float32Array;
}

export class SamDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** 4 or 1 when the model declares it; otherwise learnt from the first run. */
    public numMasks: 1 | 4 | undefined,
    readonly path: string,
    /** Where the session runs (`auto` resolved). */
    readonly device: SessionDevice,
    /** For `auto`: which device runs and why. */
    readonly notice: string | undefined,
  ) {}

  static async load(path: string, options: ort.InferenceSession.SessionOptions = {}, device: Device = "cpu"): Promise<SamDecoder> {
    const created = await createDeviceSession(path, { ...samSessionOptions(), ...options }, device);
    const session = created.session;
    try {
      const numMasks = checkDecoder(path, session.inputMetadata, session.outputMetadata);
      const decoder = new SamDecoder(session, numMasks, path, created.device, created.notice);
      await decoder.warmUp();
      return decoder;
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /**
   * @param maskInput 256*256 logits, or undefined for no mask prompt (zeros, has_mask_input 0).
   */
  async run(embedding: Float32Array, prompt: PromptTensors, maskInput: Float32Array | undefined, originalSize: Size2D): Promise<DecoderOutput> {
    if (embedding.length !== EMBEDDING_LENGTH) {
      throw new Error(`embedding has ${embedding.length} values; expected ${EMBEDDING_LENGTH} (256x64x64).`);
    }
    const feeds: Record<string, ort.Tensor> = {
      image_embeddings: new ort.Tensor("float32", embedding, [1, 256, 64, 64]),
      point_coords: new ort.Tensor("float32", prompt.coords, [1, prompt.count, 2]),
      point_labels: new ort.Tensor("float32", prompt.labels, [1, prompt.count]),
      mask_input: new ort.Tensor("float32", maskInput ?? new Float32Array(LOW_RES_LENGTH), [1, 1, LOW_RES_SIDE, LOW_RES_SIDE]),
      has_mask_input: new ort.Tensor("float32", new Float32Array([maskInput ? 1 : 0]), [1]),
      orig_im_size: new ort.Tensor("float32", new Float32Array([originalSize.height, originalSize.width]), [2]),
    };
    const out = await this.session.run(feeds);
    const masks = out["masks"]!;
    const ious = out["iou_predictions"]!;
    const lowRes = out["low_res_masks"]!;
    const c = ious.dims[1] ?? 0;
    const { height, width } = originalSize;
    if (c !== 1 && c !== 4) throw new Error(`${this.path}: decoder returned ${c} masks; expected 1 or 4.`);
    if (masks.dims.join() !== [1, c, height, width].join()) {
      throw new Error(`${this.path}: 'masks' has shape [${masks.dims.join(",")}]; expected [1,${c},${height},${width}].`);
    }
    if (lowRes.dims.join() !== [1, c, LOW_RES_SIDE, LOW_RES_SIDE].join()) {
      throw new Error(`${this.path}: 'low_res_masks' has shape [${lowRes.dims.join(",")}]; expected [1,${c},256,256].`);
    }
    this.numMasks ??= c;
    return {
      numMasks: c,
      masks: masks.data as Float32Array,
      ious: ious.data as Float32Array,
      lowRes: lowRes.data as Float32Array,
    };
  }

  /**
   * onnxruntime's first run of a session is several times slower than the next ones; paying
   * it at load time keeps the user's first click as fast as the others. It also tells the
   * number of masks of decoders whose output shapes are symbolic.
   */
  private async warmUp(): Promise<void> {
    const prompt = { coords: new Float32Array([512, 512, 0, 0]), labels: new Float32Array([1, -1]), count: 2 };
    await this.run(new Float32Array(EMBEDDING_LENGTH), prompt, undefined, { height: 64, width: 64 });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
