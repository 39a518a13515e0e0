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
}
