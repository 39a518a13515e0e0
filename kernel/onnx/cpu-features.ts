/**
 * What the CPU's int8 kernels can do, as far as onnxruntime's u8 x s8 MatMul is concerned.
 *
 * With VNNI (AVX512-VNNI, AVX-VNNI, AMX) onnxruntime multiplies u8 x s8 straight into int32.
 * Without it, on x86-64, the AVX2 kernel adds pairs of products in int16 (`vpmaddubsw`), and
 * 255 * 127 * 2 overflows: measured on an AMD EPYC (Zen 3, AVX2, no VNNI), 8-bit weights gave
 * MatMul outputs off by 0.0107 where exact int8 arithmetic is within 0.0006, and per-column
 * scales came out 3.6x WORSE than per-tensor ones. 7-bit weights cannot saturate there.
 */
import { readFileSync } from "node:fs";

let vnni: { readonly value: boolean | undefined } | undefined;

/**
 * Whether this CPU has VNNI, read from /proc/cpuinfo where there is one (undefined elsewhere).
 * Read once per process: every quantizeModel call and the quantize CLI's usage and note ask.
 */
export function cpuHasVnni(): boolean | undefined {
  if (!vnni) {
    try {
      vnni = { value: /\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(readFileSync("/proc/cpuinfo", "utf8")) };
    } catch {
      vnni = { value: undefined };
    }
  }
  return vnni.value;
}

/** True where onnxruntime's u8 x s8 products can saturate: x86-64 without (known) VNNI. */
export function u8s8MaySaturate(): boolean {
  return process.arch === "x64" && cpuHasVnni() !== true;
}
