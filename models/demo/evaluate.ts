/**
 * Scores a model folder (default: the shipped demo model) on held-out phantoms through the
 * engine and writes scores.json next to it, plus the quality table as markdown on stdout
 * (pasted into TRAINING.md).
 *
 *   npx tsx models/demo/evaluate.ts [--model models/demo] [--quick]
 *
 * Seeds 400000+ (never used in training, which used 100000-199999; validation during
 * training used 300000+; the quality tests use 500000+).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../kernel/sam/model.js";
import { PHANTOM_LABEL_NAMES } from "../../kernel/phantom/index.js";
import { evaluate2d, evaluate3dVolumes, type Scores2d, type Scores3d } from "./quality.js";

export const EVAL_SEEDS = {
  ct2d: [400001, 400002, 400003, 400004, 400005, 400006, 400007, 400008],
  mr2d: [400101, 400102, 400103, 400104],
  ct3d: [400201, 400202, 400203],
  mr3d: [400301, 400302],
};

const f = (v: number) => v.toFixed(3);

function table(rows: [string, Scores2d][], rows3d: [string, Scores3d][]): string {
  const lines = [
    "| phantoms (held out) | objects | box | 1 click | click + 1 | click + 2 | click + 3 corrections | box + 3 corrections |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(([name, s]) =>
      `| ${name} | ${s.objects} | ${f(s.box)} | ${f(s.point)} | ${f(s.pointCorrections[0]!)} | ${f(s.pointCorrections[1]!)} | ${f(s.pointCorrections[2]!)} | ${f(s.boxCorrections[2]!)} |`,
    ),
    "",
    "| 3D propagation from the central slice (box, mask projection, IoU stop 0.5) | objects | Dice |",
    "|---|---|---|",
    ...rows3d.map(([name, s]) => `| ${name} | ${s.objects} | ${f(s.dice)} |`),
    "",
    "| class | objects (CT 2D) | box | 1 click | click + 3 |",
    "|---|---|---|---|---|",
    ...Object.entries(rows[0]![1].perClass).map(([id, c]) => `| ${PHANTOM_LABEL_NAMES[Number(id)]} | ${c.objects} | ${f(c.box)} | ${f(c.point)} | ${f(c.corrected)} |`),
  ];
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf("--model");
  const folder = i >= 0 ? argv[i + 1]! : fileURLToPath(new URL(".", import.meta.url));
  const quick = argv.includes("--quick");
  const model = await loadModel(folder);
  const t0 = performance.now();
  const pick = (s: number[]) => (quick ? s.slice(0, 2) : s);
  const ct = await evaluate2d(model, { seeds: pick(EVAL_SEEDS.ct2d), modality: "ct", slicesPerVolume: 4, corrections: 3 });
  const mr = await evaluate2d(model, { seeds: pick(EVAL_SEEDS.mr2d), modality: "mr", slicesPerVolume: 4, corrections: 3 });
  const ctMask = await evaluate2d(model, { seeds: pick(EVAL_SEEDS.ct2d).slice(0, 4), modality: "ct", slicesPerVolume: 4, corrections: 3, useMask: true });
  const ct3 = await evaluate3dVolumes(model, { seeds: pick(EVAL_SEEDS.ct3d), modality: "ct" });
  const mr3 = await evaluate3dVolumes(model, { seeds: pick(EVAL_SEEDS.mr3d), modality: "mr" });
  await model.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const scores = { model: folder, seeds: EVAL_SEEDS, quick, seconds: Math.round(seconds), ct2d: ct, mr2d: mr, ct2dWithMaskPrompt: ctMask, ct3d: ct3, mr3d: mr3 };
  if (!quick) writeFileSync(join(folder, "scores.json"), JSON.stringify(scores, null, 1) + "\n");
  console.log(table([["CT", ct], ["MR", mr], ["CT, corrections with mask prompt", ctMask]], [["CT", ct3], ["MR", mr3]]));
  console.log(`\n(${Math.round(seconds)} s${quick ? ", quick: not written" : `; wrote ${join(folder, "scores.json")}`})`);
}
