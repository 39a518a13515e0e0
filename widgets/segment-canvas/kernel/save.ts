/**
 * `w.save(path)`: the committed label map to disk, in the format the name asks for.
 *
 * - a volume -> NIfTI with the source's own geometry (kernel/io/nifti-labels), so 3D Slicer,
 *   ITK-SNAP and nibabel overlay it on the image it was drawn on;
 * - a 2D image -> PNG (8-bit gray when labels fit, else 16-bit; pixel value = label id), or
 *   NIfTI of size W x H x 1 without a world geometry (qform and sform codes 0, 1 mm pixels);
 * - a volume read from DICOM -> also a DICOM SEG (.dcm) referencing that series
 *   (kernel/io/dicom-seg), segments named and coloured like the canvas's objects.
 */
import { mkdir, rename } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import sharp from "sharp";
import { labelDatatype, writeLabelMap } from "../../../kernel/io/nifti-labels.js";
import { geometryFromAffine, writeNifti } from "../../../kernel/io/nifti-write.js";
import { identityAffine } from "../../../kernel/io/volume.js";
import { writeSidecar, type ObjectRecord } from "./load-labels.js";
import type { CanvasSource } from "./source.js";

export interface SaveResult {
  readonly path: string;
  readonly format: "nifti" | "png" | "dicom-seg";
  readonly maxLabel: number;
  /** Labels present in the file (ascending). */
  readonly labels: number[];
}

/** Segment names and display colours (label 1 first) for formats that carry them (DICOM SEG). */
export interface SaveOptions {
  readonly names?: readonly string[];
  readonly colors?: readonly (readonly [number, number, number])[];
  /** The canvas's objects: written to the names sidecar, and the segment names where `names` is not given. */
  readonly records?: readonly ObjectRecord[];
}

function formatOf(path: string): "nifti" | "png" | "dicom-seg" | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith(".dcm")) return "dicom-seg";
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) return "nifti";
  if (lower.endsWith(".png")) return "png";
  return undefined;
}

function presentLabels(labels: Uint16Array): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < labels.length; i++) if (labels[i]) seen.add(labels[i]!);
  return [...seen].sort((a, b) => a - b);
}

/**
 * Writes `labels` (in the source's layout) to `path`, and the objects' names beside it
 * (load-labels.ts's sidecar) when `records` are given.
 */
export async function saveLabels(path: string, source: CanvasSource, labels: Uint16Array, options: SaveOptions = {}): Promise<SaveResult> {
  const result = await writeLabels(path, source, labels, options);
  if (options.records) await writeSidecar(result.path, options.records);
  return result;
}

/** Segment names by label id (names[0] for label 1) from the objects' records; unnamed ones stay "object N". */
function namesByLabel(records: readonly ObjectRecord[]): string[] {
  const max = records.reduce((m, r) => Math.max(m, r.label), 0);
  const names = Array.from({ length: max }, (_, i) => `object ${i + 1}`);
  for (const r of records) if (r.name) names[r.label - 1] = r.name;
  return names;
}

async function writeLabels(path: string, source: CanvasSource, labels: Uint16Array, options: SaveOptions): Promise<SaveResult> {
  const format = formatOf(path);
  const full = resolve(path);
  if (!format) {
    throw new Error(`${path}: save labels as .nii.gz / .nii (NIfTI${source.kind === "image" ? ") or .png (2D images only)" : "), or .dcm (DICOM SEG, for DICOM series)"}`);
  }
  if (format === "dicom-seg") {
    if (source.kind !== "volume" || source.volume!.source.format !== "dicom") {
      throw new Error(`${path}: a DICOM SEG references the DICOM series it was drawn on; this ${source.kind === "volume" ? `volume was read from ${source.volume!.source.format}` : "is a 2D image"} (save as .nii.gz${source.kind === "image" ? " or .png" : ""})`);
    }
    await mkdir(dirname(full), { recursive: true });
    const { writeDicomSeg } = await import("../../../kernel/io/dicom-seg.js");
    const names = options.names ?? (options.records ? namesByLabel(options.records) : undefined);
    const result = await writeDicomSeg(labels, source.volume!, { names, colors: options.colors, out: full });
    const present = [...result.segments];
    return { path: full, format, maxLabel: present[present.length - 1] ?? 0, labels: present };
  }
  await mkdir(dirname(full), { recursive: true });
  const present = presentLabels(labels);
  const maxLabel = present.length ? present[present.length - 1]! : 0;
  if (source.kind === "volume") {
    if (format !== "nifti") throw new Error(`${path}: a volume's labels are saved as NIfTI (.nii.gz or .nii), which keeps its geometry`);
    await writeLabelMap(full, labels, source.volume!, { description: "medicosam segmentCanvas labels" });
    return { path: full, format, maxLabel, labels: present };
  }
  const { width, height } = source;
  if (format === "png") {
    const sixteen = maxLabel > 255;
    // sharp takes the sample depth from the array type: Uint16Array -> 16-bit samples.
    const data = sixteen ? labels : Uint8Array.from(labels);
    // Written beside the target and renamed: an autosave interrupted half-way never leaves half a file.
    const partial = `${full}.partial-${process.pid}.png`;
    await sharp(data, { raw: { width, height, channels: 1 } })
      .toColourspace(sixteen ? "grey16" : "b-w")
      .png()
      .toFile(partial);
    await rename(partial, full);
    return { path: full, format, maxLabel, labels: present };
  }
  const datatype = labelDatatype(maxLabel);
  const geometry = geometryFromAffine(identityAffine(), { qform: 0, sform: 0, units: "unknown" });
  await writeNifti(full, { dims: [width, height, 1], data: labels, datatype, geometry, description: "medicosam segmentCanvas labels" });
  return { path: full, format, maxLabel, labels: present };
}
