/**
 * The `medicosam optimize` rewrite of a model folder's encoder, made on first use and kept in
 * the folder (encoder.optimized.onnx, model.json `encoderOptimized`) exactly as the command
 * keeps it, so that the engine then runs it on the CPU by default. Making it takes ~18 s for
 * ViT-B (most of it the equivalence check, which runs the original at ~4 GB); later calls only
 * verify the checksums.
 */
import { optimizeTarget } from "../kernel/onnx/optimize/optimize-folder.js";
import { resolveModel } from "../kernel/sam/model-files.js";

export interface OptimizedEncoder {
  readonly folder: string;
  readonly originalPath: string;
  readonly optimizedPath: string;
  /** Largest output difference against the original, measured when the rewrite was written. */
  readonly maxAbsDiff: number | undefined;
  /** model.json's description of what was rewritten. */
  readonly method: string | undefined;
  /** Seconds spent making it now (rewrite + equivalence check); undefined when it was cached. */
  readonly madeSeconds: number | undefined;
}

/**
 * The folder's optimized encoder, made now when model.json has none made from the current
 * encoder or its file is missing or does not match its checksum. Throws what optimizeTarget
 * throws (an encoder it does not know, outputs that differ).
 */
export async function ensureOptimizedEncoder(folder: string, log: (line: string) => void = () => {}): Promise<OptimizedEncoder> {
  let madeSeconds: number | undefined;
  // resolveModel picks the optimized file only when it is current, and checks its sha256.
  const cached = await resolveModel(folder, { verifyChecksums: true }).catch(() => undefined);
  if (!cached?.optimized) {
    log(`${cached?.optimizedNotice ?? `${folder} has no optimized encoder`}; making it (medicosam optimize, with the equivalence check) ...`);
    const made = await optimizeTarget(folder);
    madeSeconds = made.seconds;
    log(`  ${made.file} written in ${made.seconds.toFixed(1)} s`);
  }
  const optimized = await resolveModel(folder, { verifyChecksums: false });
  if (!optimized.optimized) throw new Error(`${folder}: the optimized encoder was written but is not picked up (${optimized.optimizedNotice ?? "no notice"})`);
  const original = await resolveModel(folder, { verifyChecksums: false, optimized: false });
  const entry = optimized.manifest.encoderOptimized;
  return {
    folder: optimized.folder ?? folder,
    originalPath: original.encoderPath,
    optimizedPath: optimized.encoderPath,
    maxAbsDiff: entry?.maxAbsDiff,
    method: entry?.method,
    madeSeconds,
  };
}
