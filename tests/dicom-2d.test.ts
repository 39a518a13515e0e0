/**
 * DICOM images without a patient frame (secondary capture, scanned film, ultrasound): no
 * ImageOrientationPatient, often no ImagePositionPatient or PixelSpacing. Files written by
 * pydicom (an independent writer) are read by `readImage` (one frame as a 2D image) and by
 * `openVolume` (a one-slice volume, or the frames of a cine in file order, with identity
 * orientation and a warning); pixels must equal pydicom's `pixel_array` (with the modality
 * LUT applied for grayscale, as our readers do).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { countPages, readImage } from "../kernel/io/read-image.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { pythonHas, runPythonJson } from "./helpers/python.js";
import { canRun } from "./helpers/require.js";

const dir = mkdtempSync(join(tmpdir(), "dicom-2d-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ok = canRun(pythonHas("pydicom", "numpy"), "python3-pydicom (Debian package) is needed to write and check DICOM images");

/** Writes the file with pydicom, then returns pydicom's reading of it (modality values, flattened HWC per frame). */
const WRITE_AND_READ = String.raw`
import sys, json, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.pixel_data_handlers.util import apply_modality_lut
path, kind = sys.argv[1:3]
rng = np.random.default_rng(7)
meta = FileMetaDataset(); meta.TransferSyntaxUID = ExplicitVRLittleEndian
meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.7'; meta.MediaStorageSOPInstanceUID = generate_uid()
ds = Dataset(); ds.file_meta = meta
ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.Modality = 'OT'; ds.SeriesInstanceUID = generate_uid(); ds.StudyInstanceUID = generate_uid()
ds.is_little_endian = True; ds.is_implicit_VR = False
if kind == 'mono16':
    px = rng.integers(0, 4096, size=(7, 9)).astype(np.uint16)
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16; ds.BitsStored = 12; ds.HighBit = 11; ds.PixelRepresentation = 0
    ds.RescaleSlope = 1; ds.RescaleIntercept = -1024
elif kind == 'rgb':
    px = rng.integers(0, 256, size=(7, 9, 3)).astype(np.uint8)
    ds.SamplesPerPixel = 3; ds.PhotometricInterpretation = 'RGB'; ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
elif kind == 'cine':
    px = rng.integers(0, 256, size=(5, 7, 9, 3)).astype(np.uint8)
    ds.NumberOfFrames = 5; ds.Modality = 'US'
    ds.SamplesPerPixel = 3; ds.PhotometricInterpretation = 'RGB'; ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
ds.Rows, ds.Columns = px.shape[-3 if px.ndim == 4 or (px.ndim == 3 and kind == 'rgb') else -2], px.shape[-2 if px.ndim == 4 or kind == 'rgb' else -1]
ds.PixelData = px.tobytes()
ds.save_as(path, write_like_original=False)
back = pydicom.dcmread(path)
arr = back.pixel_array
if back.SamplesPerPixel == 1: arr = apply_modality_lut(arr, back)
frames = arr if kind == 'cine' else arr[None]
print(json.dumps(dict(rows=int(back.Rows), columns=int(back.Columns), frames=[f.reshape(-1).tolist() for f in frames])))
`;
type Py = { rows: number; columns: number; frames: number[][] };

describe("DICOM without ImageOrientationPatient", () => {
  it.runIf(ok)("grayscale secondary capture (12 of 16 bits, rescale): readImage and openVolume give pydicom's values", async () => {
    const path = join(dir, "sc-mono.dcm");
    const py = runPythonJson<Py>(WRITE_AND_READ, [path, "mono16"]);
    const im = await readImage(path);
    expect([im.width, im.height, im.channels]).toEqual([py.columns, py.rows, 1]);
    expect(Array.from(im.data)).toEqual(py.frames[0]);
    const v = await openVolume(path);
    expect(v.dims).toEqual([py.columns, py.rows, 1]);
    expect(Array.from(v.data)).toEqual(py.frames[0]);
    expect(v.warnings.join("\n")).toMatch(/ImageOrientationPatient \(0020,0037\) missing: a 2D image; identity orientation assumed/);
    expect(v.warnings.join("\n")).toMatch(/PixelSpacing \(0028,0030\) missing: 1 mm assumed/);
    // DICOM identity (rows along +x, columns along +y in LPS) is RAS diag(-1, -1, 1): "LPS"
    const plain = v.affine.map((row) => row.map((x) => x + 0)); // -0 -> 0
    expect(plain).toEqual([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]);
    expect(v.orientation).toBe("LPS");
    expect(v.spacing).toEqual([1, 1, 1]);
  });

  it.runIf(ok)("RGB secondary capture: readImage gives 3 channels equal to pydicom's", async () => {
    const path = join(dir, "sc-rgb.dcm");
    const py = runPythonJson<Py>(WRITE_AND_READ, [path, "rgb"]);
    const im = await readImage(path);
    expect([im.width, im.height, im.channels]).toEqual([py.columns, py.rows, 3]);
    expect(im.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(im.data)).toEqual(py.frames[0]);
  });

  it.runIf(ok)("ultrasound-like cine (5 RGB frames, no geometry): frames in file order; readImage picks a frame", async () => {
    const path = join(dir, "us-cine.dcm");
    const py = runPythonJson<Py>(WRITE_AND_READ, [path, "cine"]);
    expect(await countPages(path)).toBe(5);
    for (const f of [0, 3]) expect(Array.from((await readImage(path, { page: f })).data)).toEqual(py.frames[f]);
    await expect(readImage(path, { page: 5 })).rejects.toThrow(/us-cine\.dcm: frame 5 is out of range; the file has 5 frames/);
    const v = await openVolume(path);
    expect(v.dims).toEqual([py.columns, py.rows, 5]);
    expect(v.channels).toBe(3);
    const plane = py.columns * py.rows * 3;
    for (let k = 0; k < 5; k++) expect(Array.from(v.data.subarray(k * plane, (k + 1) * plane))).toEqual(py.frames[k]);
    expect(v.warnings.join("\n")).toMatch(/5 frames stacked in file order with identity orientation/);
  });
});
