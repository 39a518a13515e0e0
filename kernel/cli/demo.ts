/**
 * `medicosam demo` (`npm run demo`): the main job on what ships with the repository.
 *
 * On the shipped synthetic CT volume: embed every axial slice (with progress), segment one
 * organ from a box and another from a click plus one correction, propagate the boxed organ
 * through the volume, score everything against the shipped labels, draw the PCA picture of one
 * slice's embedding, and write out/demo/ with the label map (.nii.gz), overlay PNGs, a Dice
 * table and an HTML report that opens offline.
 *
 * Model: MedicoSAM when it has been exported (README, "Use MedicoSAM"), else the shipped demo
 * model (trained on synthetic images, not MedicoSAM), else the analytic test model. Every
 * output says which.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { dice } from "../analysis/metrics.js";
import { boundingBox, deepestPoint } from "../analysis/geometry.js";
import { fitPca, projectEmbedding } from "../analysis/pca.js";
import { microSamPcaImage } from "../analysis/pca-image.js";
import { VolumeEmbeddings, formatProgress } from "../cache/volume-embeddings.js";
import { drawOverlay } from "../display/overlay.js";
import { encodeRgbPng } from "../display/png.js";
import { toRgb8 } from "../intensity/normalize.js";
import type { RgbImage8 } from "../io/image.js";
import { writeLabelMap } from "../io/nifti-labels.js";
import { openVolume } from "../io/volume-open.js";
import { extractSlice, readSliceOf, type ViewMapping } from "../io/volume-view.js";
import type { Volume } from "../io/volume.js";
import { paintLabels, propagate } from "../interactive/propagate.js";
import { packageRoot } from "../package-root.js";
import { loadModel, type SamModel } from "../sam/model.js";
import type { Point, Prompt } from "../sam/prompt.js";
import { findModelFolder } from "../sam/registry.js";
import { announceDevices, deviceOption, parse, runCommand } from "./args.js";
import { DEVICE_ENV } from "../sam/device.js";

export const USAGE = `usage: medicosam demo [--out DIR] [--model NAME_OR_DIR] [--device D]

Runs the quickstart end to end on the shipped synthetic CT volume (data/samples/ct-phantom.nii.gz)
and writes DIR (default out/demo): labels.nii.gz, overlay PNGs, dice.csv, results.json, report.html.
The model is MedicoSAM if exported, else the shipped demo model (not MedicoSAM).
--device D: where the encoder runs, cpu (default), webgpu, cuda or auto; default $${DEVICE_ENV}.`;

/** The organs the demo segments (ids of data/samples/labels.json). */
const BOXED_ORGAN = { id: 1, name: "liver" };
const CLICKED_ORGAN = { id: 2, name: "spleen" };

interface Row {
  readonly step: string;
  readonly organ: string;
  readonly prompt: string;
  readonly dice: number;
  readonly ms: number;
}

/** MedicoSAM if exported, else the demo model, else the analytic test model; never silently. */
function chooseModel(root: string, requested: string | undefined): string {
  if (requested) return requested;
  try {
    return findModelFolder("medicosam");
  } catch {
    // not exported: fall through to the shipped models
  }
  const demo = join(root, "models", "demo");
  if (existsSync(join(demo, "model.json"))) return demo;
  return join(root, "models", "analytic");
}

function organMask(labels: Uint8Array | ArrayLike<number>, id: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === id ? 1 : 0;
  return out;
}

function area(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}

/** The slice where the organ is largest: the natural place to start, as a user would. */
function largestSlice(labels: Volume, mapping: ViewMapping, id: number): number {
  let best = 0;
  let bestArea = -1;
  for (let z = 0; z < mapping.depth; z++) {
    const a = area(organMask(readSliceOf(labels.data, labels.dims, mapping, z), id));
    if (a > bestArea) {
      bestArea = a;
      best = z;
    }
  }
  return best;
}

/** One corrective click where the mask is most wrong: the deepest point of the larger error. */
function correctionClick(prediction: Uint8Array, truth: Uint8Array, width: number, height: number): Point | undefined {
  const fn = new Uint8Array(truth.length);
  const fp = new Uint8Array(truth.length);
  for (let i = 0; i < truth.length; i++) {
    fn[i] = truth[i] && !prediction[i] ? 1 : 0;
    fp[i] = prediction[i] && !truth[i] ? 1 : 0;
  }
  const positive = area(fn) >= area(fp);
  const p = deepestPoint(positive ? fn : fp, width, height);
  return p ? { x: p.x, y: p.y, positive } : undefined;
}

function sliceRgb(volume: Volume, e: VolumeEmbeddings, z: number): RgbImage8 {
  return toRgb8(extractSlice(volume, e.mapping, z), { mode: "minmax" });
}

async function writePng(path: string, image: RgbImage8): Promise<string> {
  const png = await encodeRgbPng(image);
  writeFileSync(path, png);
  return png.toString("base64");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

function reportHtml(model: SamModel, rows: readonly Row[], images: readonly { title: string; png: string }[], facts: readonly string[]): string {
  const notice = model.notice ? `<p class="notice">${escapeHtml(model.notice)}</p>` : "";
  const table = rows
    .map((r) => `<tr><td>${escapeHtml(r.step)}</td><td>${escapeHtml(r.organ)}</td><td>${escapeHtml(r.prompt)}</td><td>${r.dice.toFixed(3)}</td><td>${r.ms.toFixed(0)}</td></tr>`)
    .join("\n");
  const figures = images
    .map((i) => `<figure><img src="data:image/png;base64,${i.png}" alt="${escapeHtml(i.title)}"><figcaption>${escapeHtml(i.title)}</figcaption></figure>`)
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>MedicoSAM demo report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
.notice { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em 1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
figure { display: inline-block; margin: 0.5em; } img { image-rendering: pixelated; width: 320px; }
</style></head><body>
<h1>MedicoSAM demo report</h1>
<p>Model: <b>${escapeHtml(model.name)}</b></p>
${notice}
<ul>${facts.map((f) => `<li>${escapeHtml(f)}</li>`).join("")}</ul>
<h2>Dice against the shipped labels</h2>
<table><tr><th>step</th><th>organ</th><th>prompt</th><th>Dice</th><th>ms</th></tr>
${table}
</table>
<h2>Pictures</h2>
${figures}
<p>Data: a synthetic CT-like phantom generated by kernel/phantom (not a patient image).</p>
</body></html>
`;
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values } = parse(args, { out: { type: "string" }, model: { type: "string" }, device: { type: "string" }, help: { type: "boolean", short: "h" } }, false);
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const root = packageRoot();
    const out = resolve(values.out ?? join(root, "out", "demo"));
    mkdirSync(out, { recursive: true });
    const modelSource = chooseModel(root, values.model);
    const device = deviceOption(values.device);
    const model = await loadModel(modelSource, { device });
    announceDevices(model, device);
    try {
      console.log(`model: ${model.name}${model.notice ? ` — ${model.notice}` : ""}`);
      if (model.name === "analytic-test") {
        console.log("(the trained demo model is missing: these masks show the pipeline, not segmentation quality)");
      }
      const volume = await openVolume(join(root, "data", "samples", "ct-phantom.nii.gz"));
      const labels = await openVolume(join(root, "data", "samples", "ct-phantom-labels.nii.gz"));
      console.log(`volume: ${volume.dims.join("x")} voxels, spacing ${volume.spacing.map((s) => s.toFixed(2)).join("x")} mm, ${volume.orientation}`);

      const embeddings = await VolumeEmbeddings.open(volume, model, { view: "axial", storeRoot: join(out, "embeddings") });
      const mapping = embeddings.mapping;
      const { width, height } = mapping;
      const t0 = performance.now();
      let lastLine = "";
      const done = await embeddings.precompute({
        onProgress: (p) => {
          const line = formatProgress(p);
          if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
          lastLine = line;
        },
      });
      if (process.stdout.isTTY) process.stdout.write("\n");
      console.log(`embeddings: ${lastLine || formatProgress(done)}`);

      const rows: Row[] = [];
      const images: { title: string; png: string }[] = [];

      // 1. A box around one organ on the slice where it is largest.
      const zBox = largestSlice(labels, mapping, BOXED_ORGAN.id);
      const truthBox = organMask(readSliceOf(labels.data, labels.dims, mapping, zBox), BOXED_ORGAN.id);
      const b = boundingBox(truthBox, width, height)!;
      const box = { x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 };
      let t = performance.now();
      const boxed = await model.segment(await embeddings.get(zBox), { box });
      rows.push({ step: "box", organ: BOXED_ORGAN.name, prompt: `box (${box.x0},${box.y0})-(${box.x1},${box.y1}), slice ${zBox}`, dice: dice(boxed.mask, truthBox), ms: performance.now() - t });

      // 2. A click on another organ, then one correction where the mask is most wrong.
      const zClick = largestSlice(labels, mapping, CLICKED_ORGAN.id);
      const truthClick = organMask(readSliceOf(labels.data, labels.dims, mapping, zClick), CLICKED_ORGAN.id);
      const centre = deepestPoint(truthClick, width, height)!;
      const click: Point = { x: centre.x, y: centre.y, positive: true };
      const clickEmbedding = await embeddings.get(zClick);
      t = performance.now();
      const clicked = await model.segment(clickEmbedding, { points: [click] });
      rows.push({ step: "click", organ: CLICKED_ORGAN.name, prompt: `click (${click.x},${click.y}), slice ${zClick}`, dice: dice(clicked.mask, truthClick), ms: performance.now() - t });
      const fix = correctionClick(clicked.mask, truthClick, width, height);
      let corrected = clicked;
      const clickPoints: Point[] = [click];
      if (fix) {
        clickPoints.push(fix);
        const prompt: Prompt = { points: clickPoints, mask: { kind: "logits", logits: clicked.lowResLogits } };
        t = performance.now();
        corrected = await model.segment(clickEmbedding, prompt);
        rows.push({
          step: "click + 1 correction",
          organ: CLICKED_ORGAN.name,
          prompt: `+ ${fix.positive ? "positive" : "negative"} click (${fix.x},${fix.y})`,
          dice: dice(corrected.mask, truthClick),
          ms: performance.now() - t,
        });
      }

      // 3. Propagate the boxed organ through the volume, then score it in 3D.
      t = performance.now();
      const propagated = await propagate(embeddings, model, [{ z: zBox, mask: boxed.mask }], { projection: "mask" });
      const propagateMs = performance.now() - t;
      const labelVolume = new Uint8Array(volume.data.length);
      paintLabels(propagated, labelVolume, volume.dims, mapping, BOXED_ORGAN.id);
      const clickVolumeSlice = new Uint8Array(volume.data.length);
      paintLabels({ masks: new Map([[zClick, corrected.mask]]) }, clickVolumeSlice, volume.dims, mapping, CLICKED_ORGAN.id);
      for (let i = 0; i < labelVolume.length; i++) if (!labelVolume[i] && clickVolumeSlice[i]) labelVolume[i] = CLICKED_ORGAN.id;
      const truth3d = organMask(labels.data, BOXED_ORGAN.id);
      const pred3d = organMask(labelVolume, BOXED_ORGAN.id);
      rows.push({
        step: "3D propagation",
        organ: BOXED_ORGAN.name,
        prompt: `from slice ${zBox}, slices ${propagated.below.lastWritten}..${propagated.above.lastWritten} (mode mask)`,
        dice: dice(pred3d, truth3d),
        ms: propagateMs,
      });

      // 4. Files: label map, overlays, PCA picture, table, report.
      const labelFile = join(out, "labels.nii.gz");
      await writeLabelMap(labelFile, labelVolume, volume, { description: `medicosam demo (${model.name})` });
      images.push({
        title: `slice ${zBox}: box on the ${BOXED_ORGAN.name}`,
        png: await writePng(join(out, "overlay-box.png"), drawOverlay(sliceRgb(volume, embeddings, zBox), [{ mask: boxed.mask, label: BOXED_ORGAN.id }])),
      });
      images.push({
        title: `slice ${zClick}: click + correction on the ${CLICKED_ORGAN.name}`,
        png: await writePng(
          join(out, "overlay-click.png"),
          drawOverlay(sliceRgb(volume, embeddings, zClick), [{ mask: corrected.mask, label: CLICKED_ORGAN.id }], clickPoints),
        ),
      });
      // micro_sam's picture (compute_pca): all 64x64 tokens, PC1-3 scaled together, cropped
      const basis = await fitPca(clickEmbedding, { region: "all" });
      const picture = microSamPcaImage(projectEmbedding(basis, clickEmbedding)).image;
      images.push({ title: `slice ${zClick}: PCA of the embedding as micro_sam draws it (components 1-3 as RGB)`, png: await writePng(join(out, "pca.png"), picture) });
      images.push({ title: `slice ${zClick}: the image`, png: await writePng(join(out, "slice.png"), sliceRgb(volume, embeddings, zClick)) });

      const csv = ["step,organ,prompt,dice,ms", ...rows.map((r) => `${r.step},${r.organ},"${r.prompt}",${r.dice.toFixed(4)},${r.ms.toFixed(1)}`)].join("\n") + "\n";
      writeFileSync(join(out, "dice.csv"), csv);
      const facts = [
        `volume ${volume.dims.join("x")}, spacing ${volume.spacing.map((s) => s.toFixed(2)).join("x")} mm, orientation ${volume.orientation}`,
        `embeddings: ${formatProgress(done)}`,
        `total time ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      ];
      writeFileSync(join(out, "results.json"), JSON.stringify({ model: model.name, notice: model.notice ?? null, rows, facts }, null, 2) + "\n");
      writeFileSync(join(out, "report.html"), reportHtml(model, rows, images, facts));

      console.log("\nstep                    organ    Dice    ms");
      for (const r of rows) console.log(`${r.step.padEnd(24)}${r.organ.padEnd(9)}${r.dice.toFixed(3).padEnd(8)}${r.ms.toFixed(0)}`);
      console.log(`\nwrote ${out}/: labels.nii.gz, overlay-box.png, overlay-click.png, pca.png, dice.csv, results.json`);
      console.log(`report: ${join(out, "report.html")}`);
      if (model.notice) console.log(`reminder: ${model.notice}`);
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
