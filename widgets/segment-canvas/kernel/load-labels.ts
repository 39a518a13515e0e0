/**
 * Labels into the canvas: `segmentCanvas(model, image, {labels})`, `w.loadLabels(...)` and a
 * reopened autosave. A label map (an array in the source's layout, a NIfTI or PNG file, or a
 * previous `w.labels`) becomes one committed object per label, each editable like a committed
 * object the user made; names come from the sidecar JSON `save` writes beside the labels.
 */
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import type { PixelArray } from "../../../kernel/io/image.js";
import { readNifti } from "../../../kernel/io/nifti-read.js";
import { readImage } from "../../../kernel/io/read-image.js";
import { encodeRle } from "../common/mask-codec.js";
import { MAX_LABEL, makeObject, type CommittedObject } from "../common/reducer.js";
import type { CanvasSource } from "./source.js";

/** A label map: an array in the source's layout (e.g. a previous `w.labels`), or a NIfTI / PNG path. */
export type LabelsInput = string | PixelArray | readonly number[];

/** One entry of the sidecar: what the label file cannot hold. */
export interface ObjectRecord {
  readonly label: number;
  readonly name: string;
}

/** `labels.nii.gz` -> `labels.objects.json` (beside it, so the two travel together). */
export function sidecarPath(labelsPath: string): string {
  return `${labelsPath.replace(/\.(nii\.gz|nii|png|tif|tiff)$/i, "")}.objects.json`;
}

/** Writes the names beside a label file (atomically, as the label writers do). */
export async function writeSidecar(labelsPath: string, records: readonly ObjectRecord[]): Promise<void> {
  const path = sidecarPath(labelsPath);
  const partial = `${path}.partial-${process.pid}`;
  await writeFile(partial, `${JSON.stringify({ objects: records }, null, 1)}\n`);
  await rename(partial, path);
}

async function readSidecar(labelsPath: string): Promise<Map<number, string>> {
  const path = sidecarPath(labelsPath);
  const names = new Map<number, string>();
  if (!existsSync(path)) return names;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not the JSON of an objects sidecar (${(err as Error).message})`, { cause: err });
  }
  const list = (parsed as { objects?: unknown }).objects;
  if (!Array.isArray(list)) throw new Error(`${path}: expected {"objects": [{"label", "name"}...]}`);
  for (const r of list as { label?: unknown; name?: unknown }[]) {
    if (typeof r.label === "number" && typeof r.name === "string") names.set(r.label, r.name);
  }
  return names;
}

function isPath(input: LabelsInput): input is string {
  return typeof input === "string";
}

/** The label map in the source's layout, and the names known for it. */
export async function readLabelsInput(input: LabelsInput, source: CanvasSource): Promise<{ data: PixelArray; names: Map<number, string>; from: string }> {
  if (!isPath(input)) {
    const data = Array.isArray(input) ? Uint32Array.from(input as readonly number[]) : (input as PixelArray);
    if (data.length !== source.voxels) {
      throw new Error(`the label map has ${data.length} values; this ${source.kind} needs ${source.voxels} (${source.kind === "volume" ? "voxel order, i fastest, as w.labels" : "rows of the image, as w.labels"})`);
    }
    return { data, names: new Map(), from: "an array" };
  }
  const lower = input.toLowerCase();
  let data: PixelArray;
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) {
    const v = await readNifti(input);
    const want = source.volume ? source.volume.dims : [source.width, source.height, 1];
    if (v.dims.join("x") !== want.join("x")) throw new Error(`${input}: the label volume is ${v.dims.join("x")}; the ${source.kind} is ${want.join("x")}`);
    data = v.data;
  } else {
    if (source.kind === "volume") throw new Error(`${input}: a volume's labels are read from NIfTI (.nii.gz or .nii)`);
    const img = await readImage(input);
    if (img.width !== source.width || img.height !== source.height) {
      throw new Error(`${input}: the label image is ${img.width}x${img.height}; the image is ${source.width}x${source.height}`);
    }
    data = img.data;
    if (img.channels !== 1) {
      const first = new Uint16Array(img.width * img.height);
      for (let i = 0; i < first.length; i++) first[i] = img.data[i * img.channels]!;
      data = first;
    }
  }
  return { data, names: await readSidecar(input), from: input };
}

/** One committed object per nonzero label of `data` (source layout), in label order. */
export function objectsFromLabels(source: CanvasSource, data: PixelArray, names: ReadonlyMap<number, string> = new Map()): CommittedObject[] {
  const perLabel = new Map<number, Map<number, Uint8Array>>();
  const n = source.width * source.height;
  const mask = new Uint8Array(n);
  for (let z = 0; z < source.depth; z++) {
    const slice = source.sliceOfSourceLayout(data, z);
    const present = new Set<number>();
    for (let i = 0; i < n; i++) {
      const v = slice[i]!;
      if (v === 0) continue;
      if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL) throw new Error(`label value ${v} on slice ${z}: labels must be integers in 0..${MAX_LABEL}`);
      present.add(v);
    }
    for (const label of present) {
      for (let i = 0; i < n; i++) mask[i] = slice[i] === label ? 1 : 0;
      let slices = perLabel.get(label);
      if (!slices) perLabel.set(label, (slices = new Map()));
      slices.set(z, encodeRle(mask));
    }
  }
  return [...perLabel.keys()]
    .sort((a, b) => a - b)
    .map((label) => {
      const name = names.get(label);
      return makeObject(label, perLabel.get(label)!, name === undefined ? {} : { name });
    });
}
