/**
 * Propagate an object's segmentation through a stack of slices (micro_sam's
 * `segment_mask_in_volume`, docs/inference.md §9).
 *
 * From the annotated slices: down from the lowest and up from the highest, each new slice
 * prompted with the previous slice's mask projected as a prompt (propagate-prompts.ts),
 * multimask off. A direction stops BEFORE writing a slice whose mask has IoU < threshold with
 * the previous one, at the volume edge, before a stop annotation, or when the mask comes back
 * empty. Between two consecutive annotated slices the gap is filled from both ends toward the
 * middle without the IoU test (a single slice in between is prompted with the union of both
 * masks, as micro_sam does).
 *
 * Stop annotations (the user's "the object has ended here") are slice indices that are never
 * segmented and that no propagation crosses; `stopBelow` / `stopAbove` (micro_sam's
 * stop_lower / stop_upper) forbid going below the lowest / above the highest annotation.
 * Defaults are micro_sam's napari tool: single_point, IoU threshold 0.5, box extension 0.05.
 */
import { iouFromCounts, maskCounts } from "../analysis/metrics.js";
import type { Embedding } from "../sam/embedding.js";
import type { Prompt } from "../sam/prompt.js";
import type { SegmentResult } from "../sam/segment-result.js";
import type { PixelArray } from "../io/image.js";
import { writeSliceOf, type ViewMapping } from "../io/volume-view.js";
import type { Vec3 } from "../io/volume.js";
import { projectMask, PROJECTION_MODES, type ProjectionMode } from "./propagate-prompts.js";

/** The slices to segment: their count and size, and their embeddings (e.g. VolumeEmbeddings). */
export interface SliceStack {
  readonly depth: number;
  readonly width: number;
  readonly height: number;
  get(z: number): Promise<Embedding>;
}

export interface Segmenter {
  segment(embedding: Embedding, prompt: Prompt, options?: { multimask?: "auto" | "on" | "off" }): Promise<SegmentResult>;
}

export interface SliceAnnotation {
  readonly z: number;
  /** width*height, nonzero = object. */
  readonly mask: Uint8Array;
}

export interface PropagateOptions {
  readonly projection?: ProjectionMode;
  /** Stop when IoU(previous, new) < this (0 disables the test). Default 0.5. */
  readonly iouThreshold?: number;
  /** Box growth per side: fraction of the box size when < 1, pixels when >= 1. Default 0.05. */
  readonly boxExtension?: number;
  readonly stops?: readonly number[];
  readonly stopBelow?: boolean;
  readonly stopAbove?: boolean;
  readonly signal?: AbortSignal;
  /** Called after each slice is decided (written or refused). */
  readonly onSlice?: (s: SliceOutcome) => void;
}

export type StopReason = "iou" | "edge" | "stop-annotation" | "stop-flag" | "empty" | "aborted";

export interface SliceOutcome {
  readonly z: number;
  /** Slice the prompt came from. */
  readonly from: number;
  readonly kind: "propagated" | "filled";
  /** False when the slice was refused (IoU test, empty mask). */
  readonly written: boolean;
  readonly area: number;
  readonly iouWithPrevious: number;
  /** The decoder's predicted IoU. */
  readonly predictedIou: number;
}

export interface DirectionResult {
  /** Last slice written in this direction (the annotation itself when none was). */
  readonly lastWritten: number;
  readonly reason: StopReason;
  /** The slice at which it stopped (refused, the stop annotation, or -1 / depth at the edge). */
  readonly stoppedAt: number;
}

export interface PropagationResult {
  /** Mask per slice: the annotations and every written slice. */
  readonly masks: Map<number, Uint8Array>;
  readonly slices: readonly SliceOutcome[];
  readonly below: DirectionResult;
  readonly above: DirectionResult;
  readonly gaps: readonly { readonly from: number; readonly to: number; readonly filled: number; readonly emptyAt?: number }[];
}

export const PROPAGATION_DEFAULTS = { projection: "single_point", iouThreshold: 0.5, boxExtension: 0.05 } as const;

function area(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

export async function propagate(
  stack: SliceStack,
  segmenter: Segmenter,
  annotations: readonly SliceAnnotation[],
  options: PropagateOptions = {},
): Promise<PropagationResult> {
  const projection = options.projection ?? PROPAGATION_DEFAULTS.projection;
  if (!PROJECTION_MODES.includes(projection)) throw new Error(`unknown projection '${projection}'; use one of ${PROJECTION_MODES.join(", ")}`);
  const threshold = options.iouThreshold ?? PROPAGATION_DEFAULTS.iouThreshold;
  const extension = options.boxExtension ?? PROPAGATION_DEFAULTS.boxExtension;
  const { width, height, depth } = stack;
  if (annotations.length === 0) throw new Error("propagation needs at least one annotated slice");
  const stops = new Set(options.stops ?? []);
  const masks = new Map<number, Uint8Array>();
  for (const a of annotations) {
    if (!Number.isInteger(a.z) || a.z < 0 || a.z >= depth) throw new Error(`annotated slice ${a.z} is outside 0..${depth - 1}`);
    if (a.mask.length !== width * height) throw new Error(`the mask of slice ${a.z} has ${a.mask.length} pixels, the slices are ${width}x${height}`);
    if (masks.has(a.z)) throw new Error(`slice ${a.z} is annotated twice`);
    if (stops.has(a.z)) throw new Error(`slice ${a.z} is both annotated and a stop annotation`);
    if (area(a.mask) === 0) throw new Error(`the annotation of slice ${a.z} is empty; mark the slice as a stop annotation instead`);
    masks.set(a.z, Uint8Array.from(a.mask, (v) => (v ? 1 : 0)));
  }
  const annotated = [...masks.keys()].sort((a, b) => a - b);
  const slices: SliceOutcome[] = [];

  const segmentOne = async (z: number, from: number, prev: Uint8Array, kind: SliceOutcome["kind"]) => {
    const embedding = await stack.get(z);
    const prompt = projectMask(prev, width, height, projection, extension);
    const r = await segmenter.segment(embedding, prompt, { multimask: "off" });
    const iou = iouFromCounts(maskCounts(r.mask, prev));
    return { mask: r.mask, iou, predictedIou: r.iou, area: area(r.mask), from, kind };
  };

  /** Propagate from `start` one slice at a time toward `end` (exclusive), with the IoU test. */
  const walk = async (start: number, step: 1 | -1, end: number, endReason: StopReason): Promise<DirectionResult> => {
    let prev = masks.get(start)!;
    let last = start;
    for (let z = start + step; z !== end; z += step) {
      if (options.signal?.aborted) return { lastWritten: last, reason: "aborted", stoppedAt: z };
      const s = await segmentOne(z, last, prev, "propagated");
      const refused = s.area === 0 || (threshold > 0 && s.iou < threshold);
      const outcome: SliceOutcome = { z, from: last, kind: "propagated", written: !refused, area: s.area, iouWithPrevious: s.iou, predictedIou: s.predictedIou };
      slices.push(outcome);
      options.onSlice?.(outcome);
      if (refused) return { lastWritten: last, reason: s.area === 0 ? "empty" : "iou", stoppedAt: z };
      masks.set(z, s.mask);
      prev = s.mask;
      last = z;
    }
    return { lastWritten: last, reason: endReason, stoppedAt: end };
  };
  const lowest = annotated[0]!;
  const highest = annotated[annotated.length - 1]!;
  const stopUnder = Math.max(-1, ...[...stops].filter((z) => z < lowest));
  const stopOver = Math.min(depth, ...[...stops].filter((z) => z > highest));
  const below = options.stopBelow
    ? { lastWritten: lowest, reason: "stop-flag" as const, stoppedAt: lowest - 1 }
    : await walk(lowest, -1, stopUnder, stopUnder === -1 ? "edge" : "stop-annotation");
  const above = options.stopAbove
    ? { lastWritten: highest, reason: "stop-flag" as const, stoppedAt: highest + 1 }
    : await walk(highest, 1, stopOver, stopOver === depth ? "edge" : "stop-annotation");

  const gaps: { from: number; to: number; filled: number; emptyAt?: number }[] = [];
  for (let i = 0; i + 1 < annotated.length; i++) {
    const a = annotated[i]!;
    const b = annotated[i + 1]!;
    if (b - a < 2) continue;
    const stopInside = [...stops].filter((s) => s > a && s < b).sort((x, y) => x - y);
    if (stopInside.length > 0) {
      // The object ends between them: propagate toward the stop from both sides, with the IoU test.
      await walk(a, 1, stopInside[0]!, "stop-annotation");
      await walk(b, -1, stopInside[stopInside.length - 1]!, "stop-annotation");
      continue;
    }
    let filled = 0;
    let emptyAt: number | undefined;
    if (b - a === 2) {
      if (options.signal?.aborted) break;
      const z = a + 1;
      const union = Uint8Array.from(masks.get(a)!, (v, p) => (v || masks.get(b)![p] ? 1 : 0));
      const s = await segmentOne(z, a, union, "filled");
      const outcome: SliceOutcome = { z, from: a, kind: "filled", written: s.area > 0, area: s.area, iouWithPrevious: s.iou, predictedIou: s.predictedIou };
      slices.push(outcome);
      options.onSlice?.(outcome);
      if (s.area > 0) {
        masks.set(z, s.mask);
        filled++;
      } else emptyAt = z;
    } else {
      const mid = Math.floor(a + (b - a) / 2);
      for (const [start, step, end] of [
        [a, 1, mid],
        [b, -1, mid + 1],
      ] as const) {
        let prev = masks.get(start)!;
        for (let z = start + step; step > 0 ? z <= end : z >= end; z += step) {
          if (options.signal?.aborted) break;
          const s = await segmentOne(z, z - step, prev, "filled");
          const outcome: SliceOutcome = { z, from: z - step, kind: "filled", written: s.area > 0, area: s.area, iouWithPrevious: s.iou, predictedIou: s.predictedIou };
          slices.push(outcome);
          options.onSlice?.(outcome);
          if (s.area === 0) {
            emptyAt = z;
            break;
          }
          masks.set(z, s.mask);
          prev = s.mask;
          filled++;
        }
      }
    }
    gaps.push({ from: a, to: b, filled, ...(emptyAt !== undefined ? { emptyAt } : {}) });
  }

  return { masks, slices, below, above, gaps };
}

/**
 * Paint a propagation into a voxel label map (e.g. for writeLabelMap): `value` where the
 * masks are set, other voxels untouched. `mapping` is the view the stack was taken from.
 */
export function paintLabels(result: Pick<PropagationResult, "masks">, labels: PixelArray, dims: Vec3, mapping: ViewMapping, value: number): void {
  for (const [z, mask] of result.masks) {
    writeSliceOf(labels, dims, mapping, z, new Uint8Array(mask.length).fill(value), mask);
  }
}
