/**
 * The generator's options: segment_anything's `SamAutomaticMaskGenerator` arguments with the
 * same meaning and defaults, in camelCase (`points_per_side` -> `pointsPerSide`, ...). Only
 * camelCase is accepted: one spelling per option keeps typos from passing silently. The CLI
 * spells them as SAM's names in kebab case (`--points-per-side`).
 */
import { availableParallelism } from "node:os";
import type { IntensitySpec } from "../intensity/spec.js";
import type { GridPoint } from "./grid.js";

export interface AutomaticOptions {
  /** `points_per_side` (32): a pointsPerSide x pointsPerSide grid; null when `pointGrids` is given. */
  readonly pointsPerSide?: number | null;
  /** `point_grids`: explicit grids in [0,1]^2, one per crop layer (exclusive with pointsPerSide). */
  readonly pointGrids?: readonly (readonly GridPoint[])[];
  /** `points_per_batch` (64): points decoded between two filtering steps (and progress/abort checks). */
  readonly pointsPerBatch?: number;
  /** `pred_iou_thresh` (0.88): keep masks whose predicted IoU is above it (0 = no filter). */
  readonly predIouThresh?: number;
  /** `stability_score_thresh` (0.95): keep masks whose stability score is at least it (0 = no filter). */
  readonly stabilityScoreThresh?: number;
  /** `stability_score_offset` (1.0): logit offset of the two thresholds of the stability score. */
  readonly stabilityScoreOffset?: number;
  /** `box_nms_thresh` (0.7): box IoU above which the mask with the lower predicted IoU goes, within a crop. */
  readonly boxNmsThresh?: number;
  /** `crop_n_layers` (0): layers of crops; layer i has (2^i)^2 crops, each embedded anew. */
  readonly cropNLayers?: number;
  /** `crop_nms_thresh` (0.7): box IoU for removing duplicates between crops (smaller crops win). */
  readonly cropNmsThresh?: number;
  /** `crop_overlap_ratio` (512/1500): overlap of neighbouring crops in layer 1, as a fraction of the short side. */
  readonly cropOverlapRatio?: number;
  /** `crop_n_points_downscale_factor` (1): layer i uses pointsPerSide / factor^i points per side. */
  readonly cropNPointsDownscaleFactor?: number;
  /** `min_mask_region_area` (0 = off): holes and islands smaller than this many pixels are removed. */
  readonly minMaskRegionArea?: number;
  /**
   * Not SAM's: worker threads that decode the grid points, each with its own one-thread decoder
   * session (0: one session on the calling thread). Default 2 on a machine with 2 or more cores
   * (measured on 2 cores: bench/automatic.ts, docs/performance.md). The records are the same.
   */
  readonly decoderWorkers?: number;
  /** Intensity mode when an image (not an embedding) is given; default: the model's. */
  readonly intensity?: IntensitySpec;
  /** Stops the run between two decoder calls (and a running encoder); the promise rejects. */
  readonly signal?: AbortSignal;
  /** Called after each batch of points: points decoded so far, of how many, over all crops. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ResolvedOptions {
  readonly pointGrids: readonly (readonly GridPoint[])[];
  readonly pointsPerBatch: number;
  readonly predIouThresh: number;
  readonly stabilityScoreThresh: number;
  readonly stabilityScoreOffset: number;
  readonly boxNmsThresh: number;
  readonly cropNLayers: number;
  readonly cropNmsThresh: number;
  readonly cropOverlapRatio: number;
  readonly cropNPointsDownscaleFactor: number;
  readonly minMaskRegionArea: number;
  readonly decoderWorkers: number;
}

/** segment_anything's `SamAutomaticMaskGenerator.__init__` defaults. */
export const SAM_DEFAULTS = {
  pointsPerSide: 32,
  pointsPerBatch: 64,
  predIouThresh: 0.88,
  stabilityScoreThresh: 0.95,
  stabilityScoreOffset: 1.0,
  boxNmsThresh: 0.7,
  cropNLayers: 0,
  cropNmsThresh: 0.7,
  cropOverlapRatio: 512 / 1500,
  cropNPointsDownscaleFactor: 1,
  minMaskRegionArea: 0,
} as const;

/** SAM's `mask_threshold`: a pixel is in the mask when its logit is above it. */
export const MASK_THRESHOLD = 0.0;

const KNOWN = new Set([
  ...Object.keys(SAM_DEFAULTS),
  "pointGrids",
  "decoderWorkers",
  "intensity",
  "signal",
  "onProgress",
]);

function check(name: string, value: number, ok: boolean, what: string): number {
  if (!Number.isFinite(value) || !ok) throw new Error(`${name} must be ${what}, not ${value}.`);
  return value;
}

export function resolveOptions(options: AutomaticOptions, buildGrids: (n: number, layers: number, factor: number) => readonly (readonly GridPoint[])[]): ResolvedOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      throw new Error(`unknown option '${key}'` + (KNOWN.has(camel) ? `; this API spells it '${camel}'.` : "."));
    }
  }
  const o = { ...SAM_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof SAM_DEFAULTS & AutomaticOptions;
  const fraction = (name: string, v: number) => check(name, v, v >= 0 && v <= 1, "between 0 and 1");
  const cropNLayers = check("cropNLayers", o.cropNLayers, Number.isInteger(o.cropNLayers) && o.cropNLayers >= 0, "a whole number >= 0");
  const factor = check(
    "cropNPointsDownscaleFactor",
    o.cropNPointsDownscaleFactor,
    Number.isInteger(o.cropNPointsDownscaleFactor) && o.cropNPointsDownscaleFactor >= 1,
    "a whole number >= 1",
  );
  const workers = options.decoderWorkers ?? (availableParallelism() >= 2 ? 2 : 0);
  const explicit = options.pointGrids;
  const perSide = options.pointsPerSide === undefined ? (explicit ? null : SAM_DEFAULTS.pointsPerSide) : options.pointsPerSide;
  if ((perSide === null) === (explicit === undefined)) {
    throw new Error("give exactly one of pointsPerSide and pointGrids (segment_anything's rule).");
  }
  let pointGrids: readonly (readonly GridPoint[])[];
  if (explicit) {
    if (explicit.length < cropNLayers + 1) {
      throw new Error(`pointGrids has ${explicit.length} grid(s); cropNLayers ${cropNLayers} needs one per layer (${cropNLayers + 1}).`);
    }
    for (const grid of explicit) {
      for (const p of grid) {
        if (!(p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1)) throw new Error(`pointGrids holds (${p.x}, ${p.y}); points are fractions in [0,1].`);
      }
    }
    pointGrids = explicit;
  } else {
    check("pointsPerSide", perSide!, Number.isInteger(perSide) && perSide! >= 1, "a whole number >= 1");
    pointGrids = buildGrids(perSide!, cropNLayers, factor);
    pointGrids.forEach((g, i) => {
      if (g.length === 0) throw new Error(`crop layer ${i} gets no points: pointsPerSide ${perSide} / ${factor}^${i} < 1.`);
    });
  }
  return {
    pointGrids,
    pointsPerBatch: check("pointsPerBatch", o.pointsPerBatch, Number.isInteger(o.pointsPerBatch) && o.pointsPerBatch >= 1, "a whole number >= 1"),
    predIouThresh: check("predIouThresh", o.predIouThresh, true, "a number"),
    stabilityScoreThresh: check("stabilityScoreThresh", o.stabilityScoreThresh, true, "a number"),
    stabilityScoreOffset: check("stabilityScoreOffset", o.stabilityScoreOffset, true, "a number"),
    boxNmsThresh: fraction("boxNmsThresh", o.boxNmsThresh),
    cropNLayers,
    cropNmsThresh: fraction("cropNmsThresh", o.cropNmsThresh),
    cropOverlapRatio: check("cropOverlapRatio", o.cropOverlapRatio, o.cropOverlapRatio >= 0 && o.cropOverlapRatio < 1, "in [0, 1)"),
    cropNPointsDownscaleFactor: factor,
    minMaskRegionArea: check("minMaskRegionArea", o.minMaskRegionArea, o.minMaskRegionArea >= 0, ">= 0"),
    decoderWorkers: check("decoderWorkers", workers, Number.isInteger(workers) && workers >= 0 && workers <= 64, "a whole number in 0..64"),
  };
}
