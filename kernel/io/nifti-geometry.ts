/**
 * NIfTI voxel-to-world geometry, computed the way nibabel does it, because nibabel is what
 * our users check our numbers against (and 3D Slicer / ITK-SNAP agree with it for sane files).
 *
 * Which affine is used (nibabel's `get_best_affine`):
 *   1. sform when sform_code > 0;
 *   2. else qform when qform_code > 0;
 *   3. else the "base affine" from the pixdims: x flipped, origin at the volume centre
 *      (nibabel's `shape_zoom_affine(shape, zooms, x_flip=True)`).
 *
 * Where nifti-reader-js 0.8 (whose `header.affine` we deliberately do not use) differs:
 *   - NIfTI-1: it prefers the qform whenever qform_code > sform_code (e.g. qform 2, sform 1
 *     gives the qform there, the sform here);
 *   - NIfTI-1 with both codes 0: it returns diag(pixdim) with the origin at voxel 0 and no
 *     x flip; nibabel (and we) flip x and centre the origin;
 *   - NIfTI-2: it always returns the srow (sform) matrix, whatever the codes say;
 *   - it uses pixdim[0] as qfac whatever its value and computes quatern_a = sqrt(1 - |bcd|^2)
 *     without clamping, so a quaternion just over unit length gives NaN; nibabel (and we) take
 *     qfac = -1 only for pixdim[0] == -1 (else 1), and use a = 0 when 1 - |bcd|^2 is negative
 *     within float32 rounding;
 *   - it uses signed pixdims; nibabel (and we) use their absolute values.
 */
import type { Affine, AffineSource, Vec3 } from "./volume.js";

/** The geometry fields of a NIfTI header (either version), as stored. */
export interface NiftiGeometryFields {
  readonly dims: readonly number[]; // dim[0..7]
  readonly pixdim: readonly number[]; // pixdim[0..7]
  readonly qformCode: number;
  readonly sformCode: number;
  readonly quaternion: Vec3; // quatern_b, c, d
  readonly qoffset: Vec3;
  readonly srow: readonly [readonly number[], readonly number[], readonly number[]];
}

const FLOAT32_EPS = 2 ** -23;

/** nibabel's `fillpositive`: w from (b, c, d), w = 0 when 1 - |bcd|^2 is negative by rounding only. */
function quaternionW(b: number, c: number, d: number, warnings: string[]): number {
  const w2 = 1 - (b * b + c * c + d * d);
  if (w2 >= 0) return Math.sqrt(w2);
  if (w2 < -3 * FLOAT32_EPS) {
    warnings.push(
      `qform quaternion (b, c, d) = (${b}, ${c}, ${d}) is longer than 1; it was used as if normalised to unit length`,
    );
  }
  return 0;
}

/** Rotation matrix of a quaternion (w, x, y, z); normalised first, as nibabel's quat2mat. */
export function quaternionToMatrix(w: number, x: number, y: number, z: number): number[][] {
  const n = w * w + x * x + y * y + z * z;
  if (n < 1e-300) {
    return [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  }
  const s = 2 / n;
  const X = x * s;
  const Y = y * s;
  const Z = z * s;
  const wX = w * X;
  const wY = w * Y;
  const wZ = w * Z;
  const xX = x * X;
  const xY = x * Y;
  const xZ = x * Z;
  const yY = y * Y;
  const yZ = y * Z;
  const zZ = z * Z;
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

/** qfac as nibabel reads it: -1 only when pixdim[0] is exactly -1. */
export function qfacOf(pixdim0: number): 1 | -1 {
  return pixdim0 === -1 ? -1 : 1;
}

/** nibabel's get_qform: R(quaternion) * diag(|pixdim[1..3]|, with the last times qfac) + qoffset. */
export function qformAffine(f: NiftiGeometryFields, warnings: string[] = []): Affine {
  const [b, c, d] = f.quaternion;
  const w = quaternionW(b, c, d, warnings);
  const r = quaternionToMatrix(w, b, c, d);
  const zooms = [1, 2, 3].map((k) => Math.abs(f.pixdim[k] ?? 1));
  zooms[2] = zooms[2]! * qfacOf(f.pixdim[0] ?? 1);
  const row = (i: number): [number, number, number, number] => [
    r[i]![0]! * zooms[0]!,
    r[i]![1]! * zooms[1]!,
    r[i]![2]! * zooms[2]!,
    f.qoffset[i]!,
  ];
  return [row(0), row(1), row(2), [0, 0, 0, 1]];
}

export function sformAffine(f: NiftiGeometryFields): Affine {
  const row = (i: number): [number, number, number, number] => {
    const s = f.srow[i]!;
    return [s[0]!, s[1]!, s[2]!, s[3]!];
  };
  return [row(0), row(1), row(2), [0, 0, 0, 1]];
}

/** nibabel's base affine: diag(-zx, zy, zz) with the origin at the centre of the volume. */
export function baseAffine(f: NiftiGeometryFields): Affine {
  const ndim = f.dims[0]!;
  const shape = [1, 2, 3].map((k) => (k <= ndim ? f.dims[k]! : 1));
  const zooms = [1, 2, 3].map((k) => (k <= ndim ? Math.abs(f.pixdim[k]!) : 1));
  zooms[0] = -zooms[0]!;
  const row = (i: number): [number, number, number, number] => {
    const r: [number, number, number, number] = [0, 0, 0, 0];
    r[i] = zooms[i]!;
    r[3] = (-(shape[i]! - 1) / 2) * zooms[i]!;
    return r;
  };
  return [row(0), row(1), row(2), [0, 0, 0, 1]];
}

/** The affine nibabel would use for this header, and where it came from. */
export function bestAffine(f: NiftiGeometryFields, warnings: string[] = []): { affine: Affine; source: AffineSource } {
  if (f.sformCode > 0) return { affine: sformAffine(f), source: "sform" };
  if (f.qformCode > 0) return { affine: qformAffine(f, warnings), source: "qform" };
  return { affine: baseAffine(f), source: "pixdim" };
}

/** Quaternion (w >= 0) of a rotation matrix (Shepperd's method; equals nibabel's mat2quat for rotations). */
export function matrixToQuaternion(r: readonly (readonly number[])[]): [number, number, number, number] {
  const m00 = r[0]![0]!;
  const m11 = r[1]![1]!;
  const m22 = r[2]![2]!;
  const trace = m00 + m11 + m22;
  let w: number;
  let x: number;
  let y: number;
  let z: number;
  if (trace > 0) {
    const s = Math.sqrt(trace + 1) * 2;
    w = 0.25 * s;
    x = (r[2]![1]! - r[1]![2]!) / s;
    y = (r[0]![2]! - r[2]![0]!) / s;
    z = (r[1]![0]! - r[0]![1]!) / s;
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    w = (r[2]![1]! - r[1]![2]!) / s;
    x = 0.25 * s;
    y = (r[0]![1]! + r[1]![0]!) / s;
    z = (r[0]![2]! + r[2]![0]!) / s;
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    w = (r[0]![2]! - r[2]![0]!) / s;
    x = (r[0]![1]! + r[1]![0]!) / s;
    y = 0.25 * s;
    z = (r[1]![2]! + r[2]![1]!) / s;
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    w = (r[1]![0]! - r[0]![1]!) / s;
    x = (r[0]![2]! + r[2]![0]!) / s;
    y = (r[1]![2]! + r[2]![1]!) / s;
    z = 0.25 * s;
  }
  const n = Math.hypot(w, x, y, z);
  const sign = w < 0 ? -1 : 1;
  return [(sign * w) / n, (sign * x) / n, (sign * y) / n, (sign * z) / n];
}

function det3(m: readonly (readonly number[])[]): number {
  return (
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!)
  );
}

/** Closest rotation to a 3x3 matrix (polar factor, by Newton's iteration). */
function closestOrthogonal(m: number[][]): number[][] {
  let q = m.map((r) => [...r]);
  for (let it = 0; it < 100; it++) {
    const d = det3(q);
    if (Math.abs(d) < 1e-300) break;
    // inverse-transpose = cofactor matrix / det
    const cof = [0, 1, 2].map((i) =>
      [0, 1, 2].map((j) => {
        const rows = [0, 1, 2].filter((k) => k !== i);
        const cols = [0, 1, 2].filter((k) => k !== j);
        const minor =
          q[rows[0]!]![cols[0]!]! * q[rows[1]!]![cols[1]!]! - q[rows[0]!]![cols[1]!]! * q[rows[1]!]![cols[0]!]!;
        return ((i + j) % 2 === 0 ? 1 : -1) * minor;
      }),
    );
    let delta = 0;
    const next = q.map((row, i) =>
      row.map((v, j) => {
        const n = 0.5 * (v + cof[i]![j]! / d);
        delta = Math.max(delta, Math.abs(n - v));
        return n;
      }),
    );
    q = next;
    if (delta < 1e-15) break;
  }
  return q;
}

/**
 * The qform fields that represent an affine, as nibabel's `set_qform(affine)`: column norms
 * become pixdim[1..3], a negative determinant becomes qfac = -1, shears are stripped.
 */
export function qformFromAffine(affine: Affine): {
  quaternion: Vec3;
  offset: Vec3;
  qfac: 1 | -1;
  zooms: Vec3;
} {
  const rzs = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]!));
  const zooms = [0, 1, 2].map((j) => Math.hypot(rzs[0]![j]!, rzs[1]![j]!, rzs[2]![j]!) || 1);
  const r = rzs.map((row) => row.map((v, j) => v / zooms[j]!));
  let qfac: 1 | -1 = 1;
  if (det3(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const [, b, c, d] = matrixToQuaternion(closestOrthogonal(r));
  return {
    quaternion: [b, c, d],
    offset: [affine[0][3], affine[1][3], affine[2][3]],
    qfac,
    zooms: [zooms[0]!, zooms[1]!, zooms[2]!],
  };
}
