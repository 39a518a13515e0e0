/**
 * From the mask of one slice to the prompt for the next (docs/inference.md §9; micro_sam's
 * `segment_from_mask` with `_compute_box_from_mask` and `_compute_points_from_mask`).
 *
 * Projection modes:
 *   mask            box (extended) + the mask as mask prompt
 *   points          positive points at local maxima of the smoothed inner distance transform
 *                   (min distance 3), negative points at maxima of the outer one (min distance
 *                   5), both inside the box grown by the box extension
 *   box             the extended box only
 *   points_and_mask those points + the mask prompt
 *   single_point    the one deepest inside point (argmax of the smoothed inner distance)
 *
 * Two deviations from micro_sam, for prompts that would otherwise be empty or undefined:
 *   - `points`/`points_and_mask`: when no inner maximum survives peak_local_max's border
 *     exclusion (objects narrower than 7 px), the deepest point is used as the positive point;
 *   - when the cropped mask fills its whole crop (no outer boundary inside it), distances are
 *     measured to the crop's edge instead of being infinite.
 */
import { boundingBox, distanceTransform, gaussianBlur, outerBoundary, peakLocalMax, argmax } from "../analysis/geometry.js";
import type { Box, Point, Prompt } from "../sam/prompt.js";

export type ProjectionMode = "mask" | "points" | "box" | "points_and_mask" | "single_point";
export const PROJECTION_MODES: readonly ProjectionMode[] = ["mask", "points", "box", "points_and_mask", "single_point"];

export const POSITIVE_MIN_DISTANCE = 3;
export const NEGATIVE_MIN_DISTANCE = 5;

/**
 * micro_sam's `_process_box`: grow the box by `extension` per side (a fraction of its size
 * when < 1, pixels when >= 1, nothing when 0) and clip it to the image.
 */
export function extendBox(box: Box, extension: number, width: number, height: number): Box {
  if (!(extension >= 0)) throw new Error(`box extension must be >= 0, got ${extension}`);
  const ex = extension === 0 ? 0 : extension >= 1 ? extension : extension * (box.x1 - box.x0);
  const ey = extension === 0 ? 0 : extension >= 1 ? extension : extension * (box.y1 - box.y0);
  return {
    x0: Math.max(box.x0 - ex, 0),
    y0: Math.max(box.y0 - ey, 0),
    x1: Math.min(box.x1 + ex, width),
    y1: Math.min(box.y1 + ey, height),
  };
}

/** Smoothed distances to the object's outer boundary inside the (integer) crop of the extended box. */
function smoothedDistances(mask: Uint8Array, width: number, height: number, crop: Box) {
  const cx0 = Math.trunc(crop.x0);
  const cy0 = Math.trunc(crop.y0);
  const cw = Math.trunc(crop.x1) - cx0;
  const ch = Math.trunc(crop.y1) - cy0;
  const cropped = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) cropped[y * cw + x] = mask[(y + cy0) * width + x + cx0] ? 1 : 0;
  const boundary = outerBoundary(cropped, cw, ch);
  const hasBoundary = boundary.some((v) => v !== 0);
  const notBoundary = boundary.map((v) => (v ? 0 : 1));
  const dist = distanceTransform(notBoundary, cw, ch, { outsideIsBackground: !hasBoundary });
  const smooth = gaussianBlur(dist, cw, ch);
  return { cropped, smooth, cw, ch, cx0, cy0 };
}

/** Positive (and, unless `single`, negative) points from a mask, in image pixels. */
export function pointsFromMask(mask: Uint8Array, width: number, height: number, boxExtension: number, single: boolean): Point[] {
  const box = boundingBox(mask, width, height);
  if (!box) throw new Error("cannot derive points from an empty mask");
  const { cropped, smooth, cw, ch, cx0, cy0 } = smoothedDistances(mask, width, height, extendBox(box, boxExtension, width, height));
  const inner = smooth.map((v, p) => (cropped[p] ? v : 0));
  const deepest = argmax(inner, cw)!;
  const at = (p: { x: number; y: number }, positive: boolean): Point => ({ x: p.x + cx0, y: p.y + cy0, positive });
  if (single) return [at(deepest, true)];
  const outer = smooth.map((v, p) => (cropped[p] ? 0 : v));
  const positives = peakLocalMax(inner, cw, ch, POSITIVE_MIN_DISTANCE);
  const negatives = peakLocalMax(outer, cw, ch, NEGATIVE_MIN_DISTANCE);
  return [...(positives.length ? positives : [deepest]).map((p) => at(p, true)), ...negatives.map((p) => at(p, false))];
}

/** The prompt projected from `mask` (width*height, nonzero inside) for the next slice. */
export function projectMask(mask: Uint8Array, width: number, height: number, mode: ProjectionMode, boxExtension: number): Prompt {
  const box = boundingBox(mask, width, height);
  if (!box) throw new Error("cannot project an empty mask");
  const maskPrompt = { kind: "binary" as const, width, height, mask };
  switch (mode) {
    case "mask":
      return { box: extendBox(box, boxExtension, width, height), mask: maskPrompt };
    case "box":
      return { box: extendBox(box, boxExtension, width, height) };
    case "points":
      return { points: pointsFromMask(mask, width, height, boxExtension, false) };
    case "points_and_mask":
      return { points: pointsFromMask(mask, width, height, boxExtension, false), mask: maskPrompt };
    case "single_point":
      return { points: pointsFromMask(mask, width, height, boxExtension, true) };
    default:
      throw new Error(`unknown projection mode '${String(mode)}'; use one of ${PROJECTION_MODES.join(", ")}`);
  }
}
