/**
 * Finding a model's files: a folder with `encoder.onnx`, `decoder.onnx` and `model.json`,
 * or two explicit paths. Checksums in model.json are verified, so that a truncated
 * download or a stale export is caught before it produces wrong masks.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { ModelManifest } from "./manifest.js";
import { findModelFolder, looksLikeModelName } from "./registry.js";

export type ModelSource = string | { readonly encoder: string; readonly decoder: string };

/** Which encoder file of a folder to run: the exported float32 one or `medicosam quantize`'s int8 one. */
export type Precision = "fp32" | "int8";

export interface ResolvedModel {
  readonly manifest: ModelManifest;
  readonly encoderPath: string;
  readonly decoderPath: string;
  /** Folder of model.json, when the model came as a folder. */
  readonly folder?: string;
  readonly precision: Precision;
  /**
   * The encoder file runs `medicosam optimize`'s rewrite of the manifest's encoder. The
   * manifest's `encoder` entry stays the original's: its checksum keys the embedding caches,
   * which the rewrite does not invalidate (same outputs within 1e-4, checked when written).
   */
  readonly optimized?: boolean;
  /** Why a recorded optimized encoder was not used (stale, missing), for the load's notices. */
  readonly optimizedNotice?: string;
}

export class ModelFilesError extends Error {
  override name = "ModelFilesError";
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function parseManifest(path: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ModelFilesError(`${path}: not valid JSON (${(err as Error).message}).`);
  }
  const m = raw as Partial<ModelManifest>;
  const problems: string[] = [];
  if (typeof m.name !== "string" || !m.name) problems.push("'name' (a string) is missing");
  if (typeof m.source !== "string") problems.push("'source' (a string) is missing");
  if (!m.encoder || typeof m.encoder.file !== "string") problems.push("'encoder.file' is missing");
  if (!m.decoder || typeof m.decoder.file !== "string") problems.push("'decoder.file' is missing");
  if (m.decoder?.numMasks !== undefined && m.decoder.numMasks !== 1 && m.decoder.numMasks !== 4) {
    problems.push("'decoder.numMasks' must be 1 or 4");
  }
  if (problems.length) {
    throw new ModelFilesError(`${path}: ${problems.join("; ")}. See models/analytic/model.json for a complete example.`);
  }
  return m as ModelManifest;
}

function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new ModelFilesError(`${what} not found: ${path}`);
  if (!statSync(path).isFile()) throw new ModelFilesError(`${what} is not a file: ${path}`);
}

/**
 * Resolves a folder (with model.json) or two explicit ONNX paths. Without a manifest the
 * model is named after its folder and uses the default preprocessing.
 */
export async function resolveModel(
  source: ModelSource,
  options: { verifyChecksums?: boolean; precision?: Precision; optimized?: boolean } = {},
): Promise<ResolvedModel> {
  const verify = options.verifyChecksums ?? true;
  const precision = options.precision ?? "fp32";
  if (precision !== "fp32" && precision !== "int8") {
    throw new ModelFilesError(`precision '${String(precision)}' is not one of fp32, int8.`);
  }
  if (typeof source !== "string") {
    if (precision === "int8") {
      throw new ModelFilesError(
        "precision 'int8' picks the encoder of a model folder; with explicit files pass the int8 encoder as 'encoder' instead.",
      );
    }
    const encoderPath = resolve(source.encoder);
    const decoderPath = resolve(source.decoder);
    requireFile(encoderPath, "encoder");
    requireFile(decoderPath, "decoder");
    const manifest: ModelManifest = {
      name: basename(dirname(encoderPath)) || "custom",
      source: `explicit files ${encoderPath} and ${decoderPath}`,
      encoder: { file: encoderPath },
      decoder: { file: decoderPath },
    };
    return { manifest, encoderPath, decoderPath, precision };
  }
  // A bare name ("medicosam") that is not a path goes through models/registry.json.
  const folder = looksLikeModelName(source) ? findModelFolder(source) : resolve(source);
  if (!existsSync(folder)) throw new ModelFilesError(`model folder not found: ${folder}`);
  if (!statSync(folder).isDirectory()) {
    throw new ModelFilesError(
      `${folder} is a file; pass a model folder (encoder.onnx, decoder.onnx, model.json) or both files explicitly.`,
    );
  }
  const manifestPath = join(folder, "model.json");
  if (!existsSync(manifestPath)) {
    throw new ModelFilesError(
      `${folder} has no model.json. A model folder holds encoder.onnx, decoder.onnx and model.json ` +
        "(written by models/export); or pass the encoder and decoder files explicitly.",
    );
  }
  const declared = parseManifest(manifestPath);
  const manifest = precision === "int8" ? int8Manifest(declared, folder) : declared;
  const chosen = precision === "fp32" && options.optimized !== false ? optimizedEncoder(declared, folder) : {};
  const encoderPath = chosen.path ?? resolve(folder, manifest.encoder.file);
  const decoderPath = resolve(folder, manifest.decoder.file);
  requireFile(encoderPath, `encoder (model.json encoder.file)`);
  requireFile(decoderPath, `decoder (model.json decoder.file)`);
  if (verify) {
    for (const [entry, path] of [
      [chosen.path ? declared.encoderOptimized! : manifest.encoder, encoderPath],
      [manifest.decoder, decoderPath],
    ] as const) {
      if (!entry.sha256) continue;
      const actual = await sha256File(path);
      if (actual !== entry.sha256.toLowerCase()) {
        const fix =
          chosen.path && path === encoderPath
            ? `make it again with: medicosam optimize ${folder} (or load with { optimized: false } / --unoptimized).`
            : "export the model again.";
        throw new ModelFilesError(
          `${path}: sha256 ${actual} does not match model.json (${entry.sha256}). The file is corrupt or was ` +
            `re-exported without updating model.json; ${fix}`,
        );
      }
    }
  }
  return {
    manifest,
    encoderPath,
    decoderPath,
    folder,
    precision,
    ...(chosen.path ? { optimized: true } : {}),
    ...(chosen.notice ? { optimizedNotice: chosen.notice } : {}),
  };
}

/**
 * The folder's optimized encoder when it is there and made from the current encoder; else a
 * notice saying why the original runs (a stale rewrite is never run: it belongs to other weights).
 */
function optimizedEncoder(m: ModelManifest, folder: string): { path?: string; notice?: string } {
  const o = m.encoderOptimized;
  if (!o || typeof o.file !== "string") return {};
  const redo = `run again: medicosam optimize ${folder}`;
  if (o.fromSha256 && m.encoder.sha256 && o.fromSha256.toLowerCase() !== m.encoder.sha256.toLowerCase()) {
    return { notice: `${o.file} was made from another encoder than model.json's (stale); running ${m.encoder.file} — ${redo}` };
  }
  const path = resolve(folder, o.file);
  if (!existsSync(path)) return { notice: `${o.file} (model.json encoderOptimized) is missing; running ${m.encoder.file} — ${redo}` };
  return { path };
}

/**
 * The manifest as seen by an int8 load: `encoder` becomes the int8 entry, so that everything
 * keyed on the encoder's checksum (embedding caches) keeps int8 and float32 results apart.
 */
function int8Manifest(m: ModelManifest, folder: string): ModelManifest {
  const q = m.encoderInt8;
  if (!q || typeof q.file !== "string") {
    throw new ModelFilesError(
      `${folder} has no int8 encoder (model.json 'encoderInt8'). Make one with: medicosam quantize ${folder}`,
    );
  }
  if (q.fromSha256 && m.encoder.sha256 && q.fromSha256.toLowerCase() !== m.encoder.sha256.toLowerCase()) {
    throw new ModelFilesError(
      `${join(folder, q.file)} was made from another float32 encoder (sha256 ${q.fromSha256}) than the one in ` +
        `model.json (${m.encoder.sha256}); it is stale. Run again: medicosam quantize ${folder}`,
    );
  }
  return { ...m, encoder: { file: q.file, sha256: q.sha256 } };
}
