/**
 * How raw pixel values become the uint8 RGB image the SAM encoder was trained on.
 *
 * Default: `minmax`, the behaviour of micro_sam >= 1.7, which is the tool MedicoSAM is
 * distributed with; its masks are the ones our users compare against.
 */
export type IntensitySpec =
  /** uint8 passes through unchanged (SamPredictor.set_image); other types are refused. */
  | { readonly mode: "none" }
  /** micro_sam >= 1.7: per channel (per slice for volumes), (x-min)/(max-min+1e-7)*255, truncated. */
  | { readonly mode: "minmax" }
  /** micro_sam < 1.7 (the paper's runs): only non-uint8 input, one global min/max, no epsilon. */
  | { readonly mode: "minmax-legacy" }
  /** MedicoSAM's training normalization: percentiles (low, high), clipped, x255. */
  | { readonly mode: "percentile"; readonly low: number; readonly high: number }
  /** CT/MR display window: [level - width/2, level + width/2] mapped to 0..255, clipped. */
  | { readonly mode: "window"; readonly level: number; readonly width: number };

export const DEFAULT_INTENSITY: IntensitySpec = { mode: "minmax" };
