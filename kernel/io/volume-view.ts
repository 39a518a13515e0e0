/**
 * Axial, coronal and sagittal views of a volume in a canonical display orientation,
 * whatever order and direction the file stores its voxel axes in.
 *
 * Convention (radiological, the default of 3D Slicer and ITK-SNAP):
 *   axial    (slice along I->S): patient Right on the screen's left, Anterior at the top;
 *   coronal  (slice along P->A): Right on the left, Superior at the top;
 *   sagittal (slice along L->R): Anterior on the left, Superior at the top.
 * Slice index 0 is the Inferior / Posterior / Left end, so the index grows toward S / A / R.
 *
 * Voxel axes are matched to world axes with nibabel's io_orientation (closest axis, for
 * oblique volumes too); the display resamples nothing, it only permutes and flips, so a
 * mask drawn on a view maps back to voxels exactly. Pixel aspect comes from the affine's
 * voxel sizes (its column lengths), i.e. the geometry actually used.
 */
import type { Image2D, PixelArray } from "./image.js";
import { affineVoxelSizes, ioOrientation, type Affine, type Vec3 } from "./volume.js";

export type ViewName = "axial" | "coronal" | "sagittal";

export const VIEWS: readonly ViewName[] = ["axial", "coronal", "sagittal"];

/** World axis shown along screen x, screen y, and across slices, per view (0 = R/L, 1 = A/P, 2 = S/I). */
const VIEW_AXES: Readonly<Record<ViewName, { col: number; row: number; slice: number }>> = {
  axial: { col: 0, row: 1, slice: 2 },
  coronal: { col: 0, row: 2, slice: 1 },
  sagittal: { col: 1, row: 2, slice: 0 },
};

export interface ViewMapping {
  readonly view: ViewName;
  /** Voxel axis (0 = i, 1 = j, 2 = k) shown along screen columns, rows, and across slices. */
  readonly colAxis: number;
  readonly rowAxis: number;
  readonly sliceAxis: number;
  /** True when screen index 0 is the LAST voxel along that axis. */
  readonly colFlip: boolean;
  readonly rowFlip: boolean;
  readonly sliceFlip: boolean;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  /** Millimetres per screen pixel along x and y, and between slices. */
  readonly pixelSpacing: { readonly x: number; readonly y: number };
  readonly sliceSpacing: number;
  /** The screen orientation in words, e.g. "left=R top=A" (what a viewer should label). */
  readonly labels: { readonly left: string; readonly top: string; readonly sliceToward: string };
}

const LETTERS = [
  ["L", "R"],
  ["P", "A"],
  ["I", "S"],
] as const;

/**
 * How a view maps to voxels. Every screen axis shows the R/A/S end first (left or top) for
 * axial/coronal x (R on the left), y (A or S at the top) and sagittal y (S at the top);
 * sagittal x shows A first. That is "screen index 0 = highest world coordinate" for every
 * screen axis, so the flips below all read the same way.
 */
export function viewMapping(geometry: { dims: Vec3; affine: Affine }, view: ViewName): ViewMapping {
  const ornt = ioOrientation(geometry.affine);
  // world axis -> voxel axis; a degenerate voxel axis (zero affine column) takes a world axis nobody claimed
  const voxelOf = [-1, -1, -1];
  ornt.forEach((o, i) => {
    if (o.worldAxis >= 0) voxelOf[o.worldAxis] = i;
  });
  const free = ornt.flatMap((o, i) => (o.worldAxis < 0 ? [i] : []));
  for (let w = 0; w < 3; w++) if (voxelOf[w]! < 0) voxelOf[w] = free.shift()!;
  const axisFor = (world: number): { axis: number; sign: number } => {
    const axis = voxelOf[world]!;
    return { axis, sign: ornt[axis]!.worldAxis === world ? ornt[axis]!.sign : 1 };
  };
  const a = VIEW_AXES[view];
  const col = axisFor(a.col);
  const row = axisFor(a.row);
  const slice = axisFor(a.slice);
  const sizes = affineVoxelSizes(geometry.affine).map((s) => (s > 0 && Number.isFinite(s) ? s : 1));
  return {
    view,
    colAxis: col.axis,
    rowAxis: row.axis,
    sliceAxis: slice.axis,
    colFlip: col.sign > 0,
    rowFlip: row.sign > 0,
    sliceFlip: slice.sign < 0,
    width: geometry.dims[col.axis]!,
    height: geometry.dims[row.axis]!,
    depth: geometry.dims[slice.axis]!,
    pixelSpacing: { x: sizes[col.axis]!, y: sizes[row.axis]! },
    sliceSpacing: sizes[slice.axis]!,
    labels: {
      left: LETTERS[a.col]![1],
      top: LETTERS[a.row]![1],
      sliceToward: LETTERS[a.slice]![1],
    },
  };
}

/** Voxel strides and the offset of screen (0, 0) in slice `index`, for fast loops. */
function strides(m: ViewMapping, dims: Vec3, index: number): { base: number; dx: number; dy: number } {
  if (!Number.isInteger(index) || index < 0 || index >= m.depth) {
    throw new Error(`${m.view} slice ${index} is outside 0..${m.depth - 1}`);
  }
  const stride = [1, dims[0], dims[0] * dims[1]];
  const startOf = (axis: number, flip: boolean, i: number) => (flip ? dims[axis]! - 1 - i : i);
  const base =
    startOf(m.sliceAxis, m.sliceFlip, index) * stride[m.sliceAxis]! +
    startOf(m.colAxis, m.colFlip, 0) * stride[m.colAxis]! +
    startOf(m.rowAxis, m.rowFlip, 0) * stride[m.rowAxis]!;
  return {
    base,
    dx: (m.colFlip ? -1 : 1) * stride[m.colAxis]!,
    dy: (m.rowFlip ? -1 : 1) * stride[m.rowAxis]!,
  };
}

function sameKind(data: PixelArray, length: number): PixelArray {
  const Ctor = data.constructor as new (n: number) => PixelArray;
  return new Ctor(length);
}

/** One slice of a view as an image (same value type as the volume, channels kept). */
export function extractSlice(
  volume: { dims: Vec3; affine: Affine; data: PixelArray; channels: number },
  m: ViewMapping,
  index: number,
): Image2D {
  const { base, dx, dy } = strides(m, volume.dims, index);
  const ch = volume.channels;
  const out = sameKind(volume.data, m.width * m.height * ch);
  const src = volume.data;
  let o = 0;
  for (let y = 0; y < m.height; y++) {
    let p = base + y * dy;
    if (ch === 1) {
      for (let x = 0; x < m.width; x++, p += dx) out[o++] = src[p]!;
    } else {
      for (let x = 0; x < m.width; x++, p += dx) for (let c = 0; c < ch; c++) out[o++] = src[p * ch + c]!;
    }
  }
  return { width: m.width, height: m.height, channels: ch, data: out };
}

/** Read one view slice of a single-channel voxel array (e.g. a label map) as a row-major image. */
export function readSliceOf<T extends PixelArray>(labels: T, dims: Vec3, m: ViewMapping, index: number): T {
  const { base, dx, dy } = strides(m, dims, index);
  const out = sameKind(labels, m.width * m.height) as T;
  let o = 0;
  for (let y = 0; y < m.height; y++) {
    let p = base + y * dy;
    for (let x = 0; x < m.width; x++, p += dx) out[o++] = labels[p]!;
  }
  return out;
}

/**
 * Write a row-major slice (width x height of the view) into a single-channel voxel array.
 * With `onlyWhere`, only pixels where it is nonzero are written (painting a mask as a label).
 */
export function writeSliceOf(
  labels: PixelArray,
  dims: Vec3,
  m: ViewMapping,
  index: number,
  slice: ArrayLike<number>,
  onlyWhere?: ArrayLike<number>,
): void {
  if (slice.length !== m.width * m.height) {
    throw new Error(`slice has ${slice.length} pixels, the ${m.view} view is ${m.width}x${m.height}`);
  }
  const { base, dx, dy } = strides(m, dims, index);
  let o = 0;
  for (let y = 0; y < m.height; y++) {
    let p = base + y * dy;
    for (let x = 0; x < m.width; x++, p += dx, o++) {
      if (!onlyWhere || onlyWhere[o]) labels[p] = slice[o]!;
    }
  }
}

/** Voxel (i, j, k) shown at screen pixel (x, y) of slice `index`. */
export function screenToVoxel(m: ViewMapping, dims: Vec3, index: number, x: number, y: number): Vec3 {
  const ijk = [0, 0, 0];
  const at = (axis: number, flip: boolean, v: number) => (flip ? dims[axis]! - 1 - v : v);
  ijk[m.colAxis] = at(m.colAxis, m.colFlip, x);
  ijk[m.rowAxis] = at(m.rowAxis, m.rowFlip, y);
  ijk[m.sliceAxis] = at(m.sliceAxis, m.sliceFlip, index);
  return [ijk[0]!, ijk[1]!, ijk[2]!];
}
