/**
 * Overlap metrics of binary masks (nonzero = inside), in the paper's form (docs/inference.md §8):
 * Dice = 2 * sum(p * t) / max(sum(p^2) + sum(t^2), 1e-7). For binary masks p^2 = p, so the
 * denominator is |P| + |T|, and two empty masks score 0, not 1 -- the reference's convention,
 * kept so our numbers average like the paper's.
 */

export interface MaskCounts {
  /** |P and T| */
  readonly intersection: number;
  readonly predicted: number;
  readonly target: number;
}

export const DICE_EPSILON = 1e-7;

export function maskCounts(prediction: ArrayLike<number>, target: ArrayLike<number>): MaskCounts {
  if (prediction.length !== target.length) {
    throw new Error(`masks differ in size: prediction has ${prediction.length} pixels, target ${target.length}.`);
  }
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let i = 0; i < prediction.length; i++) {
    const a = prediction[i] ? 1 : 0;
    const b = target[i] ? 1 : 0;
    p += a;
    t += b;
    inter += a & b;
  }
  return { intersection: inter, predicted: p, target: t };
}

export function diceFromCounts(c: MaskCounts): number {
  return (2 * c.intersection) / Math.max(c.predicted + c.target, DICE_EPSILON);
}

/** IoU = |P and T| / |P or T|, 0 for two empty masks (same convention as Dice). */
export function iouFromCounts(c: MaskCounts): number {
  const union = c.predicted + c.target - c.intersection;
  return union > 0 ? c.intersection / union : 0;
}

export function dice(prediction: ArrayLike<number>, target: ArrayLike<number>): number {
  return diceFromCounts(maskCounts(prediction, target));
}

export function iou(prediction: ArrayLike<number>, target: ArrayLike<number>): number {
  return iouFromCounts(maskCounts(prediction, target));
}
