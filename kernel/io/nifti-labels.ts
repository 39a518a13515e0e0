/**
 * Save a label map (segmentation) of a volume as NIfTI so that 3D Slicer, ITK-SNAP and
 * nibabel overlay it exactly on the image it was drawn on.
 *
 * The geometry is copied, not recomputed, from a NIfTI source: the same qform (code,
 * quaternion, offsets, qfac), sform (code, matrix), pixdims and units, and the same NIfTI
 * version (so NIfTI-2 float64 geometry is not rounded to float32). A DICOM source gets
 * both forms from its affine with code 1 (scanner anatomical). The datatype is the
 * smallest unsigned integer type that holds the largest label: uint8, uint16, else uint32.
 */
import { saneVoxelSizes } from "./geometry-sanity.js";
import { writeNifti, geometryFromAffine, type NiftiGeometryToWrite } from "./nifti-write.js";
import type { NiftiDatatypeName } from "./nifti-datatypes.js";
import { voxelCount, type Volume } from "./volume.js";

export interface LabelMapWriteResult {
  readonly datatype: NiftiDatatypeName;
  readonly maxLabel: number;
}

export function labelDatatype(maxLabel: number): NiftiDatatypeName {
  if (maxLabel <= 0xff) return "uint8";
  if (maxLabel <= 0xffff) return "uint16";
  if (maxLabel <= 0xffffffff) return "uint32";
  throw new Error(`label ${maxLabel} is too large for a label map (max 4294967295)`);
}

function geometryOf(like: Volume): { geometry: NiftiGeometryToWrite; version: 1 | 2 } {
  const s = like.source;
  if (s.format === "nifti") {
    return {
      version: s.version,
      geometry: {
        // the fixed pixdims (geometry-sanity.ts): a NaN or 0 would make the label map's qform unusable
        pixdim: saneVoxelSizes(s.pixdim.slice(1, 4), "pixdim").sizes,
        qform: { code: s.qform.code, quaternion: s.qform.quaternion, offset: s.qform.offset, qfac: s.qform.qfac },
        sform: { code: s.sform.code, affine: s.sform.affine },
        units: { spatial: s.units.spatial === "unknown" ? "unknown" : s.units.spatial },
      },
    };
  }
  const g = geometryFromAffine(like.affine, { qform: 1, sform: 1, units: "mm" });
  return { version: 1, geometry: { ...g, pixdim: [...like.spacing] } };
}

/** Write `labels` (one value per voxel of `like`, i fastest) next to the image's geometry. */
export async function writeLabelMap(
  path: string,
  labels: ArrayLike<number>,
  like: Volume,
  options: { description?: string; gzipLevel?: number } = {},
): Promise<LabelMapWriteResult> {
  const n = voxelCount(like.dims);
  if (labels.length !== n) {
    throw new Error(`label map has ${labels.length} values but the volume has ${like.dims.join("x")} = ${n} voxels`);
  }
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = labels[i]!;
    if (!(v >= 0) || !Number.isInteger(v)) {
      throw new Error(`label ${v} at voxel ${i} is not a non-negative integer; a label map holds object ids 0, 1, 2, ...`);
    }
    if (v > max) max = v;
  }
  const datatype = labelDatatype(max);
  const { geometry, version } = geometryOf(like);
  await writeNifti(
    path,
    {
      dims: [...like.dims],
      data: labels as readonly number[],
      datatype,
      geometry,
      description: options.description ?? "medicosam label map",
    },
    { version: version === 2 || like.dims.some((d) => d > 32767) ? 2 : 1, ...(options.gzipLevel !== undefined ? { gzipLevel: options.gzipLevel } : {}) },
  );
  return { datatype, maxLabel: max };
}
