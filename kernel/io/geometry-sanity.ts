/**
 * Voxel sizes and affines that downstream code can divide by: never NaN, infinite, zero or
 * negative. Views, propagation and label-map writing take ratios of spacings and invert the
 * affine; one bad pixdim would otherwise turn every later number into NaN or Infinity.
 *
 * The rule is nibabel's header fix (`AnalyzeHeader._chk_pixdims`, applied when it loads a
 * file): negative pixdim[1..3] become their absolute values, zero ones become 1. nibabel lets
 * NaN and infinite pixdims through (its affine then holds NaN); we replace them by 1 as well,
 * with a warning, because a NaN spacing has no meaning anywhere.
 */
import type { Affine } from "./volume.js";

export interface SaneSizes {
  readonly sizes: number[];
  /** One message per kind of fix, naming the field and the values as stored. */
  readonly warnings: string[];
}

/** Fixes voxel sizes as nibabel does (abs of negatives, 1 for zeros) and also 1 for NaN/inf. */
export function saneVoxelSizes(raw: readonly number[], field: string): SaneSizes {
  const warnings: string[] = [];
  const stored = raw.join(", ");
  if (raw.some((s) => s < 0)) warnings.push(`${field} ${stored} has negative voxel sizes: absolute values used (as nibabel does)`);
  if (raw.some((s) => s === 0)) warnings.push(`${field} ${stored} has zero voxel sizes: 1 used (as nibabel does)`);
  if (raw.some((s) => !Number.isFinite(s))) warnings.push(`${field} ${stored} has NaN or infinite voxel sizes: 1 used`);
  const sizes = raw.map((s) => (Number.isFinite(s) && s !== 0 ? Math.abs(s) : 1));
  return { sizes, warnings };
}

/**
 * Why an affine cannot place voxels in space (non-finite entries, a zero-length or collinear
 * axis), or null when it can. A 3x3 part with |det| below 1e-12 of the product of its column
 * lengths is treated as singular.
 */
export function affineProblem(affine: Affine): string | null {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) if (!Number.isFinite(affine[r]![c]!)) return "holds NaN or infinite values";
  }
  const col = (c: number) => [affine[0][c]!, affine[1][c]!, affine[2][c]!];
  const lengths = [0, 1, 2].map((c) => Math.hypot(...col(c)));
  if (lengths.some((l) => l === 0)) return `has a zero-length voxel axis (column lengths ${lengths.join(", ")})`;
  const [a, b, c] = [col(0), col(1), col(2)];
  const det =
    a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) - b[0]! * (a[1]! * c[2]! - a[2]! * c[1]!) + c[0]! * (a[1]! * b[2]! - a[2]! * b[1]!);
  if (Math.abs(det) < 1e-12 * lengths[0]! * lengths[1]! * lengths[2]!) return "is singular (its voxel axes are not independent)";
  return null;
}
