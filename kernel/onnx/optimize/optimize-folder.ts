/**
 * `medicosam optimize` on a model folder or a single encoder file.
 *
 * A folder gets `encoder.optimized.onnx` next to `encoder.onnx`, recorded in model.json as
 * `encoderOptimized` (file, sha256, the original's sha256, what was rewritten, the measured
 * difference), and `loadModel` then runs it on the CPU by default. The original stays: it is
 * the reference, and other devices keep running it. A lone .onnx file gets a sibling
 * `<name>.optimized.onnx` (or `output`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { sha256Hex, writeAtomic } from "../folder-writes.js";
import type { ModelManifest } from "../../sam/manifest.js";
import { resolveModel } from "../../sam/model-files.js";
import { describeRewrites, optimizeEncoder, type OptimizeOptions, type OptimizeReport } from "./optimize-encoder.js";
import { verifyEquivalence, type EquivalenceResult } from "./verify-equivalence.js";

export const OPTIMIZED_ENCODER_FILE = "encoder.optimized.onnx";

export interface OptimizeTargetOptions extends OptimizeOptions {
  /** Run both graphs and compare (default true). */
  readonly verify?: boolean;
  readonly tolerance?: number;
  /** For a single .onnx file: where to write (default `<name>.optimized.onnx` beside it). */
  readonly output?: string;
}

export interface OptimizeTargetResult {
  /** The model folder, when the target was one. */
  readonly folder?: string;
  readonly input: string;
  readonly file: string;
  readonly sha256: string;
  readonly report: OptimizeReport;
  readonly equivalence?: EquivalenceResult;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly seconds: number;
}

export class EquivalenceError extends Error {
  override name = "EquivalenceError";
}

export function describeOptimization(report: OptimizeReport): string {
  return `medicosam optimize: ${describeRewrites(report)}`;
}

/** Optimizes `target`: a model folder, a registry name, or an encoder .onnx file. */
export async function optimizeTarget(target: string, options: OptimizeTargetOptions = {}): Promise<OptimizeTargetResult> {
  const t0 = performance.now();
  const isFile = existsSync(target) && statSync(target).isFile();
  let folder: string | undefined;
  let inputPath: string;
  let fromSha256: string | undefined;
  if (isFile) {
    inputPath = resolve(target);
  } else {
    if (options.output) throw new Error("--output is for a single .onnx file; a model folder gets encoder.optimized.onnx.");
    // The original encoder, never a previous optimized file: optimizing twice would only nest.
    const resolved = await resolveModel(target, { verifyChecksums: true, optimized: false });
    if (!resolved.folder) throw new Error("optimize works on a model folder (with model.json) or an encoder .onnx file.");
    folder = resolved.folder;
    inputPath = resolved.encoderPath;
    fromSha256 = resolved.manifest.encoder.sha256;
  }
  const input = readFileSync(inputPath);
  fromSha256 ??= sha256Hex(input);
  const { bytes, report } = await optimizeEncoder(input, options);
  const outPath = folder
    ? resolve(folder, OPTIMIZED_ENCODER_FILE)
    : resolve(options.output ?? join(dirname(inputPath), `${basename(inputPath).replace(/\.onnx$/i, "")}.optimized.onnx`));
  if (outPath === inputPath) throw new Error(`${outPath} is the input itself; choose another --output.`);

  let equivalence: EquivalenceResult | undefined;
  if (options.verify ?? true) {
    equivalence = await verifyEquivalence(inputPath, bytes, { tolerance: options.tolerance });
    if (!equivalence.ok) {
      const per = equivalence.inputs.map((i) => `${i.name} ${i.maxAbsDiff.toExponential(2)}`).join(", ");
      throw new EquivalenceError(
        `the rewritten encoder differs from the original by up to ${equivalence.maxAbsDiff.toExponential(2)} (${per}; allowed ` +
          `${equivalence.tolerance}); nothing was written. Please report this model's layout; run it unoptimized meanwhile.`,
      );
    }
  }
  writeAtomic(outPath, bytes);
  const digest = sha256Hex(bytes);
  if (folder) {
    const manifestPath = join(folder, "model.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as ModelManifest;
    const updated: ModelManifest = {
      ...manifest,
      encoderOptimized: {
        file: OPTIMIZED_ENCODER_FILE,
        sha256: digest,
        fromSha256,
        method: describeOptimization(report),
        ...(equivalence ? { maxAbsDiff: equivalence.maxAbsDiff } : {}),
      },
    };
    writeAtomic(manifestPath, `${JSON.stringify(updated, null, 2)}\n`);
  }
  return {
    ...(folder ? { folder } : {}),
    input: inputPath,
    file: outPath,
    sha256: digest,
    report,
    ...(equivalence ? { equivalence } : {}),
    bytesIn: input.length,
    bytesOut: bytes.length,
    seconds: (performance.now() - t0) / 1000,
  };
}
