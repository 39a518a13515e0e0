/**
 * Folds an exported graph's shape arithmetic into constants with onnxruntime's own "basic"
 * optimizations, so that the pattern matcher sees fixed shapes.
 *
 * Why: torch.onnx traces `x.shape`-dependent code as run-time arithmetic. In an export of
 * segment_anything's image encoder every Reshape of the attention takes its shape from a chain
 * of Shape -> Gather -> Unsqueeze -> Concat, and the relative-position index tables come from
 * Range/Mod/Cast chains (a ViT-B export has ~350 Constant, ~140 Unsqueeze, ~80 Cast nodes of
 * this kind). The encoder's input size is fixed, so all of it is constant; onnxruntime's
 * constant folding resolves it and writes the result with `optimizedModelFilePath`. The "basic"
 * level is the one onnxruntime documents as safe to save: it only uses standard ONNX ops and
 * does not depend on the execution provider or the CPU. One of its fusions is turned off:
 * MatMulAddFusion would turn every linear layer into Reshape + Gemm + Reshape, a form that
 * `medicosam quantize` (quantize.ts, which quantizes MatMul weights) does not touch; onnxruntime
 * fuses them anyway when it loads the saved graph for running.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";

export async function canonicalize(bytes: Uint8Array): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "medicosam-optimize-"));
  try {
    const input = join(dir, "input.onnx");
    const output = join(dir, "basic.onnx");
    writeFileSync(input, bytes);
    const session = await ort.InferenceSession.create(input, {
      graphOptimizationLevel: "basic",
      optimizedModelFilePath: output,
      // Only the saved graph matters: no run, no arena to keep.
      enableCpuMemArena: false,
      enableMemPattern: false,
      extra: { optimization: { disable_specified_optimizers: "MatMulAddFusion" } },
    });
    await session.release();
    return readFileSync(output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
