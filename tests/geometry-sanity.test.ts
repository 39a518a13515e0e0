/**
 * Spacing sanity: NIfTI pixdims that are zero, negative, NaN or infinite, degenerate sforms
 * and DICOM PixelSpacing/SliceThickness of 0 never reach the volume's geometry. Zero and
 * negative pixdims are compared with nibabel's own fix (files written by nibabel, read by
 * both); NaN/inf, where nibabel keeps NaN, must give 1 with a warning.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeVolume, formatInfo } from "../kernel/cli/info.js";
import { affineProblem, saneVoxelSizes } from "../kernel/io/geometry-sanity.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { viewMapping } from "../kernel/io/volume-view.js";
import type { Volume } from "../kernel/io/volume.js";
import { encodeDicomFile, sliceElements } from "./helpers/dicom-writer.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";
import { canRun } from "./helpers/require.js";

const dir = mkdtempSync(join(tmpdir(), "geom-sanity-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectUsableGeometry(v: Volume) {
  for (const s of v.spacing) expect(Number.isFinite(s) && s > 0).toBe(true);
  expect(affineProblem(v.affine)).toBeNull();
  for (const view of ["axial", "coronal", "sagittal"] as const) {
    const m = viewMapping(v, view);
    expect(Number.isFinite(m.pixelSpacing.x) && m.pixelSpacing.x > 0).toBe(true);
    expect(Number.isFinite(m.pixelSpacing.y) && m.pixelSpacing.y > 0).toBe(true);
  }
}

describe("saneVoxelSizes and affineProblem", () => {
  it("fixes as nibabel (abs, 0 -> 1) and also NaN/inf -> 1, naming the field", () => {
    const r = saneVoxelSizes([-2, 0, Number.NaN], "pixdim[1..3]");
    expect(r.sizes).toEqual([2, 1, 1]);
    expect(r.warnings.join("\n")).toMatch(/pixdim\[1\.\.3\] -2, 0, NaN has negative/);
    expect(r.warnings.join("\n")).toMatch(/zero voxel sizes: 1 used/);
    expect(r.warnings.join("\n")).toMatch(/NaN or infinite/);
    expect(saneVoxelSizes([0.5, 1, 3], "x")).toEqual({ sizes: [0.5, 1, 3], warnings: [] });
  });
  it("flags NaN, zero and collinear axes", () => {
    const id = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] as const;
    expect(affineProblem(id)).toBeNull();
    expect(affineProblem([[Number.NaN, 0, 0, 0], id[1], id[2], id[3]])).toMatch(/NaN/);
    expect(affineProblem([[0, 0, 0, 0], id[1], id[2], id[3]])).toMatch(/zero-length/);
    expect(affineProblem([[1, 1, 0, 0], [0, 0, 0, 0], id[2], id[3]])).toMatch(/singular/);
  });
});

describe("NIfTI pixdims against nibabel", () => {
  const ok = canRun(pythonHas("nibabel", "numpy"), "python3-nibabel (Debian package) is needed for the pixdim cross-check");
  const WRITE = String.raw`
import sys, json, numpy as np, nibabel as nib
path, px, py, pz, qcode, scode = sys.argv[1:7]
img = nib.Nifti1Image(np.arange(4*5*6, dtype=np.int16).reshape(4,5,6), None)
h = img.header
h['pixdim'][1:4] = [float(px), float(py), float(pz)]
h['qform_code'] = int(qcode); h['sform_code'] = int(scode)
if int(scode): h['srow_x'] = [float(px), 0, 0, 10]; h['srow_y'] = [0, 2, 0, 20]; h['srow_z'] = [0, 0, 3, 30]
nib.save(img, path)
img = nib.load(path)
fin = lambda v: float(v) if np.isfinite(v) else None
print(json.dumps(dict(affine=[[fin(v) for v in r] for r in img.affine.tolist()],
                      zooms=[fin(z) for z in img.header.get_zooms()])))
`;
  type Nib = { affine: (number | null)[][]; zooms: (number | null)[] };

  it.runIf(ok).each([
    ["zero", "0", "2", "3"],
    ["negative", "-1.5", "2", "3"],
    ["two zeros", "0", "0", "3"],
  ])("%s pixdim (qform/sform codes 0): nibabel's fixed affine and zooms", async (name, px, py, pz) => {
    const path = join(dir, `pd-${name.replace(" ", "")}.nii`);
    const nib = runPythonJson<Nib>(WRITE, [path, px, py, pz, "0", "0"]);
    const v = await openVolume(path);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(v.affine[r]![c]).toBeCloseTo(nib.affine[r]![c]!, 6);
    for (let a = 0; a < 3; a++) expect(v.spacing[a]).toBeCloseTo(nib.zooms[a]!, 6);
    expect(v.warnings.join("\n")).toMatch(/pixdim\[1\.\.3\]/);
    expectUsableGeometry(v);
  });

  it.runIf(ok)("zero pixdim under a qform: nibabel's fixed qform", async () => {
    const path = join(dir, "pd-qform.nii");
    const nib = runPythonJson<Nib>(WRITE, [path, "0", "2", "3", "1", "0"]);
    const v = await openVolume(path);
    expect(v.affineSource).toBe("qform");
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(v.affine[r]![c]).toBeCloseTo(nib.affine[r]![c]!, 6);
    expectUsableGeometry(v);
  });

  it.runIf(ok)("NaN pixdim: nibabel keeps NaN, we use 1 with a warning; info prints it", async () => {
    const path = join(dir, "pd-nan.nii");
    const nib = runPythonJson<Nib>(WRITE, [path, "nan", "2", "inf", "0", "0"]);
    expect(nib.zooms[0]).toBeNull(); // nibabel: NaN zoom
    const v = await openVolume(path);
    expect(v.spacing).toEqual([1, 2, 1]);
    expect(v.warnings.join("\n")).toMatch(/NaN or infinite voxel sizes: 1 used/);
    expectUsableGeometry(v);
    expect(formatInfo(describeVolume(path, v))).toMatch(/warning +pixdim\[1\.\.3\] NaN, 2, Infinity has NaN or infinite/);
  });

  it.runIf(ok)("an sform with a zero axis is passed over for the qform, with a warning", async () => {
    const path = join(dir, "sform-zero.nii");
    // srow_x's first entry is pixdim[1] = 0: the sform's i axis has length 0
    runPythonJson<Nib>(WRITE, [path, "0", "2", "3", "1", "1"]);
    const v = await openVolume(path);
    expect(v.affineSource).toBe("qform");
    expect(v.warnings.join("\n")).toMatch(/the sform \(sform_code 1\) has a zero-length voxel axis \(column lengths 0, 2, 3\); the qform was used instead/);
    expectUsableGeometry(v);
  });
});

describe("DICOM spacing", () => {
  it("PixelSpacing 0 and a negative SliceThickness on one slice: 1 mm / abs with warnings", async () => {
    const path = join(dir, "zero-ps.dcm");
    const pixels = new Uint16Array(6 * 4).map((_, i) => i);
    writeFileSync(
      path,
      encodeDicomFile(
        sliceElements({ rows: 4, columns: 6, pixels, signed: false, position: [0, 0, 0], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0, 0.5], sliceThickness: -2 }),
        "explicit-le",
      ),
    );
    const v = await openVolume(path);
    expect(v.spacing).toEqual([0.5, 1, 2]);
    expect(v.warnings.join("\n")).toMatch(/PixelSpacing \(0028,0030\) 0, 0\.5 has zero voxel sizes: 1 used/);
    expect(v.warnings.join("\n")).toMatch(/SliceThickness \(0018,0050\) -2 has negative/);
    expectUsableGeometry(v);
  });

  it("degenerate ImageOrientationPatient: one slice read axial with a warning, a series refused by name", async () => {
    const el = (k: number) =>
      sliceElements({ rows: 4, columns: 6, pixels: new Uint16Array(24), signed: false, position: [0, 0, k], orientation: [1, 0, 0, 1, 0, 0], pixelSpacing: [1, 1], instance: k + 1 });
    const one = join(dir, "iop-one.dcm");
    writeFileSync(one, encodeDicomFile(el(0), "explicit-le"));
    const v = await openVolume(one);
    expect(v.warnings.join("\n")).toMatch(/ImageOrientationPatient \(0020,0037\) 1\\0\\0\\1\\0\\0 is degenerate/);
    expectUsableGeometry(v);
    const series = join(dir, "iop-series");
    (await import("node:fs")).mkdirSync(series);
    for (let k = 0; k < 3; k++) writeFileSync(join(series, `s${k}.dcm`), encodeDicomFile(el(k), "explicit-le"));
    await expect(openVolume(series)).rejects.toThrow(/s0\.dcm: ImageOrientationPatient \(0020,0037\) .* is degenerate/);
  });
});
