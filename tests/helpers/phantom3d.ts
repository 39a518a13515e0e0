/**
 * A small CT-like test phantom with known labels: ellipsoid "organs" whose cross-sections
 * change smoothly from slice to slice, in an oblique, anisotropic geometry.
 *
 * Everything is analytic (no randomness unless a seed is given), so a test can state the
 * expected label of any voxel from the formula instead of from the code under test.
 */
import { orientationCode, type Affine, type Vec3, type Volume } from "../../kernel/io/volume.js";

export interface Ellipsoid {
  readonly label: number;
  /** Centre and semi-axes in VOXEL units (i, j, k). */
  readonly center: Vec3;
  readonly radii: Vec3;
  /** Intensity inside (HU-like). */
  readonly value: number;
}

export interface PhantomOptions {
  readonly dims?: Vec3;
  readonly spacing?: Vec3;
  /** Rotation about the world z axis, degrees (oblique geometry). */
  readonly obliqueDeg?: number;
  readonly origin?: Vec3;
  readonly objects?: readonly Ellipsoid[];
}

export interface Phantom {
  readonly dims: Vec3;
  readonly spacing: Vec3;
  readonly affine: Affine;
  /** Float32 intensities, i fastest. */
  readonly image: Float32Array;
  /** Uint8 labels, i fastest (0 = background). */
  readonly labels: Uint8Array;
  readonly objects: readonly Ellipsoid[];
}

export const DEFAULT_OBJECTS: readonly Ellipsoid[] = [
  { label: 1, center: [30, 34, 12], radii: [12, 10, 8], value: 60 },
  { label: 2, center: [48, 16, 10], radii: [6, 5, 4], value: 200 },
];

export function insideEllipsoid(e: Ellipsoid, i: number, j: number, k: number): boolean {
  const dx = (i - e.center[0]) / e.radii[0];
  const dy = (j - e.center[1]) / e.radii[1];
  const dz = (k - e.center[2]) / e.radii[2];
  return dx * dx + dy * dy + dz * dz <= 1;
}

/** RAS affine: rotation by `deg` about z, then the anisotropic voxel sizes, then the origin. */
export function obliqueAffine(spacing: Vec3, deg: number, origin: Vec3): Affine {
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  return [
    [c * spacing[0], -s * spacing[1], 0, origin[0]],
    [s * spacing[0], c * spacing[1], 0, origin[1]],
    [0, 0, spacing[2], origin[2]],
    [0, 0, 0, 1],
  ];
}

export function makePhantom(options: PhantomOptions = {}): Phantom {
  const dims = options.dims ?? ([64, 56, 24] as Vec3);
  const spacing = options.spacing ?? ([0.75, 0.75, 2.5] as Vec3);
  const objects = options.objects ?? DEFAULT_OBJECTS;
  const affine = obliqueAffine(spacing, options.obliqueDeg ?? 15, options.origin ?? [-24, -30, 40]);
  const [nx, ny, nz] = dims;
  const image = new Float32Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  let p = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, p++) {
        // soft-tissue background with a gentle gradient, so that no slice is constant nor equal to another
        let v = -100 + (40 * i) / nx + (20 * j) / ny + 0.5 * k;
        for (const o of objects) {
          if (insideEllipsoid(o, i, j, k)) {
            labels[p] = o.label;
            v = o.value + 5 * Math.cos(i / 3) * Math.sin(j / 4);
          }
        }
        image[p] = v;
      }
    }
  }
  return { dims, spacing, affine, image, labels, objects };
}

/** The phantom as a loaded volume (what `openVolume` would return for it), for the embedding-store tests. */
export function phantomVolume(ph: Phantom): Volume {
  return {
    dims: ph.dims,
    channels: 1,
    data: ph.image,
    spacing: ph.spacing,
    affine: ph.affine,
    affineSource: "sform",
    orientation: orientationCode(ph.affine),
    warnings: [],
    source: { format: "dicom", path: "phantom", files: 1, transferSyntax: "", transferSyntaxName: "", bitsAllocated: 32, signed: true, scaling: null, datatype: "float32" },
  };
}
