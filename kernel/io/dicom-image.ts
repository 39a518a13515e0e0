/**
 * One DICOM frame as a 2D image, for `readImage`: secondary captures, scanned film and
 * ultrasound frames often have no ImageOrientationPatient and are pictures rather than
 * slices of a volume. Values are the modality values (RescaleSlope/Intercept applied), the
 * same numbers `openVolume` gives for that frame, so a slice reads alike either way.
 */
import type { Image2D } from "./image.js";
import { decodeAnyFrame, decodeFrame, describeDicom, namingFile, parseDicomBytes, requireDecodable, valueArrayType } from "./dicom-slice.js";

/** Frame `frame` (0-based, in file order) of a DICOM file's bytes; `name` labels messages. */
export async function readDicomImage(bytes: Uint8Array, name: string, frame = 0): Promise<Image2D> {
  const ds = parseDicomBytes(bytes, name);
  const info = describeDicom(ds, name);
  requireDecodable(info);
  const n = info.frames.length;
  if (frame >= n) throw new Error(`cannot read image ${name}: frame ${frame} is out of range; the file has ${n} frame${n === 1 ? "" : "s"} (0..${n - 1}).`);
  const fr = info.frames[frame]!;
  const ArrayType = valueArrayType(info, [fr.slope], [fr.intercept]);
  const data = new ArrayType(info.rows * info.columns * info.samplesPerPixel);
  if (info.transferSyntax.compressed) await decodeAnyFrame(ds, info, frame, data, 0, true);
  else namingFile(name, `decoding frame ${frame}`, () => decodeFrame(ds, info, frame, data, 0, true));
  return { width: info.columns, height: info.rows, channels: info.samplesPerPixel, data };
}

/** Number of frames (1 for a classic single-frame file). */
export function dicomFrameCount(bytes: Uint8Array, name: string): number {
  return describeDicom(parseDicomBytes(bytes, name), name).frames.length;
}
