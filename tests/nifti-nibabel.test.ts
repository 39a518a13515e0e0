/**
 * Cross-checks with nibabel (Debian's python3-nibabel), the reference our users compare with:
 * 1. files WRITTEN BY NIBABEL (an independent writer) read by our reader: values, affine,
 *    zooms and axis codes must equal nibabel's own reading of them;
 * 2. files written by OUR writer read by nibabel: same comparison the other way.
 * Geometry cases cover the points where nifti-reader-js's own choice differs from nibabel.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeLabelMap } from "../kernel/io/nifti-labels.js";
import { readNifti } from "../kernel/io/nifti-read.js";
import { geometryFromAffine, writeNifti } from "../kernel/io/nifti-write.js";
import { canRun } from "./helpers/require.js";
import { makePhantom } from "./helpers/phantom3d.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const haveNibabel = canRun(pythonHas("nibabel", "numpy"), "python3-nibabel (Debian package) is needed to cross-check the NIfTI reader with nibabel");
const dir = mkdtempSync(join(tmpdir(), "nifti-nib-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface NibResult {
  shape: number[];
  affine: number[][];
  zooms: number[];
  axcodes: string;
  /** Scaled values (np.asanyarray(img.dataobj)), Fortran order (i fastest); NaN as null. */
  values: (number | null)[];
  dtype: string;
}

/** Python: describe files with nibabel (volume index per file for 4D). */
const DESCRIBE = String.raw`
import sys, json, numpy as np, nibabel as nib
out = {}
for spec in sys.argv[1:]:
    path, t = spec.rsplit('::', 1)
    img = nib.load(path)
    data = np.asanyarray(img.dataobj)
    if data.dtype.names:  # RGB: structured -> channels last
        data = np.stack([data[n] for n in data.dtype.names], axis=-1)
        flat = np.moveaxis(data, -1, 0).reshape(data.shape[-1], -1, order='F').T.ravel()  # channels innermost
    else:
        if data.ndim > 3:
            data = data[..., int(t)]
        flat = data.ravel(order='F')
    out[spec] = dict(shape=list(img.shape), affine=img.affine.tolist(),
        zooms=[float(z) for z in img.header.get_zooms()[:3]],
        axcodes=''.join(nib.aff2axcodes(img.affine)), dtype=str(data.dtype),
        values=[None if (isinstance(v, float) and v != v) else v for v in flat.tolist()])
print(json.dumps(out))
`;

function describeWithNibabel(specs: string[]): Record<string, NibResult> {
  return runPythonJson<Record<string, NibResult>>(DESCRIBE, specs);
}

function expectMatchesNibabel(v: Awaited<ReturnType<typeof readNifti>>, nib: NibResult, tol: number) {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(Math.abs(v.affine[r]![c]! - nib.affine[r]![c]!)).toBeLessThan(tol);
  expect(v.orientation).toBe(nib.axcodes);
  for (let a = 0; a < 3; a++) expect(v.spacing[a]).toBeCloseTo(nib.zooms[a]!, 6);
  expect(v.dims).toEqual([nib.shape[0], nib.shape[1] ?? 1, nib.shape[2] ?? 1]);
  const ours = Array.from(v.data, (x) => (Number.isNaN(x) ? null : x));
  expect(ours.length).toBe(nib.values.length);
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = nib.values[i]!;
    if (a === null || b === null) expect(a).toBe(b);
    else expect(Math.abs(a - b)).toBeLessThanOrEqual(Math.abs(b) * 1e-6);
  }
}

/** Python: write files with nibabel; each case names its geometry and storage. */
const WRITE = String.raw`
import sys, json, numpy as np, nibabel as nib
d = sys.argv[1]
rng = np.random.default_rng(3)
def rot(axis, deg):
    a = np.asarray(axis, float); a /= np.linalg.norm(a); t = np.deg2rad(deg)
    K = np.array([[0,-a[2],a[1]],[a[2],0,-a[0]],[-a[1],a[0],0]])
    return np.eye(3) + np.sin(t)*K + (1-np.cos(t))*K@K
def aff(R, zooms, off):
    A = np.eye(4); A[:3,:3] = R @ np.diag(zooms); A[:3,3] = off; return A
shape = (6, 5, 4)
cases = {}
# 1. int16 with slope/inter; sform (code 2) and a DIFFERENT qform (code 1): nibabel uses the sform
data = (np.arange(np.prod(shape)).reshape(shape, order='F') * 37 % 2000 - 1000).astype(np.int16)
img = nib.Nifti1Image(data, None, dtype=np.int16)
img.header.set_sform(aff(rot([1,2,3], 25), [0.7,0.8,2.5], [10,-20,30]), code=2)
img.header.set_qform(aff(rot([0,0,1], -40), [0.7,0.8,2.5], [1,2,3]), code=1)
img.header.set_slope_inter(2.0, -1024.0)
cases['sform-over-qform.nii.gz'] = img
# 2. qform code 2 beats nothing: sform code 1 still wins in nibabel (nifti-reader-js takes the qform)
img = nib.Nifti1Image(data, None, dtype=np.int16)
img.header.set_sform(aff(rot([0,1,0], 10), [1,1,2], [5,5,5]), code=1)
img.header.set_qform(aff(rot([1,0,0], 30), [1,1,2], [0,0,0]), code=2)
cases['qcode2-scode1.nii'] = img
# 3. qform only, oblique and improper (qfac -1), big-endian float32 with NaN
hdr = nib.Nifti1Header(endianness='>')
f = np.linspace(-5, 5, np.prod(shape)).reshape(shape, order='F').astype('>f4'); f[1,2,3] = np.nan
img = nib.Nifti1Image(f, None, header=hdr, dtype=np.float32)
R = rot([1,1,0], 35) @ np.diag([1,1,-1])
img.header.set_qform(aff(R, [0.9,1.2,3.0], [-7,8,-9]), code=1)
img.header.set_sform(None, code=0)
cases['qform-only-be.nii'] = img
# 4. neither code: nibabel's base affine
img = nib.Nifti1Image(data.astype(np.uint8), None, dtype=np.uint8)
img.header.set_zooms((2.0, 3.0, 4.0))
img.header.set_sform(None, code=0); img.header.set_qform(None, code=0)
cases['no-codes.nii'] = img
# 5. NIfTI-2, uint16, gz
img = nib.Nifti2Image(data.astype(np.uint16) + 1000, aff(rot([0,0,1], 90), [0.5,0.5,1.5], [1,2,3]), dtype=np.uint16)
cases['nifti2.nii.gz'] = img
# 6. a .hdr/.img pair, int32 with a slope
img = nib.Nifti1Pair(data.astype(np.int32) * 1000, aff(np.diag([-1,-1,1]), [1,1,1], [0,0,0]), dtype=np.int32)
img.header.set_slope_inter(0.5, 3.0)
cases['pair.hdr'] = img
# 7. 4D float64
d4 = rng.normal(size=shape + (3,))
cases['four-d.nii.gz'] = nib.Nifti1Image(d4, aff(np.eye(3), [1,1,1], [0,0,0]), dtype=np.float64)
# 8. RGB24
rgb = np.zeros(shape, dtype=[('R','u1'),('G','u1'),('B','u1')])
rgb['R'] = data % 256; rgb['G'] = (data * 3) % 256; rgb['B'] = 7
cases['rgb.nii'] = nib.Nifti1Image(rgb, np.eye(4))
# 9. LPS-stored (as from DICOM converters) int8
cases['lps.nii'] = nib.Nifti1Image((data % 100).astype(np.int8), aff(np.diag([-1,-1,1]) @ rot([0,0,1], 5), [0.6,0.6,5], [100,120,-50]), dtype=np.int8)
for name, im in cases.items():
    nib.save(im, f"{d}/{name}")
print(json.dumps(list(cases)))
`;

describe.runIf(haveNibabel)("nibabel cross-check", () => {
  it("reads files written by nibabel exactly as nibabel does", async () => {
    const names = runPythonJson<string[]>(WRITE, [dir]);
    expect(names.length).toBe(9);
    const specs = names.map((n) => `${join(dir, n)}::${n === "four-d.nii.gz" ? 1 : 0}`);
    const nib = describeWithNibabel(specs);
    for (const spec of specs) {
      const [path, t] = spec.split("::") as [string, string];
      const v = await readNifti(path, { volumeIndex: Number(t) });
      expectMatchesNibabel(v, nib[spec]!, 1e-5);
    }
    const q = await readNifti(join(dir, "qcode2-scode1.nii"));
    expect(q.affineSource).toBe("sform");
    const none = await readNifti(join(dir, "no-codes.nii"));
    expect(none.affineSource).toBe("pixdim");
    const qo = await readNifti(join(dir, "qform-only-be.nii"));
    expect(qo.affineSource).toBe("qform");
    expect(qo.source.format === "nifti" && qo.source.littleEndian).toBe(false);
  });

  it("writes files nibabel reads back identically (every layout, both byte orders)", async () => {
    const ph = makePhantom({ dims: [12, 10, 6], obliqueDeg: 33 });
    const stored = Array.from(ph.image, (x) => Math.round(x));
    const specs: string[] = [];
    const variants = [
      { file: "ours-v1-le.nii.gz", version: 1, le: true, dt: "int16" },
      { file: "ours-v1-be.nii", version: 1, le: false, dt: "float32" },
      { file: "ours-v2-be.nii.gz", version: 2, le: false, dt: "int32" },
      { file: "ours-v2-le.hdr", version: 2, le: true, dt: "float64" },
      { file: "ours-v1-be.hdr.gz", version: 1, le: false, dt: "uint16" },
    ] as const;
    for (const vnt of variants) {
      const data = vnt.dt === "uint16" ? stored.map((x) => x + 200) : stored;
      await writeNifti(
        join(dir, vnt.file),
        { dims: [...ph.dims], data, datatype: vnt.dt, geometry: geometryFromAffine(ph.affine, { qform: 1, sform: 1 }), scaling: { slope: 1.5, inter: -3 } },
        { version: vnt.version, littleEndian: vnt.le },
      );
      specs.push(`${join(dir, vnt.file)}::0`);
    }
    const nib = describeWithNibabel(specs);
    for (const spec of specs) {
      const v = await readNifti(spec.split("::")[0]!);
      expectMatchesNibabel(v, nib[spec]!, 1e-4);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(Math.abs(nib[spec]!.affine[r]![c]! - ph.affine[r]![c]!)).toBeLessThan(1e-4);
    }
  });

  it("a label map keeps the source's qform and sform exactly as nibabel sees them", async () => {
    const src = join(dir, "sform-over-qform.nii.gz");
    const v = await readNifti(src);
    const labels = new Uint16Array(v.dims[0] * v.dims[1] * v.dims[2]).map((_, i) => (i % 5 === 0 ? 300 : i % 3));
    const out = join(dir, "labels.nii.gz");
    const res = await writeLabelMap(out, labels, v);
    expect(res.datatype).toBe("uint16");
    const QS = String.raw`
import sys, json, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
print(json.dumps(dict(
  sform=[a.header.get_sform(coded=True)[1], b.header.get_sform(coded=True)[1]],
  qform=[a.header.get_qform(coded=True)[1], b.header.get_qform(coded=True)[1]],
  sdiff=float(np.abs(a.header.get_sform() - b.header.get_sform()).max()),
  qdiff=float(np.abs(a.header.get_qform() - b.header.get_qform()).max()),
  zooms=[list(map(float, a.header.get_zooms()[:3])), list(map(float, b.header.get_zooms()))],
  dtype=str(b.get_data_dtype()), labels=np.asanyarray(b.dataobj).ravel(order='F').tolist())))
`;
    const r = runPythonJson<{
      sform: number[];
      qform: number[];
      sdiff: number;
      qdiff: number;
      zooms: number[][];
      dtype: string;
      labels: number[];
    }>(QS, [src, out]);
    expect(r.sform).toEqual([2, 2]);
    expect(r.qform).toEqual([1, 1]);
    expect(r.sdiff).toBe(0);
    expect(r.qdiff).toBe(0);
    expect(r.zooms[1]).toEqual(r.zooms[0]);
    expect(r.dtype).toBe("uint16");
    expect(r.labels).toEqual(Array.from(labels));
  });
});
