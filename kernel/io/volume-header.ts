/**
 * What a volume's header says, without reading its voxels: the format and the dims. A cohort
 * manifest lists hundreds of volumes and is checked before any work starts, so the check must
 * cost a header per file, not a decompressed CT.
 *
 * NIfTI / Analyze: the (decompressed) first bytes, parsed by the same parser `readNifti` uses.
 * DICOM: one file of the series parsed in full (its image attributes), the others only
 * recognised as DICOM from their first bytes; the depth is the number of frames over those
 * files. A folder holding several series is not caught here (`openVolume` refuses it by name).
 */
import { readFile, stat } from "node:fs/promises";
import { listFiles, looksLikeDicom } from "./dicom-series.js";
import { describeDicom, parseDicomBytes } from "./dicom-slice.js";
import { fileSize, isGzipFile, readPrefix, resolveNiftiFiles } from "./nifti-files.js";
import { HEADER_PROBE_BYTES, parseNiftiHeader } from "./nifti-header.js";
import { sniffVolumeFile } from "./volume-open.js";
import type { Vec3 } from "./volume.js";

export interface VolumeHeader {
  readonly format: "nifti" | "analyze" | "dicom";
  /** Voxels along i, j, k, as `openVolume` will report them. */
  readonly dims: Vec3;
}

async function niftiHeader(path: string): Promise<VolumeHeader> {
  const files = resolveNiftiFiles(path);
  if ((await fileSize(files.header)) === 0) throw new Error(`${files.header}: the file is empty`);
  const h = parseNiftiHeader(await readPrefix(files.header, HEADER_PROBE_BYTES, await isGzipFile(files.header)), files.header);
  if (!files.pair && h.analyze) throw new Error(`${files.header}: an Analyze 7.5 header in a single file; Analyze images are .hdr/.img pairs`);
  const ndim = h.dims[0]!;
  const dim = (k: number) => (k <= ndim ? h.dims[k]! : 1);
  return { format: h.analyze ? "analyze" : "nifti", dims: [dim(1), dim(2), dim(3)] };
}

async function dicomHeader(path: string, isFolder: boolean): Promise<VolumeHeader> {
  const files = isFolder ? await listFiles(path) : [path];
  let described: ReturnType<typeof describeDicom> | undefined;
  let depth = 0;
  for (const file of files) {
    if (!looksLikeDicom(await readPrefix(file, 132, false))) continue;
    if (!described) {
      described = describeDicom(parseDicomBytes(new Uint8Array(await readFile(file)), file), file);
      depth += described.frames.length;
    } else {
      depth += 1;
    }
  }
  if (!described) throw new Error(`${path}: no DICOM image files found`);
  return { format: "dicom", dims: [described.columns, described.rows, depth] };
}

/** The header of a NIfTI/Analyze file or a DICOM file or series folder; throws naming the problem. */
export async function readVolumeHeader(path: string): Promise<VolumeHeader> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${path}: file or folder not found`);
  if (st.isDirectory()) return dicomHeader(path, true);
  if (st.size === 0) throw new Error(`${path}: the file is empty`);
  const format = await sniffVolumeFile(path);
  if (format === "nifti") return niftiHeader(path);
  if (format === "dicom") return dicomHeader(path, false);
  throw new Error(`${path}: neither NIfTI (.nii, .nii.gz, .hdr/.img), Analyze 7.5 nor DICOM`);
}
