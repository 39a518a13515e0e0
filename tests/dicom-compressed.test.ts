/**
 * Compressed DICOM through the codecs (kernel/io/dicom-codecs.ts):
 * - RLE Lossless (pydicom's own encoder), JPEG Baseline (Pillow's libjpeg, mono and YBR_FULL_422
 *   colour) and JPEG 2000 lossless (Pillow's OpenJPEG), written by pydicom: our values must
 *   equal pydicom's `pixel_array` (modality LUT applied). Lossless ones exactly; JPEG Baseline
 *   mono exactly too (libjpeg-turbo on both sides); YBR colour within 1 (pydicom's float
 *   `convert_color_space` against libjpeg's integer colour conversion);
 * - JPEG-LS and HTJ2K, which Debian's pydicom cannot decode (no CharLS/OpenJPH plugin): encoded
 *   here with the codecs' own encoders, lossless, so the decoded values must equal the pixels
 *   that went in;
 * - JPEG Lossless (process 14): the DICOM files jpeg-lossless-decoder-js ships, the same image
 *   under selection values 1-7, which must all decode to the same pixels.
 * A three-slice RLE series is read as a volume; an uncompressed file loads no codec.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readImage } from "../kernel/io/read-image.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { encodeDicomFile, sliceElements, type Syntax } from "./helpers/dicom-writer.js";
import { PYTHON, pythonHas } from "./helpers/python.js";
import { canRun } from "./helpers/require.js";
import { execFileSync } from "node:child_process";

const dir = mkdtempSync(join(tmpdir(), "dicom-comp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ok = canRun(pythonHas("pydicom", "numpy", "PIL"), "python3-pydicom, numpy and Pillow (Debian packages) are needed to write and check compressed DICOM");

/** Writes slice k of a `kind` file with pydicom (+ Pillow for JPEG/J2K); returns pydicom's reading. */
const WRITE = String.raw`
import sys, json, io, numpy as np, pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, JPEGBaseline8Bit, JPEG2000Lossless, generate_uid
from pydicom.encaps import encapsulate
from pydicom.pixel_data_handlers.util import apply_modality_lut, convert_color_space
path, kind, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(11 + k)
H, W = 40, 48
yy, xx = np.mgrid[0:H, 0:W]
meta = FileMetaDataset(); meta.TransferSyntaxUID = ExplicitVRLittleEndian
meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.2'; meta.MediaStorageSOPInstanceUID = generate_uid()
ds = Dataset(); ds.file_meta = meta; ds.is_little_endian = True; ds.is_implicit_VR = False
ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.Modality = 'CT'; ds.StudyInstanceUID = '1.2.826.0.1.3680043.10.99.1'; ds.SeriesInstanceUID = '1.2.826.0.1.3680043.10.99.2.' + str(len(kind))
ds.InstanceNumber = k + 1
ds.ImagePositionPatient = [-20.0, -30.0, 5.0 + 2.5 * k]; ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
ds.PixelSpacing = [0.8, 0.7]; ds.SliceThickness = 2.5
ds.Rows, ds.Columns = H, W
rgb = kind.endswith('rgb')
if rgb:
    px = np.stack([(xx * 5 + k * 20) % 256, (yy * 6) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
    ds.SamplesPerPixel = 3; ds.PhotometricInterpretation = 'RGB'; ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
elif kind == 'rle-ct':
    px = (1000 * np.sin(xx / 7.0 + k) * np.cos(yy / 5.0) + rng.integers(-50, 50, (H, W))).astype(np.int16)
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 1
    ds.RescaleSlope = 1; ds.RescaleIntercept = -1024
elif kind == 'j2k-u16':
    px = ((xx * 37 + yy * 91 + k * 500) % 4096 + rng.integers(0, 5, (H, W))).astype(np.uint16)
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 0
    ds.RescaleSlope = 1; ds.RescaleIntercept = -1024
else:
    px = np.clip((xx * 4 + yy * 3 + k * 10) % 256 + rng.integers(-8, 8, (H, W)), 0, 255).astype(np.uint8)
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
ds.PixelData = px.tobytes()
if kind.startswith('rle'):
    ds.compress(RLELossless)
else:
    buf = io.BytesIO()
    if kind == 'jpeg-rgb':
        Image.fromarray(px, 'RGB').save(buf, 'JPEG', quality=90, subsampling=1)  # 4:2:2
        ds.PhotometricInterpretation = 'YBR_FULL_422'
    elif kind == 'jpeg-mono':
        Image.fromarray(px, 'L').save(buf, 'JPEG', quality=90)
    else:
        Image.fromarray(px, 'I;16').save(buf, 'JPEG2000', irreversible=False, no_jp2=True)
    ds.PixelData = encapsulate([buf.getvalue()]); ds['PixelData'].VR = 'OB'; ds['PixelData'].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit if kind.startswith('jpeg') else JPEG2000Lossless
ds.save_as(path, write_like_original=False)
back = pydicom.dcmread(path)
arr = back.pixel_array
if back.SamplesPerPixel == 1: arr = apply_modality_lut(arr, back)
if str(back.PhotometricInterpretation).startswith('YBR'): arr = convert_color_space(arr, 'YBR_FULL', 'RGB')
print(json.dumps(dict(syntax=str(back.file_meta.TransferSyntaxUID), values=arr.reshape(-1).tolist())))
`;

function writeWithPydicom(path: string, kind: string, k = 0): { syntax: string; values: number[] } {
  return JSON.parse(execFileSync(PYTHON, ["-c", WRITE, path, kind, String(k)], { encoding: "utf8" })) as { syntax: string; values: number[] };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("compressed DICOM written by pydicom, checked against pydicom's decoding", () => {
  it.runIf(ok).each([
    ["rle-ct", "1.2.840.10008.1.2.5", 1, 0],
    ["rle-rgb", "1.2.840.10008.1.2.5", 3, 0],
    ["jpeg-mono", "1.2.840.10008.1.2.4.50", 1, 0],
    ["jpeg-rgb", "1.2.840.10008.1.2.4.50", 3, 1],
    ["j2k-u16", "1.2.840.10008.1.2.4.90", 1, 0],
  ] as const)("%s (%s): openVolume and readImage", async (kind, syntax, channels, tolerance) => {
    const path = join(dir, `${kind}.dcm`);
    const py = writeWithPydicom(path, kind);
    expect(py.syntax).toBe(syntax);
    const v = await openVolume(path);
    expect(v.source.format === "dicom" && v.source.transferSyntax).toBe(syntax);
    expect([v.dims, v.channels]).toEqual([[48, 40, 1], channels]);
    expect(maxDiff(v.data, py.values)).toBeLessThanOrEqual(tolerance);
    const im = await readImage(path);
    expect([im.width, im.height, im.channels]).toEqual([48, 40, channels]);
    expect(maxDiff(im.data, py.values)).toBeLessThanOrEqual(tolerance);
  });

  it.runIf(ok)("a three-slice RLE series in scrambled file order reads as a sorted volume", async () => {
    const series = join(dir, "rle-series");
    mkdirSync(series);
    const slices = [2, 0, 1].map((k) => ({ k, py: writeWithPydicom(join(series, `f${k === 0 ? "c" : k === 1 ? "a" : "b"}.dcm`), "rle-ct", k) }));
    const v = await openVolume(series);
    expect(v.dims).toEqual([48, 40, 3]);
    const plane = 48 * 40;
    for (const { k, py } of slices) expect(maxDiff(v.data.subarray(k * plane, (k + 1) * plane), py.values)).toBe(0);
    expect(v.spacing.map((s) => +s.toFixed(6))).toEqual([0.7, 0.8, 2.5]);
  });
});

/** Stored pixels -> a one-slice DICOM whose single fragment the codec's encoder wrote. */
function encapsulatedFile(pixels: Uint16Array, rows: number, columns: number, fragment: Uint8Array, syntax: Syntax): Uint8Array {
  const els = sliceElements({ rows, columns, pixels, signed: false, bitsStored: 12, position: [0, 0, 0], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] });
  return encodeDicomFile(
    els.map((e) => (e.tag === 0x7fe00010 ? { ...e, vr: "OB", value: fragment, encapsulated: true } : e)),
    syntax,
  );
}

describe("JPEG-LS and HTJ2K encoded with the codecs' own encoders (lossless round trip)", () => {
  const require = createRequire(import.meta.url);
  const rows = 37;
  const columns = 53;
  const pixels = new Uint16Array(rows * columns).map((_, i) => (i * 2654435761) % 4096); // 12-bit noise: no predictor can cheat

  type Encoder = { getDecodedBuffer(fi: object): Uint8Array; encode(): void; getEncodedBuffer(): Uint8Array; delete(): void; setNearLossless?(n: number): void; setQuality?(lossless: boolean, q: number): void };
  async function encode(module: string, cls: string): Promise<Uint8Array> {
    const codec = (await (require(module) as (o: object) => Promise<Record<string, new () => Encoder>>)({ print: () => {}, printErr: () => {} }))[cls]!;
    const enc = new codec();
    try {
      const input = enc.getDecodedBuffer({ width: columns, height: rows, bitsPerSample: 12, componentCount: 1, isSigned: false, isUsingColorTransform: false });
      input.set(new Uint8Array(pixels.buffer));
      enc.setNearLossless?.(0);
      enc.setQuality?.(true, 0);
      enc.encode();
      return new Uint8Array(enc.getEncodedBuffer());
    } finally {
      enc.delete();
    }
  }

  it.each([
    ["jpeg-ls", "@cornerstonejs/codec-charls/wasmjs", "JpegLSEncoder"],
    ["htj2k", "@cornerstonejs/codec-openjph/wasmjs", "HTJ2KEncoder"],
  ] as const)("%s", async (syntax, module, cls) => {
    const fragment = await encode(module, cls);
    expect(fragment.length).toBeGreaterThan(100);
    const path = join(dir, `${syntax}.dcm`);
    writeFileSync(path, encapsulatedFile(pixels, rows, columns, fragment, syntax));
    const v = await openVolume(path);
    expect(v.dims).toEqual([columns, rows, 1]);
    expect(Array.from(v.data)).toEqual(Array.from(pixels));
  });
});

describe("JPEG Lossless: the files jpeg-lossless-decoder-js ships", () => {
  const data = join(process.cwd(), "node_modules/jpeg-lossless-decoder-js/tests/data");
  it("selection values 1-7 of one image decode to identical pixels", async () => {
    const first = await openVolume(join(data, "jpeg_lossless_sel1.dcm"));
    expect(first.dims).toEqual([256, 256, 1]);
    const stats = new Set(Array.from(first.data));
    expect(stats.size).toBeGreaterThan(100); // a real image, not a blank
    for (const sel of [2, 3, 4, 5, 6, 7]) {
      const v = await openVolume(join(data, `jpeg_lossless_sel${sel}.dcm`));
      expect(v.source.format === "dicom" && v.source.transferSyntax).toBe("1.2.840.10008.1.2.4.57");
      expect(maxDiff(v.data, first.data)).toBe(0);
    }
    const eight = await readImage(join(data, "jpeg_lossless_sel1-8bit.dcm"));
    expect([eight.width, eight.height, eight.channels]).toEqual([512, 512, 1]);
    expect(readFileSync(join(data, "jpeg_lossless_sel1-8bit.dcm")).length).toBeGreaterThan(0);
  });
});

describe("codecs load on first use only", () => {
  it.runIf(ok)("opening an uncompressed file loads no codec; a JPEG 2000 file loads OpenJPEG alone", () => {
    const plain = join(dir, "lazy-plain.dcm");
    writeFileSync(plain, encodeDicomFile(sliceElements({ rows: 4, columns: 4, pixels: new Uint16Array(16), signed: false, position: [0, 0, 0], orientation: [1, 0, 0, 0, 1, 0] }), "explicit-le"));
    const j2k = join(dir, "lazy-j2k.dcm");
    writeWithPydicom(j2k, "j2k-u16");
    const script = join(dir, "lazy.mts");
    writeFileSync(
      script,
      `import { createRequire } from "node:module";
const { openVolume } = await import(${JSON.stringify(join(process.cwd(), "kernel/io/volume-open.ts"))});
const req = createRequire(import.meta.url);
const loaded = () => Object.keys(req.cache).filter((k) => /cornerstonejs|dcmjs|jpeg-lossless/.test(k)).map((k) => k.split("node_modules/")[1]);
await openVolume(process.argv[2]);
const before = loaded();
await openVolume(process.argv[3]);
console.log(JSON.stringify({ before, after: loaded() }));
`,
    );
    const out = execFileSync(process.execPath, ["--import", "tsx", script, plain, j2k], { encoding: "utf8", cwd: process.cwd() });
    const r = JSON.parse(out.trim().split("\n").pop()!) as { before: string[]; after: string[] };
    expect(r.before).toEqual([]);
    expect(r.after).toEqual(["@cornerstonejs/codec-openjpeg/dist/openjpegwasm_decode.js"]);
  });
});

describe("damaged compressed data", () => {
  it.runIf(ok)("a truncated RLE frame and a JPEG with garbage are refused naming the file", async () => {
    const good = join(dir, "rle-good.dcm");
    writeWithPydicom(good, "rle-ct");
    const bytes = readFileSync(good);
    const cut = join(dir, "rle-cut.dcm");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 400));
    await expect(openVolume(cut)).rejects.toThrow(/rle-cut\.dcm: /);
    const jpeg = join(dir, "jpeg-good.dcm");
    writeWithPydicom(jpeg, "jpeg-mono");
    const jb = new Uint8Array(readFileSync(jpeg));
    for (let i = jb.length - 300; i < jb.length - 40; i += 3) jb[i] = 0xff;
    const bad = join(dir, "jpeg-garbage.dcm");
    writeFileSync(bad, jb);
    const r = await openVolume(bad).then(
      () => "read",
      (e: Error) => e.message,
    );
    // libjpeg may recover from garbage entropy data (a warning, not an error); if not, the file is named
    expect(r === "read" || /jpeg-garbage\.dcm: /.test(r)).toBe(true);
  });
});
