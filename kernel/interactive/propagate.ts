/**
 * Propagate an object's segmentation through a stack of slices: micro_sam 1.8's
 * `segment_mask_in_volume` with the stop annotations of its napari tool
 * (`segment_slices_with_prompts`), docs/inference.md §9.
 *
 * From the annotated slices: down from the lowest and up from the highest, each new slice
 * prompted with the previous slice's mask projected as a prompt (propagate-prompts.ts),
 * multimask off. A direction stops BEFORE writing a slice whose mask has IoU < threshold with
 * the previous one (micro_sam's `compute_iou`: intersection / (union + 1e-7), so an IoU equal to
 * the threshold's exact fraction still passes but an empty mask never does unless the threshold
 * is 0), or at the volume edge. At threshold 0 an empty mask is written like any other; the next
 * slice is then prompted with the empty mask (modes with a mask prompt) or, since a point or box
 * mode has no prompt left (micro_sam calls the decoder unprompted), the direction ends there.
 *
 * Between two consecutive annotated slices the gap is filled from both ends toward the middle
 * without the IoU test (micro_sam's `segment_range` without a threshold). A one-slice gap, and
 * the middle slice of an even gap, is prompted with the union of its two neighbours' masks and
 * with micro_sam's `segment_from_mask` defaults: `single_point` falls back to all sampled points
 * (`use_single_point` is not passed there).
 *
 * Stop annotations ("the object has ended here") follow `segment_slices_with_prompts`: the
 * lowest stop below the lowest annotation and the highest stop above the highest annotation end
 * the object (micro_sam's stop_lower / stop_upper); the slices between such a stop and the
 * annotation are filled from the annotation without the IoU test; every other stop (between
 * annotations, or between an outer stop and the annotations) is ignored and its slice segmented
 * normally. `stopBelow` / `stopAbove` forbid going below the lowest / above the highest
 * annotation (a stop right next to it).
 * Defaults are micro_sam's napari tool: single_point, IoU threshold 0.5, box extension 0.05.
 */
import { maskCounts } from "../analysis/metrics.js";
import type { Embedding } from "../sam/embedding.js";
import type { Prompt } from "../sam/prompt.js";
import type { SegmentResult } from "../sam/segment-result.js";
import type { PixelArray } from "../io/image.js";
import { writeSliceOf, type ViewMapping } from "../io/volume-view.js";
import type { Vec3 } from "../io/volume.js";
import { projectMask, PROJECTION_MODES, type MicroSamRelease, type ProjectionMode } from "./propagate-prompts.js";

/** micro_sam's `compute_iou`: overlap / (union + 1e-7). */
export function microSamIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const c = maskCounts(a, b);
  return c.intersection / (c.predicted + c.target - c.intersection + 1e-7);
}

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
  /**
   * micro_sam 1.8's projection rules (default) or 1.7's, the release of the paper's experiments
   * (skimage smoothing, mask prompts resized as logits); segment_mask_in_volume itself is the same.
   */
  readonly release?: MicroSamRelease;
  /** Stop annotations (slice indices): only the outermost below / above the annotations count (see the module comment). */
  readonly stops?: readonly number[];
  /** No propagation below the lowest annotation (a stop right under it). */
  readonly stopBelow?: boolean;
  /** No propagation above the highest annotation (a stop right over it). */
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
  // micro_sam's gap middles call `segment_from_mask` without `use_single_point`
  const unionProjection: ProjectionMode = projection === "single_point" ? "points" : projection;

  /** Segment slice z from `prev`; undefined when an empty `prev` leaves the mode no prompt. */
  const segmentOne = async (z: number, from: number, prev: Uint8Array, kind: SliceOutcome["kind"], mode: ProjectionMode = projection) => {
    const prompt = projectMask(prev, width, height, mode, extension, options.release);
    if (!prompt) return undefined;
    const r = await segmenter.segment(await stack.get(z), prompt, { multimask: "off" });
    return { mask: r.mask, iou: microSamIou(r.mask, prev), predictedIou: r.iou, area: area(r.mask), from, kind };
  };
  const record = (z: number, s: NonNullable<Awaited<ReturnType<typeof segmentOne>>>, written: boolean) => {
    const outcome: SliceOutcome = { z, from: s.from, kind: s.kind, written, area: s.area, iouWithPrevious: s.iou, predictedIou: s.predictedIou };
    slices.push(outcome);
    options.onSlice?.(outcome);
  };

  /**
   * micro_sam's `segment_range`: from `start` one slice at a time toward `end` (exclusive), with
   * the IoU test when `tested`. Returns the last slice written and why it stopped.
   */
  const walk = async (start: number, step: 1 | -1, end: number, endReason: StopReason, tested: boolean): Promise<DirectionResult> => {
    let prev = masks.get(start)!;
    let last = start;
    for (let z = start + step; z !== end; z += step) {
      if (options.signal?.aborted) return { lastWritten: last, reason: "aborted", stoppedAt: z };
      const s = await segmentOne(z, last, prev, tested ? "propagated" : "filled");
      if (!s) return { lastWritten: last, reason: "empty", stoppedAt: z };
      const refused = tested && s.iou < threshold;
      record(z, s, !refused);
      if (refused) return { lastWritten: last, reason: s.area === 0 ? "empty" : "iou", stoppedAt: z };
      masks.set(z, s.mask);
      prev = s.mask;
      last = z;
    }
    return { lastWritten: last, reason: endReason, stoppedAt: end };
  };
  const lowest = annotated[0]!;
  const highest = annotated[annotated.length - 1]!;
  // `segment_slices_with_prompts`: only the outermost stops count; the others are ignored
  const stopUnder = options.stopBelow ? lowest - 1 : Math.min(lowest, ...[...stops].filter((z) => z < lowest));
  const stopOver = options.stopAbove ? highest + 1 : Math.max(highest, ...[...stops].filter((z) => z > highest));
  const hasStopUnder = stopUnder < lowest;
  const hasStopOver = stopOver > highest;
  const flagged = (result: DirectionResult): DirectionResult =>
    result.reason === "stop-annotation" && ((result.stoppedAt === lowest - 1 && options.stopBelow) || (result.stoppedAt === highest + 1 && options.stopAbove))
      ? { ...result, reason: "stop-flag" }
      : result;
  const below = hasStopUnder ? flagged(await walk(lowest, -1, stopUnder, "stop-annotation", false)) : await walk(lowest, -1, -1, "edge", true);
  const above = hasStopOver ? flagged(await walk(highest, 1, stopOver, "stop-annotation", false)) : await walk(highest, 1, depth, "edge", true);

  const gaps: { from: number; to: number; filled: number; emptyAt?: number }[] = [];
  for (let i = 0; i + 1 < annotated.length; i++) {
    const a = annotated[i]!;
    const b = annotated[i + 1]!;
    if (b - a < 2) continue;
    if (options.signal?.aborted) break;
    const before = new Set(masks.keys());
    let emptyAt: number | undefined;
    /** The slice between two known masks, prompted with their union. */
    const middle = async (z: number) => {
      const hi = masks.get(z + 1)!;
      const union = Uint8Array.from(masks.get(z - 1)!, (v, p) => (v || hi[p] ? 1 : 0));
      const s = await segmentOne(z, z - 1, union, "filled", unionProjection);
      if (!s) {
        emptyAt ??= z;
        return;
      }
      record(z, s, true);
      masks.set(z, s.mask);
      if (s.area === 0) emptyAt ??= z;
    };
    if (b - a === 2) await middle(a + 1);
    else {
      const mid = Math.floor((a + b) / 2);
      const even = (b - a) % 2 === 0;
      const up = await walk(a, 1, even ? mid : mid + 1, "edge", false);
      const down = await walk(b, -1, mid, "edge", false);
      for (const d of [up, down]) if (d.reason === "empty") emptyAt ??= d.stoppedAt;
      if (even && !options.signal?.aborted && masks.has(mid - 1) && masks.has(mid + 1)) await middle(mid);
    }
    const filled = [...masks.keys()].filter((z) => !before.has(z)).length;
    for (let z = a + 1; z < b && emptyAt === undefined; z++) if (masks.has(z) && area(masks.get(z)!) === 0) emptyAt = z;
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
