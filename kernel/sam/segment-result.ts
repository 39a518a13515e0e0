/** What one segment() call returns. All images are row-major at the original image size. */
export interface SegmentResult {
  readonly width: number;
  readonly height: number;
  /** width*height, 1 where logit > 0 (strict, as SAM), else 0. */
  readonly mask: Uint8Array;
  /** width*height logits of the chosen mask (threshold not applied). */
  readonly logits: Float32Array;
  /** Predicted IoU of the chosen mask. */
  readonly iou: number;
  /** Index of the chosen mask token (0 = single-mask output, 1..3 = multimask outputs). */
  readonly token: number;
  /** Predicted IoU of every token the decoder returned, in token order. */
  readonly ious: readonly number[];
  /** 256*256 logits of the chosen token in the padded 256 frame: the next call's mask prompt. */
  readonly lowResLogits: Float32Array;
  /**
   * Every mask the decoder returned for this prompt, in token order (4 for the official
   * SamOnnxModel export, 1 for a single-mask decoder), from the same decoder run as the chosen
   * one. SAM's decoder always answers with all of its tokens; the choice rule
   * (docs/inference.md §6) only decides which one becomes `mask`. Showing them teaches what
   * the rule threw away: "one click, three answers". The chosen candidate's `mask` and
   * `lowResLogits` are the same arrays as the result's own.
   */
  readonly candidates: readonly MaskCandidate[];
}

/** One mask token's answer. */
export interface MaskCandidate {
  /** 0 = the single-mask token (trained for unambiguous prompts), 1..3 = the multimask tokens. */
  readonly token: number;
  /** width*height, 1 where this token's logit > 0. */
  readonly mask: Uint8Array;
  /** The decoder's own estimate of this mask's IoU with the object meant (not a measurement). */
  readonly iou: number;
  /** True for the token the choice rule picked (the one in SegmentResult.mask). */
  readonly chosen: boolean;
  /** 256*256 low-res logits of this token: feed it as a mask prompt to continue from this candidate. */
  readonly lowResLogits: Float32Array;
}
