/**
 * `medicosam quantize` on a model folder: encoder.onnx -> encoder.int8.onnx, recorded in
 * model.json as `encoderInt8` (file, sha256, the float32 encoder's sha256 it came from), so that
 * `loadModel(folder, { precision: "int8" })` finds it and refuses it once the float32 encoder
 * is re-exported. Only the encoder is quantized: it is >99% of the compute; the decoder runs in
 * tens of milliseconds and its few MatMuls are small.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sha256Hex, writeAtomic } from "./folder-writes.js";
import type { ModelManifest } from "../sam/manifest.js";
import { resolveModel } from "../sam/model-files.js";
import { quantizeModel, type QuantizeOptions, type QuantizeReport } from "./quantize.js";

export const INT8_ENCODER_FILE = "encoder.int8.onnx";

export interface QuantizeFolderResult {
  readonly folder: string;
  readonly file: string;
  readonly sha256: string;
  readonly report: QuantizeReport;
  readonly seconds: number;
}

export function describeMethod(report: Pick<QuantizeReport, "granularity" | "reduceRange" | "quantized" | "matmuls">): string {
  const scales = report.granularity === "per-column" ? "per-column" : "per-tensor";
  const bits = report.reduceRange ? "7-bit (reduced range)" : "8-bit";
  return (
    `dynamic int8 (medicosam quantize): ${report.quantized} of ${report.matmuls} MatMuls with ${bits} symmetric weights, ` +
    `${scales} weight scales, per-tensor uint8 activations at run time`
  );
}

/**
 * Quantizes the folder's float32 encoder (a folder path or a registry name; the optimized one
 * when `medicosam optimize` wrote it) and updates its model.json. The float32 encoder's checksum
 * is verified first: quantizing a corrupt file would bake the corruption into the int8 one.
 */
export async function quantizeModelFolder(source: string, options: QuantizeOptions = {}): Promise<QuantizeFolderResult> {
  const t0 = performance.now();
  // The float32 encoder loadModel would run: `medicosam optimize`'s rewrite when there is one (its
  // chunked attention then keeps the int8 encoder's peak memory as low), else the export.
  const resolved = await resolveModel(source, { verifyChecksums: true });
  if (!resolved.folder) throw new Error("quantize works on a model folder (with model.json).");
  const folder = resolved.folder;
  const manifestPath = join(folder, "model.json");
  const input = readFileSync(resolved.encoderPath);
  const fromSha256 = resolved.manifest.encoder.sha256 ?? sha256Hex(input);
  const { bytes, report } = quantizeModel(input, options);
  const file = INT8_ENCODER_FILE;
  const outPath = resolve(folder, file);
  if (outPath === resolve(resolved.encoderPath)) {
    throw new Error(`${outPath} is the float32 encoder itself; rename it in model.json before quantizing.`);
  }
  writeAtomic(outPath, bytes);
  const digest = sha256Hex(bytes);
  // Re-read model.json as written (resolveModel may have normalised it) and add one field.
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as ModelManifest;
  const updated: ModelManifest = {
    ...manifest,
    encoderInt8: { file, sha256: digest, fromSha256, method: describeMethod(report) },
  };
  writeAtomic(manifestPath, `${JSON.stringify(updated, null, 2)}\n`);
  return { folder, file: outPath, sha256: digest, report, seconds: (performance.now() - t0) / 1000 };
}
