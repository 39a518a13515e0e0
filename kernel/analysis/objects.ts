/**
 * The objects of a label map, as the paper's protocol prompts them (docs/inference.md §8): for each
 * class id, the connected components of `labels == id`, dropping those under `minSize` pixels
 * (medico_sam's `run_inference_with_iterative_prompting_per_semantic_class`: `label` then
 * `size_filter(min_size=20)`); each with its tight box (exclusive max) and its start point.
 *
 * Connectivity is 8 by default, `skimage.measure.label`'s default for 2D. The start point
 * (`center`) follows micro_sam 1.8's `get_centers_and_bounding_boxes(mode="v")` by default: the
 * image is padded by one pixel, the object's inner boundary (`find_boundaries(mode="inner")`:
 * its pixels with a 4-neighbour outside it, the padding included, so the image border counts as
 * boundary) gets distance 0, and the centre is the object pixel farthest from it (argmax, first
 * in row-major order). `center: "deepest"` is ours from before: the argmax of
 * `distance_transform_edt` of the object, for which the image border is not background unless
 * `centerOutsideIsBackground`. micro_sam 1.7 used vigra's `eccentricityCenters`, which neither
 * reproduces.
 */
import { argmax, connectedComponents, deepestPoint, distanceTransform } from "./geometry.js";
import type { Box } from "../sam/prompt.js";

export interface LabelMap {
  readonly width: number;
  readonly height: number;
  /** width*height class ids, 0 = background. */
  readonly data: ArrayLike<number>;
}

/** One object to prompt: a connected component of one class of a label map. */
export interface ProtocolObject {
  readonly classId: number;
  /** 0-based index of the component within its class (order of first pixel, row-major). */
  readonly component: number;
  readonly width: number;
  readonly height: number;
  /** width*height, 1 inside the object. */
  readonly mask: Uint8Array;
  readonly area: number;
  /** Tight bounding box with exclusive max (x1 = last column + 1), as skimage's regionprops. */
  readonly box: Box;
  /** The start point (see CenterRule; first in row-major order on ties). */
  readonly center: { readonly x: number; readonly y: number };
}

export interface ObjectOptions {
  /** Components with fewer pixels are dropped (default 20, the paper's). */
  readonly minSize?: number;
  /** Class ids to use (default: every nonzero id present). */
  readonly classes?: readonly number[];
  readonly connectivity?: 4 | 8;
  /** Start point rule: micro_sam 1.8's (default) or the deepest point of the object's EDT (ours before). */
  readonly center?: CenterRule;
  /** With `center: "deepest"`: the image border counts as background. */
  readonly centerOutsideIsBackground?: boolean;
}

export type CenterRule = "micro_sam" | "deepest";

/**
 * micro_sam 1.8's `get_centers_and_bounding_boxes(mode="v")` for one object: the object pixel
 * farthest from its inner boundary in the image padded by one pixel. Computed in the box grown by
 * one pixel: every boundary pixel lies in the box, so the distances there are exact.
 */
export function innerBoundaryCenter(mask: Uint8Array, width: number, height: number, box: Box): { x: number; y: number } {
  const x0 = box.x0 - 1;
  const y0 = box.y0 - 1;
  const w = box.x1 - box.x0 + 2;
  const h = box.y1 - box.y0 + 2;
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  const notBoundary = new Uint8Array(w * h).fill(1);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const gx = x + x0;
      const gy = y + y0;
      if (inside(gx, gy) && (!inside(gx - 1, gy) || !inside(gx + 1, gy) || !inside(gx, gy - 1) || !inside(gx, gy + 1))) notBoundary[y * w + x] = 0;
    }
  }
  const d = distanceTransform(notBoundary, w, h);
  const masked = new Float64Array(w * h).fill(-1);
  for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) if (inside(x + x0, y + y0)) masked[y * w + x] = d[y * w + x]!;
  const p = argmax(masked, w)!;
  return { x: p.x + x0, y: p.y + y0 };
}

export interface ExtractedObjects {
  readonly objects: ProtocolObject[];
  /** Components dropped for their size, so a report can say what was left out. */
  readonly dropped: { readonly classId: number; readonly area: number }[];
}

/**
 * deepestPoint() on the box grown by one pixel (clipped to the image) instead of the whole
 * image: the same answer, because every pixel of that ring is background and at least as close
 * to any object pixel as background farther out (clamping a point's coordinates to the ring
 * shortens both components of its offset); where the box touches the image edge, the crop edge
 * is the image edge, so the border convention carries over. Row-major order, and so the tie
 * rule, is the same within the crop.
 */
function deepestPointInBox(
  mask: Uint8Array,
  width: number,
  height: number,
  box: { x0: number; y0: number; x1: number; y1: number },
  outsideIsBackground: boolean,
): { x: number; y: number } {
  const x0 = Math.max(0, box.x0 - 1);
  const y0 = Math.max(0, box.y0 - 1);
  const x1 = Math.min(width, box.x1 + 1);
  const y1 = Math.min(height, box.y1 + 1);
  const w = x1 - x0;
  const h = y1 - y0;
  const crop = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) crop.set(mask.subarray((y + y0) * width + x0, (y + y0) * width + x1), y * w);
  const p = deepestPoint(crop, w, h, { outsideIsBackground })!;
  return { x: p.x + x0, y: p.y + y0 };
}

export function extractObjects(labels: LabelMap, options: ObjectOptions = {}): ExtractedObjects {
  const { width, height, data } = labels;
  if (data.length !== width * height) {
    throw new Error(`label map has ${data.length} values for ${width}x${height} = ${width * height} pixels.`);
  }
  const minSize = options.minSize ?? 20;
  if (!(Number.isInteger(minSize) && minSize >= 1)) throw new Error(`minSize must be a positive integer, got ${minSize}.`);
  let classes = options.classes;
  if (!classes) {
    const present = new Set<number>();
    for (let i = 0; i < data.length; i++) if (data[i] !== 0) present.add(data[i]!);
    classes = [...present].sort((a, b) => a - b);
  }
  const objects: ProtocolObject[] = [];
  const dropped: { classId: number; area: number }[] = [];
  const n = width * height;
  for (const classId of classes) {
    if (classId === 0) throw new Error("class 0 is the background and cannot be an object class.");
    const classMask = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (data[i] === classId) classMask[i] = 1;
    const { labels: comp, components } = connectedComponents(classMask, width, height, options.connectivity ?? 8);
    let index = 0;
    for (const c of components) {
      if (c.area < minSize) {
        dropped.push({ classId, area: c.area });
        continue;
      }
      const mask = new Uint8Array(n);
      for (let y = c.box.y0; y < c.box.y1; y++) {
        for (let x = c.box.x0; x < c.box.x1; x++) if (comp[y * width + x] === c.label) mask[y * width + x] = 1;
      }
      const center =
        (options.center ?? "micro_sam") === "micro_sam"
          ? innerBoundaryCenter(mask, width, height, c.box)
          : deepestPointInBox(mask, width, height, c.box, options.centerOutsideIsBackground ?? false);
      objects.push({ classId, component: index++, width, height, mask, area: c.area, box: c.box, center });
    }
  }
  return { objects, dropped };
}
