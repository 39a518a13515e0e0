/**
 * The paper's simulated interactive 2D segmentation (docs/inference.md §8), run against the engine:
 * every object of a label map is prompted on its own, starting from its deepest point or its
 * box, then corrected for 7 rounds with one positive and one negative point each, the points
 * accumulating (a box start keeps its box). Optionally the previous low-res logits are fed back
 * as the mask prompt. Each object gets its own generator seeded from (seed, class, component),
 * so an object's prompts do not change when other objects are added or left out.
 *
 * The reference (micro_sam's evaluation) does not seed its generator, so a rerun of it gives
 * other points; compare distributions of Dice with it, not individual numbers.
 */
import { diceFromCounts, iouFromCounts, maskCounts } from "../analysis/metrics.js";
import type { ProtocolObject } from "../analysis/objects.js";
import { SeededRandom } from "../analysis/rng.js";
import type { Embedding } from "../sam/embedding.js";
import type { Box, Point, Prompt } from "../sam/prompt.js";
import type { SegmentResult } from "../sam/segment-result.js";
import type { MultimaskMode } from "../sam/select.js";
import { correctionPoints, startPrompt, type NegativeSource, type PositiveSource, type StartMode } from "./protocol-prompts.js";

/** What the protocol needs from a model: SamModel fits, and so does a stand-in in tests. */
export interface ProtocolEngine {
  segment(embedding: Embedding, prompt: Prompt, options?: { multimask?: MultimaskMode }): Promise<SegmentResult>;
}

export interface ProtocolOptions {
  readonly start: StartMode;
  /** Correction rounds after the start (default 7, so 8 results, as in the paper). */
  readonly corrections?: number;
  /** Feed the previous low-res logits back as `mask_input` (default false, the paper's main setting). */
  readonly useMask?: boolean;
  /** Seed of the point sampling (default 0). */
  readonly seed?: number;
  /** Keep each round's mask, e.g. for the teaching view (default false: they add up for big runs). */
  readonly keepMasks?: boolean;
}

export interface RoundResult {
  /** 0 = the start prompt, 1..corrections = after each correction. */
  readonly round: number;
  /** All points given in this round's prompt, in the order they were added. */
  readonly points: readonly Point[];
  readonly box?: Box;
  readonly usedMaskPrompt: boolean;
  /** Where this round's new points came from (absent in round 0). */
  readonly positiveSource?: PositiveSource;
  readonly negativeSource?: NegativeSource;
  readonly dice: number;
  readonly iou: number;
  readonly predictedArea: number;
  /** The model's own IoU estimate and the mask token it chose. */
  readonly predictedIou: number;
  readonly token: number;
  readonly mask?: Uint8Array;
}

export interface ObjectRun {
  readonly classId: number;
  readonly component: number;
  readonly area: number;
  readonly box: Box;
  readonly center: { readonly x: number; readonly y: number };
  readonly start: StartMode;
  readonly rounds: readonly RoundResult[];
}

/** Mixes the run seed with an object's identity into an independent 32-bit seed. */
export function objectSeed(seed: number, classId: number, component: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (classId >>> 0) ^ (h >>> 15), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (component >>> 0) ^ (h >>> 13), 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function checkOptions(options: ProtocolOptions): Required<Omit<ProtocolOptions, "start">> & { start: StartMode } {
  const corrections = options.corrections ?? 7;
  if (!(Number.isInteger(corrections) && corrections >= 0)) {
    throw new Error(`corrections must be a non-negative integer, got ${corrections}.`);
  }
  if (options.start !== "point" && options.start !== "box") {
    throw new Error(`start must be 'point' or 'box', got '${String(options.start)}'.`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}.`);
  return { start: options.start, corrections, useMask: options.useMask ?? false, seed, keepMasks: options.keepMasks ?? false };
}

/**
 * Runs the start prompt and the correction rounds for one object. `onRound` sees every round's
 * full result (e.g. to add the mask to a per-class union) without the run keeping the masks.
 */
export async function runObject(
  engine: ProtocolEngine,
  embedding: Embedding,
  object: ProtocolObject,
  options: ProtocolOptions,
  onRound?: (round: number, result: SegmentResult) => void,
): Promise<ObjectRun> {
  const o = checkOptions(options);
  const { width, height } = embedding.originalSize;
  if (object.width !== width || object.height !== height) {
    throw new Error(
      `object mask is ${object.width}x${object.height} but the embedded image is ${width}x${height}; use the label map of that image.`,
    );
  }
  const random = new SeededRandom(objectSeed(o.seed, object.classId, object.component));
  const first = startPrompt(object, o.start);
  const points: Point[] = [...first.points];
  const rounds: RoundResult[] = [];
  let previous: SegmentResult | undefined;
  let sources: { positiveSource?: PositiveSource; negativeSource?: NegativeSource } = {};
  for (let round = 0; round <= o.corrections; round++) {
    if (round > 0) {
      const next = correctionPoints(object, previous!.mask, random);
      points.push(next.positive);
      if (next.negative) points.push(next.negative);
      sources = { positiveSource: next.positiveSource, ...(next.negativeSource ? { negativeSource: next.negativeSource } : {}) };
    }
    const useMask = o.useMask && previous !== undefined;
    const prompt: Prompt = {
      ...(points.length > 0 ? { points: [...points] } : {}),
      ...(first.box ? { box: first.box } : {}),
      ...(useMask ? { mask: { kind: "logits" as const, logits: previous!.lowResLogits } } : {}),
    };
    // Round 0 of a point start: micro_sam's rule ("auto") takes the multimask output with the
    // best predicted IoU for one positive point, i.e. the protocol's "multimask on". Everything
    // after, and a box start, is single-mask.
    const multimask: MultimaskMode = round === 0 && o.start === "point" ? "auto" : "off";
    const result = await engine.segment(embedding, prompt, { multimask });
    const counts = maskCounts(result.mask, object.mask);
    rounds.push({
      round,
      points: [...points],
      ...(first.box ? { box: first.box } : {}),
      usedMaskPrompt: useMask,
      ...sources,
      dice: diceFromCounts(counts),
      iou: iouFromCounts(counts),
      predictedArea: counts.predicted,
      predictedIou: result.iou,
      token: result.token,
      ...(o.keepMasks ? { mask: result.mask } : {}),
    });
    onRound?.(round, result);
    previous = result;
  }
  return {
    classId: object.classId,
    component: object.component,
    area: object.area,
    box: object.box,
    center: object.center,
    start: o.start,
    rounds,
  };
}
