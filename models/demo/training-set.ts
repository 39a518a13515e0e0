/**
 * Writes the demo model's training set: phantom slices from kernel/phantom, turned into the
 * uint8 image the engine would feed the encoder (kernel/intensity, the same code as at
 * inference), with label maps and body masks. Python (train.py) reads these files, so the
 * two languages train and run on the same data from one generator.
 *
 *   npx tsx models/demo/training-set.ts --out .cache/demo-train [--anatomies 400] [--workers 2]
 *   npx tsx models/demo/training-set.ts --out .cache/demo-val --seed-base 300000 --anatomies 24   (held out)
 *
 * Layout of the output folder: index.json (one entry per slice: seed, modality, contrast,
 * intensity mode, size, slice index, pair id, byte offset) and three blobs, images.u8,
 * labels.u8, body.u8, each the slices' H*W bytes concatenated in index order.
 *
 * Slices come in pairs of neighbours (k, k+1) of one volume, so training can imitate 3D
 * propagation: the mask of one slice prompts the next.
 */
import { fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePhantomSlice } from "../../kernel/phantom/index.js";
import { Rng } from "../../kernel/phantom/random.js";
import { toRgb8 } from "../../kernel/intensity/normalize.js";
import type { IntensitySpec } from "../../kernel/intensity/spec.js";

/** Anatomy seeds of the training set are TRAIN_SEED_BASE + i; tests and samples use seeds outside. */
export const TRAIN_SEED_BASE = 100_000;
export const TRAIN_SEED_LIMIT = 200_000;

export interface TrainingRecipe {
  readonly anatomies: number;
  readonly pairsPerAnatomy: number;
  /** Fraction of CT anatomies (the rest MR). */
  readonly ctFraction: number;
  readonly sizeRange: readonly [number, number];
  readonly depthRange: readonly [number, number];
  /** Intensity modes and their probabilities, per modality. */
  readonly intensity: { readonly ct: readonly [IntensitySpec, number][]; readonly mr: readonly [IntensitySpec, number][] };
}

export const DEFAULT_RECIPE: TrainingRecipe = {
  anatomies: 400,
  pairsPerAnatomy: 4,
  ctFraction: 0.65,
  sizeRange: [160, 320],
  depthRange: [24, 48],
  intensity: {
    ct: [
      [{ mode: "minmax" }, 0.65],
      [{ mode: "window", level: 40, width: 400 }, 0.2],
      [{ mode: "percentile", low: 1, high: 99 }, 0.15],
    ],
    mr: [
      [{ mode: "minmax" }, 0.8],
      [{ mode: "percentile", low: 1, high: 99 }, 0.2],
    ],
  },
};

export interface SliceEntry {
  readonly seed: number;
  readonly modality: "ct" | "mr";
  readonly contrast: string;
  readonly intensity: IntensitySpec;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly slice: number;
  /** Slices with the same pair id are neighbours (slice and slice + 1) of one volume. */
  readonly pair: number;
}

function pick<T>(rng: Rng, table: readonly [T, number][]): T {
  let u = rng.next();
  for (const [v, p] of table) {
    if (u < p) return v;
    u -= p;
  }
  return table[table.length - 1]![0];
}

/** The slices of anatomy i (deterministic in i). */
export function slicesOf(i: number, recipe: TrainingRecipe, seedBase = TRAIN_SEED_BASE): SliceEntry[] {
  const seed = seedBase + i;
  if (seedBase === TRAIN_SEED_BASE && seed >= TRAIN_SEED_LIMIT) throw new Error(`too many anatomies: seeds must stay below ${TRAIN_SEED_LIMIT}`);
  if (seedBase !== TRAIN_SEED_BASE && seed >= TRAIN_SEED_BASE && seed < TRAIN_SEED_LIMIT) {
    throw new Error(`seed ${seed} is a training seed; held-out sets need seeds outside ${TRAIN_SEED_BASE}..${TRAIN_SEED_LIMIT - 1}`);
  }
  const rng = new Rng(seed * 31 + 7);
  const modality = rng.chance(recipe.ctFraction) ? "ct" : "mr";
  const width = rng.int(recipe.sizeRange[0], recipe.sizeRange[1]);
  const height = Math.round(width * rng.uniform(0.7, 1.0));
  const depth = rng.int(recipe.depthRange[0], recipe.depthRange[1]);
  const out: SliceEntry[] = [];
  for (let p = 0; p < recipe.pairsPerAnatomy; p++) {
    const k = rng.int(0, depth - 2);
    const intensity = pick(rng, recipe.intensity[modality]);
    for (const slice of [k, k + 1]) {
      out.push({ seed, modality, contrast: "", intensity, width, height, depth, slice, pair: i * recipe.pairsPerAnatomy + p });
    }
  }
  return out;
}

interface Rendered {
  entry: SliceEntry;
  image: Uint8Array;
  labels: Uint8Array;
  body: Uint8Array;
}

function render(e: SliceEntry): Rendered {
  const s = generatePhantomSlice({ seed: e.seed, modality: e.modality, width: e.width, height: e.height, depth: e.depth, slice: e.slice });
  const rgb = toRgb8(s, e.intensity);
  const gray = new Uint8Array(s.width * s.height);
  for (let i = 0; i < gray.length; i++) gray[i] = rgb.data[3 * i]!;
  return { entry: { ...e, contrast: s.settings.contrast }, image: gray, labels: s.labels, body: s.body };
}

/** Worker: render anatomies part, part+parts, ... and write part files. */
function runPart(out: string, recipe: TrainingRecipe, part: number, parts: number, seedBase: number): void {
  const entries: SliceEntry[] = [];
  const fds = ["images", "labels", "body"].map((n) => openSync(join(out, `${n}.part${part}.u8`), "w"));
  for (let i = part; i < recipe.anatomies; i += parts) {
    for (const e of slicesOf(i, recipe, seedBase)) {
      const r = render(e);
      writeSync(fds[0]!, r.image);
      writeSync(fds[1]!, r.labels);
      writeSync(fds[2]!, r.body);
      entries.push(r.entry);
    }
  }
  fds.forEach((fd) => closeSync(fd));
  writeFileSync(join(out, `index.part${part}.json`), JSON.stringify(entries));
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
  };
  const out = arg("--out", ".cache/demo-train");
  const recipe: TrainingRecipe = { ...DEFAULT_RECIPE, anatomies: Number(arg("--anatomies", String(DEFAULT_RECIPE.anatomies))) };
  const part = argv.indexOf("--part") >= 0 ? Number(arg("--part", "0")) : undefined;
  const workers = Number(arg("--workers", "2"));
  const seedBase = Number(arg("--seed-base", String(TRAIN_SEED_BASE)));
  mkdirSync(out, { recursive: true });
  if (part !== undefined) {
    runPart(out, recipe, part, workers, seedBase);
    return;
  }
  const t0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  await Promise.all(
    Array.from({ length: workers }, (_, p) =>
      new Promise<void>((resolve, reject) => {
        const child = fork(self, [...argv, "--part", String(p)], { stdio: "inherit" });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`part ${p} exited with ${code}`))));
      }),
    ),
  );
  // Merge the parts in anatomy order (part p holds anatomies p, p + workers, ...).
  const parts = Array.from({ length: workers }, (_, p) => ({
    entries: JSON.parse(readFileSync(join(out, `index.part${p}.json`), "utf8")) as SliceEntry[],
    blobs: ["images", "labels", "body"].map((n) => readFileSync(join(out, `${n}.part${p}.u8`))),
    at: 0,
    offset: 0,
  }));
  const index: (SliceEntry & { offset: number })[] = [];
  const fds = ["images", "labels", "body"].map((n) => openSync(join(out, `${n}.u8`), "w"));
  let offset = 0;
  for (let i = 0; i < recipe.anatomies; i++) {
    const p = parts[i % workers]!;
    for (let k = 0; k < recipe.pairsPerAnatomy * 2; k++) {
      const e = p.entries[p.at++]!;
      const n = e.width * e.height;
      p.blobs.forEach((b, j) => writeSync(fds[j]!, b.subarray(p.offset, p.offset + n)));
      p.offset += n;
      index.push({ ...e, offset });
      offset += n;
    }
  }
  fds.forEach((fd) => closeSync(fd));
  writeFileSync(
    join(out, "index.json"),
    JSON.stringify({ recipe, seedBase, seconds: (performance.now() - t0) / 1000, slices: index }, null, 0),
  );
  console.log(`wrote ${index.length} slices (${(offset / 1e6).toFixed(1)} MB per blob) to ${out} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
