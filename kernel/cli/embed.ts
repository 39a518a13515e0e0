/** `medicosam embed`: compute an image's (or a volume slice's) embedding once and keep it on disk. */
import { resolve } from "node:path";
import { parseIntensity } from "../intensity/parse.js";
import { saveEmbedding } from "../sam/embedding-file.js";
import { MODEL_USAGE, modelOptions, openModel, parse, runCommand, UsageError } from "./args.js";
import { FORMATS_READ, readInput, SLICE_USAGE } from "./input.js";

export const USAGE = `usage: medicosam embed (--model DIR | --encoder F --decoder F) IMAGE [--view V --slice N] --out DIR

Runs the encoder on IMAGE (${FORMATS_READ};
a volume: --slice N of --view V) and writes DIR/embedding.f32 (256x64x64 float32 little-endian)
and DIR/embedding.json (sizes, model, cache key). \`medicosam segment --embedding DIR\` reuses it.

model:
${MODEL_USAGE}
options:
  --intensity MODE       as for \`medicosam segment\` (default minmax, micro_sam >= 1.7)
  --page N               TIFF page (default 0)
${SLICE_USAGE}
  --out DIR              output folder (created)`;

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const { values, positionals } = parse(args, {
      ...modelOptions,
      intensity: { type: "string" },
      page: { type: "string" },
      view: { type: "string" },
      slice: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length ? "give exactly one IMAGE." : "no IMAGE given.");
    if (!values.out) throw new UsageError("--out DIR is required.");
    const intensity = values.intensity ? parseIntensity(values.intensity) : undefined;
    const input = await readInput(positionals[0]!, values);
    const image = input.image;
    const model = await openModel(values, intensity ? { intensity } : {});
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      const e = await model.embed(image);
      saveEmbedding(resolve(values.out), e);
      const what = input.volume ? `${input.volume.mapping.view} slice ${input.volume.slice} of ${positionals[0]}, ` : "";
      console.log(
        `embedding of ${what}${e.originalSize.width}x${e.originalSize.height} (resized ${e.resizedSize.width}x${e.resizedSize.height}) ` +
          `in ${model.timings.encoderMs?.toFixed(0)} ms -> ${resolve(values.out)}`,
      );
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
