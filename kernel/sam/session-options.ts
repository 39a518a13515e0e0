/**
 * The onnxruntime session options of both SAM sessions, the image encoder (in its own process,
 * encoder-process.ts) and the prompt encoder + mask decoder (on the kernel's thread). The same
 * two settings win for both, measured on a 2-core machine with `npm run bench -- --only options`
 * (the figures, and how they were taken, are in docs/performance.md):
 *
 * - `enableMemPattern: false`: onnxruntime's memory-pattern planner keeps each session's peak
 *   allocation reserved between runs. Without it the ViT-B encoder peaked at 3.9-4.3 GB instead
 *   of 7.1-7.4 GB and ran slightly faster (3.14 s instead of 3.3-3.4 s), and a decoder call that
 *   alternates with the encoder took 40 ms instead of 77-117 ms.
 * - `allow_spinning: "0"`: idle intra-op threads sleep instead of spinning. Next to one other
 *   busy process (a browser, a training run) a click took 92 ms instead of 177 ms, and the
 *   encoder 10.3 s instead of 11.0 s, leaving the decoder its core.
 *
 * A function, not a shared object: callers spread their own overrides over a fresh copy.
 */
import type { InferenceSession } from "onnxruntime-node";

export function samSessionOptions(): InferenceSession.SessionOptions & { extra: { session: Record<string, unknown> } } {
  return {
    enableMemPattern: false,
    graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
}

/**
 * The image encoder's options: the shared ones, plus, for the float32 encoder, no weight
 * prepacking. onnxruntime keeps a prepacked copy of every Gemm weight next to the original; for
 * float32 MLAS packs the weights as it goes at no measurable cost, so the copy is ~180 MB of ViT-B's
 * peak for nothing (optimized ViT-B, 2-core EPYC, alternated in one process: 2.93 s without
 * prepacking vs 2.97 s with; process peak 1.23 GB vs 1.41 GB). The int8 encoder keeps it: its
 * quantized weights' prepacking is worth 14 % (1.96 s vs 2.28 s) for ~50 MB.
 */
export function encoderSessionOptions(precision: "fp32" | "int8"): InferenceSession.SessionOptions {
  const options = samSessionOptions();
  if (precision === "int8") return options;
  return { ...options, extra: { session: { ...options.extra.session, disable_prepacking: "1" } } };
}
