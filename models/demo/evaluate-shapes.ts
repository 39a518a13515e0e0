/**
 * Scores a model folder on the independent evaluation family (models/demo/eval-scenes, a
 * generator training never used) and on held-out phantoms, through the engine: the paper's
 * 2D protocol (runObject) from the tight box and from the deepest point with 3 correction
 * rounds, split by the object's polarity in the encoder's image (darker / brighter than the
 * ring around it), plus the Spearman rank correlation of predicted and true IoU.
 *
 *   npx tsx models/demo/evaluate-shapes.ts [--model models/demo] [--scenes 60] [--json OUT]
 *
 * The rank correlation covers ALL FOUR tokens of every decoder call the protocol makes (each
 * token's predicted IoU against the IoU of that token's mask with the object), and separately
 * the chosen token per call. A second decoder session returns every token's mask for the same
 * prompt; the protocol itself runs through SamModel.segment, as users do.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Image2D } from "../../kernel/io/image.js";
import { toRgb8 } from "../../kernel/intensity/normalize.js";
import type { IntensitySpec } from "../../kernel/intensity/spec.js";
import { extractObjects } from "../../kernel/analysis/objects.js";
import { runObject, type ProtocolEngine } from "../../kernel/evaluation/protocol.js";
import type { ProtocolObject } from "../../kernel/analysis/objects.js";
import { generatePhantomSlice, type Modality } from "../../kernel/phantom/index.js";
import { SamDecoder } from "../../kernel/sam/decoder.js";
import type { Embedding } from "../../kernel/sam/embedding.js";
import { maskInputFor } from "../../kernel/sam/mask-prompt.js";
import { loadModel, type SamModel } from "../../kernel/sam/model.js";
import type { Prompt } from "../../kernel/sam/prompt.js";
import { encodePrompt } from "../../kernel/sam/prompt-encoding.js";
import { evalScene } from "./eval-scenes/scene.js";
import { EVAL_SEEDS } from "./evaluate.js";
import { checkHeldOut } from "./quality.js";

/** Seeds of the evaluation family (its own generator; no training set draws from it). */
export const EVAL_SCENE_SEED_BASE = 3_000_000;
const MAX_OBJECTS_PER_IMAGE = 8;

export type Polarity = "dark" | "bright" | "flat";

export interface ObjectScore {
  readonly set: string;
  readonly group: string;
  readonly polarity: Polarity;
  readonly area: number;
  readonly box: number;
  /** Predicted area over true area of the box's mask (a "small blob" shows as << 1). */
  readonly boxAreaRatio: number;
  readonly point: number;
  readonly corrections: readonly number[];
}

/** Spearman's rho with average ranks for ties. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const rank = (v: readonly number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Float64Array(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/** Mean gray of the encoder's image inside the object minus that of the ring 2-6 px around it. */
export function polarity(gray: Uint8Array, obj: ProtocolObject, labels: ArrayLike<number>): Polarity {
  const { width: w, height: h, mask } = obj;
  let sIn = 0;
  let nIn = 0;
  let sOut = 0;
  let nOut = 0;
  const { x0, y0, x1, y1 } = obj.box;
  for (let y = Math.max(0, y0 - 6); y < Math.min(h, y1 + 6); y++) {
    for (let x = Math.max(0, x0 - 6); x < Math.min(w, x1 + 6); x++) {
      const i = y * w + x;
      if (mask[i]) {
        sIn += gray[i]!;
        nIn++;
        continue;
      }
      if (labels[i]) continue;
      let near = false;
      for (let dy = -6; dy <= 6 && !near; dy += 2) for (let dx = -6; dx <= 6 && !near; dx += 2) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && mask[yy * w + xx] && Math.max(Math.abs(dx), Math.abs(dy)) >= 2) near = true;
      }
      if (near) {
        sOut += gray[i]!;
        nOut++;
      }
    }
  }
  if (!nOut) return "flat";
  const d = sIn / nIn - sOut / nOut;
  return d < -8 ? "dark" : d > 8 ? "bright" : "flat";
}

/** Wraps SamModel.segment and records every token's predicted and true IoU for the current object. */
class RecordingEngine implements ProtocolEngine {
  object: ProtocolObject | undefined;
  readonly all: { pred: number[]; truth: number[] } = { pred: [], truth: [] };
  readonly chosen: { pred: number[]; truth: number[] } = { pred: [], truth: [] };

  constructor(private readonly model: SamModel, private readonly probe: SamDecoder) {}

  async segment(embedding: Embedding, prompt: Prompt, options?: { multimask?: "auto" | "on" | "off" }) {
    const result = await this.model.segment(embedding, prompt, options);
    const obj = this.object!;
    const original = embedding.originalSize;
    const out = await this.probe.run(embedding.data, encodePrompt(prompt, original, embedding.resizedSize), prompt.mask ? maskInputFor(prompt.mask, original) : undefined, original);
    const n = original.width * original.height;
    for (let t = 0; t < out.ious.length; t++) {
      let inter = 0;
      let union = 0;
      for (let i = 0; i < n; i++) {
        const p = out.masks[t * n + i]! > 0;
        const g = obj.mask[i] === 1;
        if (p && g) inter++;
        if (p || g) union++;
      }
      const truth = union ? inter / union : 0;
      this.all.pred.push(out.ious[t]!);
      this.all.truth.push(truth);
      if (t === result.token) {
        this.chosen.pred.push(out.ious[t]!);
        this.chosen.truth.push(truth);
      }
    }
    return result;
  }
}

function grayOf(image: Image2D, intensity: IntensitySpec | undefined): Uint8Array {
  const rgb = toRgb8(image, intensity);
  const g = new Uint8Array(rgb.width * rgb.height);
  for (let i = 0; i < g.length; i++) g[i] = Math.round(0.299 * rgb.data[3 * i]! + 0.587 * rgb.data[3 * i + 1]! + 0.114 * rgb.data[3 * i + 2]!);
  return g;
}

async function scoreImage(model: SamModel, engine: RecordingEngine, set: string, group: string, image: Image2D, labels: Uint8Array, intensity: IntensitySpec | undefined, rows: ObjectScore[]): Promise<void> {
  const embedding = await model.embed(image, intensity ? { intensity } : {});
  const gray = grayOf(image, intensity);
  const { objects } = extractObjects({ width: image.width, height: image.height, data: labels });
  for (const obj of objects.slice(0, MAX_OBJECTS_PER_IMAGE)) {
    engine.object = obj;
    const b = await runObject(engine, embedding, obj, { start: "box", corrections: 0, seed: 0 });
    const p = await runObject(engine, embedding, obj, { start: "point", corrections: 3, seed: 0 });
    rows.push({
      set,
      group,
      polarity: polarity(gray, obj, labels),
      area: obj.area,
      box: b.rounds[0]!.dice,
      boxAreaRatio: b.rounds[0]!.predictedArea / obj.area,
      point: p.rounds[0]!.dice,
      corrections: p.rounds.slice(1).map((r) => r.dice),
    });
  }
}

export interface EvaluationRun {
  readonly rows: ObjectScore[];
  readonly spearmanAll: Record<string, number>;
  readonly spearmanChosen: Record<string, number>;
  readonly seconds: number;
}

export async function evaluateShapesAndPhantoms(model: SamModel, scenes: number, phantoms = true): Promise<EvaluationRun> {
  const t0 = performance.now();
  const probe = await SamDecoder.load(model.decoderPath);
  const rows: ObjectScore[] = [];
  const spearmanAll: Record<string, number> = {};
  const spearmanChosen: Record<string, number> = {};
  try {
    const fam = new RecordingEngine(model, probe);
    for (let i = 0; i < scenes; i++) {
      const s = evalScene(EVAL_SCENE_SEED_BASE + i);
      await scoreImage(model, fam, "independent", s.style, s.image, s.labels, s.intensity, rows);
    }
    spearmanAll["independent"] = spearman(fam.all.pred, fam.all.truth);
    spearmanChosen["independent"] = spearman(fam.chosen.pred, fam.chosen.truth);
    if (phantoms) {
      for (const [modality, seeds] of [["ct", EVAL_SEEDS.ct2d], ["mr", EVAL_SEEDS.mr2d]] as [Modality, number[]][]) {
        checkHeldOut(seeds);
        const eng = new RecordingEngine(model, probe);
        for (const seed of seeds) {
          for (let j = 0; j < 4; j++) {
            const k = Math.round(24 * (0.15 + (0.7 * (j + 0.5)) / 4));
            const s = generatePhantomSlice({ seed, modality, width: 192, height: 160, depth: 24, slice: k });
            await scoreImage(model, eng, `phantom-${modality}`, modality.toUpperCase(), s, s.labels, undefined, rows);
          }
        }
        spearmanAll[`phantom-${modality}`] = spearman(eng.all.pred, eng.all.truth);
        spearmanChosen[`phantom-${modality}`] = spearman(eng.chosen.pred, eng.chosen.truth);
      }
    }
  } finally {
    await probe.release();
  }
  return { rows, spearmanAll, spearmanChosen, seconds: (performance.now() - t0) / 1000 };
}

const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const f = (v: number) => (Number.isNaN(v) ? "-" : v.toFixed(3));

export function table(run: EvaluationRun): string {
  const line = (name: string, rows: readonly ObjectScore[], rho?: [number, number]) =>
    `| ${name} | ${rows.length} | ${f(mean(rows.map((r) => r.box)))} | ${f(mean(rows.map((r) => r.boxAreaRatio)))} | ${f(mean(rows.map((r) => r.point)))} | ${[0, 1, 2].map((k) => f(mean(rows.map((r) => r.corrections[k]!)))).join(" | ")} | ${rho ? `${f(rho[0])} / ${f(rho[1])}` : ""} |`;
  const out = [
    "| set | objects | box | box area / true | 1 click | click + 1 | click + 2 | click + 3 | IoU rank corr. (all 4 tokens / chosen) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const sets = [...new Set(run.rows.map((r) => r.set))];
  for (const set of sets) {
    const rs = run.rows.filter((r) => r.set === set);
    out.push(line(`**${set}**`, rs, [run.spearmanAll[set]!, run.spearmanChosen[set]!]));
    for (const p of ["dark", "bright", "flat"] as const) out.push(line(`${set}, ${p} objects`, rs.filter((r) => r.polarity === p)));
    if (set === "independent") for (const g of [...new Set(rs.map((r) => r.group))].sort()) out.push(line(`${set}, ${g}`, rs.filter((r) => r.group === g)));
  }
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const arg = (name: string, def?: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : def;
  };
  const folder = arg("--model", fileURLToPath(new URL(".", import.meta.url)))!;
  const model = await loadModel(folder);
  try {
    const run = await evaluateShapesAndPhantoms(model, Number(arg("--scenes", "60")), !argv.includes("--no-phantoms"));
    console.log(table(run));
    console.log(`\n(${run.rows.length} objects, ${Math.round(run.seconds)} s; model ${folder})`);
    const json = arg("--json");
    if (json) writeFileSync(json, JSON.stringify(run, null, 1) + "\n");
  } finally {
    await model.dispose();
  }
}
