/**
 * Mask prompts: previous low-res logits pass through; a binary mask becomes logits the way
 * micro_sam 1.8's `_compute_logits_from_mask` does it, or on request 1.7's (docs/inference.md §5).
 */
import type { Size2D } from "../io/image.js";
import { LOW_RES_SIDE } from "./decoder.js";
import type { MaskPrompt, MaskPromptRule } from "./prompt.js";
import { PromptError } from "./prompt-encoding.js";
import { longestSideSize, resizeBilinearFloat32 } from "./resize.js";

/** ln(0.999 / 0.001): the logit of a 0.999 probability, micro_sam's value for "surely in". */
export const MASK_LOGIT = Math.log(0.999 / 0.001);

/**
 * Binary mask at the original size -> [256, 256] logits.
 * micro_sam 1.8 (default): resize the binary mask with the longest side to 256 (bilinear,
 * antialiased), threshold > 0.5, zero-pad to 256x256, then 1 -> +6.9068 and 0 -> -6.9068 (the
 * padding too). micro_sam 1.7: 1 -> +6.9068 and 0 -> -6.9068 first, resize those logits the same
 * way, and pad with 0 (which the decoder reads as "unsure", not "outside").
 */
export function binaryMaskToLogits(mask: Uint8Array, size: Size2D, rule: MaskPromptRule = "micro_sam-1.8"): Float32Array {
  const { height, width } = size;
  if (mask.length !== height * width) {
    throw new PromptError(`mask prompt has ${mask.length} pixels; a ${width}x${height} image needs ${width * height}.`);
  }
  if (rule !== "micro_sam-1.8" && rule !== "micro_sam-1.7") throw new PromptError(`mask prompt rule must be 'micro_sam-1.8' or 'micro_sam-1.7', got '${String(rule)}'.`);
  const target = longestSideSize(height, width, LOW_RES_SIDE);
  if (rule === "micro_sam-1.7") {
    const logits = Float32Array.from(mask, (v) => (v ? MASK_LOGIT : -MASK_LOGIT));
    const small = resizeBilinearFloat32(logits, size, 1, target);
    const out = new Float32Array(LOW_RES_SIDE * LOW_RES_SIDE);
    for (let y = 0; y < target.height; y++) out.set(small.subarray(y * target.width, (y + 1) * target.width), y * LOW_RES_SIDE);
    return out;
  }
  const src = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) src[i] = mask[i] ? 1 : 0;
  const small = resizeBilinearFloat32(src, size, 1, target);
  const out = new Float32Array(LOW_RES_SIDE * LOW_RES_SIDE).fill(-MASK_LOGIT);
  for (let y = 0; y < target.height; y++) {
    for (let x = 0; x < target.width; x++) {
      if (small[y * target.width + x]! > 0.5) out[y * LOW_RES_SIDE + x] = MASK_LOGIT;
    }
  }
  return out;
}

/** The decoder's `mask_input` for a prompt's mask, checked against the image it belongs to. */
export function maskInputFor(mask: MaskPrompt, original: Size2D): Float32Array {
  if (mask.kind === "logits") {
    if (mask.logits.length !== LOW_RES_SIDE * LOW_RES_SIDE) {
      throw new PromptError(
        `mask prompt logits have ${mask.logits.length} values; expected 256*256 = 65536 (the 'lowResLogits' of an earlier result).`,
      );
    }
    return mask.logits;
  }
  if (mask.width !== original.width || mask.height !== original.height) {
    throw new PromptError(
      `mask prompt is ${mask.width}x${mask.height} but the image is ${original.width}x${original.height}; give a mask of the image's size.`,
    );
  }
  return binaryMaskToLogits(mask.mask, original, mask.rule);
}
