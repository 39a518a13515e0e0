/**
 * Preprocessing of one 512x512 slice to the [1,3,1024,1024] encoder tensor, split into its two
 * steps: intensity (raw pixels -> uint8 RGB, kernel/intensity) and SAM preprocessing (resize,
 * normalise, pad; kernel/sam/preprocess). The engine runs the first on the main thread and the
 * second in the encoder process, so both are on the per-image path the user waits for.
 */
import type { Image2D } from "../../kernel/io/image.js";
import { toRgb8 } from "../../kernel/intensity/normalize.js";
import type { IntensitySpec } from "../../kernel/intensity/spec.js";
import { preprocess } from "../../kernel/sam/preprocess.js";
import { longestSideSize, resizeRgb8 } from "../../kernel/sam/resize.js";
import { ctImage16, grayImage8 } from "../images.js";
import { timeRuns } from "../stats.js";
import type { Metric, SectionConfig, SectionResult } from "../types.js";

async function timeSlice(label: string, image: Image2D, intensity: IntensitySpec, runs: number): Promise<Metric[]> {
  const opts = { warmup: 5, runs };
  const rgb = toRgb8(image, intensity);
  const intensityMs = await timeRuns(() => toRgb8(image, intensity), opts);
  // As the encoder process calls it: a fresh 12 MiB tensor per image.
  const preMs = await timeRuns(() => preprocess(rgb), opts);
  const target = longestSideSize(rgb.height, rgb.width, 1024);
  const resizeMs = await timeRuns(() => resizeRgb8(rgb, target), opts);
  const totalMs = await timeRuns(() => preprocess(toRgb8(image, intensity)), opts);
  const mode = intensity.mode === "window" ? `window ${intensity.level}/${intensity.width}` : intensity.mode;
  return [
    { name: `${label}: intensity (${mode})`, unit: "ms", summary: intensityMs },
    { name: `${label}: resize+normalize+pad`, unit: "ms", summary: preMs },
    { name: `${label}:   of which resize (Pillow bilinear)`, unit: "ms", summary: resizeMs },
    { name: `${label}: total`, unit: "ms", summary: totalMs },
  ];
}

export async function run(config: SectionConfig): Promise<SectionResult> {
  const runs = config.runs ?? (config.quick ? 10 : 30);
  const gray = grayImage8();
  const ct = ctImage16();
  const metrics = [
    ...(await timeSlice("uint8 gray 512x512", gray, { mode: "minmax" }, runs)),
    ...(await timeSlice("int16 CT 512x512", ct, { mode: "minmax" }, runs)),
  ];
  const windowed = await timeSlice("int16 CT 512x512", ct, { mode: "window", level: 40, width: 400 }, runs);
  metrics.push(windowed[0]!);
  // With a reused output buffer, as a volume loop can do (PreprocessOptions.out).
  const rgb = toRgb8(gray, { mode: "minmax" });
  const out = new Float32Array(3 * 1024 * 1024);
  metrics.push({
    name: "uint8 gray 512x512: resize+normalize+pad, reused buffer",
    unit: "ms",
    summary: await timeRuns(() => preprocess(rgb, { out }), { warmup: 5, runs }),
  });
  return { section: "preprocess", metrics };
}
