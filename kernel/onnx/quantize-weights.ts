/**
 * Symmetric int8 quantization of a weight matrix, the arithmetic half of dynamic
 * quantization (the graph half is quantize.ts).
 *
 * Why symmetric signed weights: onnxruntime's integer GEMM multiplies uint8 activations by
 * int8 weights (x86 VNNI's `vpdpbusd` is exactly u8 x s8 -> s32), and a weight zero point of
 * 0 lets the kernel skip the zero-point correction for B entirely.
 *
 * Why per column by default: one scale per output channel (column of the [K, N] weight) costs
 * nothing at run time (the fused kernel multiplies the int32 result by a [N] scale vector either
 * way), while a single per-tensor scale lets the widest column set the step for all 768-3072 of
 * them; columns with small weights then keep only a few significant levels.
 */

/** How many weight scales a matrix gets. */
export type ScaleGranularity = "per-column" | "per-tensor";

export interface WeightQuantizeOptions {
  readonly granularity?: ScaleGranularity;
  /**
   * Use 7 bits ([-63, 63]) instead of [-127, 127]. On x86 CPUs WITHOUT VNNI the u8 x s8 kernel
   * adds pairs of products in int16 (`vpmaddubsw`), and 255 * 127 * 2 overflows int16; halving the
   * weight range avoids that saturation at the cost of one bit. With VNNI (no int16 step) leave it off.
   * quantizeModel's default follows the CPU it runs on (cpu-features.ts).
   */
  readonly reduceRange?: boolean;
}

export interface QuantizedWeights {
  /** Row-major [K, N] int8, same layout as the float matrix. */
  readonly values: Int8Array;
  /** One scale per column ([N]) or a single scale ([1]); w ~= values * scale. */
  readonly scales: Float32Array;
  readonly granularity: ScaleGranularity;
  /** Largest |w - q * scale| over the matrix, to report what was lost. */
  readonly maxAbsError: number;
}

/** Round half to even, as onnxruntime (std::nearbyint) and numpy do; Math.round rounds half up. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes a row-major [rows=K, cols=N] float matrix (the B of `MatMul(A, B)`, so a column is
 * one output feature). Scales are float32, exactly as stored in the model, and the integer
 * values are computed from the stored scale so that dequantization matches what runs.
 */
export function quantizeWeights(
  data: Float32Array,
  rows: number,
  cols: number,
  options: WeightQuantizeOptions = {},
): QuantizedWeights {
  if (data.length !== rows * cols) {
    throw new Error(`quantizeWeights: a [${rows}, ${cols}] matrix has ${rows * cols} values, got ${data.length}.`);
  }
  const granularity = options.granularity ?? "per-column";
  const qmax = options.reduceRange ? 63 : 127;
  const nScales = granularity === "per-column" ? cols : 1;
  const amax = new Float64Array(nScales);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = Math.abs(data[base + c]!);
      if (!Number.isFinite(v)) {
        throw new Error(`quantizeWeights: weight [${r}, ${c}] is ${data[base + c]}; a model with non-finite weights cannot be quantized.`);
      }
      const s = granularity === "per-column" ? c : 0;
      if (v > amax[s]!) amax[s] = v;
    }
  }
  const scales = new Float32Array(nScales);
  for (let s = 0; s < nScales; s++) {
    // An all-zero column quantizes to zeros with any scale; 1 keeps the division finite.
    scales[s] = amax[s]! > 0 ? Math.fround(amax[s]! / qmax) : 1;
  }
  const values = new Int8Array(rows * cols);
  let maxAbsError = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const scale = scales[granularity === "per-column" ? c : 0]!;
      const w = data[base + c]!;
      const q = Math.max(-qmax, Math.min(qmax, roundHalfEven(w / scale)));
      values[base + c] = q;
      const err = Math.abs(w - q * scale);
      if (err > maxAbsError) maxAbsError = err;
    }
  }
  return { values, scales, granularity, maxAbsError };
}
