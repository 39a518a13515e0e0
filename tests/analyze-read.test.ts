/**
 * Analyze 7.5 .hdr/.img pairs written by nibabel (AnalyzeImage, Spm2AnalyzeImage) and read by
 * both: nibabel's `nib.load` (which picks Spm2AnalyzeImage for a header without NIfTI magic)
 * is the reference for values (scale factor in funused1, or glmax/glmin with cal_max/cal_min),
 * the affine (pixdims, x flipped, SPM originator or the centre) and zooms. `medicosam info`
 * must say that the orientation is assumed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeVolume, formatInfo } from "../kernel/cli/info.js";
import { writeLabelMap } from "../kernel/io/nifti-labels.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";
import { canRun } from "./helpers/require.js";

const dir = mkdtempSync(join(tmpdir(), "analyze-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ok = canRun(pythonHas("nibabel", "numpy"), "python3-nibabel (Debian package) is needed to write and check Analyze files");

/** Write with nibabel (class, dtype, byte order, SPM fields), drop any .mat, load back with nib.load. */
const WRITE_AND_LOAD = String.raw`
import sys, json, os, numpy as np, nibabel as nib
path, cls, dtype, order, slope, inter, origin, gl = sys.argv[1:9]
rng = np.random.default_rng(3)
shape = (6, 5, 4)
arr = rng.integers(-300 if dtype == 'int16' else 0, 300, size=shape).astype(dtype)
klass = dict(analyze=nib.AnalyzeImage, spm2=nib.Spm2AnalyzeImage)[cls]
img = klass(arr, None)
h = img.header
h.set_zooms((1.5, 2.0, 3.25))
if order == 'big': h = h.as_byteswapped('>'); img = klass(arr, None, h)
img.header.set_zooms((1.5, 2.0, 3.25))
nib.save(img, path)
# patch the SPM fields into the written header directly (nibabel's writer rescales on save)
raw = bytearray(open(path, 'rb').read())
e = '<' if order == 'little' else '>'
import struct
if slope != '-': struct.pack_into(e + 'f', raw, 112, float(slope)); struct.pack_into(e + 'f', raw, 116, float(inter))
else: struct.pack_into(e + 'ff', raw, 112, 0.0, 0.0)
if origin != '-': struct.pack_into(e + 'hhh', raw, 253, *[int(v) for v in origin.split(',')])
if gl != '-':
    glmax, glmin, cmax, cmin = [float(v) for v in gl.split(',')]
    struct.pack_into(e + 'ff', raw, 124, cmax, cmin); struct.pack_into(e + 'ii', raw, 140, int(glmax), int(glmin))
open(path, 'wb').write(bytes(raw))
mat = path[:-4] + '.mat'
if os.path.exists(mat): os.remove(mat)
back = nib.load(path)
data = np.asanyarray(back.dataobj)
print(json.dumps(dict(cls=type(back).__name__, affine=back.affine.tolist(), zooms=[float(z) for z in back.header.get_zooms()],
    axcodes=''.join(nib.aff2axcodes(back.affine)), values=data.ravel(order='F').tolist())))
`;
type Nib = { cls: string; affine: number[][]; zooms: number[]; axcodes: string; values: number[] };

function compare(v: Awaited<ReturnType<typeof openVolume>>, nib: Nib) {
  expect(nib.cls).toBe("Spm2AnalyzeImage");
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(v.affine[r]![c]).toBeCloseTo(nib.affine[r]![c]!, 5);
  for (let a = 0; a < 3; a++) expect(v.spacing[a]).toBeCloseTo(nib.zooms[a]!, 6);
  expect(v.orientation).toBe(nib.axcodes);
  expect(v.data.length).toBe(nib.values.length);
  for (let i = 0; i < nib.values.length; i++) expect(Math.abs(v.data[i]! - nib.values[i]!)).toBeLessThanOrEqual(Math.abs(nib.values[i]!) * 1e-6 + 1e-9);
}

describe("Analyze 7.5 against nibabel", () => {
  it.runIf(ok).each([
    ["plain int16, little-endian, no scaling, centre origin", "analyze", "int16", "little", "-", "-", "-", "-"],
    ["uint8 big-endian", "analyze", "uint8", "big", "-", "-", "-", "-"],
    ["SPM2: funused1/funused2 scaling and originator", "spm2", "int16", "little", "0.5", "10", "3,2,2", "-"],
    ["SPM originator out of bounds: the centre", "spm2", "int16", "big", "2", "nan", "40,2,2", "-"],
    ["glmax/glmin with cal_max/cal_min when funused1 is 0", "analyze", "int16", "little", "-", "-", "-", "300,-300,1.5,-1.5"],
  ])("%s", async (name, cls, dtype, order, slope, inter, origin, gl) => {
    const path = join(dir, `${name.replace(/\W+/g, "-")}.hdr`);
    const nib = runPythonJson<Nib>(WRITE_AND_LOAD, [path, cls, dtype, order, slope, inter, origin, gl]);
    const v = await openVolume(path);
    expect(v.source.format).toBe("analyze");
    expect(v.affineSource).toBe("analyze");
    compare(v, nib);
    // the .img opens the same pair
    const fromImg = await openVolume(path.replace(/\.hdr$/, ".img"));
    expect(Array.from(fromImg.data)).toEqual(Array.from(v.data));
    expect(v.warnings.join("\n")).toMatch(/Analyze 7\.5 stores no orientation: assumed as nibabel does/);
    if (origin.startsWith("40")) expect(v.warnings.join("\n")).toMatch(/SPM originator 40, 2, 2 is outside the volume's bounds/);
  });

  it.runIf(ok)("medicosam info says the orientation is assumed; an SPM .mat beside it is named", async () => {
    const path = join(dir, "info.hdr");
    runPythonJson<Nib>(WRITE_AND_LOAD, [path, "spm2", "int16", "little", "1", "0", "3,2,2", "-"]);
    writeFileSync(join(dir, "info.mat"), "not read");
    const text = formatInfo(describeVolume(path, await openVolume(path)));
    expect(text).toMatch(/format +Analyze 7\.5 pair \(\.hdr\/\.img\), little-endian/);
    expect(text).toMatch(/affine +from analyze: ORIENTATION ASSUMED \(Analyze stores none\).*SPM originator 3, 2, 2/);
    expect(text).toMatch(/warning +info\.mat \(SPM's affine\) is not read/);
    expect(existsSync(join(dir, "info.img"))).toBe(true);
  });

  it.runIf(ok)("a label map written for an Analyze volume is a NIfTI in the same (assumed) world", async () => {
    const path = join(dir, "labels-src.hdr");
    runPythonJson<Nib>(WRITE_AND_LOAD, [path, "spm2", "int16", "little", "-", "-", "3,2,2", "-"]);
    const v = await openVolume(path);
    const out = join(dir, "labels.nii.gz");
    await writeLabelMap(out, new Uint8Array(v.data.length).fill(1), v);
    const back = await openVolume(out);
    expect(back.source.format).toBe("nifti");
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(back.affine[r]![c]).toBeCloseTo(v.affine[r]![c]!, 5);
  });

  it("a single-file .nii with an Analyze header is refused naming the pair rule", async () => {
    const hdr = new Uint8Array(352 + 8);
    const v = new DataView(hdr.buffer);
    v.setInt32(0, 348, true);
    v.setInt16(40, 3, true);
    for (const k of [1, 2, 3]) v.setInt16(40 + 2 * k, k === 1 ? 2 : 2, true);
    v.setInt16(70, 2, true);
    const path = join(dir, "single.nii");
    writeFileSync(path, hdr);
    await expect(openVolume(path)).rejects.toThrow(/single\.nii: .*an Analyze 7\.5 header, but Analyze images are \.hdr\/\.img pairs/);
  });
});
