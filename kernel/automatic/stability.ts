/**
 * segment_anything's `calculate_stability_score`: the IoU of the mask thresholded at
 * `mask_threshold + offset` with the one at `mask_threshold - offset`. The first lies inside
 * the second, so the IoU is a ratio of pixel counts; the counts are all the generator needs
 * from the full-resolution logits.
 */

const f32 = Math.fround;

/** The two thresholds as SAM compares them: a Python float against float32 logits, i.e. in float32. */
export function stabilityThresholds(maskThreshold: number, offset: number): { high: number; low: number } {
  return { high: f32(maskThreshold + offset), low: f32(maskThreshold - offset) };
}

/** `intersections / unions` of int32 tensors in PyTorch: a float32 quotient; 0/0 is NaN. */
export function stabilityFromCounts(aboveHigh: number, aboveLow: number): number {
  return f32(aboveHigh / aboveLow);
}

/** The counts for one mask's logits (`logits > high`, `logits > low`), and the score. */
export function stabilityScore(logits: Float32Array, maskThreshold: number, offset: number): number {
  const { high, low } = stabilityThresholds(maskThreshold, offset);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > high) inter++;
    if (v > low) union++;
  }
  return stabilityFromCounts(inter, union);
}
