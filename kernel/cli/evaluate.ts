/**
 * `medicosam evaluate`: the MedicoSAM paper's simulated interactive 2D segmentation on a folder
 * of images with label maps, written as CSV/JSON tables and a chart (HTML and PNG).
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { evaluateDataset, type EvaluationItem } from "../evaluation/protocol-run.js";
import type { StartMode } from "../evaluation/protocol-prompts.js";
import { tableBundle } from "../display/figures-protocol.js";
import { protocolFigure } from "../display/figures.js";
import { PlotlyChart } from "../display/plotly.js";
import { parseIntensity } from "../intensity/parse.js";
import type { Image2D } from "../io/image.js";
import { readImage } from "../io/read-image.js";
import { MODEL_USAGE, modelOptions, openModel, parse, runCommand, UsageError } from "./args.js";

export const USAGE = `usage: medicosam evaluate (--model DIR | --encoder F --decoder F) --images DIR --labels DIR --out DIR

Runs the paper's protocol (docs/inference.md §8) on every image of --images whose label map (same file
name, any supported extension) is in --labels: each connected component of each class is
prompted with its deepest point and with its box, then corrected for 7 rounds with one positive
point from the false negatives and one negative point from the false positives.

Writes to --out: objects.csv (per object and round), classes.csv (per image, class and round),
summary.csv (the paper's average: images, then classes, then datasets), results.json, and
report.html / report.png (Dice per round, point and box starts).

model:
${MODEL_USAGE}
options:
  --images DIR           images (PNG, JPEG, TIFF)
  --labels DIR           label maps: one channel, integer class ids, 0 = background
  --out DIR              output folder (created)
  --dataset NAME         dataset name in the tables (default: the --images folder name)
  --starts LIST          point,box (default both)
  --corrections N        correction rounds after the start (default 7)
  --mask-prompts         feed the previous low-res logits back as mask prompt
  --seed N               seed of the point sampling (default 0)
  --min-size N           drop components under N pixels (default 20)
  --intensity MODE       as for \`medicosam segment\` (default minmax, micro_sam >= 1.7)`;

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".tif", ".tiff"]);

function listImages(dir: string, what: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    throw new UsageError(`${what} '${dir}' is not a readable folder.`);
  }
  const out = new Map<string, string>();
  for (const name of entries.sort()) {
    const ext = extname(name).toLowerCase();
    if (!IMAGE_EXTENSIONS.has(ext) || !statSync(join(dir, name)).isFile()) continue;
    out.set(basename(name, extname(name)), join(dir, name));
  }
  return out;
}

function integer(text: string | undefined, fallback: number, what: string, min: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${what} must be a whole number >= ${min}, not '${text}'.`);
  return v;
}

function asLabelMap(img: Image2D, path: string): { width: number; height: number; data: ArrayLike<number> } {
  if (img.channels !== 1) {
    // Many tools save gray label maps as RGB with equal channels: accept those, nothing else.
    const c = img.channels;
    const n = img.width * img.height;
    let gray = c === 3 || c === 4;
    for (let i = 0; gray && i < n; i++) gray = img.data[i * c] === img.data[i * c + 1] && img.data[i * c] === img.data[i * c + 2];
    if (!gray) {
      throw new Error(`${path}: a label map needs one channel of class ids, this image has ${c} different channels; save it as a gray image.`);
    }
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = img.data[i * c]!;
    img = { width: img.width, height: img.height, channels: 1, data };
  }
  for (let i = 0; i < img.data.length; i++) {
    const v = img.data[i]!;
    if (!Number.isInteger(v) || v < 0) throw new Error(`${path}: label maps hold non-negative whole numbers; found ${v}.`);
  }
  return { width: img.width, height: img.height, data: img.data };
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, positionals } = parse(
      args,
      {
        ...modelOptions,
        images: { type: "string" },
        labels: { type: "string" },
        out: { type: "string" },
        dataset: { type: "string" },
        starts: { type: "string" },
        corrections: { type: "string" },
        "mask-prompts": { type: "boolean" },
        seed: { type: "string" },
        "min-size": { type: "string" },
        intensity: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      false,
    );
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    if (!values.images || !values.labels || !values.out) throw new UsageError("--images, --labels and --out are all required.");
    const starts = (values.starts ?? "point,box").split(",").map((s) => s.trim());
    for (const s of starts) if (s !== "point" && s !== "box") throw new UsageError(`--starts takes point and/or box, not '${s}'.`);
    const corrections = integer(values.corrections, 7, "--corrections", 0);
    const seed = integer(values.seed, 0, "--seed", 0);
    const minSize = integer(values["min-size"], 20, "--min-size", 1);
    const intensity = values.intensity ? parseIntensity(values.intensity) : undefined;

    const images = listImages(values.images, "--images");
    const labels = listImages(values.labels, "--labels");
    const pairs = [...images].filter(([name]) => labels.has(name));
    const unmatched = [...images.keys()].filter((name) => !labels.has(name));
    if (pairs.length === 0) {
      throw new UsageError(`no image in ${values.images} has a label map of the same name in ${values.labels}.`);
    }
    if (unmatched.length) console.error(`note: ${unmatched.length} image(s) without a label map are skipped: ${unmatched.slice(0, 5).join(", ")}`);

    const model = await openModel(values, intensity ? { intensity } : {});
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      async function* items(): AsyncGenerator<EvaluationItem> {
        for (const [name, path] of pairs) {
          const image = await readImage(path);
          const labelPath = labels.get(name)!;
          const map = asLabelMap(await readImage(labelPath), labelPath);
          if (map.width !== image.width || map.height !== image.height) {
            throw new Error(`${labelPath} is ${map.width}x${map.height} but ${path} is ${image.width}x${image.height}.`);
          }
          yield { name, image, labels: map };
        }
      }
      const results = await evaluateDataset(model, items(), {
        dataset: values.dataset ?? basename(resolve(values.images)),
        starts: starts as StartMode[],
        corrections,
        seed,
        minSize,
        useMask: values["mask-prompts"] ?? false,
        onProgress: (done, name) => console.error(`[${done}/${pairs.length}] ${name}`),
      });
      const out = resolve(values.out);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "objects.csv"), results.toCsv("objects"));
      writeFileSync(join(out, "classes.csv"), results.toCsv("classes"));
      writeFileSync(join(out, "summary.csv"), results.toCsv("summary"));
      writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 1));
      const summary = results.summary();
      if (summary.length) {
        const chart = new PlotlyChart(protocolFigure(summary, { title: `Dice per correction round (${model.name})` }));
        writeFileSync(join(out, "report.html"), chart.toHtmlPage());
        writeFileSync(join(out, "report.png"), await chart.toPng(2));
      } else {
        console.error("note: no object reached the minimum size; nothing to plot.");
      }
      console.log(tableBundle(summary, "mean over datasets of (mean over classes of (mean over images))").text);
      console.log(`-> ${out}`);
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
