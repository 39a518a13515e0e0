/**
 * Prompt types. Coordinates are (x, y) = (column, row) in pixels of the ORIGINAL image;
 * named fields instead of tuples, because micro_sam's Python API uses (row, col) and a
 * tuple order is too easy to get wrong across the two.
 */

/** A click: positive (foreground) or negative (background). */
export interface Point {
  readonly x: number;
  readonly y: number;
  readonly positive: boolean;
}

/** A box by its corners, x0 <= x1, y0 <= y1, in original pixels. */
export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** The 256x256 logits of an earlier call (`low_res_masks`), fed back as `mask_input`. */
export interface LogitsMaskPrompt {
  readonly kind: "logits";
  /** 256*256 float32, row-major, in the padded 256 frame. */
  readonly logits: Float32Array;
}

/**
 * How a binary mask becomes logits (docs/inference.md §5): micro_sam 1.8's `_compute_logits_from_mask`
 * (resize the binary mask, re-threshold, pad with the negative logit; default) or 1.7's (resize
 * the +-6.9 logits themselves, pad with 0), which the paper's experiments ran with.
 */
export type MaskPromptRule = "micro_sam-1.8" | "micro_sam-1.7";

/** A binary mask at the original image size, converted to logits as in docs/inference.md §5. */
export interface BinaryMaskPrompt {
  readonly kind: "binary";
  readonly width: number;
  readonly height: number;
  /** width*height, nonzero = foreground. */
  readonly mask: Uint8Array;
  /** Default "micro_sam-1.8". */
  readonly rule?: MaskPromptRule;
}

export type MaskPrompt = LogitsMaskPrompt | BinaryMaskPrompt;

export interface Prompt {
  readonly points?: readonly Point[];
  readonly box?: Box;
  readonly mask?: MaskPrompt;
}
