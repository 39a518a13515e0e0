/**
 * Writes the random-weight ViT-B benchmark model folder (encoder.onnx, decoder.onnx, model.json)
 * into bench/.models/vit-b-random/, or reuses it when it is already there and was made by this
 * generator version. Run directly: `npx tsx models/bench/generate.ts [--force] [folder]`.
 *
 * The files are ~380 MB, so they are generated on demand and git-ignored, never committed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../kernel/package-root.js";
import type { ModelManifest } from "../../kernel/sam/manifest.js";
import { buildSamDecoder, SAM_DECODER_PARAMS } from "./sam-decoder.js";
import { buildVitBEncoder, VIT_B, VIT_B_ENCODER_PARAMS } from "./vit-b-encoder.js";

/** Bump when the graphs change, so that cached folders are rebuilt instead of silently reused. */
export const GENERATOR_VERSION = 2;
const ENCODER_SEED = 1;
const DECODER_SEED = 2;

export function defaultBenchModelDir(): string {
  return join(packageRoot(), "bench", ".models", "vit-b-random");
}

function sourceLine(): string {
  return `random weights, SAM ViT-B architecture; models/bench generator v${GENERATOR_VERSION}, seeds ${ENCODER_SEED}/${DECODER_SEED}`;
}

export interface GenerateReport {
  readonly dir: string;
  readonly generated: boolean;
  readonly encoderParams?: number;
  readonly decoderParams?: number;
  readonly seconds?: number;
}

/** Writes via a temporary name and a rename, so a crash or a parallel run never leaves half a model. */
function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Returns the folder, generating it first when missing, stale (other generator version) or forced. */
export function ensureBenchModel(
  dir = defaultBenchModelDir(),
  opts: { force?: boolean; log?: (line: string) => void } = {},
): GenerateReport {
  const manifestPath = join(dir, "model.json");
  if (!opts.force && existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, "utf8")) as ModelManifest;
    if (m.source === sourceLine() && existsSync(join(dir, m.encoder.file)) && existsSync(join(dir, m.decoder.file))) {
      return { dir, generated: false };
    }
  }
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });

  log(`building the ViT-B encoder (random weights) in ${dir} ...`);
  const enc = buildVitBEncoder(ENCODER_SEED, VIT_B);
  const encHash = sha256(enc.bytes);
  writeAtomic(join(dir, "encoder.onnx"), enc.bytes);
  log(`  encoder: ${enc.params.toLocaleString("en-US")} parameters (SAM ViT-B image encoder: ${VIT_B_ENCODER_PARAMS.toLocaleString("en-US")}), ${(enc.bytes.length / 1e6).toFixed(1)} MB`);

  const dec = buildSamDecoder(DECODER_SEED);
  writeAtomic(join(dir, "decoder.onnx"), dec.bytes);
  log(`  decoder: ${dec.params.toLocaleString("en-US")} parameters (SAM prompt encoder + mask decoder: ${SAM_DECODER_PARAMS.toLocaleString("en-US")}), ${(dec.bytes.length / 1e6).toFixed(1)} MB`);

  const manifest: ModelManifest = {
    name: "vit-b-random",
    notice: "random-weight ViT-B for benchmarks: its masks mean nothing",
    source: sourceLine(),
    encoder: { file: "encoder.onnx", sha256: encHash },
    decoder: { file: "decoder.onnx", sha256: sha256(dec.bytes), numMasks: 4 },
    preprocessing: {
      imageSize: 1024,
      pixelMean: [123.675, 116.28, 103.53],
      pixelStd: [58.395, 57.12, 57.375],
      intensity: { mode: "minmax" },
    },
  };
  // model.json last: its presence marks a complete folder.
  writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const seconds = (performance.now() - t0) / 1000;
  log(`  written to ${dir} in ${seconds.toFixed(1)} s`);
  return { dir, generated: true, encoderParams: enc.params, decoderParams: dec.params, seconds };
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const args = process.argv.slice(2);
  const force = args.includes("--force");
  const dir = args.find((a) => !a.startsWith("--"));
  const report = ensureBenchModel(dir === undefined ? defaultBenchModelDir() : resolve(dir), { force, log: (l) => console.log(l) });
  if (!report.generated) console.log(`${report.dir} is up to date (use --force to rebuild)`);
}
