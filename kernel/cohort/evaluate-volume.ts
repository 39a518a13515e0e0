/**
 * The paper's protocols on one volume of a cohort, from the store's embeddings:
 *
 * - 2D (docs/inference.md §8): every slice of the view that holds a label (every
 *   `sliceStep`-th of them) is an image of the simulated interactive protocol, exactly as
 *   `medicosam evaluate` runs a volume; rows named "<id> <view> <z>".
 * - 3D (docs/inference.md §9): `evaluate3d` per prompt kind, every label of the volume
 *   prompted in its central slice and propagated; each scored label is one row of round 0,
 *   start "box" or "point", so that the paper's averaging (volumes, then classes, then
 *   datasets) applies to it as to the 2D rows.
 *
 * The result holds numbers only (no times, hosts or paths), so the same volume evaluated on a
 * laptop or in a Slurm task gives the same bytes.
 */
import { iouFromCounts } from "../analysis/metrics.js";
import type { LabelMap } from "../analysis/objects.js";
import type { VolumeEmbeddings } from "../cache/volume-embeddings.js";
import { evaluate3d, stackLabels, type Evaluate3dResult } from "../evaluation/evaluate3d.js";
import { evaluateImage } from "../evaluation/protocol-image.js";
import { classRows, objectRows, type ClassRow, type ObjectRow } from "../evaluation/protocol-table.js";
import type { ProtocolEngine } from "../evaluation/protocol.js";
import type { Segmenter } from "../interactive/propagate.js";
import { extractSlice, readSliceOf } from "../io/volume-view.js";
import type { Volume } from "../io/volume.js";
import { writeFileAtomic } from "./atomic.js";
import { StoppedError } from "./embed-volume.js";
import type { ResultsLayout } from "./layout.js";
import type { Lease } from "./lease.js";
import type { CohortVolume } from "./manifest.js";
import type { ProtocolSettings } from "./settings.js";

export const RESULT_FORMAT = "medicosam-cohort-volume-result/1";

export interface VolumeResult {
  readonly format: string;
  readonly id: string;
  readonly dataset: string;
  readonly model: string;
  readonly view: string;
  /** The slices the 2D protocol ran on. */
  readonly slices2d: readonly number[];
  readonly protocol2d: { readonly objects: readonly ObjectRow[]; readonly classes: readonly ClassRow[] };
  readonly protocol3d: readonly Evaluate3dResult[];
  /** One row per scored label and 3D prompt, in the 2D tables' layout (round 0). */
  readonly classes3d: readonly ClassRow[];
}

export interface EvaluateContext {
  readonly model: ProtocolEngine & Segmenter & { readonly name: string };
  readonly results: ResultsLayout;
  readonly protocol: ProtocolSettings;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** Slices of the view that hold a label, every `step`-th of them. */
export function labelledSlices(labels: Volume, emb: Pick<VolumeEmbeddings, "mapping" | "depth">, step: number): number[] {
  const out: number[] = [];
  for (let z = 0; z < emb.depth; z++) {
    const slice = readSliceOf(labels.data, labels.dims, emb.mapping, z);
    for (let i = 0; i < slice.length; i++) {
      if (slice[i] !== 0) {
        out.push(z);
        break;
      }
    }
  }
  return out.filter((_, k) => k % step === 0);
}

function checkLabels(labels: Volume, image: Volume, v: CohortVolume): void {
  if (labels.dims.join() !== image.dims.join()) {
    throw new Error(`${v.labels}: ${labels.dims.join("x")} voxels, but the image ${v.image} has ${image.dims.join("x")}.`);
  }
  if (labels.channels !== 1) throw new Error(`${v.labels}: a label map holds one class id per voxel.`);
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isInteger(x) || x < 0) throw new Error(`${v.labels}: label maps hold non-negative whole numbers; found ${x}.`);
  }
}

export async function evaluateVolume(
  ctx: EvaluateContext,
  v: CohortVolume,
  image: Volume,
  labels: Volume,
  emb: VolumeEmbeddings,
  lease: Lease,
): Promise<VolumeResult> {
  checkLabels(labels, image, v);
  const p = ctx.protocol;
  const view = emb.mapping.view;
  const slices = p.starts.length ? labelledSlices(labels, emb, p.sliceStep) : [];
  const objects: ObjectRow[] = [];
  const classes: ClassRow[] = [];
  const t0 = performance.now();
  for (const [k, z] of slices.entries()) {
    if (ctx.signal.aborted) throw new StoppedError(`${v.id}: stopped in the 2D protocol`);
    if (k % 10 === 0) await lease.update({ phase: `2D protocol, slice ${k + 1}/${slices.length}` });
    const map = extractSlice(labels, emb.mapping, z) as LabelMap;
    const embedding = await emb.get(z);
    const names = { dataset: v.dataset, model: ctx.model.name, image: `${v.id} ${view} ${z}` };
    for (const start of p.starts) {
      const ev = await evaluateImage(ctx.model, embedding, map, { start, corrections: p.corrections, useMask: p.useMask, seed: p.seed, minSize: p.minSize });
      objects.push(...objectRows(ev, names));
      classes.push(...classRows(ev, names));
    }
  }
  if (slices.length) ctx.log(`${v.id}: 2D protocol on ${slices.length} slice(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const protocol3d: Evaluate3dResult[] = [];
  const classes3d: ClassRow[] = [];
  if (p.prompts3d.length) {
    const t1 = performance.now();
    const stack = stackLabels(labels.data, labels.dims, emb.mapping);
    for (const prompt of p.prompts3d) {
      if (ctx.signal.aborted) throw new StoppedError(`${v.id}: stopped in the 3D evaluation`);
      await lease.update({ phase: `3D evaluation, ${prompt}` });
      const r = await evaluate3d(emb, ctx.model, stack, { prompt, seed: p.seed, signal: ctx.signal });
      protocol3d.push(r);
      for (const o of r.objects) {
        if (o.dice === undefined) continue;
        const c = o.voxels;
        classes3d.push({
          dataset: v.dataset,
          model: ctx.model.name,
          image: v.id,
          start: prompt === "box" ? "box" : "point",
          classId: o.label,
          round: 0,
          dice: o.dice,
          iou: iouFromCounts(c),
          objects: 1,
        });
      }
    }
    ctx.log(`${v.id}: 3D evaluation (${p.prompts3d.join(", ")}) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  }
  const result: VolumeResult = {
    format: RESULT_FORMAT,
    id: v.id,
    dataset: v.dataset,
    model: ctx.model.name,
    view,
    slices2d: slices,
    protocol2d: { objects, classes },
    protocol3d,
    classes3d,
  };
  await writeFileAtomic(ctx.results.result(v.id), `${JSON.stringify(result)}\n`);
  return result;
}
