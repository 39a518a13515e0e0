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

export function samSessionOptions(): InferenceSession.SessionOptions {
  return {
    enableMemPattern: false,
    graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
}
