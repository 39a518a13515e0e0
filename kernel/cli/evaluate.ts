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
import { openVolume } from "../io/volume-open.js";
import { extractSlice, VIEWS, viewMapping, type ViewName } from "../io/volume-view.js";
import { MODEL_USAGE, modelOptions, openModel, parse, runCommand, UsageError } from "./args.js";

export const USAGE = `usage: medicosam evaluate (--model DIR | --encoder F --decoder F) --images DIR --labels DIR --out DIR

Runs the paper's protocol (docs/inference.md §8) on every image of --images whose label map (same file
name, any supported extension) is in --labels: each connected component of each class is
prompted with its deepest point and with its box, then corrected for 7 rounds with one positive
point from the false negatives and one negative point from the false positives. A volume (NIfTI
file or DICOM series folder) with a label volume of the same name is evaluated slice by slice in
one view: every slice that holds a label, or the ones --slices names.

Writes to --out: objects.csv (per object and round), classes.csv (per image, class and round),
summary.csv (the paper's average: images, then classes, then datasets), results.json, and
report.html / report.png (Dice per round, point and box starts).

model:
${MODEL_USAGE}
options:
  --images DIR           images (PNG, JPEG, TIFF) and/or volumes (.nii, .nii.gz, DICOM series folders)
  --labels DIR           label maps of the same names: one channel, integer class ids, 0 = background
                         (label volumes for volumes, with the same dimensions)
  --out DIR              output folder (created)
  --view V               the view volumes are cut in: axial (default), coronal or sagittal
  --slices LIST          volume slices to evaluate, e.g. 10,12,20-24 (default: every slice with a label)
  --dataset NAME         dataset name in the tables (default: the --images folder name)
  --starts LIST          point,box (default both)
  --corrections N        correction rounds after the start (default 7)
  --mask-prompts         feed the previous low-res logits back as mask prompt
  --seed N               seed of the point sampling (default 0)
  --min-size N           drop components under N pixels (default 20)
  --intensity MODE       as for \`medicosam segment\` (default minmax, micro_sam >= 1.7)`;

const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".tif", ".tiff"];
const VOLUME_EXTENSIONS = [".nii.gz", ".nii"];

/** One entry of --images or --labels: a 2D image or a volume, under its name without extension. */
interface Entry {
  readonly name: string;
  readonly path: string;
  readonly kind: "image" | "volume";
}

/** What a folder holds: entries medicosam reads by name, and the names of everything else. */
function listEntries(dir: string, what: string): { entries: Map<string, Entry>; other: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new UsageError(`${what} '${dir}' is not a readable folder.`);
  }
  const entries = new Map<string, Entry>();
  const other: string[] = [];
  for (const file of names.sort()) {
    if (file.startsWith(".")) continue;
    const path = join(dir, file);
    const lower = file.toLowerCase();
    if (statSync(path).isDirectory()) {
      entries.set(file, { name: file, path, kind: "volume" }); // a DICOM series
      continue;
    }
    const volumeExt = VOLUME_EXTENSIONS.find((e) => lower.endsWith(e));
    if (volumeExt) {
      entries.set(file.slice(0, -volumeExt.length), { name: file.slice(0, -volumeExt.length), path, kind: "volume" });
    } else if (IMAGE_EXTENSIONS.includes(extname(lower))) {
      entries.set(basename(file, extname(file)), { name: basename(file, extname(file)), path, kind: "image" });
    } else {
      other.push(file);
    }
  }
  return { entries, other };
}

const READS = "PNG, JPEG or TIFF images, NIfTI volumes (.nii, .nii.gz) and DICOM series (one folder each)";

function listOf(names: readonly string[]): string {
  return names.length <= 6 ? names.join(", ") : `${names.slice(0, 6).join(", ")} and ${names.length - 6} more`;
}

/** `10,12,20-24` -> [10, 12, 20, 21, 22, 23, 24]. */
export function parseSlices(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
      throw new UsageError(`--slices takes slice numbers and ranges such as 10,12,20-24, not '${text}'.`);
    }
    for (let z = Number(m[1]); z <= Number(m[2] ?? m[1]); z++) out.add(z);
  }
  return [...out].sort((a, b) => a - b);
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
        view: { type: "string" },
        slices: { type: "string" },
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

    const view = (values.view ?? "axial") as ViewName;
    if (!VIEWS.includes(view)) throw new UsageError(`--view must be one of ${VIEWS.join(", ")}, not '${values.view}'.`);
    const chosenSlices = values.slices === undefined ? undefined : parseSlices(values.slices);

    const images = listEntries(values.images, "--images");
    const labels = listEntries(values.labels, "--labels");
    if (images.entries.size === 0) {
      throw new UsageError(
        `--images ${values.images} holds nothing medicosam evaluates` +
          (images.other.length ? ` (found ${listOf(images.other)})` : " (it is empty)") +
          `; it reads ${READS}.`,
      );
    }
    if (images.other.length) console.error(`note: ${images.other.length} file(s) in --images are in no format read here and are skipped: ${listOf(images.other)}`);
    const pairs = [...images.entries.values()].filter((e) => labels.entries.has(e.name));
    const unmatched = [...images.entries.keys()].filter((name) => !labels.entries.has(name));
    if (pairs.length === 0) {
      const found = labels.entries.size
        ? `label maps there: ${listOf([...labels.entries.keys()])}`
        : labels.other.length
          ? `nothing there is in a format read here (found ${listOf(labels.other)}; it reads ${READS})`
          : "that folder is empty";
      throw new UsageError(
        `no image in ${values.images} (${listOf([...images.entries.keys()])}) has a label map of the same name in ${values.labels}; ${found}.`,
      );
    }
    for (const e of pairs) {
      const l = labels.entries.get(e.name)!;
      if (l.kind !== e.kind) throw new UsageError(`${e.path} is a ${e.kind === "image" ? "2D image" : "volume"} but its label map ${l.path} is a ${l.kind === "image" ? "2D image" : "volume"}.`);
    }
    const volumes = pairs.filter((e) => e.kind === "volume").length;
    if (!volumes && (values.slices !== undefined || values.view !== undefined)) {
      throw new UsageError("--view and --slices choose slices of volumes; --images holds only 2D images.");
    }
    if (unmatched.length) console.error(`note: ${unmatched.length} image(s) without a label map are skipped: ${listOf(unmatched)}`);

    const model = await openModel(values, intensity ? { intensity } : {});
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      let skippedSlices = 0;
      async function* items(): AsyncGenerator<EvaluationItem> {
        for (const entry of pairs) {
          const labelPath = labels.entries.get(entry.name)!.path;
          if (entry.kind === "volume") {
            const got = await volumeSlices(entry, labelPath, view, chosenSlices);
            skippedSlices += got.skipped;
            yield* got.items;
            continue;
          }
          const image = await readImage(entry.path);
          const map = asLabelMap(await readImage(labelPath), labelPath);
          if (map.width !== image.width || map.height !== image.height) {
            throw new Error(`${labelPath} is ${map.width}x${map.height} but ${entry.path} is ${image.width}x${image.height}.`);
          }
          yield { name: entry.name, image, labels: map };
        }
      }
      const results = await evaluateDataset(model, items(), {
        dataset: values.dataset ?? basename(resolve(values.images)),
        starts: starts as StartMode[],
        corrections,
        seed,
        minSize,
        useMask: values["mask-prompts"] ?? false,
        onProgress: (done, name) => console.error(volumes ? `[${done}] ${name}` : `[${done}/${pairs.length}] ${name}`),
      });
      if (skippedSlices) console.error(`note: ${skippedSlices} volume slice(s) without any label were skipped.`);
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

/** A volume and its label volume as evaluation items, one per chosen slice that holds a label. */
async function volumeSlices(
  entry: Entry,
  labelPath: string,
  view: ViewName,
  chosen: readonly number[] | undefined,
): Promise<{ items: EvaluationItem[]; skipped: number }> {
  const [volume, labelVolume] = await Promise.all([openVolume(entry.path), openVolume(labelPath)]);
  if (volume.dims.join() !== labelVolume.dims.join()) {
    throw new Error(`${labelPath} has ${labelVolume.dims.join("x")} voxels but ${entry.path} has ${volume.dims.join("x")}; a label volume must match its image.`);
  }
  if (volume.channels !== 1 || labelVolume.channels !== 1) throw new Error(`${entry.path}: evaluate takes scalar volumes and label volumes (one value per voxel).`);
  const m = viewMapping(volume, view);
  const out = chosen?.filter((z) => z >= m.depth);
  if (out?.length) throw new UsageError(`--slices ${out.join(",")} outside the ${view} slices of ${entry.path} (0..${m.depth - 1}).`);
  const items: EvaluationItem[] = [];
  let skipped = 0;
  for (const z of chosen ?? Array.from({ length: m.depth }, (_, k) => k)) {
    const map = asLabelMap(extractSlice(labelVolume, m, z), `${labelPath} (${view} slice ${z})`);
    let any = false;
    for (let i = 0; !any && i < map.data.length; i++) any = map.data[i] !== 0;
    if (!any) {
      skipped++;
      continue;
    }
    items.push({ name: `${entry.name} ${view} ${z}`, image: extractSlice(volume, m, z), labels: map });
  }
  return { items, skipped };
}
