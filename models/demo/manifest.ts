/**
 * Writes models/demo/model.json for the ONNX files in a folder: the name, the notice every
 * output of this model must carry, where it came from, the files' sha256 (the engine checks
 * them on load; CI checks them against the shipped files) and the preprocessing it was
 * trained with.
 *
 *   npx tsx models/demo/manifest.ts [folder]      (default: models/demo)
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelManifest } from "../../kernel/sam/manifest.js";
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from "../../kernel/sam/preprocess.js";

export const DEMO_NOTICE = "demo model trained on synthetic images — not MedicoSAM";

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function demoManifest(folder: string): ModelManifest {
  return {
    name: "demo",
    notice: DEMO_NOTICE,
    source:
      "trained from scratch on synthetic CT/MR phantoms (kernel/phantom) and synthetic shape scenes (models/demo/shapes) by " +
      "models/demo/train.py on the slices written by models/demo/training-set.ts and shapes-set.ts; recipe, seed, time and " +
      "scores in models/demo/TRAINING.md and training.json",
    encoder: { file: "encoder.onnx", sha256: sha256(join(folder, "encoder.onnx")) },
    decoder: { file: "decoder.onnx", sha256: sha256(join(folder, "decoder.onnx")), numMasks: 4 },
    preprocessing: {
      imageSize: 1024,
      pixelMean: SAM_PIXEL_MEAN,
      pixelStd: SAM_PIXEL_STD,
      // Trained mostly on micro_sam's per-slice min/max (the engine's default), with some
      // abdomen-window and percentile slices for robustness.
      intensity: { mode: "minmax" },
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const folder = process.argv[2] ?? fileURLToPath(new URL(".", import.meta.url));
  writeFileSync(join(folder, "model.json"), JSON.stringify(demoManifest(folder), null, 2) + "\n");
  console.log(`wrote ${join(folder, "model.json")}`);
}
