/**
 * From the mask of one slice to the prompt for the next (docs/inference.md §9; micro_sam 1.8's
 * `segment_from_mask` with `_compute_box_from_mask`, `_process_box` and
 * `_compute_points_from_mask`).
 *
 * Projection modes:
 *   mask            box (extended, rounded) + the mask as mask prompt
 *   points          positive points at local maxima of the smoothed distance to the object's
 *                   outer boundary inside the object (min distance 3), negative points at its
 *                   maxima outside (min distance 5), in the crop of the extended box, border
 *                   pixels included (`peak_local_max(..., exclude_border=False)`)
 *   box             the extended box only
 *   points_and_mask those points + the mask prompt
 *   single_point    the one deepest inside point (argmax of the smoothed inner distance)
 *
 * Distances and smoothing follow micro_sam 1.8: bioimage_cpp's `distance_transform` (scipy's
 * rule, also when the mask fills its crop and there is no boundary) and `gaussian_smoothing`
 * (float32, radius 3, mirrored border) — geometry.ts's distanceTransform and gaussianSmoothing.
 * `release: "micro_sam-1.7"` smooths as 1.7 did (skimage's `gaussian`: float64, radius 4, nearest
 * border; geometry.ts's gaussianBlur) and builds mask prompts with 1.7's rule (mask-prompt.ts);
 * the rest of the projection did not change between the two.
 *
 * An empty mask has no box and no points (micro_sam's `segment_from_mask` skips them when
 * `mask.sum() == 0`): the modes with a mask prompt still give a prompt, the others none.
 */
import { boundingBox, distanceTransform, gaussianBlur, gaussianSmoothing, outerBoundary, peakLocalMax, argmax } from "../analysis/geometry.js";
import type { Box, MaskPromptRule, Point, Prompt } from "../sam/prompt.js";

/** Which micro_sam release's projection rules to follow (they differ in smoothing and mask prompts). */
export type MicroSamRelease = MaskPromptRule;

export type ProjectionMode = "mask" | "points" | "box" | "points_and_mask" | "single_point";
export const PROJECTION_MODES: readonly ProjectionMode[] = ["mask", "points", "box", "points_and_mask", "single_point"];

export const POSITIVE_MIN_DISTANCE = 3;
export const NEGATIVE_MIN_DISTANCE = 5;

/** numpy's `np.round`: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * micro_sam's `_process_box`: grow the box by `extension` per side (a fraction of its size
 * when < 1, pixels when >= 1, nothing when 0), clip it to the image and round the corners with
 * `np.round` (halves to even).
 */
export function extendBox(box: Box, extension: number, width: number, height: number): Box {
  if (!(extension >= 0)) throw new Error(`box extension must be >= 0, got ${extension}`);
  const ex = extension === 0 ? 0 : extension >= 1 ? extension : extension * (box.x1 - box.x0);
  const ey = extension === 0 ? 0 : extension >= 1 ? extension : extension * (box.y1 - box.y0);
  return {
    x0: roundHalfEven(Math.max(box.x0 - ex, 0)),
    y0: roundHalfEven(Math.max(box.y0 - ey, 0)),
    x1: roundHalfEven(Math.min(box.x1 + ex, width)),
    y1: roundHalfEven(Math.min(box.y1 + ey, height)),
  };
}

/** Smoothed distances to the object's outer boundary inside the crop of the extended (rounded) box. */
function smoothedDistances(mask: Uint8Array, width: number, crop: Box, release: MicroSamRelease) {
  const { x0: cx0, y0: cy0 } = crop;
  const cw = crop.x1 - cx0;
  const ch = crop.y1 - cy0;
  const cropped = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) cropped[y * cw + x] = mask[(y + cy0) * width + x + cx0] ? 1 : 0;
  const notBoundary = outerBoundary(cropped, cw, ch).map((v) => (v ? 0 : 1));
  const smooth =
    release === "micro_sam-1.7" ? gaussianBlur(distanceTransform(notBoundary, cw, ch), cw, ch) : gaussianSmoothing(Float32Array.from(distanceTransform(notBoundary, cw, ch)), cw, ch);
  return { cropped, smooth, cw, ch, cx0, cy0 };
}

/** Positive (and, unless `single`, negative) points from a mask, in image pixels. */
export function pointsFromMask(
  mask: Uint8Array,
  width: number,
  height: number,
  boxExtension: number,
  single: boolean,
  release: MicroSamRelease = "micro_sam-1.8",
): Point[] {
  const box = boundingBox(mask, width, height);
  if (!box) throw new Error("cannot derive points from an empty mask");
  const { cropped, smooth, cw, ch, cx0, cy0 } = smoothedDistances(mask, width, extendBox(box, boxExtension, width, height), release);
  const inner = smooth.map((v, p) => (cropped[p] ? v : 0));
  const deepest = argmax(inner, cw)!;
  const at = (p: { x: number; y: number }, positive: boolean): Point => ({ x: p.x + cx0, y: p.y + cy0, positive });
  if (single) return [at(deepest, true)];
  const outer = smooth.map((v, p) => (cropped[p] ? 0 : v));
  const positives = peakLocalMax(inner, cw, ch, POSITIVE_MIN_DISTANCE, { excludeBorder: false });
  const negatives = peakLocalMax(outer, cw, ch, NEGATIVE_MIN_DISTANCE, { excludeBorder: false });
  // An object always has an inner maximum above the crop's minimum, so `positives` is not
  // empty in practice; the deepest point stands in only for a constant crop.
  return [...(positives.length ? positives : [deepest]).map((p) => at(p, true)), ...negatives.map((p) => at(p, false))];
}

/**
 * The prompt projected from `mask` (width*height, nonzero inside) for the next slice, or
 * undefined when the mask is empty and the mode has no mask prompt (micro_sam would then call
 * the decoder with no prompt at all, which the ONNX contract cannot express).
 */
export function projectMask(
  mask: Uint8Array,
  width: number,
  height: number,
  mode: ProjectionMode,
  boxExtension: number,
  release: MicroSamRelease = "micro_sam-1.8",
): Prompt | undefined {
  if (!PROJECTION_MODES.includes(mode)) throw new Error(`unknown projection mode '${String(mode)}'; use one of ${PROJECTION_MODES.join(", ")}`);
  const box = boundingBox(mask, width, height);
  const maskPrompt = { kind: "binary" as const, width, height, mask, ...(release !== "micro_sam-1.8" ? { rule: release } : {}) };
  if (!box) return mode === "mask" || mode === "points_and_mask" ? { mask: maskPrompt } : undefined;
  switch (mode) {
    case "mask":
      return { box: extendBox(box, boxExtension, width, height), mask: maskPrompt };
    case "box":
      return { box: extendBox(box, boxExtension, width, height) };
    case "points":
      return { points: pointsFromMask(mask, width, height, boxExtension, false, release) };
    case "points_and_mask":
      return { points: pointsFromMask(mask, width, height, boxExtension, false, release), mask: maskPrompt };
    case "single_point":
      return { points: pointsFromMask(mask, width, height, boxExtension, true, release) };
  }
}
