/**
 * `medicosam demo` (`npm run demo`): the main job on what ships with the repository.
 *
 * Until the trained demo model lands (models/demo/), this uses the ANALYTIC TEST MODEL,
 * which draws discs around clicks and fills boxes: it proves the pipeline (image -> worker
 * encoder -> decoder -> masks -> files), not segmentation quality. Every output says so.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { toRgb8 } from "../intensity/normalize.js";
import { readImage } from "../io/read-image.js";
import { writeMaskPng } from "../io/mask-png.js";
import { drawOverlay } from "../display/overlay.js";
import { loadModel } from "../sam/model.js";
import type { Point, Prompt } from "../sam/prompt.js";
import { parse, runCommand } from "./args.js";

export const USAGE = `usage: medicosam demo [--out DIR]

Segments the shipped sample slice (data/phantom-slice.png, synthetic) with the shipped model
and writes masks, an overlay and a Dice table to DIR (default out/demo).`;

function packageRoot(): string {
  // dist/kernel/cli/demo.js and kernel/cli/demo.ts both sit three folders below the root,
  // but the compiled one has dist/ in front.
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes(`${join("dist", "kernel")}`) ? resolve(here, "../../..") : resolve(here, "../..");
}

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i]! && b[i]! ? 1 : 0;
    sum += (a[i] ? 1 : 0) + (b[i] ? 1 : 0);
  }
  return (2 * inter) / Math.max(sum, 1e-7);
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values } = parse(args, { out: { type: "string" }, help: { type: "boolean", short: "h" } }, false);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const root = packageRoot();
    const out = resolve(values.out ?? join(root, "out", "demo"));
    mkdirSync(out, { recursive: true });
    const modelDir = join(root, "models", "analytic");
    const model = await loadModel(modelDir);
    try {
      const banner = `model: ${model.name} — ${model.notice ?? "no notice"}`;
      console.log(banner);
      console.log("(the trained demo model is not shipped yet; these masks show the pipeline, not segmentation quality)");
      const image = await readImage(join(root, "data", "phantom-slice.png"));
      const labels = await readImage(join(root, "data", "phantom-slice-labels.png"));
      const t0 = performance.now();
      const embedding = await model.embed(image);
      console.log(`embedded ${image.width}x${image.height} in ${(performance.now() - t0).toFixed(0)} ms`);

      const click: Point = { x: 140, y: 150, positive: true };
      const tasks: { label: number; name: string; prompt: Prompt }[] = [
        { label: 1, name: "round organ, one click", prompt: { points: [click] } },
        { label: 2, name: "oval organ, box", prompt: { box: { x0: 214, y0: 148, x1: 310, y1: 204 } } },
      ];
      const rows: { object: string; prompt: string; token: number; predictedIoU: number; dice: number; ms: number }[] = [];
      const layers = [];
      for (const task of tasks) {
        const t = performance.now();
        const r = await model.segment(embedding, task.prompt);
        const ms = performance.now() - t;
        const truth = new Uint8Array(labels.data.length);
        for (let i = 0; i < truth.length; i++) truth[i] = labels.data[i] === task.label ? 1 : 0;
        rows.push({ object: task.name, prompt: JSON.stringify(task.prompt), token: r.token, predictedIoU: r.iou, dice: dice(r.mask, truth), ms });
        await writeMaskPng(join(out, `mask-${task.label}.png`), r.mask, r.width, r.height);
        layers.push({ mask: r.mask, label: task.label });
      }
      const overlay = drawOverlay(toRgb8(image, { mode: "none" }), layers, [click]);
      await sharp(overlay.data, { raw: { width: overlay.width, height: overlay.height, channels: 3 } })
        .png()
        .toFile(join(out, "overlay.png"));
      const report = { model: model.name, notice: model.notice, image: "data/phantom-slice.png (synthetic)", results: rows };
      writeFileSync(join(out, "results.json"), JSON.stringify(report, null, 2) + "\n");
      console.log("\nobject                    token  pred.IoU  Dice   decoder ms");
      for (const r of rows) {
        console.log(`${r.object.padEnd(26)}${String(r.token).padEnd(7)}${r.predictedIoU.toFixed(3).padEnd(10)}${r.dice.toFixed(3).padEnd(7)}${r.ms.toFixed(1)}`);
      }
      console.log(`\nwrote ${out}/ (mask-1.png, mask-2.png, overlay.png, results.json)`);
      console.log(`reminder: ${model.notice}`);
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
