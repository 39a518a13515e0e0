/**
 * The paper's 3D evaluation (docs/inference.md §9): micro_sam's
 * `segment_slices_from_ground_truth` as medico_sam's `evaluate_interactive_3d` calls it
 * (`min_size=10`, `evaluation_metric="dice_per_class"`): for each object of a label volume,
 * prompt its central slice, propagate both ways, and score.
 *
 * - Central slice: floor(mean(zmin, zmax)) over the slices the object occupies; an object with
 *   fewer than 10 pixels there is skipped (reported, not scored, and left out of the scoring).
 * - Prompt: the tight box there (exclusive max), or one random positive point inside the object
 *   and one random negative point from micro_sam's `PointAndBoxPromptGenerator` region: the box
 *   grown by 10 px per side (clipped) minus the object dilated 10 times with a 3x3 element
 *   (Chebyshev distance <= 10); the whole background when that region is empty
 *   (`_ensure_num_points`). Points come from a seeded generator.
 * - Propagation: micro_sam's defaults there, projection `mask`, IoU threshold 0.8, box
 *   extension 0.025 (DEFAULT_SETTING_3D; the napari tool's defaults are PROPAGATION_DEFAULTS).
 * - Scoring `dice_per_class` (default): every object's propagation is painted into one label
 *   volume in ascending label order, a later label overwriting an earlier one, and each object
 *   is scored as `dice_score(final == label, gt == label)` = 2|P and T| / (|P| + |T| + 1e-7).
 *   `scoring: "per-object"` (ours) scores each object's own propagation, untouched by the others.
 *
 * `evaluate3dGrid` runs every setting of a grid of IoU thresholds x projection modes x box
 * extensions (micro_sam's `default_grid_search_values_multi_dimensional_segmentation`) and
 * reports the best single setting over all objects (what micro_sam's
 * `run_multi_dimensional_segmentation_grid_search` picks per volume) and, per object, the best
 * Dice and the setting that gave it: picking per object with the ground truth in hand is an
 * UPPER BOUND of what a user with one fixed setting gets.
 */
import { boundingBox } from "../analysis/geometry.js";
import { SeededRandom, type Random } from "../analysis/rng.js";
import { propagate, type Segmenter, type SliceStack } from "../interactive/propagate.js";
import { PROJECTION_MODES, type MicroSamRelease, type ProjectionMode } from "../interactive/propagate-prompts.js";
import type { PixelArray } from "../io/image.js";
import { readSliceOf, type ViewMapping } from "../io/volume-view.js";
import type { Vec3 } from "../io/volume.js";
import type { Box, Point, Prompt } from "../sam/prompt.js";
import { objectSeed } from "./protocol.js";

export type Prompt3dMode = "box" | "points";
export type Scoring3d = "dice_per_class" | "per-object";

export interface Setting3d {
  readonly projection: ProjectionMode;
  readonly iouThreshold: number;
  readonly boxExtension: number;
}

export interface Evaluate3dOptions extends Partial<Setting3d> {
  readonly prompt?: Prompt3dMode;
  readonly seed?: number;
  /** Label ids to evaluate; default every id > 0 present. */
  readonly objects?: readonly number[];
  /** Skip objects with fewer pixels than this in their central slice (default 10). */
  readonly minCentralArea?: number;
  /** The propagation's projection rules: micro_sam 1.8's (default) or 1.7's, the paper's release (see PropagateOptions). */
  readonly release?: MicroSamRelease;
  /** `dice_per_class` (micro_sam / medico_sam, default) or `per-object` (each object on its own). */
  readonly scoring?: Scoring3d;
  readonly signal?: AbortSignal;
}

export interface Object3dResult {
  readonly label: number;
  readonly zmin: number;
  readonly zmax: number;
  readonly centralSlice: number;
  readonly centralArea: number;
  readonly skipped?: string;
  readonly prompt?: { readonly box?: Box; readonly points?: readonly Point[] };
  readonly dice?: number;
  /** Slices the prediction covers (inclusive), if any. */
  readonly predictedRange?: readonly [number, number];
  readonly voxels: { readonly predicted: number; readonly target: number; readonly intersection: number };
}

export interface Evaluate3dResult {
  readonly setting: Setting3d;
  readonly prompt: Prompt3dMode;
  readonly scoring: Scoring3d;
  readonly objects: readonly Object3dResult[];
  /** Mean Dice over the scored (not skipped) objects. */
  readonly meanDice: number;
}

/** Labels in stack order: labels[z * height * width + y * width + x] (see stackLabels). */
export interface LabelStack {
  readonly depth: number;
  readonly width: number;
  readonly height: number;
  readonly data: ArrayLike<number>;
}

/** micro_sam's `segment_slices_from_ground_truth` defaults. */
export const DEFAULT_SETTING_3D: Setting3d = { projection: "mask", iouThreshold: 0.8, boxExtension: 0.025 };
/** `PointAndBoxPromptGenerator(dilation_strength=10)` in `segment_slices_from_ground_truth`. */
export const NEGATIVE_RING = 10;

interface ObjectInfo {
  readonly label: number;
  readonly zmin: number;
  readonly zmax: number;
}

function findObjects(labels: LabelStack, only?: readonly number[]): ObjectInfo[] {
  const plane = labels.width * labels.height;
  const found = new Map<number, { zmin: number; zmax: number }>();
  for (let z = 0; z < labels.depth; z++) {
    for (let p = z * plane; p < (z + 1) * plane; p++) {
      const v = labels.data[p]!;
      if (v <= 0) continue;
      const o = found.get(v);
      if (!o) found.set(v, { zmin: z, zmax: z });
      else o.zmax = z;
    }
  }
  const ids = only ?? [...found.keys()].sort((a, b) => a - b);
  return ids.map((label) => {
    const o = found.get(label);
    if (!o) throw new Error(`object ${label} does not occur in the label volume`);
    return { label, ...o };
  });
}

function objectSlice(labels: LabelStack, label: number, z: number): Uint8Array {
  const plane = labels.width * labels.height;
  const out = new Uint8Array(plane);
  for (let p = 0; p < plane; p++) out[p] = labels.data[z * plane + p] === label ? 1 : 0;
  return out;
}

function samplePoint(mask: ArrayLike<number>, width: number, want: (p: number) => boolean, random: Random, positive: boolean): Point | undefined {
  let count = 0;
  for (let p = 0; p < mask.length; p++) if (want(p)) count++;
  if (count === 0) return undefined;
  let k = random.int(count);
  for (let p = 0; p < mask.length; p++) if (want(p) && k-- === 0) return { x: p % width, y: Math.floor(p / width), positive };
  return undefined;
}

/**
 * micro_sam's negative-point region (`PointAndBoxPromptGenerator._sample_negative_points`): the
 * box grown by `ring` px per side, clipped, minus the object dilated `ring` times with a 3x3
 * element (kornia's `dilation` with `torch.ones(3, 3)`: Chebyshev distance <= ring).
 */
export function negativeRegion(mask: Uint8Array, width: number, height: number, ring = NEGATIVE_RING): Uint8Array {
  const out = new Uint8Array(width * height);
  const box = boundingBox(mask, width, height);
  if (!box) return out;
  // separable square dilation: within `ring` of an object pixel along the row, then along the column
  const rows = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    let last = -Infinity;
    const left = new Float64Array(width);
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) last = x;
      left[x] = last;
    }
    let next = Infinity;
    for (let x = width - 1; x >= 0; x--) {
      if (mask[y * width + x]) next = x;
      rows[y * width + x] = x - left[x]! <= ring || next - x <= ring ? 1 : 0;
    }
  }
  for (let y = Math.max(0, box.y0 - ring); y < Math.min(height, box.y1 + ring); y++) {
    for (let x = Math.max(0, box.x0 - ring); x < Math.min(width, box.x1 + ring); x++) {
      let dilated = false;
      for (let yy = Math.max(0, y - ring); yy <= Math.min(height - 1, y + ring) && !dilated; yy++) if (rows[yy * width + x]) dilated = true;
      if (!dilated) out[y * width + x] = 1;
    }
  }
  return out;
}

/** The central-slice prompt of one object (box, or a positive point plus a negative one from negativeRegion). */
export function centralPrompt(mask: Uint8Array, width: number, height: number, mode: Prompt3dMode, random: Random): Prompt {
  if (mode === "box") return { box: boundingBox(mask, width, height)! };
  const pos = samplePoint(mask, width, (p) => mask[p] !== 0, random, true)!;
  const region = negativeRegion(mask, width, height);
  const neg =
    samplePoint(mask, width, (p) => region[p] !== 0, random, false) ??
    samplePoint(mask, width, (p) => mask[p] === 0, random, false);
  return { points: neg ? [pos, neg] : [pos] };
}

export async function evaluate3d(stack: SliceStack, segmenter: Segmenter, labels: LabelStack, options: Evaluate3dOptions = {}): Promise<Evaluate3dResult> {
  if (labels.depth !== stack.depth || labels.width !== stack.width || labels.height !== stack.height) {
    throw new Error(
      `labels are ${labels.width}x${labels.height}x${labels.depth} but the slices are ${stack.width}x${stack.height}x${stack.depth}; take both from the same view`,
    );
  }
  const setting: Setting3d = {
    projection: options.projection ?? DEFAULT_SETTING_3D.projection,
    iouThreshold: options.iouThreshold ?? DEFAULT_SETTING_3D.iouThreshold,
    boxExtension: options.boxExtension ?? DEFAULT_SETTING_3D.boxExtension,
  };
  const mode = options.prompt ?? "box";
  const seed = options.seed ?? 0;
  const minArea = options.minCentralArea ?? 10;
  const { width, height } = labels;
  const plane = width * height;
  const scoring = options.scoring ?? "dice_per_class";
  if (scoring !== "dice_per_class" && scoring !== "per-object") throw new Error(`unknown scoring '${String(scoring)}'; use dice_per_class or per-object`);
  const results: Object3dResult[] = [];
  const propagated = new Map<number, Map<number, Uint8Array>>();
  for (const obj of findObjects(labels, options.objects)) {
    if (options.signal?.aborted) throw new Error("3D evaluation interrupted");
    const zc = Math.floor((obj.zmin + obj.zmax) / 2);
    const central = objectSlice(labels, obj.label, zc);
    const centralArea = central.reduce((a, v) => a + v, 0);
    let target = 0;
    for (let p = 0; p < labels.depth * plane; p++) if (labels.data[p] === obj.label) target++;
    const base = { label: obj.label, zmin: obj.zmin, zmax: obj.zmax, centralSlice: zc, centralArea };
    if (centralArea < minArea) {
      results.push({ ...base, skipped: `only ${centralArea} pixels in the central slice ${zc} (minimum ${minArea})`, voxels: { predicted: 0, target, intersection: 0 } });
      continue;
    }
    const random = new SeededRandom(objectSeed(seed, obj.label, 0));
    const prompt = centralPrompt(central, width, height, mode, random);
    const first = await segmenter.segment(await stack.get(zc), prompt, { multimask: mode === "box" ? "off" : "auto" });
    const masks = first.mask.some((v) => v !== 0)
      ? (await propagate(stack, segmenter, [{ z: zc, mask: first.mask }], { ...setting, ...(options.release ? { release: options.release } : {}), ...(options.signal ? { signal: options.signal } : {}) })).masks
      : new Map<number, Uint8Array>();
    propagated.set(obj.label, masks);
    const zs = [...masks.keys()].filter((z) => masks.get(z)!.some((v) => v !== 0));
    results.push({
      ...base,
      prompt: { ...(prompt.box ? { box: prompt.box } : {}), ...(prompt.points ? { points: prompt.points } : {}) },
      ...(zs.length ? { predictedRange: [Math.min(...zs), Math.max(...zs)] as const } : {}),
      voxels: { predicted: 0, target, intersection: 0 },
    });
  }
  // dice_per_class: one label volume, ascending labels, later ones overwrite earlier ones
  let painted: Int32Array | undefined;
  if (scoring === "dice_per_class") {
    painted = new Int32Array(labels.depth * plane);
    for (const label of [...propagated.keys()].sort((a, b) => a - b)) {
      for (const [z, m] of propagated.get(label)!) for (let p = 0; p < plane; p++) if (m[p]) painted[z * plane + p] = label;
    }
  }
  const scoredResults = results.map((r): Object3dResult => {
    const masks = propagated.get(r.label);
    if (!masks) return r;
    let predicted = 0;
    let intersection = 0;
    if (painted) {
      for (let p = 0; p < painted.length; p++) {
        if (painted[p] !== r.label) continue;
        predicted++;
        if (labels.data[p] === r.label) intersection++;
      }
    } else {
      for (const [z, m] of masks) {
        for (let p = 0; p < plane; p++) {
          if (!m[p]) continue;
          predicted++;
          if (labels.data[z * plane + p] === r.label) intersection++;
        }
      }
    }
    const target = r.voxels.target;
    // elf's `dice_score`: 2|P and T| / (|P| + |T| + 1e-7)
    return { ...r, dice: (2 * intersection) / (predicted + target + 1e-7), voxels: { predicted, target, intersection } };
  });
  const scored = scoredResults.filter((r) => r.dice !== undefined);
  return {
    setting,
    prompt: mode,
    scoring,
    objects: scoredResults,
    meanDice: scored.length ? scored.reduce((a, r) => a + r.dice!, 0) / scored.length : NaN,
  };
}

/**
 * micro_sam's `default_grid_search_values_multi_dimensional_segmentation`: IoU thresholds 0.5 to
 * 0.9 in steps of 0.1, every projection, box extensions 0 to 0.25 in steps of 0.025
 * (`_get_range_of_search_values`, rounded to 3 decimals): 5 x 5 x 11 = 275 runs.
 */
export const DEFAULT_GRID_3D = {
  iouThresholds: [0.5, 0.6, 0.7, 0.8, 0.9],
  projections: PROJECTION_MODES,
  boxExtensions: Array.from({ length: 11 }, (_, i) => Math.round(i * 25) / 1000),
} as const;

export interface Grid3dResult {
  readonly runs: readonly Evaluate3dResult[];
  /** Per object: the best Dice over the grid and the setting that reached it. */
  readonly bestPerObject: readonly { readonly label: number; readonly dice: number; readonly setting: Setting3d }[];
  /** Mean of the per-object best: an UPPER BOUND (the setting is chosen with the ground truth, per object). */
  readonly upperBoundMeanDice: number;
  /** The one setting with the best mean Dice over all objects, and that mean. */
  readonly bestSetting: Setting3d;
  readonly bestSettingMeanDice: number;
  readonly note: string;
}

export async function evaluate3dGrid(
  stack: SliceStack,
  segmenter: Segmenter,
  labels: LabelStack,
  options: Omit<Evaluate3dOptions, keyof Setting3d> & {
    readonly grid?: { iouThresholds?: readonly number[]; projections?: readonly ProjectionMode[]; boxExtensions?: readonly number[] };
    readonly onRun?: (r: Evaluate3dResult, index: number, total: number) => void;
  } = {},
): Promise<Grid3dResult> {
  const g = {
    iouThresholds: options.grid?.iouThresholds ?? DEFAULT_GRID_3D.iouThresholds,
    projections: options.grid?.projections ?? DEFAULT_GRID_3D.projections,
    boxExtensions: options.grid?.boxExtensions ?? DEFAULT_GRID_3D.boxExtensions,
  };
  const settings: Setting3d[] = [];
  for (const projection of g.projections) for (const iouThreshold of g.iouThresholds) for (const boxExtension of g.boxExtensions) settings.push({ projection, iouThreshold, boxExtension });
  const runs: Evaluate3dResult[] = [];
  for (const [i, s] of settings.entries()) {
    const r = await evaluate3d(stack, segmenter, labels, { ...options, ...s });
    runs.push(r);
    options.onRun?.(r, i, settings.length);
  }
  const labelsScored = runs[0]!.objects.filter((o) => o.dice !== undefined).map((o) => o.label);
  const bestPerObject = labelsScored.map((label) => {
    let best = { label, dice: -1, setting: settings[0]! };
    runs.forEach((r, i) => {
      const d = r.objects.find((o) => o.label === label)!.dice!;
      if (d > best.dice) best = { label, dice: d, setting: settings[i]! };
    });
    return best;
  });
  let bestIndex = 0;
  runs.forEach((r, i) => {
    if (r.meanDice > runs[bestIndex]!.meanDice) bestIndex = i;
  });
  return {
    runs,
    bestPerObject,
    upperBoundMeanDice: bestPerObject.length ? bestPerObject.reduce((a, b) => a + b.dice, 0) / bestPerObject.length : NaN,
    bestSetting: settings[bestIndex]!,
    bestSettingMeanDice: runs[bestIndex]!.meanDice,
    note: "upperBoundMeanDice picks the best setting per object using the ground truth: an upper bound, not what one fixed setting achieves (see bestSettingMeanDice).",
  };
}

/** A voxel label volume in the stack order of a view (the mapping of VolumeEmbeddings, say). */
export function stackLabels(labels: PixelArray, dims: Vec3, mapping: ViewMapping): LabelStack {
  const plane = mapping.width * mapping.height;
  const data = new Int32Array(mapping.depth * plane);
  for (let z = 0; z < mapping.depth; z++) data.set(readSliceOf(labels, dims, mapping, z), z * plane);
  return { depth: mapping.depth, width: mapping.width, height: mapping.height, data };
}
