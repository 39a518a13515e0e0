/**
 * The prompts of the paper's simulated interactive segmentation (docs/inference.md §8), for one object:
 * where to start, and which two points each correction round adds. Pure functions of the object,
 * the current prediction and a seeded generator, so they can be checked on hand-made masks.
 *
 * Coordinates are pixel indices (x = column, y = row), as micro_sam passes them to SAM (its
 * `torch.where` indices, flipped to x, y); the decoder's +0.5 shift happens inside the model.
 */
import type { ProtocolObject } from "../analysis/objects.js";
import type { Random } from "../analysis/rng.js";
import type { Box, Point } from "../sam/prompt.js";

export type StartMode = "point" | "box";

/** Where a correction point was drawn from: the protocol's region, or which fallback was needed. */
export type PositiveSource = "false-negative" | "true-positive";
export type NegativeSource = "false-positive" | "box-ring";

export interface CorrectionPoints {
  readonly positive: Point;
  readonly positiveSource: PositiveSource;
  /** Absent only when the object fills the whole image, so there is no background to click. */
  readonly negative?: Point;
  readonly negativeSource?: NegativeSource;
}

/** Pixels of the box grown by this many pixels on each side form the first negative fallback. */
export const BOX_RING_MARGIN = 3;

/** Round 0: the deepest inside point (positive) or the tight box. */
export function startPrompt(object: ProtocolObject, start: StartMode): { points: Point[]; box?: Box } {
  if (start === "point") return { points: [{ x: object.center.x, y: object.center.y, positive: true }] };
  if (start === "box") return { points: [], box: object.box };
  throw new Error(`start must be 'point' or 'box', got '${String(start)}'.`);
}

/**
 * Picks uniformly one pixel where `inRegion(i)` holds, counting first and then walking to the
 * chosen one in row-major order (the order of numpy's `where`, which the reference samples
 * from). Returns undefined when the region is empty.
 */
function samplePixel(length: number, width: number, inRegion: (i: number) => boolean, random: Random): Point | undefined {
  let count = 0;
  for (let i = 0; i < length; i++) if (inRegion(i)) count++;
  if (count === 0) return undefined;
  let k = random.int(count);
  for (let i = 0; i < length; i++) {
    if (!inRegion(i)) continue;
    if (k-- === 0) return { x: i % width, y: Math.floor(i / width), positive: true };
  }
  throw new Error("unreachable: the region changed while sampling");
}

/**
 * One correction round: a positive point from the false negatives (else from the true
 * positives) and a negative point from the false positives (else from the object's box grown by
 * 3 px, clipped to the image, minus the object). The positive point is drawn first.
 *
 * micro_sam's last fallback, "else from the background", is left out because it can never apply:
 * the grown box minus the object is empty only if the grown box adds nothing, i.e. the box is
 * the whole image, and the object fills it -- and then there is no background either.
 */
export function correctionPoints(object: ProtocolObject, prediction: Uint8Array, random: Random): CorrectionPoints {
  const { width, height, mask } = object;
  const n = width * height;
  if (prediction.length !== n) {
    throw new Error(`prediction has ${prediction.length} pixels, the object's image ${width}x${height} = ${n}.`);
  }
  let positive = samplePixel(n, width, (i) => mask[i] !== 0 && prediction[i] === 0, random);
  let positiveSource: PositiveSource = "false-negative";
  if (!positive) {
    positive = samplePixel(n, width, (i) => mask[i] !== 0 && prediction[i] !== 0, random);
    positiveSource = "true-positive";
  }
  if (!positive) throw new Error(`object (class ${object.classId}, component ${object.component}) has no pixels.`);

  let negative = samplePixel(n, width, (i) => mask[i] === 0 && prediction[i] !== 0, random);
  let negativeSource: NegativeSource | undefined = "false-positive";
  if (!negative) {
    const x0 = Math.max(0, object.box.x0 - BOX_RING_MARGIN);
    const y0 = Math.max(0, object.box.y0 - BOX_RING_MARGIN);
    const x1 = Math.min(width, object.box.x1 + BOX_RING_MARGIN); // exclusive
    const y1 = Math.min(height, object.box.y1 + BOX_RING_MARGIN);
    negative = samplePixel(
      n,
      width,
      (i) => {
        if (mask[i] !== 0) return false;
        const x = i % width;
        const y = (i - x) / width;
        return x >= x0 && x < x1 && y >= y0 && y < y1;
      },
      random,
    );
    negativeSource = "box-ring";
  }
  if (!negative) negativeSource = undefined;
  return {
    positive,
    positiveSource,
    ...(negative ? { negative: { x: negative.x, y: negative.y, positive: false }, negativeSource } : {}),
  };
}
