/**
 * Display orientation: whatever the voxel order of the file, the axial/coronal/sagittal views
 * must show the patient the radiological way, with the right pixel aspect. The expectation is
 * checked with plain world coordinates (affine x voxel), not with the orientation code.
 */
import { describe, expect, it } from "vitest";
import { extractSlice, readSliceOf, screenToVoxel, VIEWS, viewMapping, writeSliceOf, type ViewName } from "../kernel/io/volume-view.js";
import { orientationCode, voxelToWorld, type Affine, type Vec3 } from "../kernel/io/volume.js";
import { obliqueAffine } from "./helpers/phantom3d.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

/** Affines for voxel orders seen in practice. */
const CASES: { name: string; dims: Vec3; affine: Affine }[] = [
  { name: "RAS", dims: [7, 6, 5], affine: obliqueAffine([0.8, 0.9, 3], 0, [1, 2, 3]) },
  {
    name: "LPS (DICOM-like)",
    dims: [7, 6, 5],
    affine: [
      [-0.7, 0, 0, 90],
      [0, -0.7, 0, 100],
      [0, 0, 2.5, -40],
      [0, 0, 0, 1],
    ],
  },
  {
    name: "permuted: i->S, j->R, k->P (sagittal-acquired)",
    dims: [5, 7, 6],
    affine: [
      [0, 1.2, 0, -10],
      [0, 0, -0.9, 20],
      [2, 0, 0, -30],
      [0, 0, 0, 1],
    ],
  },
  { name: "oblique 35 deg, anisotropic", dims: [7, 6, 5], affine: obliqueAffine([0.6, 0.9, 4], 35, [0, 0, 0]) },
];

/** Which world axis (0 x, 1 y, 2 z) and sign each screen direction must follow. */
const EXPECTED: Record<ViewName, { x: [number, number]; y: [number, number]; slice: [number, number] }> = {
  axial: { x: [0, -1], y: [1, -1], slice: [2, 1] }, // right->left on screen = R->L; down = A->P; next slice = toward S
  coronal: { x: [0, -1], y: [2, -1], slice: [1, 1] },
  sagittal: { x: [1, -1], y: [2, -1], slice: [0, 1] },
};

function worldStep(affine: Affine, a: Vec3, b: Vec3): number[] {
  const wa = voxelToWorld(affine, a);
  const wb = voxelToWorld(affine, b);
  return [wb[0] - wa[0], wb[1] - wa[1], wb[2] - wa[2]];
}

function dominant(v: number[]): [number, number] {
  let best = 0;
  for (let k = 1; k < 3; k++) if (Math.abs(v[k]!) > Math.abs(v[best]!)) best = k;
  return [best, Math.sign(v[best]!)];
}

describe.each(CASES)("views of $name", ({ dims, affine }) => {
  it.each(VIEWS)("%s: screen directions, slice direction and pixel aspect", (view) => {
    const m = viewMapping({ dims, affine }, view);
    const e = EXPECTED[view];
    const at = (x: number, y: number, s: number) => screenToVoxel(m, dims, s, x, y);
    const dx = worldStep(affine, at(0, 0, 0), at(1, 0, 0));
    const dy = worldStep(affine, at(0, 0, 0), at(0, 1, 0));
    const ds = worldStep(affine, at(0, 0, 0), at(0, 0, 1));
    expect(dominant(dx)).toEqual(e.x);
    expect(dominant(dy)).toEqual(e.y);
    expect(dominant(ds)).toEqual(e.slice);
    expect(m.pixelSpacing.x).toBeCloseTo(Math.hypot(...dx), 12);
    expect(m.pixelSpacing.y).toBeCloseTo(Math.hypot(...dy), 12);
    expect(m.sliceSpacing).toBeCloseTo(Math.hypot(...ds), 12);
    expect(m.width * m.height * m.depth).toBe(dims[0] * dims[1] * dims[2]);
  });

  it.each(VIEWS)("%s: extracted pixels are the voxels under them; write/read round trip", (view) => {
    const m = viewMapping({ dims, affine }, view);
    const n = dims[0] * dims[1] * dims[2];
    const data = Int16Array.from({ length: n }, (_, p) => p - 50);
    const vol = { dims, affine, data, channels: 1 };
    for (const s of [0, m.depth - 1]) {
      const img = extractSlice(vol, m, s);
      expect(img.data).toBeInstanceOf(Int16Array);
      for (let y = 0; y < m.height; y++) {
        for (let x = 0; x < m.width; x++) {
          const [i, j, k] = screenToVoxel(m, dims, s, x, y);
          expect(img.data[y * m.width + x]).toBe(data[i + dims[0] * (j + dims[1] * k)]);
        }
      }
    }
    const labels = new Uint8Array(n);
    const slice = Uint8Array.from({ length: m.width * m.height }, (_, p) => (p % 3 === 0 ? 2 : 0));
    writeSliceOf(labels, dims, m, 1, slice, slice);
    expect(Array.from(readSliceOf(labels, dims, m, 1))).toEqual(Array.from(slice));
    expect(labels.reduce((a, b) => a + b, 0)).toBe(slice.reduce((a, b) => a + b, 0));
  });

  it("RGB volumes keep their channels", () => {
    const m = viewMapping({ dims, affine }, "axial");
    const n = dims[0] * dims[1] * dims[2];
    const data = Uint8Array.from({ length: n * 3 }, (_, p) => p % 256);
    const img = extractSlice({ dims, affine, data, channels: 3 }, m, 2);
    expect(img.channels).toBe(3);
    const [i, j, k] = screenToVoxel(m, dims, 2, 1, 1);
    const p = i + dims[0] * (j + dims[1] * k);
    expect(Array.from(img.data.subarray((m.width + 1) * 3, (m.width + 1) * 3 + 3))).toEqual([p * 3, p * 3 + 1, p * 3 + 2].map((v) => v % 256));
  });
});

describe("orientation codes equal nibabel's aff2axcodes", () => {
  it.runIf(canRun(pythonHas("nibabel", "numpy"), "python3-nibabel (Debian package) is needed to cross-check orientation codes"))(
    "for 200 random affines, including shears and near-ties",
    () => {
      const affines: Affine[] = [];
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
      for (let n = 0; n < 200; n++) {
        const m = [0, 1, 2].map(() => [rand(), rand(), rand(), rand() * 100]);
        if (n % 4 === 0) m[0]![1] = m[0]![0]! * 0.999; // near-ties between axes
        affines.push([m[0] as never, m[1] as never, m[2] as never, [0, 0, 0, 1]]);
      }
      const codes = runPythonJson<string[]>(
        "import sys, json, numpy as np, nibabel as nib\n" +
          "A = json.loads(sys.argv[1])\n" +
          "print(json.dumps([''.join(nib.aff2axcodes(np.array(a))) for a in A]))",
        [JSON.stringify(affines)],
      );
      expect(affines.map(orientationCode)).toEqual(codes);
    },
  );
});
