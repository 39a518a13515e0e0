/**
 * The protocol over all objects of one image, with the paper's per-class score: for each class
 * and round, the union of that class's object predictions against the class's ground truth.
 *
 * Ground truth `class` (default) is `labels == class`, as medico_sam's
 * `_run_evaluation_per_semantic_class` scores it: components dropped for their size (under 20 px)
 * are not prompted but still count, as misses. `prompted-objects` (ours before) scores against
 * the union of the prompted objects only, leaving the dropped fragments out.
 */
import { diceFromCounts, iouFromCounts, maskCounts } from "../analysis/metrics.js";
import { extractObjects, type LabelMap, type ObjectOptions, type ProtocolObject } from "../analysis/objects.js";
import type { Embedding } from "../sam/embedding.js";
import { runObject, checkOptions, type ObjectRun, type ProtocolEngine, type ProtocolOptions } from "./protocol.js";
import type { StartMode } from "./protocol-prompts.js";

export interface ClassRound {
  readonly classId: number;
  readonly round: number;
  readonly dice: number;
  readonly iou: number;
  /** Objects of this class that were prompted. */
  readonly objects: number;
}

export interface ImageEvaluation {
  readonly start: StartMode;
  readonly objects: readonly ObjectRun[];
  /** Sorted by class, then round. */
  readonly classes: readonly ClassRound[];
  /** Components left out for their size (see ObjectOptions.minSize). */
  readonly dropped?: readonly { readonly classId: number; readonly area: number }[];
}

export type ClassGroundTruth = "class" | "prompted-objects";

/** The protocol on every object of a label map (the label map of the embedded image). */
export async function evaluateImage(
  engine: ProtocolEngine,
  embedding: Embedding,
  labels: LabelMap,
  options: ProtocolOptions & ObjectOptions & { readonly groundTruth?: ClassGroundTruth },
): Promise<ImageEvaluation> {
  const { width, height } = embedding.originalSize;
  if (labels.width !== width || labels.height !== height) {
    throw new Error(`label map is ${labels.width}x${labels.height} but the embedded image is ${width}x${height}; they must match.`);
  }
  const groundTruth = options.groundTruth ?? "class";
  if (groundTruth !== "class" && groundTruth !== "prompted-objects") throw new Error(`groundTruth must be 'class' or 'prompted-objects', got '${String(groundTruth)}'.`);
  const { objects, dropped } = extractObjects(labels, options);
  let targets: Map<number, Uint8Array> | undefined;
  if (groundTruth === "class") {
    targets = new Map();
    for (const classId of new Set(objects.map((o) => o.classId))) targets.set(classId, Uint8Array.from(labels.data as ArrayLike<number>, (v) => (v === classId ? 1 : 0)));
  }
  return { ...(await evaluateObjects(engine, embedding, objects, options, targets)), dropped };
}

/**
 * Runs every object (in the given order) and scores each class per round, against `targets`
 * (class id -> width*height mask) when given, else against the union of the class's objects.
 */
export async function evaluateObjects(
  engine: ProtocolEngine,
  embedding: Embedding,
  objects: readonly ProtocolObject[],
  options: ProtocolOptions,
  targets?: ReadonlyMap<number, Uint8Array>,
): Promise<ImageEvaluation> {
  const o = checkOptions(options);
  const { width, height } = embedding.originalSize;
  const n = width * height;
  const byClass = new Map<number, ProtocolObject[]>();
  for (const obj of objects) {
    if (!byClass.has(obj.classId)) byClass.set(obj.classId, []);
    byClass.get(obj.classId)!.push(obj);
  }
  const runs: ObjectRun[] = [];
  const classes: ClassRound[] = [];
  for (const classId of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(classId)!;
    const target = targets?.get(classId) ?? new Uint8Array(n);
    for (const obj of members) {
      if (obj.mask.length !== n) {
        throw new Error(`object mask is ${obj.width}x${obj.height} but the embedded image is ${width}x${height}.`);
      }
      if (!targets) for (let i = 0; i < n; i++) if (obj.mask[i]) target[i] = 1;
    }
    const unions = Array.from({ length: o.corrections + 1 }, () => new Uint8Array(n));
    for (const obj of members) {
      runs.push(
        await runObject(engine, embedding, obj, options, (round, result) => {
          const u = unions[round]!;
          const m = result.mask;
          for (let i = 0; i < n; i++) if (m[i]) u[i] = 1;
        }),
      );
    }
    unions.forEach((u, round) => {
      const c = maskCounts(u, target);
      classes.push({ classId, round, dice: diceFromCounts(c), iou: iouFromCounts(c), objects: members.length });
    });
  }
  return { start: o.start, objects: runs, classes };
}
