/**
 * Open whatever volume a user points at: a NIfTI file (any variant), an Analyze 7.5 pair, or a DICOM file or
 * folder. The format is recognised from the content, not only from the name, because
 * DICOM files often have no extension and ".nii" files are sometimes gzipped.
 */
import { open, stat } from "node:fs/promises";
import { readDicom, type ReadDicomOptions } from "./dicom-series.js";
import { readNifti, type ReadNiftiOptions } from "./nifti-read.js";
import { sniffNiftiVersion } from "./nifti-header.js";
import type { Volume } from "./volume.js";

export type OpenVolumeOptions = ReadNiftiOptions & ReadDicomOptions;

export type VolumeFormat = "nifti" | "dicom" | "unknown";

/** Recognise a file from its first bytes (and its name, for gzip and DICOM without preamble). */
export async function sniffVolumeFile(path: string): Promise<VolumeFormat> {
  const fh = await open(path, "r");
  let head: Buffer;
  try {
    head = Buffer.alloc(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const lower = path.toLowerCase();
  if (head.length >= 132 && head.toString("latin1", 128, 132) === "DICM") return "dicom";
  if (sniffNiftiVersion(head) !== null) return "nifti";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "nifti";
  if (/\.(nii|hdr|img)(\.gz)?$/.test(lower)) return "nifti";
  if (/\.(dcm|dicom|ima)$/.test(lower)) return "dicom";
  return "unknown";
}

export async function openVolume(path: string, options: OpenVolumeOptions = {}): Promise<Volume> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${path}: file or folder not found`);
  if (st.isDirectory()) return readDicom(path, options);
  if (st.size === 0) throw new Error(`${path}: the file is empty`);
  const format = await sniffVolumeFile(path);
  if (format === "nifti") return readNifti(path, options);
  if (format === "dicom") return readDicom(path, options);
  throw new Error(
    `${path}: neither NIfTI (.nii, .nii.gz, .hdr/.img), Analyze 7.5 (.hdr/.img) nor DICOM (no "DICM" marker at byte 128); ` +
      `medicosam reads volumes in these formats`,
  );
}
