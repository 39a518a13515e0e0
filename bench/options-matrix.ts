import type { BenchModelVariant } from "../models/bench/generate.js";

/**
 * The onnxruntime session options worth choosing between (docs/performance.md): the
 * memory-pattern planner and the CPU memory arena; plus thread spin-waiting, which decides how
 * badly the pool degrades when other processes take a core. Each variant applies to both sessions and is
 * measured in its own process, because peaks and allocator state are per process.
 */
export interface OptionsVariant {
  readonly label: string;
  readonly options: { enableMemPattern: boolean; enableCpuMemArena: boolean; extra?: Record<string, unknown> };
}

/** onnxruntime's session config entry that stops pool threads from spin-waiting between ops. */
const NO_SPINNING = { session: { intra_op: { allow_spinning: "0" } } };

export const OPTIONS_MATRIX: readonly OptionsVariant[] = [
  { label: "ort defaults", options: { enableMemPattern: true, enableCpuMemArena: true } },
  { label: "memPattern off", options: { enableMemPattern: false, enableCpuMemArena: true } },
  { label: "arena off", options: { enableMemPattern: true, enableCpuMemArena: false } },
  { label: "memPattern+arena off", options: { enableMemPattern: false, enableCpuMemArena: false } },
  { label: "memPattern off, no spinning", options: { enableMemPattern: false, enableCpuMemArena: true, extra: NO_SPINNING } },
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
