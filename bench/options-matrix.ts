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
