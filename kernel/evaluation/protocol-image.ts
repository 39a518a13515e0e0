/**
 * The protocol over all objects of one image, with the paper's per-class score: for each class
 * and round, the union of that class's object predictions against the union of its objects.
 * Components dropped for being too small are not part of the ground truth (the reference drops them,
 * so they are neither prompted nor counted as misses).
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

/** The protocol on every object of a label map (the label map of the embedded image). */
export async function evaluateImage(
  engine: ProtocolEngine,
  embedding: Embedding,
  labels: LabelMap,
  options: ProtocolOptions & ObjectOptions,
): Promise<ImageEvaluation> {
  const { width, height } = embedding.originalSize;
  if (labels.width !== width || labels.height !== height) {
    throw new Error(`label map is ${labels.width}x${labels.height} but the embedded image is ${width}x${height}; they must match.`);
  }
  const { objects, dropped } = extractObjects(labels, options);
  return { ...(await evaluateObjects(engine, embedding, objects, options)), dropped };
}

/** Runs every object (in the given order) and scores each class per round. */
export async function evaluateObjects(
  engine: ProtocolEngine,
  embedding: Embedding,
  objects: readonly ProtocolObject[],
  options: ProtocolOptions,
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
    const target = new Uint8Array(n);
    for (const obj of members) {
      if (obj.mask.length !== n) {
        throw new Error(`object mask is ${obj.width}x${obj.height} but the embedded image is ${width}x${height}.`);
      }
      for (let i = 0; i < n; i++) if (obj.mask[i]) target[i] = 1;
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
