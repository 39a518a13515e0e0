/**
 * DICOM series and single files: slices written in scrambled order (file names and
 * InstanceNumbers lying about the order) must come back sorted by position, with the
 * geometry the files state, in every uncompressed transfer syntax; compressed syntaxes and
 * damaged series are refused by name. pydicom (an independent implementation) checks both
 * our test writer and our reader.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDicom } from "../kernel/io/dicom-series.js";
import { openVolume } from "../kernel/io/volume-open.js";
import type { Affine } from "../kernel/io/volume.js";
import { encodeDicomFile, sliceElements, type El, type SliceSpec, type Syntax } from "./helpers/dicom-writer.js";
import { makePhantom } from "./helpers/phantom3d.js";
import { canRun } from "./helpers/require.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";

const root = mkdtempSync(join(tmpdir(), "dicom-read-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folderCount = 0;
function folder(): string {
  const d = join(root, `s${folderCount++}`);
  mkdirSync(d);
  return d;
}

/** An oblique LPS frame: rotation about z by 20 deg, then about x by 10 deg. Columns: row dir, col dir, normal. */
function rotation(): number[][] {
  const a = (20 * Math.PI) / 180;
  const b = (10 * Math.PI) / 180;
  const rz = [
    [Math.cos(a), -Math.sin(a), 0],
    [Math.sin(a), Math.cos(a), 0],
    [0, 0, 1],
  ];
  const rx = [
    [1, 0, 0],
    [0, Math.cos(b), -Math.sin(b)],
    [0, Math.sin(b), Math.cos(b)],
  ];
  return rx.map((row) => [0, 1, 2].map((c) => row.reduce((s, v, k) => s + v * rz[k]![c]!, 0)));
}

const R = rotation();
const ROW = [R[0]![0]!, R[1]![0]!, R[2]![0]!];
const COL = [R[0]![1]!, R[1]![1]!, R[2]![1]!];
const NORMAL = [R[0]![2]!, R[1]![2]!, R[2]![2]!];
const PS = [0.7, 0.9]; // [between rows, between columns]
const DZ = 2.5;
const ORIGIN = [-100.5, 80.25, -300];
const ph = makePhantom({ dims: [24, 20, 10] });
const [NX, NY, NZ] = ph.dims;

/** The RAS affine the files state: LPS columns (row*colSpacing, col*rowSpacing, normal*dz, origin) with x, y negated. */
const EXPECTED_AFFINE: Affine = (() => {
  const lps = [0, 1, 2].map((a) => [ROW[a]! * PS[1]!, COL[a]! * PS[0]!, NORMAL[a]! * DZ, ORIGIN[a]!]);
  const sign = [-1, -1, 1];
  return [
    lps[0]!.map((v) => v * sign[0]!) as never,
    lps[1]!.map((v) => v * sign[1]!) as never,
    lps[2]! as never,
    [0, 0, 0, 1],
  ];
})();

function storedSlice(k: number): Uint16Array {
  const out = new Uint16Array(NX * NY);
  for (let p = 0; p < NX * NY; p++) out[p] = Math.round(ph.image[k * NX * NY + p]!) + 1024;
  return out;
}

const SCRAMBLE = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4];

function seriesSpec(k: number, overrides: Partial<SliceSpec> = {}): SliceSpec {
  return {
    rows: NY,
    columns: NX,
    pixels: storedSlice(k),
    bitsStored: 12,
    signed: false,
    position: [0, 1, 2].map((a) => ORIGIN[a]! + k * DZ * NORMAL[a]!),
    orientation: [...ROW, ...COL],
    pixelSpacing: PS,
    sliceThickness: DZ,
    slope: 1,
    intercept: -1024,
    instance: NZ - k, // InstanceNumber runs the other way than position
    ...overrides,
  };
}

function writeSeries(dir: string, syntax: Syntax, overrides: (k: number) => Partial<SliceSpec> = () => ({})): void {
  for (const k of SCRAMBLE) {
    writeFileSync(join(dir, `IM_${String(SCRAMBLE.indexOf(k)).padStart(4, "0")}`), encodeDicomFile(sliceElements(seriesSpec(k, overrides(k))), syntax));
  }
}

function expectAffine(actual: Affine, expected: Affine, tol = 1e-6) {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(Math.abs(actual[r]![c]! - expected[r]![c]!)).toBeLessThan(tol);
}

describe("DICOM series folders", () => {
  it.each(["explicit-le", "implicit-le", "explicit-be", "deflate"] as const)(
    "%s: sorted by position, values rescaled, geometry as stated",
    async (syntax) => {
      const dir = folder();
      writeSeries(dir, syntax);
      const v = await readDicom(dir);
      expect(v.dims).toEqual([NX, NY, NZ]);
      expect(v.data).toBeInstanceOf(Int16Array); // 12-bit unsigned - 1024 fits int16 exactly
      expect(Array.from(v.data)).toEqual(Array.from(ph.image, (x) => Math.round(x)));
      expectAffine(v.affine, EXPECTED_AFFINE);
      expect(v.affineSource).toBe("dicom");
      expect(v.spacing[0]).toBeCloseTo(PS[1]!, 9);
      expect(v.spacing[1]).toBeCloseTo(PS[0]!, 9);
      expect(v.spacing[2]).toBeCloseTo(DZ, 9);
      expect(v.orientation).toBe("LPS");
      expect(v.warnings).toEqual([]);
      if (v.source.format === "dicom") {
        expect(v.source.files).toBe(NZ);
        expect(v.source.scaling).toEqual({ slope: 1, inter: -1024 });
      }
      const opened = await openVolume(dir);
      expect(opened.dims).toEqual(v.dims);
    },
  );

  it("masks bits above BitsStored and sign-extends signed 12-bit values", async () => {
    const dir = folder();
    const signedVals = (k: number) => {
      const s = new Int16Array(NX * NY);
      for (let p = 0; p < s.length; p++) s[p] = ((p * 7 + k) % 4096) - 2048;
      return s;
    };
    for (const k of SCRAMBLE) {
      const vals = signedVals(k);
      // store 12-bit two's complement with garbage (overlay) bits set above bit 11
      const raw = new Uint16Array(vals.length);
      for (let p = 0; p < raw.length; p++) raw[p] = (vals[p]! & 0x0fff) | 0xa000;
      const spec = seriesSpec(k, { pixels: raw, signed: true, bitsStored: 12, slope: 1, intercept: 0 });
      writeFileSync(join(dir, `f${k}.dcm`), encodeDicomFile(sliceElements(spec), "explicit-le"));
    }
    const v = await readDicom(dir);
    for (const k of [0, 4, 9]) {
      expect(Array.from(v.data.subarray(k * NX * NY, (k + 1) * NX * NY))).toEqual(Array.from(signedVals(k)));
    }
  });

  it("8-bit, 32-bit and non-integer rescale keep exact values in a fitting type", async () => {
    const d8 = folder();
    writeSeries(d8, "explicit-le", (k) => ({ pixels: Uint8Array.from(storedSlice(k), (x) => x % 256), bitsStored: 8, intercept: 0 }));
    const v8 = await readDicom(d8);
    expect(v8.data).toBeInstanceOf(Uint8Array);
    expect(v8.data[NX * NY * 3 + 5]).toBe(storedSlice(3)[5]! % 256);
    const d32 = folder();
    writeSeries(d32, "explicit-be", (k) => ({ pixels: Int32Array.from(storedSlice(k), (x) => x * 100000 - 7), signed: true, bitsStored: 32, intercept: 0 }));
    const v32 = await readDicom(d32);
    expect(v32.data).toBeInstanceOf(Int32Array);
    expect(v32.data[NX * NY * 6 + 11]).toBe(storedSlice(6)[11]! * 100000 - 7);
    const df = folder();
    writeSeries(df, "implicit-le", (k) => ({ slope: 0.5, intercept: -10.25 + k }));
    const vf = await readDicom(df);
    expect(vf.data).toBeInstanceOf(Float32Array);
    expect(vf.data[NX * NY * 2 + 9]).toBeCloseTo(storedSlice(2)[9]! * 0.5 - 10.25 + 2, 4);
    expect(vf.source.format === "dicom" && vf.source.scaling).toEqual({ varies: true });
  });
});

describe("DICOM single files", () => {
  it("one slice: a volume of depth 1, spacing across from SliceThickness", async () => {
    const path = join(folder(), "one.dcm");
    writeFileSync(path, encodeDicomFile(sliceElements(seriesSpec(4)), "explicit-le"));
    const v = await openVolume(path);
    expect(v.dims).toEqual([NX, NY, 1]);
    expect(v.spacing[2]).toBe(DZ);
    expect(Array.from(v.data)).toEqual(Array.from(storedSlice(4), (x) => x - 1024));
    const origin4 = [0, 1, 2].map((a) => ORIGIN[a]! + 4 * DZ * NORMAL[a]!);
    expect(v.affine[0][3]).toBeCloseTo(-origin4[0]!, 6);
    expect(v.affine[2][3]).toBeCloseTo(origin4[2]!, 6);
  });

  it("enhanced multi-frame: per-frame positions from the functional groups, frames sorted", async () => {
    const frames = [3, 0, 2, 1];
    const pixels = new Uint16Array(NX * NY * frames.length);
    frames.forEach((k, f) => pixels.set(storedSlice(k), f * NX * NY));
    const item = (els: El[]): El[] => els;
    const perFrame = frames.map((k) =>
      item([{ tag: 0x00209113, vr: "SQ", value: [[{ tag: 0x00200032, vr: "DS", value: [0, 1, 2].map((a) => ORIGIN[a]! + k * DZ * NORMAL[a]!) }]] }]),
    );
    const shared = [
      item([
        { tag: 0x00209116, vr: "SQ", value: [[{ tag: 0x00200037, vr: "DS", value: [...ROW, ...COL] }]] },
        { tag: 0x00289110, vr: "SQ", value: [[{ tag: 0x00280030, vr: "DS", value: PS }, { tag: 0x00180050, vr: "DS", value: DZ }]] },
        { tag: 0x00289145, vr: "SQ", value: [[{ tag: 0x00281052, vr: "DS", value: -1024 }, { tag: 0x00281053, vr: "DS", value: 1 }]] },
      ]),
    ];
    const spec: SliceSpec = {
      rows: NY,
      columns: NX,
      pixels,
      bitsStored: 12,
      signed: false,
      extra: [
        { tag: 0x00280008, vr: "IS", value: frames.length },
        { tag: 0x52009229, vr: "SQ", value: shared },
        { tag: 0x52009230, vr: "SQ", value: perFrame },
      ],
    };
    const path = join(folder(), "enhanced.dcm");
    writeFileSync(path, encodeDicomFile(sliceElements(spec), "explicit-le"));
    const v = await readDicom(path);
    expect(v.dims).toEqual([NX, NY, 4]);
    expect(Array.from(v.data)).toEqual(Array.from(ph.image.subarray(0, NX * NY * 4), (x) => Math.round(x)));
    expectAffine(v.affine, EXPECTED_AFFINE);
  });
});

describe("DICOM refusals", () => {
  it("video syntaxes: 'not supported: <syntax>'; damaged or too deep compressed frames are named", async () => {
    const dir = folder();
    const els = sliceElements(seriesSpec(0)).map((e) => (e.tag === 0x7fe00010 ? { ...e, vr: "OB", value: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), encapsulated: true } : e));
    writeFileSync(join(dir, "mpeg.dcm"), encodeDicomFile(els, "mpeg2"));
    await expect(readDicom(join(dir, "mpeg.dcm"))).rejects.toThrow(/not supported: MPEG2 Main Profile @ Main Level \(1\.2\.840\.10008\.1\.2\.4\.100\)/);
    // 16-bit samples in JPEG Baseline: only 8-bit JPEG is decoded
    writeFileSync(join(dir, "jpeg16.dcm"), encodeDicomFile(els, "jpeg-baseline"));
    await expect(readDicom(join(dir, "jpeg16.dcm"))).rejects.toThrow(/jpeg16\.dcm: not supported: JPEG Baseline \(Process 1\) with 1[26]-bit samples \(only 8-bit JPEG is decoded\)/);
    const els8 = sliceElements({ ...seriesSpec(0), pixels: new Uint8Array(NX * NY) }).map((e) =>
      e.tag === 0x7fe00010 ? { ...e, vr: "OB", value: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), encapsulated: true } : e,
    );
    writeFileSync(join(dir, "jpeg-bad.dcm"), encodeDicomFile(els8, "jpeg-baseline"));
    await expect(readDicom(join(dir, "jpeg-bad.dcm"))).rejects.toThrow(/jpeg-bad\.dcm: frame 0 cannot be decoded as JPEG Baseline \(Process 1\).*damaged/);
  });

  it("several series: listed, and one can be chosen", async () => {
    const dir = folder();
    writeSeries(dir, "explicit-le");
    writeFileSync(join(dir, "other.dcm"), encodeDicomFile(sliceElements(seriesSpec(0, { seriesUID: "1.2.3.999" })), "explicit-le"));
    await expect(readDicom(dir)).rejects.toThrow(/holds 2 series; choose one[\s\S]*1\.2\.3\.999.*1 file/);
    const v = await readDicom(dir, { series: "1.2.3.999" });
    expect(v.dims).toEqual([NX, NY, 1]);
  });

  it("duplicate positions (several volumes in one series) are refused; a missing slice is reported", async () => {
    const dir = folder();
    writeSeries(dir, "explicit-le");
    writeFileSync(join(dir, "dup.dcm"), encodeDicomFile(sliceElements(seriesSpec(3, { instance: 99 })), "explicit-le"));
    await expect(readDicom(dir)).rejects.toThrow(/2 slices share the position .* several volumes/);
    const gap = folder();
    writeSeries(gap, "explicit-le");
    rmSync(join(gap, `IM_${String(SCRAMBLE.indexOf(5)).padStart(4, "0")}`));
    const v = await readDicom(gap);
    expect(v.dims[2]).toBe(NZ - 1);
    expect(v.warnings.join()).toMatch(/non-uniform slice spacing \(2\.500 to 5\.000 mm; missing slices\?\)/);
  });

  it("truncated files, folders without DICOM, stray files", async () => {
    const dir = folder();
    const bytes = encodeDicomFile(sliceElements(seriesSpec(0)), "explicit-le");
    writeFileSync(join(dir, "cut.dcm"), bytes.subarray(0, bytes.length - 100));
    await expect(readDicom(join(dir, "cut.dcm"))).rejects.toThrow(/cut\.dcm: truncated/);
    const empty = folder();
    writeFileSync(join(empty, "notes.txt"), "hello");
    await expect(readDicom(empty)).rejects.toThrow(/no DICOM image files found \(1 other file\(s\) skipped\)/);
    const mixed = folder();
    writeSeries(mixed, "explicit-le");
    writeFileSync(join(mixed, "README.txt"), "exported by a scanner");
    const v = await readDicom(mixed);
    expect(v.warnings).toContain("1 non-DICOM file(s) skipped");
  });
});

describe("pydicom cross-check", () => {
  const ok = canRun(pythonHas("pydicom", "numpy"), "python3-pydicom (Debian package) is needed to cross-check the DICOM reader");
  it.runIf(ok)("pydicom reads our test files as we do, and we read pydicom's files as it does", async () => {
    const ours = folder();
    writeSeries(ours, "explicit-be");
    const theirs = folder();
    const SCRIPT = String.raw`
import sys, os, json, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
ours, theirs = sys.argv[1], sys.argv[2]
# 1. read our writer's files with pydicom: sorted-by-position rescaled stack, positions, orientation
sl = [pydicom.dcmread(os.path.join(ours, f)) for f in sorted(os.listdir(ours))]
iop = np.array(sl[0].ImageOrientationPatient, float); n = np.cross(iop[:3], iop[3:])
sl.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), n)))
vals = np.stack([d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in sl])
read_ours = dict(values=vals.ravel().tolist(), first=[float(x) for x in sl[0].ImagePositionPatient])
# 2. write a series with pydicom: signed int16, MR, orientation sagittal-ish, files in reverse order
series = generate_uid()
for k in range(6):
    ds = Dataset()
    ds.file_meta = FileMetaDataset(); ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.4'; ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = 'MR'; ds.SeriesInstanceUID = series; ds.InstanceNumber = k + 1
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.ImagePositionPatient = [-20 + 3.0 * k, -50, 60]
    ds.PixelSpacing = [1.25, 0.75]; ds.SliceThickness = 3
    ds.Rows, ds.Columns = 7, 9
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 1
    arr = (np.arange(63).reshape(7, 9) * (k + 1) - 100).astype(np.int16)
    ds.PixelData = arr.tobytes()
    ds.is_little_endian = True; ds.is_implicit_VR = False
    ds.save_as(os.path.join(theirs, f'{5 - k:03d}.dcm'), write_like_original=False)
ts = [pydicom.dcmread(os.path.join(theirs, f)) for f in sorted(os.listdir(theirs))]
n2 = np.cross([0, 1, 0], [0, 0, -1])
ts.sort(key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), n2)))
theirs_vals = np.stack([d.pixel_array for d in ts]).ravel().tolist()
print(json.dumps(dict(read_ours=read_ours, theirs=theirs_vals)))
`;
    const r = runPythonJson<{ read_ours: { values: number[]; first: number[] }; theirs: number[] }>(SCRIPT, [ours, theirs]);
    expect(r.read_ours.values).toEqual(Array.from(ph.image, (x) => Math.round(x)));
    expect(r.read_ours.first.map((x) => Number(x.toFixed(6)))).toEqual(ORIGIN.map((x) => Number(x.toFixed(6))));
    const v = await readDicom(theirs);
    expect(v.dims).toEqual([9, 7, 6]);
    expect(Array.from(v.data)).toEqual(r.theirs);
    // LPS row direction +y (toward P), column direction -z (toward I), normal row x col = -x (toward R):
    // sorted along the normal, k runs toward R, starting at the slice with x = -5 (LPS), i.e. RAS x = +5.
    expect(v.orientation).toBe("PIR");
    expectAffine(
      v.affine,
      [
        [0, 0, 3, 5],
        [-0.75, 0, 0, 50],
        [0, -1.25, 0, 60],
        [0, 0, 0, 1],
      ] as Affine,
      1e-9,
    );
  });
});
