/**
 * Which of the decoder's mask tokens becomes the answer (docs/inference.md §6).
 */
import type { Prompt } from "./prompt.js";

export type MultimaskMode = "auto" | "on" | "off";

/**
 * micro_sam's rule: exactly one positive point (and nothing else) is ambiguous, so the
 * three multimask tokens compete; any richer prompt uses the single-mask token 0.
 */
export function wantsMultimask(prompt: Prompt, mode: MultimaskMode): boolean {
  if (mode === "on") return true;
  if (mode === "off") return false;
  const points = prompt.points ?? [];
  return points.length === 1 && points[0]!.positive && !prompt.box && !prompt.mask;
}

/**
 * Token index: with multimask, the highest predicted IoU among tokens 1..3, the first on
 * ties (numpy argmax); otherwise token 0. A single-mask decoder (C = 1) has made its own
 * choice inside the graph, so its only token is returned.
 */
export function chooseToken(ious: ArrayLike<number>, multimask: boolean): number {
  if (ious.length === 1) return 0;
  if (ious.length !== 4) throw new Error(`decoder returned ${ious.length} masks; expected 1 or 4.`);
  if (!multimask) return 0;
  let best = 1;
  for (let t = 2; t <= 3; t++) if (ious[t]! > ious[best]!) best = t;
  return best;
}
