/**
 * `medicosam segment`: one prompt on one image or volume slice, from the shell. Writes the files
 * a script (or the next correction) needs: mask.png, low_res_logits.f32 (what --mask-input
 * reads), result.json, and for a volume slice mask.nii.gz in the volume's geometry.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseIntensity } from "../intensity/parse.js";
import { writeMaskPng } from "../io/mask-png.js";
import { writeLabelMap } from "../io/nifti-labels.js";
import { voxelCount } from "../io/volume.js";
import { writeSliceOf } from "../io/volume-view.js";
import { fromLittleEndian, loadEmbedding, toLittleEndian } from "../sam/embedding-file.js";
import type { Prompt } from "../sam/prompt.js";
import type { MultimaskMode } from "../sam/select.js";
import { MODEL_USAGE, modelOptions, openModel, parse, parseBox, parsePoint, runCommand, UsageError } from "./args.js";
import { describeSlice, FORMATS_READ, readInput, SLICE_USAGE } from "./input.js";

export const USAGE = `usage: medicosam segment (--model DIR | --encoder F --decoder F) IMAGE [--view V --slice N] [prompt] --out DIR

Segments IMAGE from a prompt (${FORMATS_READ};
a volume is segmented on one slice: --slice N of --view V) and writes DIR/mask.png (0/255),
DIR/low_res_logits.f32 (256x256 float32 little-endian: feed it back with --mask-input)
and DIR/result.json (the chosen token, every candidate mask's token, predicted IoU and
area, original and resized sizes). For a volume slice also DIR/mask.nii.gz: the mask in the
volume's voxels and geometry (1 on that slice, 0 elsewhere).

model:
${MODEL_USAGE}
prompt (at least one of):
  --point x,y,label      a click; x = column, y = row in image (or slice) pixels; label 1 = foreground,
                         0 = background; repeat for more points
  --box x0,y0,x1,y1      a box in image pixels
  --mask-input FILE      low_res_logits.f32 of an earlier call (iterative correction)
options:
  --multimask MODE       auto (micro_sam's rule: multimask for a single positive point only),
                         on, off (default auto)
  --intensity MODE       none | minmax (default; micro_sam >= 1.7) | minmax-legacy | percentile[:LO,HI]
                         | window:LEVEL,WIDTH | a CT preset such as ct-abdomen
  --page N               TIFF page (default 0)
${SLICE_USAGE}
  --embedding DIR        reuse an embedding written by \`medicosam embed\` (skips the encoder)
  --save-candidates      also write every token's mask, DIR/candidate-<token>.png, and its
                         low-res logits, DIR/candidate-<token>.f32 (from the same decoder run)
  --out DIR              output folder (created)`;

const MULTIMASK: readonly MultimaskMode[] = ["auto", "on", "off"];

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, positionals } = parse(args, {
      ...modelOptions,
      image: { type: "string" },
      point: { type: "string", multiple: true },
      box: { type: "string" },
      "mask-input": { type: "string" },
      multimask: { type: "string", default: "auto" },
      intensity: { type: "string" },
      page: { type: "string" },
      view: { type: "string" },
      slice: { type: "string" },
      embedding: { type: "string" },
      "save-candidates": { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const imagePath = values.image ?? positionals[0];
    if (!imagePath) throw new UsageError("no IMAGE given.");
    if (positionals.length > (values.image ? 0 : 1)) throw new UsageError(`unexpected argument(s): ${positionals.slice(1).join(" ")}`);
    if (!values.out) throw new UsageError("--out DIR is required.");
    const multimask = values.multimask as MultimaskMode;
    if (!MULTIMASK.includes(multimask)) throw new UsageError(`--multimask must be one of ${MULTIMASK.join(", ")}.`);

    const points = (values.point ?? []).map(parsePoint);
    const box = values.box ? parseBox(values.box) : undefined;
    let mask: Prompt["mask"];
    if (values["mask-input"]) {
      const bytes = readFileSync(values["mask-input"]);
      if (bytes.byteLength !== 256 * 256 * 4) {
        throw new UsageError(
          `--mask-input ${values["mask-input"]} has ${bytes.byteLength} bytes; expected 262144 (256x256 float32, as written to low_res_logits.f32).`,
        );
      }
      mask = { kind: "logits", logits: fromLittleEndian(bytes) };
    }
    if (points.length === 0 && !box && !mask) throw new UsageError("no prompt: give --point, --box or --mask-input.");
    const prompt: Prompt = { points, ...(box ? { box } : {}), ...(mask ? { mask } : {}) };
    const intensity = values.intensity ? parseIntensity(values.intensity) : undefined;

    const input = await readInput(imagePath, values);
    const image = input.image;
    const model = await openModel(values, intensity ? { intensity } : {});
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      let embedding;
      if (values.embedding) {
        embedding = loadEmbedding(values.embedding);
        if (embedding.originalSize.width !== image.width || embedding.originalSize.height !== image.height) {
          throw new Error(
            `--embedding ${values.embedding} is of a ${embedding.originalSize.width}x${embedding.originalSize.height} image; ` +
              `${imagePath} is ${image.width}x${image.height}.`,
          );
        }
      } else {
        embedding = await model.embed(image);
      }
      const result = await model.segment(embedding, prompt, { multimask });
      const out = resolve(values.out);
      mkdirSync(out, { recursive: true });
      await writeMaskPng(join(out, "mask.png"), result.mask, result.width, result.height);
      writeFileSync(join(out, "low_res_logits.f32"), toLittleEndian(result.lowResLogits));
      const v = input.volume;
      if (v) {
        const voxels = new Uint8Array(voxelCount(v.volume.dims));
        writeSliceOf(voxels, v.volume.dims, v.mapping, v.slice, result.mask);
        await writeLabelMap(join(out, "mask.nii.gz"), voxels, v.volume, { description: `medicosam segment, ${v.mapping.view} slice ${v.slice}` });
      }
      const saveCandidates = values["save-candidates"] === true;
      const candidates = [];
      for (const c of result.candidates) {
        const files = saveCandidates ? { mask: `candidate-${c.token}.png`, lowResLogits: `candidate-${c.token}.f32` } : undefined;
        if (files) {
          await writeMaskPng(join(out, files.mask), c.mask, result.width, result.height);
          writeFileSync(join(out, files.lowResLogits), toLittleEndian(c.lowResLogits));
        }
        candidates.push({ token: c.token, iou: c.iou, chosen: c.chosen, maskArea: countOnes(c.mask), ...(files ? { files } : {}) });
      }
      const area = countOnes(result.mask);
      const report = {
        model: model.name,
        ...(model.notice ? { notice: model.notice } : {}),
        image: resolve(imagePath),
        ...(v ? { volume: describeSlice({ ...v, path: resolve(v.path) }) } : {}),
        originalSize: embedding.originalSize,
        resizedSize: embedding.resizedSize,
        prompt: { points, ...(box ? { box } : {}), maskInput: values["mask-input"] ?? null },
        multimask,
        token: result.token,
        iou: result.iou,
        ious: result.ious,
        maskArea: area,
        candidates,
        files: { mask: "mask.png", lowResLogits: "low_res_logits.f32", ...(v ? { maskVolume: "mask.nii.gz" } : {}) },
      };
      writeFileSync(join(out, "result.json"), JSON.stringify(report, null, 2) + "\n");
      console.log(`mask: ${area} pixels, token ${result.token}, predicted IoU ${result.iou.toFixed(3)} -> ${out}`);
      if (result.candidates.length > 1) {
        const list = candidates.map((c) => `token ${c.token}: ${c.maskArea} px, IoU ${c.iou.toFixed(3)}${c.chosen ? " (chosen)" : ""}`);
        console.log(`candidates: ${list.join("; ")}`);
      }
      return 0;
    } finally {
      await model.dispose();
    }
  });
}

function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}
