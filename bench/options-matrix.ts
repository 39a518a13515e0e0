import type { BenchModelVariant } from "../models/bench/generate.js";

/**
 * The onnxruntime session options worth choosing between (shared/spec/performance.md): the
 * memory-pattern planner and the CPU memory arena. Each variant applies to both sessions and is
 * measured in its own process, because peaks and allocator state are per process.
 */
export interface OptionsVariant {
  readonly label: string;
  readonly options: { enableMemPattern: boolean; enableCpuMemArena: boolean };
}

export const OPTIONS_MATRIX: readonly OptionsVariant[] = [
  { label: "ort defaults", options: { enableMemPattern: true, enableCpuMemArena: true } },
  { label: "memPattern off", options: { enableMemPattern: false, enableCpuMemArena: true } },
  { label: "arena off", options: { enableMemPattern: true, enableCpuMemArena: false } },
  { label: "memPattern+arena off", options: { enableMemPattern: false, enableCpuMemArena: false } },
];

/**
 * Encoder graphs other than the one torch.onnx exports, with the same weights and outputs,
 * measured with the engine's default options. Computing global attention one head at a time
 * keeps one [4096, 4096] logits matrix alive instead of twelve (805 MB): the only way found to
 * bring the encoder's peak near the memory target. It would be a change to the export tooling.
 */
export const ENCODER_VARIANTS: readonly { label: string; variant: BenchModelVariant }[] = [
  { label: "global attention per head (12 slices)", variant: { globalAttnSlices: 12 } },
];
