/**
 * A 3D image with its geometry: the one type NIfTI and DICOM readers produce and everything
 * downstream (views, embeddings, propagation, label-map writing) consumes.
 *
 * Conventions, chosen to match NIfTI and nibabel so that numbers can be compared directly:
 * - voxel index (i, j, k) with i fastest in memory; `data[(i + nx*(j + ny*k)) * channels + c]`;
 * - world coordinates in millimetres, RAS+ (x toward the patient's Right, y Anterior,
 *   z Superior), as NIfTI's qform/sform; DICOM's LPS+ is converted on reading;
 * - `affine` maps the CENTRE of voxel (i, j, k) to world, row-major 4x4.
 */
import type { PixelArray } from "./image.js";

export type Vec3 = readonly [number, number, number];
export type Affine = readonly [
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
];

/**
 * Where the affine came from: NIfTI sform, qform, the pixdims alone, DICOM position tags, or
 * an Analyze header's pixdims and SPM originator (orientation assumed).
 */
export type AffineSource = "sform" | "qform" | "pixdim" | "dicom" | "analyze";

/** What a NIfTI or Analyze header says of the stored data (the two formats share the layout). */
export interface HeaderSourceInfo {
  /** The file read (the .hdr for pairs) and, for pairs, the .img. */
  readonly path: string;
  readonly imagePath?: string;
  readonly compressed: boolean;
  readonly littleEndian: boolean;
  readonly datatype: string;
  readonly datatypeCode: number;
  /** All header dims (dim[1..dim[0]]), e.g. 4 entries for a time series. */
  readonly fullDims: readonly number[];
  /** Which 3D volume of a 4D+ file this is, and how many there are. */
  readonly volumeIndex: number;
  readonly volumeCount: number;
  /** The header's pixdim[0..7] as stored. */
  readonly pixdim: readonly number[];
  /** Scaling applied to the stored values (nibabel's rule), or null when none applied. */
  readonly scaling: { readonly slope: number; readonly inter: number } | null;
  readonly voxOffset: number;
  readonly description: string;
}

export interface NiftiSourceInfo extends HeaderSourceInfo {
  readonly format: "nifti";
  readonly version: 1 | 2;
  readonly qform: {
    readonly code: number;
    readonly quaternion: Vec3;
    readonly offset: Vec3;
    readonly qfac: 1 | -1;
    /** The qform as a matrix (computed as nibabel's get_qform), whether or not it was used. */
    readonly affine: Affine;
  };
  readonly sform: { readonly code: number; readonly affine: Affine };
  /** Spatial and temporal units (xyzt_units), decoded. */
  readonly units: { readonly spatial: string; readonly temporal: string };
}

export interface DicomSourceInfo {
  readonly format: "dicom";
  readonly path: string;
  readonly files: number;
  readonly transferSyntax: string;
  readonly transferSyntaxName: string;
  readonly modality?: string;
  readonly seriesInstanceUID?: string;
  readonly seriesDescription?: string;
  readonly bitsAllocated: number;
  readonly signed: boolean;
  /** Rescale applied (per slice it may differ; the range of values seen is given). */
  readonly scaling: { readonly slope: number; readonly inter: number } | { readonly varies: true } | null;
  readonly datatype: string;
}

/** An Analyze 7.5 .hdr/.img pair (read with nibabel's Spm2AnalyzeImage rules). */
export interface AnalyzeSourceInfo extends HeaderSourceInfo {
  readonly format: "analyze";
  readonly imagePath: string;
  /** funused1/funused2 (SPM), glmax/glmin with cal_max/cal_min, or none. */
  readonly scalingSource: "funused1" | "cal/gl" | "none";
  /** SPM originator (1-based voxel at world 0) when set, and whether the affine used it. */
  readonly originator: Vec3 | null;
  readonly originatorUsed: boolean;
}

export type VolumeSourceInfo = NiftiSourceInfo | AnalyzeSourceInfo | DicomSourceInfo;

export interface Volume {
  /** (nx, ny, nz): sizes along voxel axes i, j, k. */
  readonly dims: Vec3;
  /** Components per voxel: 1 (scalar) or 3/4 (RGB(A) NIfTI). */
  readonly channels: number;
  /** Voxel values after scaling (scl_slope/inter, DICOM rescale); NaN stays NaN. */
  readonly data: PixelArray;
  /**
   * Voxel sizes as the file states them (NIfTI pixdim[1..3], DICOM PixelSpacing and slice
   * distance), absolute values, in the file's units (mm for DICOM and almost all NIfTI).
   */
  readonly spacing: Vec3;
  readonly affine: Affine;
  readonly affineSource: AffineSource;
  /** Axis codes of the voxel axes (nibabel's aff2axcodes), e.g. "RAS", "LPS". */
  readonly orientation: string;
  readonly source: VolumeSourceInfo;
  /** Things the reader corrected or could not represent exactly; shown by `medicosam info`. */
  readonly warnings: readonly string[];
}

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/** World position of a voxel centre. */
export function voxelToWorld(affine: Affine, ijk: Vec3): Vec3 {
  const r = (row: readonly number[]) => row[0]! * ijk[0] + row[1]! * ijk[1] + row[2]! * ijk[2] + row[3]!;
  return [r(affine[0]), r(affine[1]), r(affine[2])];
}

/** Lengths of the affine's first three columns: the voxel size the geometry really uses. */
export function affineVoxelSizes(affine: Affine): Vec3 {
  const col = (c: number) => Math.hypot(affine[0][c]!, affine[1][c]!, affine[2][c]!);
  return [col(0), col(1), col(2)];
}

type M3 = number[][];

function transpose3(m: M3): M3 {
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => m[c]![r]!));
}

function inverse3(m: M3): M3 | null {
  const [a, b, c] = m[0]!;
  const [d, e, f] = m[1]!;
  const [g, h, i] = m[2]!;
  const A = e! * i! - f! * h!;
  const B = -(d! * i! - f! * g!);
  const C = d! * h! - e! * g!;
  const det = a! * A + b! * B + c! * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-300) return null;
  const inv = [
    [A, -(b! * i! - c! * h!), b! * f! - c! * e!],
    [B, a! * i! - c! * g!, -(a! * f! - c! * d!)],
    [C, -(a! * h! - b! * g!), a! * e! - b! * d!],
  ];
  return inv.map((row) => row.map((v) => v / det));
}

/**
 * Closest orthogonal matrix (the polar factor), by Newton's iteration Q <- (Q + Q^-T) / 2.
 * nibabel gets the same factor from an SVD; for a nonsingular matrix both are unique and
 * equal. Returns null for a singular matrix (the caller then uses the matrix as is).
 */
function polarOrthogonal(m: M3): M3 | null {
  let q = m.map((r) => [...r]);
  for (let it = 0; it < 100; it++) {
    const inv = inverse3(q);
    if (!inv) return null;
    const invT = transpose3(inv);
    const next = q.map((row, r) => row.map((v, c) => 0.5 * (v + invT[r]![c]!)));
    let delta = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) delta = Math.max(delta, Math.abs(next[r]![c]! - q[r]![c]!));
    q = next;
    if (delta < 1e-14) break;
  }
  return q;
}

/**
 * For each voxel axis: the world axis (0 = x L/R, 1 = y P/A, 2 = z I/S) it runs along most,
 * and the direction (+1 toward R/A/S). This is nibabel's `io_orientation`: normalise the
 * columns, take the closest rotation, then assign axes greedily by largest magnitude,
 * removing each chosen world axis, so ties and oblique geometry give nibabel's answer.
 * A zero column (degenerate axis) gets worldAxis -1.
 */
export function ioOrientation(affine: Affine): { worldAxis: number; sign: 1 | -1 }[] {
  const rzs: M3 = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r]![c]!));
  const zooms = [0, 1, 2].map((c) => Math.hypot(rzs[0]![c]!, rzs[1]![c]!, rzs[2]![c]!) || 1);
  const rs = rzs.map((row) => row.map((v, c) => v / zooms[c]!));
  const r = polarOrthogonal(rs) ?? rs;
  const out: { worldAxis: number; sign: 1 | -1 }[] = [];
  for (let inAx = 0; inAx < 3; inAx++) {
    const col = [r[0]![inAx]!, r[1]![inAx]!, r[2]![inAx]!];
    if (col.every((v) => Math.abs(v) < 1e-8)) {
      out.push({ worldAxis: -1, sign: 1 });
      continue;
    }
    let best = 0;
    for (let k = 1; k < 3; k++) if (Math.abs(col[k]!) > Math.abs(col[best]!)) best = k;
    out.push({ worldAxis: best, sign: col[best]! < 0 ? -1 : 1 });
    for (let c = 0; c < 3; c++) r[best]![c] = 0;
  }
  return out;
}

const AXIS_LABELS: readonly (readonly [string, string])[] = [
  ["L", "R"],
  ["P", "A"],
  ["I", "S"],
];

/** nibabel's aff2axcodes: e.g. "RAS" when i runs toward Right, j Anterior, k Superior. */
export function orientationCode(affine: Affine): string {
  return ioOrientation(affine)
    .map(({ worldAxis, sign }) => (worldAxis < 0 ? "?" : AXIS_LABELS[worldAxis]![sign > 0 ? 1 : 0]))
    .join("");
}

export interface VolumeStats {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Count of finite values the statistics cover. */
  readonly finite: number;
  readonly nan: number;
  readonly infinite: number;
}

/** min/max/mean over finite values; NaN and infinities are counted, not mixed in. */
export function volumeStats(data: ArrayLike<number>): VolumeStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  let nan = 0;
  let infinite = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== v) {
      nan++;
      continue;
    }
    if (v === Infinity || v === -Infinity) {
      infinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return finite === 0
    ? { min: NaN, max: NaN, mean: NaN, finite, nan, infinite }
    : { min, max, mean: sum / finite, finite, nan, infinite };
}
