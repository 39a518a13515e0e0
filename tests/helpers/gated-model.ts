/**
 * An image-aware variant of the analytic test model, for propagation tests.
 *
 * The committed analytic model (models/analytic) ignores the image: its masks are discs and
 * boxes, and it echoes a mask prompt unchanged. Propagating with it can never find where an
 * object ends. This variant keeps the same prompt rules (discs around positive points, holes
 * around negative points, box bounds, mask echo) and intersects the result with an image
 * gate: low-res logit = min(prompt logit, gain * (embedding channel 3 - threshold)), where
 * channel 3 of the analytic encoder is the 16x16 mean of the normalized image. So a mask is
 * "the prompted region, where the image is brighter than `thresholdGray`". Same ONNX contract
 * (numMasks 1): the analytic generator with its `imageGate` option, run by the real engine.
 */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildDecoder } from "../../models/analytic/generate.js";

const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];

export interface GatedOptions {
  /** Gray value (0..255 after intensity normalization) above which the image counts as object. */
  readonly thresholdGray?: number;
  /** Disc radius around positive points, 1024-frame pixels. */
  readonly radius?: number;
  readonly negativeRadius?: number;
  readonly gain?: number;
  readonly iou?: number;
}

/** The analytic decoder (models/analytic/generate.ts) with one token and its image gate on. */
export function buildGatedDecoder(o: GatedOptions = {}): Uint8Array {
  return buildDecoder({
    numMasks: 1,
    radii: [o.radius ?? 320],
    iouScores: [o.iou ?? 0.9],
    negativeRadius: o.negativeRadius ?? 48,
    imageGate: { thresholdGray: o.thresholdGray ?? 100, gain: o.gain ?? 20 },
  });
}

/** Writes a model folder (encoder copied from models/analytic) and returns its path. */
export async function writeGatedModel(dir: string, options: GatedOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(join("models", "analytic", "encoder.onnx"), join(dir, "encoder.onnx"));
  await writeFile(join(dir, "decoder.onnx"), buildGatedDecoder(options));
  const manifest = {
    name: "gated-analytic-test",
    notice: "image-gated analytic test model — not MedicoSAM",
    source: "tests/helpers/gated-model.ts",
    encoder: { file: "encoder.onnx" },
    decoder: { file: "decoder.onnx", numMasks: 1 },
    preprocessing: { imageSize: 1024, pixelMean: MEAN, pixelStd: STD },
  };
  await writeFile(join(dir, "model.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
