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
