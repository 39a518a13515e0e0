/**
 * `medicosam semantic train|predict`: a semantic head trained on the frozen embeddings of a few
 * labelled slices of a volume, and that head applied to every slice of a volume.
 */
import { resolve } from "node:path";
import { VolumeEmbeddings } from "../cache/volume-embeddings.js";
import { writeLabelMap } from "../io/nifti-labels.js";
import { openVolume } from "../io/volume-open.js";
import { VIEWS, type ViewName } from "../io/volume-view.js";
import { sliceDice, volumeSamples } from "../semantic/dataset.js";
import { SemanticHead, trainSemanticHead } from "../semantic/head.js";
import { HEAD_KINDS, type HeadKind } from "../semantic/heads.js";
import { MODEL_USAGE, modelOptions, openModel, parse, runCommand, UsageError } from "./args.js";
import { parseSlices } from "./evaluate.js";

export const USAGE = `usage: medicosam semantic train --model M --volume V --labels L --slices 10,16,22 --out HEAD
       medicosam semantic predict --model M --head HEAD --volume V --out labels.nii.gz

train    fits a head on the model's embeddings of --slices of V and the label map L there (a NIfTI
         label volume of V's dims), scores it on L's other labelled slices, and writes HEAD (one JSON
         file, e.g. next to L: labels.head.json).
predict  labels every slice of V with HEAD and writes a NIfTI label map in V's geometry.
Embeddings are kept in the on-disk store (~/.cache/medicosam/embeddings), so a second run only
pays for the head.

model:
${MODEL_USAGE}
options:
  --view V               axial (default), coronal or sagittal
  --kind K               train: conv (default, full resolution) or linear (the token-grid probe)
  --hidden N             train: hidden width of the conv head (default 16)
  --epochs N             train: at most N epochs (default 50 conv, 150 linear; early stopping)
  --seed N               train: seed of the initialisation and validation split (default 0)
  --no-store             keep embeddings in memory only`;

function integer(text: string | undefined, what: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${what} must be an integer >= ${min}, not '${text}'.`);
  return v;
}

export async function run(args: string[]): Promise<number> {
  return runCommand(USAGE, async () => {
    const [action, ...rest] = args;
    if (action === "--help" || action === "-h") {
      console.log(USAGE);
      return 0;
    }
    if (action !== "train" && action !== "predict") throw new UsageError(action ? `unknown action '${action}': train or predict.` : "give an action: train or predict.");
    const { values, positionals } = parse(rest, {
      ...modelOptions,
      volume: { type: "string" },
      labels: { type: "string" },
      slices: { type: "string" },
      head: { type: "string" },
      out: { type: "string" },
      view: { type: "string" },
      kind: { type: "string" },
      hidden: { type: "string" },
      epochs: { type: "string" },
      seed: { type: "string" },
      "no-store": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    if (!values.volume) throw new UsageError("--volume V is required.");
    if (!values.out) throw new UsageError(`--out ${action === "train" ? "HEAD" : "labels.nii.gz"} is required.`);
    const view = (values.view ?? "axial") as ViewName;
    if (!VIEWS.includes(view)) throw new UsageError(`--view must be one of ${VIEWS.join(", ")}, not '${values.view}'.`);
    if (action === "train") {
      if (!values.labels) throw new UsageError("--labels L is required.");
      if (!values.slices) throw new UsageError("--slices is required (e.g. 10,16,22).");
      if (values.head) throw new UsageError("--head is an option of `semantic predict`.");
    } else {
      if (!values.head) throw new UsageError("--head HEAD is required.");
      for (const o of ["labels", "slices", "kind", "hidden", "epochs", "seed"] as const) {
        if (values[o] !== undefined) throw new UsageError(`--${o} is an option of \`semantic train\`.`);
      }
    }
    const kind = (values.kind ?? "conv") as HeadKind;
    if (!HEAD_KINDS.includes(kind)) throw new UsageError(`--kind must be one of ${HEAD_KINDS.join(", ")}, not '${values.kind}'.`);
    const hidden = integer(values.hidden, "--hidden", 1);
    const epochs = integer(values.epochs, "--epochs", 1);
    const seed = integer(values.seed, "--seed", 0);
    const slices = values.slices !== undefined ? parseSlices(values.slices) : [];
    // the head is read before the model starts, so that a bad file fails fast
    const head = action === "predict" ? await SemanticHead.load(resolve(values.head!)) : undefined;
    const volume = await openVolume(values.volume);
    const labels = values.labels ? await openVolume(values.labels) : undefined;
    const model = await openModel(values);
    try {
      if (model.notice) console.error(`note: ${model.notice}`);
      const embeddings = await VolumeEmbeddings.open(volume, model, { view, ...(values["no-store"] ? { storeRoot: null } : {}) });
      const bad = slices.filter((z) => z >= embeddings.depth);
      if (bad.length) throw new UsageError(`--slices ${bad.join(",")} outside the ${view} slices of ${values.volume} (0..${embeddings.depth - 1}).`);
      if (action === "train") {
        const t0 = performance.now();
        const samples = await volumeSamples(embeddings, labels!, slices);
        const embedS = (performance.now() - t0) / 1000;
        const trained = await trainSemanticHead(samples, {
          kind,
          ...(hidden !== undefined ? { hidden } : {}),
          ...(epochs !== undefined ? { maxEpochs: epochs } : {}),
          ...(seed !== undefined ? { seed } : {}),
        });
        const r = trained.report!;
        await trained.save(resolve(values.out!));
        console.log(
          `${kind} head, classes ${trained.classes.join(",")}, trained on ${view} slices ${slices.join(",")} of ${values.volume}: ` +
            `${r.epochs} epochs (best ${r.bestEpoch}, ${r.stopped}) in ${r.elapsedS.toFixed(1)} s (embeddings ${embedS.toFixed(1)} s) -> ${resolve(values.out!)}`,
        );
        const held = [];
        for (let z = 0; z < embeddings.depth; z++) if (!slices.includes(z)) held.push(z);
        const predicted = await trained.predictVolume(embeddings, { slices: held });
        const scores = sliceDice(predicted.labels, labels!, embeddings, held, trained.classes).filter((d) => d.label !== 0 && d.truthPixels > 0);
        console.log(`Dice on the other ${held.length} slices: ${scores.map((d) => `${d.label} ${d.dice.toFixed(3)}`).join(", ")}`);
        return 0;
      }
      const predicted = await head!.predictVolume(embeddings);
      await writeLabelMap(resolve(values.out!), predicted.labels, volume, { description: `medicosam semantic ${head!.kind} head` });
      console.log(
        `labelled ${predicted.slices} ${view} slices of ${values.volume} (head ${predicted.headMsPerSlice.toFixed(1)} ms/slice) -> ${resolve(values.out!)}`,
      );
      return 0;
    } finally {
      await model.dispose();
    }
  });
}
