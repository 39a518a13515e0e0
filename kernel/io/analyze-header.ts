/**
 * Analyze 7.5 headers (.hdr/.img pairs from SPM, MedCon, older atlases): a 348-byte header
 * like NIfTI-1's but without its magic, orientation or units. Read as nibabel reads them
 * (`nib.load` picks `Spm2AnalyzeImage` for any 348-byte header without NIfTI magic):
 *
 * - scaling (`Spm2AnalyzeHeader.get_slope_inter`): funused1 (byte 112) is the slope when it
 *   is finite and non-zero, funused2 (byte 116) the intercept (0 when not finite); otherwise
 *   glmax/glmin with cal_max/cal_min give slope = (cal_max - cal_min) / (glmax - glmin);
 * - affine (`Spm99AnalyzeHeader.get_origin_affine`): diag(-pixdim1, pixdim2, pixdim3) with the
 *   SPM originator (five int16 at byte 253, 1-based voxel) as the world origin when it is set
 *   and within (-dims, 2*dims), else the volume's centre. Orientation is not stored in
 *   Analyze, so this is an assumption (radiological x flip, as nibabel and SPM default to);
 *   the reader says so in its warnings;
 * - the `orient` byte (252) is ignored, as nibabel ignores it; an SPM `.mat` beside the pair
 *   (which nibabel reads with scipy) is not read, and the reader warns when one is there.
 *
 * The result is a NiftiHeader (codes 0, no quaternion) plus the Analyze fields, so the NIfTI
 * reader's size checks and voxel streaming serve both.
 */
import { datatypeByCode } from "./nifti-datatypes.js";
import type { NiftiHeader } from "./nifti-header.js";
import type { Vec3 } from "./volume.js";

export interface AnalyzeFields {
  /** SPM originator (1-based voxel of the world origin) as stored, or null when unset (all 0). */
  readonly originator: Vec3 | null;
  /** Whether the originator was used for the affine (set and within nibabel's bounds). */
  readonly originatorUsed: boolean;
  /** The `orient` byte as stored (0 = transverse unflipped); ignored, as by nibabel. */
  readonly orient: number;
  /** Where the scaling came from: funused1/funused2, glmax/glmin with cal_max/cal_min, or none. */
  readonly scalingSource: "funused1" | "cal/gl" | "none";
}

/** Parse a 348-byte Analyze header (either byte order; the caller has checked sizeof_hdr). */
export function parseAnalyzeHeader(head: Uint8Array, where: string): NiftiHeader & { readonly analyze: AnalyzeFields } {
  const view = new DataView(head.buffer, head.byteOffset, 348);
  const le = view.getInt32(0, true) === 348;
  const i16 = (o: number) => view.getInt16(o, le);
  const i32 = (o: number) => view.getInt32(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const dims = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => i16(40 + 2 * k));
  const ndim = dims[0]!;
  if (!(ndim >= 1 && ndim <= 7)) throw new Error(`${where}: dims do not fit: dim[0] = ${ndim}, the number of dimensions must be 1..7 (Analyze header)`);
  for (let k = 1; k <= ndim; k++) {
    if (!(dims[k]! >= 1)) throw new Error(`${where}: dims do not fit: dim[${k}] = ${dims[k]} (every used dim must be at least 1; Analyze header)`);
  }
  const datatypeCode = i16(70);
  const datatype = (() => {
    try {
      return datatypeByCode(datatypeCode);
    } catch (err) {
      throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)} (Analyze header, datatype at byte 70)`, { cause: err });
    }
  })();
  if (datatype.code > 128) throw new Error(`${where}: datatype ${datatype.name} (${datatype.code}) does not exist in Analyze 7.5 (byte 70); the header is damaged`);
  const voxOffset = f32(108);
  if (!(Number.isFinite(voxOffset) && voxOffset >= 0)) throw new Error(`${where}: vox_offset (byte 108) is ${voxOffset}; it must be a byte offset >= 0`);

  // nibabel's Spm2AnalyzeHeader.get_slope_inter
  let slope = f32(112);
  let inter = f32(116);
  let scalingSource: AnalyzeFields["scalingSource"] = "funused1";
  if (Number.isFinite(slope) && slope !== 0) {
    if (!Number.isFinite(inter)) inter = 0;
  } else {
    const unscaled = i32(140) - i32(144);
    const scaled = f32(124) - f32(128);
    if (unscaled && scaled && Number.isFinite(scaled)) {
      slope = scaled / unscaled;
      inter = f32(128) - slope * i32(144);
      scalingSource = "cal/gl";
    } else {
      slope = 0; // none: effectiveScaling reads 0 as "no scaling"
      inter = 0;
      scalingSource = "none";
    }
  }

  const originRaw = [0, 1, 2].map((k) => i16(253 + 2 * k));
  const spatial = [1, 2, 3].map((k) => (k <= ndim ? dims[k]! : 1));
  const set = originRaw.some((v) => v !== 0);
  const originatorUsed = set && originRaw.every((v, a) => v > -spatial[a]! && v < 2 * spatial[a]!);
  const pixdim = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => f32(76 + 4 * k));
  const descrip = new TextDecoder("latin1").decode(head.subarray(148, 228)).replace(/\0[\s\S]*$/, "").trim();
  return {
    version: 1,
    headerSize: 348,
    littleEndian: le,
    pairMagic: true,
    datatype,
    datatypeCode,
    bitpix: i16(72),
    dims,
    pixdim,
    voxOffset: Math.floor(voxOffset),
    sclSlope: slope,
    sclInter: inter,
    qformCode: 0,
    sformCode: 0,
    quaternion: [0, 0, 0],
    qoffset: [0, 0, 0],
    srow: [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ],
    xyztUnits: 0,
    description: descrip,
    analyze: {
      originator: set ? (originRaw as unknown as Vec3) : null,
      originatorUsed,
      orient: head[252]!,
      scalingSource,
    },
  };
}

/**
 * nibabel's `Spm99AnalyzeHeader.get_origin_affine`: x flipped, the originator (1-based) or
 * the centre at world 0. `zooms` are pixdim[1..3] after the sanity fix.
 */
export function analyzeAffine(dims: Vec3, zooms: readonly number[], a: AnalyzeFields): [number, number, number, number][] {
  const z = [-zooms[0]!, zooms[1]!, zooms[2]!];
  const origin = a.originatorUsed && a.originator ? a.originator.map((v) => v - 1) : dims.map((d) => (d - 1) / 2);
  return [0, 1, 2]
    .map((r) => {
      const row: [number, number, number, number] = [0, 0, 0, 0];
      row[r] = z[r]!;
      row[3] = -origin[r]! * z[r]!;
      return row;
    })
    .concat([[0, 0, 0, 1]]);
}
