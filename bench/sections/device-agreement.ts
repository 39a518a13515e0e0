/**
 * How far a GPU device's results are from the CPU's, for `--device`: the same images and the
 * same prompts run again on a CPU model after the device's run (one model at a time: two ViT-B
 * encoders at once would double the peak memory this benchmark reports).
 */
import { diceFromCounts, iouFromCounts, maskCounts } from "../../kernel/analysis/metrics.js";
import type { SessionDevice } from "../../kernel/sam/device.js";
import { summarize } from "../stats.js";
import type { Metric } from "../types.js";

/** What one run produced: embeddings (encoder section) and the masks of each prompt. */
export interface RunOutputs {
  readonly embeddings: Float32Array[];
  readonly masks: Uint8Array[];
  readonly tokens: number[];
  readonly ious: number[];
}

export function emptyOutputs(): RunOutputs {
  return { embeddings: [], masks: [], tokens: [], ious: [] };
}

export function agreementMetrics(device: SessionDevice, what: string, onDevice: RunOutputs, onCpu: RunOutputs): Metric[] {
  const metrics: Metric[] = [];
  if (onDevice.embeddings.length > 0) {
    let maxDiff = 0;
    let maxAbs = 0;
    for (let k = 0; k < onDevice.embeddings.length; k++) {
      const a = onDevice.embeddings[k]!;
      const b = onCpu.embeddings[k]!;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
      }
    }
    metrics.push({
      name: `${what}: embedding max |${device} - cpu| (${onDevice.embeddings.length} images)`,
      unit: "",
      value: maxDiff,
      note: `largest |value| on cpu ${maxAbs.toPrecision(3)}`,
    });
  }
  const n = Math.min(onDevice.masks.length, onCpu.masks.length);
  if (n > 0) {
    const ious: number[] = [];
    const dices: number[] = [];
    let tokenChanges = 0;
    let iouPredDiff = 0;
    let bothEmpty = 0;
    for (let k = 0; k < n; k++) {
      const c = maskCounts(onDevice.masks[k]!, onCpu.masks[k]!);
      // Two empty masks agree: Dice and IoU call them 0, which would read as total disagreement.
      const empty = c.predicted === 0 && c.target === 0;
      if (empty) bothEmpty++;
      ious.push(empty ? 1 : iouFromCounts(c));
      dices.push(empty ? 1 : diceFromCounts(c));
      if (onDevice.tokens[k] !== onCpu.tokens[k]) tokenChanges++;
      iouPredDiff = Math.max(iouPredDiff, Math.abs(onDevice.ious[k]! - onCpu.ious[k]!));
    }
    const iouSummary = summarize(ious);
    metrics.push(
      {
        name: `${what}: mask IoU ${device} vs cpu, worst of ${n} prompts`,
        unit: "",
        value: Math.min(...ious),
        note: `median ${iouSummary.median.toFixed(4)}${bothEmpty ? `; ${bothEmpty} empty on both, counted as 1` : ""}`,
      },
      { name: `${what}: mask Dice ${device} vs cpu, worst of ${n} prompts`, unit: "", value: Math.min(...dices) },
      { name: `${what}: prompts whose chosen mask token differs`, unit: "", value: tokenChanges },
      { name: `${what}: predicted IoU max |${device} - cpu|`, unit: "", value: iouPredDiff },
    );
  }
  return metrics;
}
