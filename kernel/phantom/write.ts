/**
 * A phantom volume to NIfTI: the image (CT int16 HU / MR uint16) and its label map, with
 * the same geometry, through the project's NIfTI writer.
 */
import { geometryFromAffine, writeNifti } from "../io/nifti-write.js";
import type { PhantomVolume } from "./phantom.js";

export async function writePhantomNifti(volume: PhantomVolume, imagePath: string, labelPath: string): Promise<void> {
  const geometry = geometryFromAffine(volume.affine, { qform: 1, sform: 1, units: "mm" });
  const what = `${volume.settings.modality.toUpperCase()} phantom seed ${volume.seed} (${volume.settings.contrast}), synthetic`;
  await writeNifti(imagePath, {
    dims: [...volume.dims],
    data: volume.data,
    datatype: volume.settings.modality === "ct" ? "int16" : "uint16",
    geometry,
    description: what,
  }, { gzipLevel: 9 });
  await writeNifti(labelPath, {
    dims: [...volume.dims],
    data: volume.labels,
    datatype: "uint8",
    geometry,
    description: `labels of ${what}`,
  }, { gzipLevel: 9 });
}
