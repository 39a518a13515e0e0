/**
 * What `segment` and `embed` take as IMAGE: a 2D image (PNG, JPEG, TIFF) or one slice of a
 * volume (NIfTI file, DICOM file or folder) chosen with --view and --slice. The kind is told from
 * the file's first bytes, and a file that is neither is refused with what it is not, so that a
 * format problem is never reported as something else.
 */
import { open, stat } from "node:fs/promises";
import type { Image2D } from "../io/image.js";
import { readImage, sniffFormat } from "../io/read-image.js";
import type { Volume } from "../io/volume.js";
import { openVolume, sniffVolumeFile } from "../io/volume-open.js";
import { extractSlice, VIEWS, viewMapping, type ViewMapping, type ViewName } from "../io/volume-view.js";
import { UsageError } from "./args.js";

export const FORMATS_READ = "2D images: PNG, JPEG, TIFF; volumes: NIfTI (.nii, .nii.gz, .hdr/.img) and DICOM (a file or a folder of one series)";

export const SLICE_USAGE =
  "  --view V               for a volume: axial (default), coronal or sagittal\n" +
  "  --slice N              for a volume: the slice of that view, 0-based (see `medicosam info`)";

export type InputKind = "image" | "volume";

/** Image or volume, from the content (a folder is a DICOM series); undefined for anything else. */
export async function sniffInput(path: string): Promise<{ kind: InputKind; format: string } | undefined> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${path}: no such file or folder.`);
  if (st.isDirectory()) return { kind: "volume", format: "DICOM folder" };
  if (st.size === 0) throw new Error(`${path}: the file is empty.`);
  const fh = await open(path, "r");
  const head = Buffer.alloc(16);
  try {
    await fh.read(head, 0, 16, 0);
  } finally {
    await fh.close();
  }
  const image = sniffFormat(head);
  if (image) return { kind: "image", format: image.toUpperCase() };
  const volume = await sniffVolumeFile(path);
  if (volume !== "unknown") return { kind: "volume", format: volume === "nifti" ? "NIfTI" : "DICOM" };
  return undefined;
}

/** A volume slice as the CLI cut it: the volume, the view's mapping and the slice index. */
export interface VolumeSlice {
  readonly path: string;
  readonly volume: Volume;
  readonly mapping: ViewMapping;
  readonly slice: number;
}

export interface CliInput {
  readonly image: Image2D;
  /** "PNG", "NIfTI", ...: what the file was read as. */
  readonly format: string;
  readonly volume?: VolumeSlice;
}

export interface InputChoice {
  readonly page?: string;
  readonly view?: string;
  readonly slice?: string;
}

function wholeNumber(text: string, what: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isInteger(v) || v < 0) throw new UsageError(`${what} must be a whole number >= 0, not '${text}'.`);
  return v;
}

/** Reads IMAGE as a 2D image or as one slice of a volume; every wrong combination is a UsageError. */
export async function readInput(path: string, choice: InputChoice): Promise<CliInput> {
  const kind = await sniffInput(path);
  if (!kind) {
    const fh = await open(path, "r");
    const head = Buffer.alloc(8);
    let read: { bytesRead: number };
    try {
      read = await fh.read(head, 0, 8, 0);
    } finally {
      await fh.close();
    }
    const bytes = Array.from(head.subarray(0, read.bytesRead), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new Error(`${path}: not a format medicosam reads (first bytes ${bytes}). It reads ${FORMATS_READ}.`);
  }
  if (kind.kind === "image") {
    if (choice.view !== undefined || choice.slice !== undefined) {
      throw new UsageError(`--view and --slice choose a slice of a volume; ${path} is a 2D ${kind.format} image.`);
    }
    const page = choice.page === undefined ? 0 : wholeNumber(choice.page, "--page");
    return { image: await readImage(path, { page }), format: kind.format };
  }
  if (choice.page !== undefined) throw new UsageError(`--page picks a TIFF page; ${path} is a ${kind.format} volume: use --view and --slice.`);
  const view = (choice.view ?? "axial") as ViewName;
  if (!VIEWS.includes(view)) throw new UsageError(`--view must be one of ${VIEWS.join(", ")}, not '${choice.view}'.`);
  const volume = await openVolume(path);
  const mapping = viewMapping(volume, view);
  const range = `0..${mapping.depth - 1}`;
  if (choice.slice === undefined) {
    throw new UsageError(
      `${path} is a ${kind.format} volume of ${volume.dims.join("x")} voxels: give --slice N (${view}: ${range}; ` +
        `each slice ${mapping.width}x${mapping.height} pixels) and optionally --view axial|coronal|sagittal.`,
    );
  }
  const slice = wholeNumber(choice.slice, "--slice");
  if (slice >= mapping.depth) throw new UsageError(`--slice ${slice} is outside the ${view} slices of ${path} (${range}).`);
  if (volume.channels !== 1) throw new Error(`${path}: a volume with ${volume.channels} values per voxel; segment and embed take scalar volumes.`);
  return { image: extractSlice(volume, mapping, slice), format: kind.format, volume: { path, volume, mapping, slice } };
}

/** What result.json says about a volume slice: where it sits and how its pixels map to the patient. */
export function describeSlice(v: VolumeSlice): Record<string, unknown> {
  return {
    path: v.path,
    dims: v.volume.dims,
    view: v.mapping.view,
    slice: v.slice,
    slices: v.mapping.depth,
    pixelSpacing: v.mapping.pixelSpacing,
    sliceSpacing: v.mapping.sliceSpacing,
    screen: v.mapping.labels,
  };
}
