/**
 * `medicosam automatic`: segment_anything's automatic mask generator on one image, from the
 * shell. Writes DIR/masks.json (SAM's records, segmentation as its uncompressed RLE) and
 * DIR/labels.png (16-bit label map, largest mask = 1).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AutomaticMaskGenerator } from "../automatic/generator.js";
import { masksToLabelMap } from "../automatic/label-map.js";
import { buildAllLayerPointGrids } from "../automatic/grid.js";
import { resolveOptions, type AutomaticOptions } from "../automatic/options.js";
import { maskToRle } from "../automatic/rle.js";
import { parseIntensity } from "../intensity/parse.js";
import { writeLabelPng16 } from "../io/label-png.js";
import { readImage } from "../io/read-image.js";
import { MODEL_USAGE, modelOptions, openModel, parse, runCommand, UsageError } from "./args.js";

export const USAGE = `usage: medicosam automatic (--model DIR | --encoder F --decoder F) --image IMAGE [options] --out DIR

Segments everything in IMAGE (PNG, JPEG, TIFF) with segment_anything's automatic mask
generator (a grid of clicks, filtered and deduplicated; options and defaults are SAM's) and
writes DIR/masks.json (a list in SAM's order of {area, bbox, predicted_iou, point_coords,
stability_score, crop_box, segmentation}, segmentation in SAM's uncompressed RLE:
{"size": [h, w], "counts": [...]}, column-major runs starting with background) and
DIR/labels.png (16-bit label map: masks by area, largest = 1, smaller ones drawn on top).

model:
${MODEL_USAGE}
options (SAM's names and defaults):
  --points-per-side N                 grid of N x N clicks (32)
  --pred-iou-thresh T                 keep masks with predicted IoU > T (0.88)
  --stability-score-thresh S          keep masks with stability score >= S (0.95)
  --stability-score-offset O          logit offset of the stability score (1.0)
  --box-nms-thresh B                  box IoU for removing duplicates (0.7)
  --crop-n-layers K                   layers of crops, (2^i)^2 crops in layer i (0)
  --crop-nms-thresh C                 box IoU for duplicates between crops (0.7)
  --crop-overlap-ratio R              overlap of crops, fraction of the short side (0.3413)
  --crop-n-points-downscale-factor F  N / F^i points per side in crop layer i (1)
  --min-mask-region-area A            remove holes and islands under A pixels (0 = off)
  --intensity MODE                    none | minmax (default; micro_sam >= 1.7) | minmax-legacy
                                      | percentile[:LO,HI] | window:LEVEL,WIDTH | a CT preset
  --out DIR                           output folder (created)`;

/** Flag -> option, with the kind of number each takes. */
const NUMERIC: readonly [flag: string, key: keyof AutomaticOptions, kind: "int" | "number"][] = [
  ["points-per-side", "pointsPerSide", "int"],
  ["pred-iou-thresh", "predIouThresh", "number"],
  ["stability-score-thresh", "stabilityScoreThresh", "number"],
  ["stability-score-offset", "stabilityScoreOffset", "number"],
  ["box-nms-thresh", "boxNmsThresh", "number"],
  ["crop-n-layers", "cropNLayers", "int"],
  ["crop-nms-thresh", "cropNmsThresh", "number"],
  ["crop-overlap-ratio", "cropOverlapRatio", "number"],
  ["crop-n-points-downscale-factor", "cropNPointsDownscaleFactor", "int"],
  ["min-mask-region-area", "minMaskRegionArea", "number"],
];

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values } = parse(
      args,
      {
        ...modelOptions,
        image: { type: "string" },
        intensity: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(NUMERIC.map(([flag]) => [flag, { type: "string" as const }])),
      },
      false,
    );
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.image) throw new UsageError("--image IMAGE is required.");
    if (!values.out) throw new UsageError("--out DIR is required.");
    const options: Record<string, number> = {};
    for (const [flag, key, kind] of NUMERIC) {
      const text = (values as Record<string, string | undefined>)[flag];
      if (text === undefined) continue;
      const v = Number(text);
      if (text.trim() === "" || !Number.isFinite(v) || (kind === "int" && !Number.isInteger(v))) {
        throw new UsageError(`--${flag} needs ${kind === "int" ? "a whole number" : "a number"}, not '${text}'.`);
      }
      options[key] = v;
    }
    const intensity = values.intensity ? parseIntensity(values.intensity) : undefined;
    let generatorOptions: AutomaticOptions;
    try {
      generatorOptions = { ...options, ...(intensity ? { intensity } : {}) };
      // Checked now, so that a bad value is a usage error, not a failure after loading the model.
      resolveOptions(generatorOptions, buildAllLayerPointGrids);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const image = await readImage(values.image);
    const model = await openModel(values);
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      const t0 = performance.now();
      const generator = new AutomaticMaskGenerator(model, {
        ...generatorOptions,
        onProgress: (done, total) => process.stderr.write(`\rpoints ${done}/${total}`),
      });
      let records;
      try {
        records = await generator.generate(image);
      } finally {
        process.stderr.write("\n");
        await generator.dispose();
      }
      const out = resolve(values.out);
      mkdirSync(out, { recursive: true });
      const json = records.map((r) => ({
        area: r.area,
        bbox: r.bbox,
        predicted_iou: r.predicted_iou,
        point_coords: r.point_coords,
        stability_score: r.stability_score,
        crop_box: r.crop_box,
        segmentation: maskToRle(r.segmentation, image.width, image.height),
      }));
      writeFileSync(join(out, "masks.json"), JSON.stringify(json) + "\n");
      const { labels } = masksToLabelMap(records, { height: image.height, width: image.width });
      await writeLabelPng16(join(out, "labels.png"), labels, image.width, image.height);
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(`${records.length} masks from model '${model.name}' in ${seconds} s -> ${join(out, "masks.json")}, ${join(out, "labels.png")}`);
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
