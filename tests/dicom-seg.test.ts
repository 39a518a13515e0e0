/**
 * DICOM SEG out: `writeDicomSeg`, `medicosam seg` and the canvas's `w.save("seg.dcm")` over an
 * oblique reference series written in scrambled file order. pydicom (Debian) reads the SEG
 * back: SOP class Segmentation Storage, one segment per label with its name and colour, each
 * frame's ImagePositionPatient equal to that of the source image it references, frame pixels
 * equal to the label map on that slice, the reference series' UID and study.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run as segCli } from "../kernel/cli/seg.js";
import { SEGMENTATION_STORAGE, writeDicomSeg } from "../kernel/io/dicom-seg.js";
import { readDicom } from "../kernel/io/dicom-series.js";
import { writeLabelMap } from "../kernel/io/nifti-labels.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import type { Volume } from "../kernel/io/volume.js";
import { loadModel, type SamModel } from "../kernel/sam/model.js";
import { segmentCanvas } from "../widgets/segment-canvas/kernel/create.js";
import { FakeFrontend } from "../widgets/harness/fake-frontend.js";
import { encodeDicomFile, sliceElements } from "./helpers/dicom-writer.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";
import { canRun } from "./helpers/require.js";

const dir = mkdtempSync(join(tmpdir(), "dicom-seg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ok = canRun(pythonHas("pydicom", "numpy"), "python3-pydicom (Debian package) is needed to read the SEG back");

const NX = 20;
const NY = 16;
const NZ = 6;
const STUDY = "1.2.826.0.1.3680043.10.77.1";
const SERIES = "1.2.826.0.1.3680043.10.77.2";
const FOR = "1.2.826.0.1.3680043.10.77.3";
// oblique: rows along (cos 20, sin 20, 0), columns along (-sin 20 cos 10, cos 20 cos 10, sin 10)
const a = (20 * Math.PI) / 180;
const b = (10 * Math.PI) / 180;
const ROW = [Math.cos(a), Math.sin(a), 0];
const COL = [-Math.sin(a) * Math.cos(b), Math.cos(a) * Math.cos(b), Math.sin(b)];
const NORMAL = [ROW[1]! * COL[2]! - ROW[2]! * COL[1]!, ROW[2]! * COL[0]! - ROW[0]! * COL[2]!, ROW[0]! * COL[1]! - ROW[1]! * COL[0]!];
const series = join(dir, "series");

beforeAll(() => {
  mkdirSync(series);
  const order = [3, 0, 5, 1, 4, 2]; // file i holds slice order[i]
  order.forEach((k, i) => {
    const pixels = new Int16Array(NX * NY).map((_, p) => p + k * 100);
    const els = sliceElements({
      rows: NY,
      columns: NX,
      pixels,
      signed: true,
      position: [0, 1, 2].map((x) => [-50, 20, 100][x]! + 3 * k * NORMAL[x]!),
      orientation: [...ROW, ...COL],
      pixelSpacing: [0.9, 0.6],
      sliceThickness: 3,
      seriesUID: SERIES,
      instance: 40 + i,
      extra: [
        { tag: 0x0020000d, vr: "UI", value: STUDY },
        { tag: 0x00200052, vr: "UI", value: FOR },
        { tag: 0x00100010, vr: "PN", value: "Phantom^Test" },
        { tag: 0x00100020, vr: "LO", value: "PH-001" },
      ],
    });
    writeFileSync(join(series, `img${i}.dcm`), encodeDicomFile(els, "explicit-le"));
  });
});

/** Label 1 on slices 1-3 (a rectangle), label 2 on slices 2 and 4 (another), label 5 a single voxel on slice 0. */
function makeLabels(): Uint16Array {
  const l = new Uint16Array(NX * NY * NZ);
  const set = (i: number, j: number, k: number, v: number) => (l[i + NX * (j + NY * k)] = v);
  for (const k of [1, 2, 3]) for (let j = 3; j < 9; j++) for (let i = 2; i < 12; i++) set(i, j, k, 1);
  for (const k of [2, 4]) for (let j = 10; j < 14; j++) for (let i = 13; i < 18; i++) set(i, j, k, 2);
  set(0, 0, 0, 5);
  return l;
}

const READ_SEG = String.raw`
import sys, json, glob, numpy as np, pydicom
seg = pydicom.dcmread(sys.argv[1])
refs = {}
for f in glob.glob(sys.argv[2] + '/*.dcm'):
    d = pydicom.dcmread(f)
    refs[d.SOPInstanceUID] = [float(v) for v in d.ImagePositionPatient]
px = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
frames = []
for i, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
    src = fg.DerivationImageSequence[0].SourceImageSequence[0]
    frames.append(dict(segment=int(fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
        position=[float(v) for v in fg.PlanePositionSequence[0].ImagePositionPatient],
        source=str(src.ReferencedSOPInstanceUID), sourcePosition=refs.get(str(src.ReferencedSOPInstanceUID)),
        pixels=px[i].reshape(-1).tolist()))
print(json.dumps(dict(sopClass=str(seg.SOPClassUID), modality=seg.Modality, type=seg.SegmentationType,
    bits=int(seg.BitsAllocated), study=str(seg.StudyInstanceUID), frameOfReference=str(seg.FrameOfReferenceUID),
    patient=str(seg.PatientName), refSeries=str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID),
    refInstances=sorted(str(r.ReferencedSOPInstanceUID) for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence),
    allRefs=sorted(refs.keys()),
    segments=[dict(number=int(s.SegmentNumber), label=str(s.SegmentLabel), lab=[int(v) for v in s.RecommendedDisplayCIELabValue]) for s in seg.SegmentSequence],
    orientation=[float(v) for v in seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient],
    frames=frames)))
`;
interface SegRead {
  sopClass: string;
  modality: string;
  type: string;
  bits: number;
  study: string;
  frameOfReference: string;
  patient: string;
  refSeries: string;
  refInstances: string[];
  allRefs: string[];
  segments: { number: number; label: string; lab: number[] }[];
  orientation: number[];
  frames: { segment: number; position: number[]; source: string; sourcePosition: number[] | null; pixels: number[] }[];
}

/** Everything the SEG must say about `labels` over the reference series. */
function expectSegOf(seg: SegRead, labels: Uint16Array, names: string[]) {
  expect(seg.sopClass).toBe(SEGMENTATION_STORAGE);
  expect([seg.modality, seg.type, seg.bits]).toEqual(["SEG", "BINARY", 1]);
  expect([seg.study, seg.frameOfReference, seg.patient, seg.refSeries]).toEqual([STUDY, FOR, "Phantom^Test", SERIES]);
  expect(seg.refInstances).toEqual(seg.allRefs);
  expect(seg.segments.map((s) => [s.number, s.label])).toEqual([1, 2, 5].map((n) => [n, names[n - 1] ?? `object ${n}`]));
  for (let x = 0; x < 6; x++) expect(seg.orientation[x]).toBeCloseTo([...ROW, ...COL][x]!, 6);
  // one frame per (segment, slice holding it), each at its source image's position, with its pixels
  const expected = new Map<string, number[]>();
  for (let k = 0; k < NZ; k++) {
    for (const s of [1, 2, 5]) {
      const px = Array.from(labels.subarray(k * NX * NY, (k + 1) * NX * NY), (v) => (v === s ? 1 : 0));
      if (px.some((v) => v)) expected.set(`${s}@${k}`, px);
    }
  }
  expect(seg.frames.length).toBe(expected.size);
  for (const f of seg.frames) {
    expect(f.sourcePosition).not.toBeNull();
    for (let x = 0; x < 3; x++) expect(f.position[x]).toBeCloseTo(f.sourcePosition![x]!, 4);
    const k = Math.round((f.position.reduce((acc, v, x) => acc + (v - [-50, 20, 100][x]!) * NORMAL[x]!, 0)) / 3);
    expect(f.pixels).toEqual(expected.get(`${f.segment}@${k}`));
  }
}

describe("DICOM SEG out", () => {
  it.runIf(ok)("writeDicomSeg(labels, seriesDir, { names, colors }) reads back in pydicom", async () => {
    const labels = makeLabels();
    const out = join(dir, "api.dcm");
    const names = ["liver", "spleen"];
    const r = await writeDicomSeg(labels, series, { names, colors: [[255, 0, 0], [0, 0, 255]], out });
    expect(r.segments).toEqual([1, 2, 5]);
    const seg = runPythonJson<SegRead>(READ_SEG, [out, series]);
    expectSegOf(seg, labels, names);
    // red and blue as CIELab: red has a > 0, blue b < 0 (DICOM scales a, b to 0..65535 around 32896)
    expect(seg.segments[0]!.lab[1]!).toBeGreaterThan(40000);
    expect(seg.segments[1]!.lab[2]!).toBeLessThan(20000);
  });

  it.runIf(ok)("medicosam seg LABELS --reference SERIES_DIR --out FILE.dcm", async () => {
    const labels = makeLabels();
    const volume = await readDicom(series);
    const nii = join(dir, "labels.nii.gz");
    await writeLabelMap(nii, labels, volume);
    const out = join(dir, "cli.dcm");
    expect(await segCli([nii, "--reference", series, "--out", out, "--names", "liver,spleen"])).toBe(0);
    expectSegOf(runPythonJson<SegRead>(READ_SEG, [out, series]), labels, ["liver", "spleen"]);
    // a label map on another grid is refused
    const wrong = join(dir, "wrong.nii.gz");
    await writeNifti(wrong, { dims: [NX, NY, NZ], data: labels, datatype: "uint16" });
    expect(await segCli([wrong, "--reference", series, "--out", join(dir, "x.dcm")])).toBe(1);
    expect(await segCli([nii, "--reference", series])).toBe(2);
  });

  it.runIf(ok)("the canvas saves seg.dcm over its DICOM series, with the palette's colours", async () => {
    const model: SamModel = await loadModel(join(import.meta.dirname, "..", "models", "analytic"));
    try {
      const volume: Volume = await readDicom(series);
      const f = new FakeFrontend();
      const w = segmentCanvas(model, volume, { runtime: f.runtime });
      await w.whenIdle();
      await w.setBox({ x0: 3, y0: 3, x1: 12, y1: 10 }, { z: 2 });
      await w.commit();
      const out = await w.save(join(dir, "canvas", "seg.dcm"), { names: ["lesion"] });
      expect(out.format).toBe("dicom-seg");
      expect(out.labels).toEqual([1]);
      const seg = runPythonJson<SegRead>(READ_SEG, [out.path, series]);
      expect(seg.sopClass).toBe(SEGMENTATION_STORAGE);
      expect(seg.segments.map((s) => s.label)).toEqual(["lesion"]);
      const committed = w.labels;
      const total = seg.frames.reduce((acc, fr) => acc + fr.pixels.reduce((x, y) => x + y, 0), 0);
      expect(total).toBe(committed.reduce((x, y) => x + (y === 1 ? 1 : 0), 0));
      for (const fr of seg.frames) for (let x = 0; x < 3; x++) expect(fr.position[x]).toBeCloseTo(fr.sourcePosition![x]!, 4);
      await expect(w.save(join(dir, "canvas", "seg.png"))).rejects.toThrow(/saved as NIfTI/);
      w.close();
    } finally {
      await model.dispose();
    }
  });
});
