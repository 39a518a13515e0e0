/**
 * Reader round trips over every variant our writer produces: all datatypes, both byte
 * orders, NIfTI-1 and -2, .nii / .nii.gz / .hdr+.img / .hdr.gz+.img.gz. The expected values
 * are the inputs given to the writer (stated here), not values read back by the reader.
 * Header layout itself is checked independently against nibabel in nifti-nibabel.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALL_DATATYPES, type NiftiDatatypeName } from "../kernel/io/nifti-datatypes.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import type { Affine, Vec3 } from "../kernel/io/volume.js";
import { obliqueAffine } from "./helpers/phantom3d.js";

const dir = mkdtempSync(join(tmpdir(), "nifti-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DIMS: Vec3 = [5, 4, 3];
const N = DIMS[0] * DIMS[1] * DIMS[2];

/** Stored test values per datatype: both extremes of the type, then a pattern inside the range. */
function valuesFor(name: NiftiDatatypeName): number[] {
  const ext: Record<NiftiDatatypeName, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint32: [0, 2 ** 32 - 1],
    int64: [-(2 ** 53 - 1), 2 ** 53 - 1],
    uint64: [0, 2 ** 53 - 1],
    float32: [-3.4e38, 3.4e38],
    float64: [-1e300, 1e300],
    rgb24: [0, 255],
    rgba32: [0, 255],
  };
  const [lo, hi] = ext[name];
  const components = name === "rgb24" ? 3 : name === "rgba32" ? 4 : 1;
  const out: number[] = [];
  for (let p = 0; p < N * components; p++) {
    if (p === 0) out.push(lo);
    else if (p === 1) out.push(hi);
    else if (name.startsWith("float")) out.push(p === 2 ? NaN : p === 3 ? -Infinity : (p - 30) * 0.25);
    else out.push(Math.min(hi, Math.max(lo, (p * 37) % 251) - (lo < 0 ? 100 : 0)));
  }
  return out;
}

const AFFINE: Affine = obliqueAffine([0.8, 1.1, 2.5], 20, [-12.5, 30, 7.25]);

function expectAffineClose(actual: Affine, expected: Affine, tol: number) {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(Math.abs(actual[r]![c]! - expected[r]![c]!)).toBeLessThan(tol);
}

const layouts = [
  { name: "nii", ext: ".nii" },
  { name: "nii.gz", ext: ".nii.gz" },
  { name: "pair", ext: ".hdr" },
  { name: "pair.gz", ext: ".hdr.gz" },
] as const;

describe.each([1, 2] as const)("NIfTI-%i", (version) => {
  describe.each([true, false])("little-endian %s", (le) => {
    describe.each(layouts)("$name", ({ ext }) => {
      it.each(ALL_DATATYPES.map((d) => d.name))("%s: values, affine, spacing, orientation", async (dt) => {
        const path = join(dir, `v${version}-${le ? "le" : "be"}-${dt}${ext}`);
        const values = valuesFor(dt);
        await writeNifti(
          path,
          { dims: [...DIMS], data: values, datatype: dt, geometry: geometryFromAffine(AFFINE, { qform: 1, sform: 2 }) },
          { version, littleEndian: le },
        );
        const v = await readNifti(path);
        expect(v.dims).toEqual(DIMS);
        expect(v.channels).toBe(dt === "rgb24" ? 3 : dt === "rgba32" ? 4 : 1);
        expect(v.source.format).toBe("nifti");
        if (v.source.format !== "nifti") return;
        expect(v.source.version).toBe(version);
        expect(v.source.littleEndian).toBe(le);
        expect(v.source.compressed).toBe(ext.endsWith(".gz"));
        expect(v.source.datatype).toBe(dt);
        expect(v.source.scaling).toBeNull();
        expect(Array.from(v.data)).toEqual(dt === "float32" ? values.map((x) => Math.fround(x)) : values);
        expect(v.affineSource).toBe("sform");
        expectAffineClose(v.affine, AFFINE, version === 1 ? 1e-5 : 1e-12);
        expect(v.orientation).toBe("RAS");
        for (let a = 0; a < 3; a++) expect(v.spacing[a]).toBeCloseTo([0.8, 1.1, 2.5][a]!, version === 1 ? 6 : 12);
        expect(v.warnings).toEqual([]);
      });
    });
  });
});

describe("scaling (scl_slope / scl_inter, nibabel's rule)", () => {
  const stored = Array.from({ length: N }, (_, p) => p - 10);
  const cases: { slope: number; inter: number; expect: (x: number) => number; scaled: boolean }[] = [
    { slope: 2, inter: -1024, expect: (x) => 2 * x - 1024, scaled: true },
    { slope: 0.5, inter: 0, expect: (x) => 0.5 * x, scaled: true },
    { slope: 0, inter: 7, expect: (x) => x, scaled: false }, // slope 0 = no scaling
    { slope: NaN, inter: 7, expect: (x) => x, scaled: false },
    { slope: 1, inter: 0, expect: (x) => x, scaled: false },
    { slope: 3, inter: NaN, expect: (x) => 3 * x, scaled: true }, // NaN intercept counts as 0
  ];
  it.each(cases)("slope $slope inter $inter", async (c) => {
    const path = join(dir, `scale-${c.slope}-${c.inter}.nii`);
    await writeNifti(path, { dims: [...DIMS], data: stored, datatype: "int16", scaling: { slope: c.slope, inter: c.inter } });
    const v = await readNifti(path);
    expect(Array.from(v.data)).toEqual(stored.map(c.expect));
    expect(v.data instanceof Float32Array).toBe(c.scaled);
    if (!c.scaled) expect(v.data instanceof Int16Array).toBe(true);
  });

  it("scales int32 into float64 (nibabel's type promotion) and keeps NaN as NaN in floats", async () => {
    const p1 = join(dir, "scale-int32.nii.gz");
    await writeNifti(p1, { dims: [...DIMS], data: stored.map((x) => x * 100000), datatype: "int32", scaling: { slope: 0.001, inter: 1 } });
    const v1 = await readNifti(p1);
    expect(v1.data instanceof Float64Array).toBe(true);
    expect(v1.data[0]).toBeCloseTo(-10 * 100000 * Math.fround(0.001) + 1, 6);
    const p2 = join(dir, "scale-nan.nii");
    const f = stored.map((x, i) => (i % 7 === 0 ? NaN : x));
    await writeNifti(p2, { dims: [...DIMS], data: f, datatype: "float32", scaling: { slope: 2, inter: 1 } }, { littleEndian: false });
    const v2 = await readNifti(p2);
    expect(Array.from(v2.data)).toEqual(f.map((x) => 2 * x + 1));
  });
});

describe("4D input", () => {
  it("reads the chosen volume, from plain and gzipped files", async () => {
    const dims4 = [...DIMS, 3];
    const data = Array.from({ length: N * 3 }, (_, p) => p);
    for (const ext of [".nii", ".nii.gz"]) {
      const path = join(dir, `four-d${ext}`);
      await writeNifti(path, { dims: dims4, data, datatype: "uint16" }, { littleEndian: false });
      for (const t of [0, 2]) {
        const v = await readNifti(path, { volumeIndex: t });
        expect(Array.from(v.data)).toEqual(data.slice(t * N, (t + 1) * N));
        if (v.source.format === "nifti") {
          expect(v.source.volumeCount).toBe(3);
          expect(v.source.fullDims).toEqual(dims4);
        }
      }
      await expect(readNifti(path, { volumeIndex: 3 })).rejects.toThrow(/volume 3 requested, but the file holds 3 volume/);
    }
  });
});

describe("geometry choice", () => {
  const data = new Uint8Array(N);
  it("uses the sform when sform_code > 0 even if the qform code is higher (nifti-reader-js would take the qform)", async () => {
    const path = join(dir, "codes-q2-s1.nii");
    const other = obliqueAffine([1, 1, 1], -30, [0, 0, 0]);
    const g = geometryFromAffine(other, { qform: 2 });
    await writeNifti(path, { dims: [...DIMS], data, datatype: "uint8", geometry: { ...g, sform: { code: 1, affine: AFFINE } } });
    const v = await readNifti(path);
    expect(v.affineSource).toBe("sform");
    expectAffineClose(v.affine, AFFINE, 1e-5);
  });

  it("uses the qform when only qform_code > 0, with qfac -1 flipping k", async () => {
    const path = join(dir, "qform-only.nii");
    const flipped: Affine = [
      [-0.9, 0, 0, 10],
      [0, -0.9, 0, 20],
      [0, 0, -3, 30],
      [0, 0, 0, 1],
    ];
    const g = geometryFromAffine(flipped, { qform: 1, sform: 0 });
    expect(g.qform.qfac).toBe(-1);
    await writeNifti(path, { dims: [...DIMS], data, datatype: "uint8", geometry: g });
    const v = await readNifti(path);
    expect(v.affineSource).toBe("qform");
    expectAffineClose(v.affine, flipped, 1e-5);
    expect(v.orientation).toBe("LPI");
  });

  it("falls back to nibabel's base affine (x flipped, centred) when both codes are 0", async () => {
    const path = join(dir, "no-codes.nii");
    const g = geometryFromAffine(AFFINE, { qform: 0, sform: 0 });
    await writeNifti(path, { dims: [...DIMS], data, datatype: "uint8", geometry: { ...g, pixdim: [2, 3, 4] } });
    const v = await readNifti(path);
    expect(v.affineSource).toBe("pixdim");
    // shape (5,4,3), zooms (2,3,4): diag(-2,3,4), origin -((shape-1)/2)*zooms with x flipped
    expectAffineClose(
      v.affine,
      [
        [-2, 0, 0, 4],
        [0, 3, 0, -4.5],
        [0, 0, 4, -4],
        [0, 0, 0, 1],
      ],
      1e-9,
    );
    expect(v.orientation).toBe("LAS");
    expect(v.spacing).toEqual([2, 3, 4]);
  });
});
