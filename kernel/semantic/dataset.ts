/**
 * Training samples from a volume: the embeddings of some slices of a view and the label map's
 * pixels on those slices (the label map in the volume's voxel order, as openVolume reads it or the
 * canvas's `w.labels` holds it).
 */
import type { VolumeEmbeddings } from "../cache/volume-embeddings.js";
import { readSliceOf } from "../io/volume-view.js";
import type { PixelArray } from "../io/image.js";
import type { Vec3, Volume } from "../io/volume.js";
import type { SemanticSample } from "./train.js";

/** A label map as a Volume (e.g. openVolume of labels.nii.gz) or bare voxels in the volume's order. */
export type LabelVoxels = Volume | PixelArray;

export function viewDims(embeddings: VolumeEmbeddings): Vec3 {
  const m = embeddings.mapping;
  const d = [0, 0, 0];
  d[m.colAxis] = m.width;
  d[m.rowAxis] = m.height;
  d[m.sliceAxis] = m.depth;
  return [d[0]!, d[1]!, d[2]!];
}

export function labelData(labels: LabelVoxels, dims: Vec3): PixelArray {
  const data = "dims" in labels ? labels.data : labels;
  if ("dims" in labels && labels.dims.some((d, i) => d !== dims[i])) {
    throw new Error(`label map is ${labels.dims.join("x")}, the volume is ${dims.join("x")}`);
  }
  if ("channels" in labels && labels.channels !== 1) throw new Error(`label map has ${labels.channels} channels; a label map has one`);
  const n = dims[0] * dims[1] * dims[2];
  if (data.length !== n) throw new Error(`label map has ${data.length} voxels, the volume ${dims.join("x")} = ${n}`);
  return data;
}

/** Samples for `slices` of the view of `embeddings` (embedding each slice that is not stored yet). */
export async function volumeSamples(embeddings: VolumeEmbeddings, labels: LabelVoxels, slices: readonly number[]): Promise<SemanticSample[]> {
  if (slices.length === 0) throw new Error("no slices given to train on");
  const dims = viewDims(embeddings);
  const data = labelData(labels, dims);
  const m = embeddings.mapping;
  const out: SemanticSample[] = [];
  for (const z of slices) {
    const embedding = await embeddings.get(z);
    out.push({ embedding, labels: readSliceOf(data, dims, m, z), name: `${m.view} slice ${z}` });
  }
  return out;
}

/** Per-class Dice of a predicted label map against the truth over some slices of a view (pixels of all of them pooled). */
export function sliceDice(
  predicted: ArrayLike<number>,
  truth: LabelVoxels,
  embeddings: VolumeEmbeddings,
  slices: readonly number[],
  classes: readonly number[],
): { label: number; dice: number; truthPixels: number; predictedPixels: number }[] {
  const dims = viewDims(embeddings);
  const t = labelData(truth, dims);
  if (predicted.length !== t.length) throw new Error(`prediction has ${predicted.length} voxels, the label map ${t.length}`);
  const m = embeddings.mapping;
  const inter = new Map<number, number>();
  const pc = new Map<number, number>();
  const tc = new Map<number, number>();
  const add = (map: Map<number, number>, k: number) => map.set(k, (map.get(k) ?? 0) + 1);
  const p: PixelArray = ArrayBuffer.isView(predicted) ? (predicted as PixelArray) : Float64Array.from(predicted);
  for (const z of slices) {
    const ps = readSliceOf(p, dims, m, z);
    const ts = readSliceOf(t, dims, m, z);
    for (let i = 0; i < ps.length; i++) {
      add(pc, ps[i]!);
      add(tc, ts[i]!);
      if (ps[i] === ts[i]) add(inter, ts[i]!);
    }
  }
  return classes.map((label) => {
    const a = pc.get(label) ?? 0;
    const b = tc.get(label) ?? 0;
    // docs/inference.md §8's convention: two empty masks score 0
    return { label, dice: (2 * (inter.get(label) ?? 0)) / Math.max(a + b, 1e-7), truthPixels: b, predictedPixels: a };
  });
}
