/**
 * Writes shape scenes of the training family (models/demo/shapes) in the layout train.py's
 * `load_set` reads, the same as training-set.ts writes for phantoms: index.json (one entry per
 * slice with width, height, pair id and byte offset) and images.u8, labels.u8, body.u8 (each
 * the slices' H*W bytes concatenated in index order). Each scene gives a pair of neighbouring
 * slices (same pair id, same size), so propagation prompts and "object ended" items work.
 *
 *   npx tsx models/demo/shapes-set.ts --out .cache/demo-shapes-train [--scenes 1750] [--seed-base 1000000]
 *   npx tsx models/demo/shapes-set.ts --out .cache/demo-shapes-val --scenes 100 --seed-base 2000000
 *
 * images.u8 holds the uint8 gray the encoder would see after the engine's intensity code
 * (kernel/intensity, the scene's own mode); for RGB scenes that is the luma of the engine's RGB,
 * and the RGB itself goes to rgb.u8 (H*W*3 bytes at the entry's `rgbOffset`), which the current
 * train.py ignores (GENERATORS.md says what reading it takes).
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toRgb8 } from "../../kernel/intensity/normalize.js";
import type { IntensitySpec } from "../../kernel/intensity/spec.js";
import { planScene, renderScene, type SceneModality } from "./shapes/scene.js";

/** Seeds of the training family's training scenes; held-out sets must use seeds outside. */
export const SHAPES_TRAIN_SEEDS = [1_000_000, 1_999_999] as const;

export interface ShapeSliceEntry {
  readonly seed: number;
  readonly family: "shapes";
  readonly modality: SceneModality;
  readonly contrast: string;
  readonly intensity: IntensitySpec;
  readonly width: number;
  readonly height: number;
  readonly depth: 2;
  readonly slice: 0 | 1;
  readonly pair: number;
  readonly channels: 1 | 3;
  readonly offset: number;
  readonly rgbOffset?: number;
}

/** The uint8 gray for images.u8 (and the RGB, for 3-channel scenes) of one rendered slice. */
export function encoderPixels(image: ReturnType<typeof renderScene>["image"], intensity: IntensitySpec): { gray: Uint8Array; rgb?: Uint8Array } {
  const rgb = toRgb8(image, intensity);
  const n = rgb.width * rgb.height;
  const gray = new Uint8Array(n);
  if (image.channels === 1) {
    for (let i = 0; i < n; i++) gray[i] = rgb.data[3 * i]!;
    return { gray };
  }
  for (let i = 0; i < n; i++) gray[i] = Math.round(0.299 * rgb.data[3 * i]! + 0.587 * rgb.data[3 * i + 1]! + 0.114 * rgb.data[3 * i + 2]!);
  return { gray, rgb: rgb.data };
}

export function writeShapeSet(out: string, scenes: number, seedBase: number, log: (s: string) => void = () => {}): { slices: number; seconds: number } {
  const t0 = performance.now();
  mkdirSync(out, { recursive: true });
  const fds = Object.fromEntries(["images", "labels", "body", "rgb"].map((n) => [n, openSync(join(out, `${n}.u8`), "w")])) as Record<string, number>;
  const entries: ShapeSliceEntry[] = [];
  let offset = 0;
  let rgbOffset = 0;
  for (let i = 0; i < scenes; i++) {
    const plan = planScene(seedBase + i);
    for (const slice of [0, 1] as const) {
      const r = renderScene(plan, slice);
      const { gray, rgb } = encoderPixels(r.image, plan.intensity);
      writeSync(fds["images"]!, gray);
      writeSync(fds["labels"]!, r.labels);
      writeSync(fds["body"]!, r.body);
      entries.push({
        seed: plan.seed, family: "shapes", modality: plan.modality, contrast: "", intensity: plan.intensity,
        width: plan.width, height: plan.height, depth: 2, slice, pair: i, channels: plan.channels, offset,
        ...(rgb ? { rgbOffset } : {}),
      });
      offset += gray.length;
      if (rgb) {
        writeSync(fds["rgb"]!, rgb);
        rgbOffset += rgb.length;
      }
    }
    if ((i + 1) % 250 === 0) log(`${i + 1}/${scenes} scenes, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  Object.values(fds).forEach((fd) => closeSync(fd));
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(out, "index.json"), JSON.stringify({ family: "shapes", seedBase, scenes, seconds, slices: entries }));
  return { slices: entries.length, seconds };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
  };
  const out = arg("--out", ".cache/demo-shapes-train");
  const scenes = Number(arg("--scenes", "1750"));
  const seedBase = Number(arg("--seed-base", String(SHAPES_TRAIN_SEEDS[0])));
  const inTrain = (s: number) => s >= SHAPES_TRAIN_SEEDS[0] && s <= SHAPES_TRAIN_SEEDS[1];
  if (inTrain(seedBase) !== inTrain(seedBase + scenes - 1)) throw new Error("a set must lie wholly inside or wholly outside the training seeds");
  const r = writeShapeSet(out, scenes, seedBase, console.log);
  console.log(`wrote ${r.slices} slices (${scenes} scene pairs) to ${out} in ${r.seconds.toFixed(0)} s`);
}
