/**
 * The paper's 3D evaluation (docs/inference.md §9): for each object of a label volume, prompt its
 * central slice, propagate both ways, and score the whole 3D object with Dice.
 *
 * - Central slice: floor(mean(zmin, zmax)) over the slices the object occupies; an object with
 *   fewer than 10 pixels there is skipped (reported, not scored).
 * - Prompt: the tight box there (exclusive max), or one random positive point inside the
 *   object and one random negative point near it (outside the object, within city-block
 *   distance 10: scipy's binary_dilation with 10 iterations, as micro_sam's prompt generator
 *   uses; the whole background if that ring is empty). Points come from a seeded generator.
 * - Dice over the object's voxels in all slices: 2|P and T| / (|P| + |T|).
 *
 * `evaluate3dGrid` runs every setting of a grid of IoU thresholds x projection modes x box
 * extensions and reports, per object, the best Dice and the setting that gave it. Picking the
 * best setting per object with the ground truth in hand is an UPPER BOUND of what a user with
 * one fixed setting gets (that is how the paper reports it); the best single setting over all
 * objects is reported next to it.
 */
import { cityBlockDistance, boundingBox } from "../analysis/geometry.js";
import { DICE_EPSILON } from "../analysis/metrics.js";
import { SeededRandom, type Random } from "../analysis/rng.js";
import { propagate, type Segmenter, type SliceStack } from "../interactive/propagate.js";
import { PROJECTION_MODES, type ProjectionMode } from "../interactive/propagate-prompts.js";
import type { PixelArray } from "../io/image.js";
import { readSliceOf, type ViewMapping } from "../io/volume-view.js";
import type { Vec3 } from "../io/volume.js";
import type { Box, Point, Prompt } from "../sam/prompt.js";
import { objectSeed } from "./protocol.js";

export type Prompt3dMode = "box" | "points";

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

export const DEFAULT_SETTING_3D: Setting3d = { projection: "mask", iouThreshold: 0.5, boxExtension: 0.05 };
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

/** The central-slice prompt of one object (box, or a positive point plus a nearby negative one). */
export function centralPrompt(mask: Uint8Array, width: number, height: number, mode: Prompt3dMode, random: Random): Prompt {
  if (mode === "box") return { box: boundingBox(mask, width, height)! };
  const pos = samplePoint(mask, width, (p) => mask[p] !== 0, random, true)!;
  const near = cityBlockDistance(mask, width, height);
  const neg =
    samplePoint(mask, width, (p) => mask[p] === 0 && near[p]! <= NEGATIVE_RING, random, false) ??
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
  const results: Object3dResult[] = [];
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
      ? (await propagate(stack, segmenter, [{ z: zc, mask: first.mask }], { ...setting, ...(options.signal ? { signal: options.signal } : {}) })).masks
      : new Map<number, Uint8Array>();
    let predicted = 0;
    let intersection = 0;
    for (const [z, m] of masks) {
      for (let p = 0; p < plane; p++) {
        if (!m[p]) continue;
        predicted++;
        if (labels.data[z * plane + p] === obj.label) intersection++;
      }
    }
    const zs = [...masks.keys()];
    results.push({
      ...base,
      prompt: { ...(prompt.box ? { box: prompt.box } : {}), ...(prompt.points ? { points: prompt.points } : {}) },
      dice: (2 * intersection) / Math.max(predicted + target, DICE_EPSILON),
      ...(zs.length ? { predictedRange: [Math.min(...zs), Math.max(...zs)] as const } : {}),
      voxels: { predicted, target, intersection },
    });
  }
  const scored = results.filter((r) => r.dice !== undefined);
  return {
    setting,
    prompt: mode,
    objects: results,
    meanDice: scored.length ? scored.reduce((a, r) => a + r.dice!, 0) / scored.length : NaN,
  };
}

/** micro_sam's default grid for the multi-dimensional segmentation search. */
export const DEFAULT_GRID_3D = {
  iouThresholds: [0.5, 0.6, 0.7, 0.8, 0.9],
  projections: PROJECTION_MODES,
  boxExtensions: [0, 0.1, 0.2, 0.3, 0.4, 0.5],
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
