/**
 * Semantic head on the shipped CT sample with the demo model: training from 3 labelled slices
 * (their embeddings computed first, not counted), prediction per slice beyond its embedding, and
 * the Dice of liver and spleen on the 29 slices not trained on. Targets: training <= 30 s, the
 * head <= 50 ms per slice.
 */
import { join } from "node:path";
import { VolumeEmbeddings } from "../kernel/cache/volume-embeddings.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { packageRoot } from "../kernel/package-root.js";
import { PHANTOM_LABELS } from "../kernel/phantom/labels.js";
import { loadModel } from "../kernel/sam/model.js";
import { sliceDice, volumeSamples } from "../kernel/semantic/dataset.js";
import { trainSemanticHead } from "../kernel/semantic/head.js";
import type { HeadKind } from "../kernel/semantic/heads.js";
import { summarize } from "./stats.js";
import type { Metric, SectionResult } from "./types.js";

export const SEMANTIC_TRAIN_TARGET_S = 30;
export const SEMANTIC_PREDICT_TARGET_MS = 50;
const TRAIN_SLICES = [10, 16, 22];

export async function benchSemantic(options: { quick?: boolean } = {}): Promise<SectionResult> {
  const root = packageRoot();
  const volume = await openVolume(join(root, "data", "samples", "ct-phantom.nii.gz"));
  const labels = await openVolume(join(root, "data", "samples", "ct-phantom-labels.nii.gz"));
  const model = await loadModel("demo");
  const metrics: Metric[] = [];
  const details: Record<string, unknown> = {};
  try {
    const embeddings = await VolumeEmbeddings.open(volume, model, { storeRoot: null });
    await embeddings.precompute();
    const samples = await volumeSamples(embeddings, labels, TRAIN_SLICES);
    const held = Array.from({ length: embeddings.depth }, (_, z) => z).filter((z) => !TRAIN_SLICES.includes(z));
    for (const kind of (options.quick ? ["linear"] : ["linear", "conv"]) as HeadKind[]) {
      const t0 = performance.now();
      const head = await trainSemanticHead(samples, { kind });
      const trainS = (performance.now() - t0) / 1000;
      const r = head.report!;
      metrics.push({
        name: `${kind} head: train on 3 slices`,
        unit: "s",
        value: trainS,
        target: { max: SEMANTIC_TRAIN_TARGET_S, text: `<= ${SEMANTIC_TRAIN_TARGET_S} s` },
        note: `${r.epochs} epochs (${r.stopped}), ${(trainS / r.epochs * 1000).toFixed(0)} ms/epoch`,
      });
      const perSlice: number[] = [];
      for (const z of held) {
        const e = await embeddings.get(z);
        const t1 = performance.now();
        head.predict(e);
        perSlice.push(performance.now() - t1);
      }
      metrics.push({
        name: `${kind} head: predict one slice`,
        unit: "ms",
        summary: summarize(perSlice),
        target: { max: SEMANTIC_PREDICT_TARGET_MS, text: `<= ${SEMANTIC_PREDICT_TARGET_MS} ms` },
      });
      const predicted = await head.predictVolume(embeddings, { slices: held });
      const dice = sliceDice(predicted.labels, labels, embeddings, held, head.classes);
      for (const name of ["liver", "spleen"] as const) {
        const d = dice.find((x) => x.label === PHANTOM_LABELS[name])!;
        metrics.push({ name: `${kind} head: ${name} Dice, 29 unseen slices`, unit: "", value: d.dice, note: "target >= 0.80" });
      }
      details[kind] = { dice: Object.fromEntries(dice.map((d) => [d.label, d.dice])), epochs: r.epochs, stopped: r.stopped, trainS };
    }
  } finally {
    await model.dispose();
  }
  return { section: "semantic", metrics, details };
}
