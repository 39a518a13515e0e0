/**
 * One DICOM file: the attributes that place its frame(s) in space and describe the pixel
 * encoding (parsed with dicom-parser, which handles implicit/explicit VR, both byte orders
 * and deflate), and decoding of its uncompressed pixel data into a volume's array.
 *
 * Single-frame files (classic CT/MR, one slice per file) and enhanced multi-frame files
 * (positions per frame in the Per-frame Functional Groups) are both described per frame.
 */
import { inflateRawSync } from "node:zlib";
import dicomParser from "dicom-parser";
import type { PixelArray } from "./image.js";
import { requireSupported, transferSyntax, type TransferSyntax } from "./dicom-transfer.js";
import { swapInPlace } from "./nifti-voxels.js";
import type { Vec3 } from "./volume.js";

type DataSet = dicomParser.DataSet;

export interface DicomFrame {
  /** ImagePositionPatient (LPS, mm) of this frame's first pixel centre, if given. */
  readonly position?: Vec3;
  readonly slope: number;
  readonly intercept: number;
}

export interface DicomFileInfo {
  readonly path: string;
  readonly transferSyntax: TransferSyntax;
  readonly sopClassUID?: string;
  readonly modality?: string;
  readonly seriesInstanceUID?: string;
  readonly seriesDescription?: string;
  readonly instanceNumber?: number;
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly planarConfiguration: number;
  readonly photometric: string;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly signed: boolean;
  /** ImageOrientationPatient: row direction cosines then column direction cosines (LPS). */
  readonly orientation?: readonly [number, number, number, number, number, number];
  /** PixelSpacing: [between rows (along a column), between columns (along a row)], mm. */
  readonly pixelSpacing?: readonly [number, number];
  readonly sliceThickness?: number;
  readonly spacingBetweenSlices?: number;
  readonly frames: readonly DicomFrame[];
}

function numbers(ds: DataSet | undefined, tag: string, count: number): number[] | undefined {
  if (!ds?.elements[tag]) return undefined;
  // dicom-parser's floatString(tag, i) throws a TypeError when the value has fewer than i+1 parts
  if ((ds.numStringValues(tag) ?? 0) < count) return undefined;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = ds.floatString(tag, i);
    if (v === undefined || !Number.isFinite(v)) return undefined;
    out.push(v);
  }
  return out;
}

function firstItem(ds: DataSet | undefined, tag: string): DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet;
}

/** Look for an attribute in the dataset, else in a functional-group macro of it. */
function inGroups(ds: DataSet, groups: (DataSet | undefined)[], macro: string, tag: string, count: number): number[] | undefined {
  const direct = numbers(ds, tag, count);
  if (direct) return direct;
  for (const g of groups) {
    const v = numbers(firstItem(g, macro), tag, count);
    if (v) return v;
  }
  return undefined;
}

const TAG = {
  transferSyntax: "x00020010",
  sopClass: "x00080016",
  modality: "x00080060",
  seriesDescription: "x0008103e",
  sliceThickness: "x00180050",
  spacingBetweenSlices: "x00180088",
  seriesUID: "x0020000e",
  instanceNumber: "x00200013",
  position: "x00200032",
  orientation: "x00200037",
  samplesPerPixel: "x00280002",
  photometric: "x00280004",
  planarConfiguration: "x00280006",
  numberOfFrames: "x00280008",
  rows: "x00280010",
  columns: "x00280011",
  pixelSpacing: "x00280030",
  bitsAllocated: "x00280100",
  bitsStored: "x00280101",
  pixelRepresentation: "x00280103",
  intercept: "x00281052",
  slope: "x00281053",
  sharedGroups: "x52009229",
  perFrameGroups: "x52009230",
  planePosition: "x00209113",
  planeOrientation: "x00209116",
  pixelMeasures: "x00289110",
  valueTransformation: "x00289145",
  pixelData: "x7fe00010",
  floatPixelData: "x7fe00008",
  doublePixelData: "x7fe00009",
} as const;

/** Parse a whole DICOM file (Part 10, or a bare implicit-VR dataset). */
export function parseDicomBytes(bytes: Uint8Array, path: string): DataSet {
  if (bytes.length === 0) throw new Error(`${path}: the file is empty`);
  const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  try {
    return dicomParser.parseDicom(bytes, {
      ...(hasPreamble ? {} : { TransferSyntaxUID: "1.2.840.10008.1.2" }),
      // Deflated syntax: the parser's own Node path needs a Buffer; this works on any Uint8Array.
      inflater: (arr: Uint8Array, position: number) => {
        const inflated = inflateRawSync(arr.subarray(position));
        const full = new Uint8Array(position + inflated.length);
        full.set(arr.subarray(0, position));
        full.set(inflated, position);
        return full;
      },
    } as dicomParser.ParseDicomOptions);
  } catch (err) {
    // dicom-parser throws Errors, strings, or { exception, dataSet } objects.
    const msg =
      err instanceof Error ? err.message : typeof err === "object" && err && "exception" in err ? String((err as { exception: unknown }).exception) : String(err);
    if (/past end of buffer|buffer overrun|buffer overread|cannot be less than|not enough data/i.test(msg)) {
      throw new Error(`${path}: truncated DICOM file (${msg})`, { cause: err });
    }
    throw new Error(`${path}: not a readable DICOM file (${msg})`, { cause: err });
  }
}

/**
 * Runs `fn`, turning any error that does not already name the file (a TypeError or
 * RangeError from deep inside dicom-parser on a damaged element) into one that does.
 */
export function namingFile<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Error && err.constructor === Error && err.message.startsWith(path)) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${path}: damaged DICOM file: ${what} failed (${msg})`, { cause: err });
  }
}

export function describeDicom(ds: DataSet, path: string): DicomFileInfo {
  return namingFile(path, "reading the image attributes", () => describeDataSet(ds, path));
}

function describeDataSet(ds: DataSet, path: string): DicomFileInfo {
  const ts = transferSyntax(ds.string(TAG.transferSyntax) ?? "1.2.840.10008.1.2");
  const rows = ds.uint16(TAG.rows);
  const columns = ds.uint16(TAG.columns);
  if (!ds.elements[TAG.pixelData]) {
    if (ds.elements[TAG.floatPixelData] || ds.elements[TAG.doublePixelData]) {
      throw new Error(`${path}: not supported: Float/Double Float Pixel Data (7FE0,0008/0009)`);
    }
    throw new Error(`${path}: no pixel data (7FE0,0010): not an image (e.g. a DICOMDIR, report or structure set)`);
  }
  if (!rows || !columns) throw new Error(`${path}: Rows/Columns (0028,0010/0011) missing or zero`);
  const shared = firstItem(ds, TAG.sharedGroups);
  const perFrame = ds.elements[TAG.perFrameGroups]?.items?.map((it) => it.dataSet);
  const nFrames = ds.intString(TAG.numberOfFrames) ?? 1;
  if (!(nFrames >= 1)) throw new Error(`${path}: NumberOfFrames (0028,0008) is ${nFrames}`);
  const orientation = inGroups(ds, [shared, perFrame?.[0]], TAG.planeOrientation, TAG.orientation, 6);
  const pixelSpacing = inGroups(ds, [shared, perFrame?.[0]], TAG.pixelMeasures, TAG.pixelSpacing, 2);
  const thickness = inGroups(ds, [shared, perFrame?.[0]], TAG.pixelMeasures, TAG.sliceThickness, 1);
  const between = inGroups(ds, [shared, perFrame?.[0]], TAG.pixelMeasures, TAG.spacingBetweenSlices, 1);
  const frames: DicomFrame[] = [];
  for (let f = 0; f < nFrames; f++) {
    const group = perFrame?.[f];
    const pos = nFrames === 1 ? inGroups(ds, [group, shared], TAG.planePosition, TAG.position, 3) : numbers(firstItem(group, TAG.planePosition), TAG.position, 3) ?? (f === 0 ? numbers(ds, TAG.position, 3) : undefined);
    const rescale = (tag: string) => numbers(ds, tag, 1)?.[0] ?? numbers(firstItem(group, TAG.valueTransformation), tag, 1)?.[0] ?? numbers(firstItem(shared, TAG.valueTransformation), tag, 1)?.[0];
    frames.push({
      ...(pos ? { position: [pos[0]!, pos[1]!, pos[2]!] as Vec3 } : {}),
      slope: rescale(TAG.slope) ?? 1,
      intercept: rescale(TAG.intercept) ?? 0,
    });
  }
  const str = (tag: string) => ds.string(tag)?.trim() || undefined;
  const optional = <K extends string, V>(key: K, v: V | undefined) => (v === undefined ? {} : ({ [key]: v } as Record<K, V>));
  return {
    path,
    transferSyntax: ts,
    ...optional("sopClassUID", str(TAG.sopClass)),
    ...optional("modality", str(TAG.modality)),
    ...optional("seriesInstanceUID", str(TAG.seriesUID)),
    ...optional("seriesDescription", str(TAG.seriesDescription)),
    ...optional("instanceNumber", ds.intString(TAG.instanceNumber)),
    rows,
    columns,
    samplesPerPixel: ds.uint16(TAG.samplesPerPixel) ?? 1,
    planarConfiguration: ds.uint16(TAG.planarConfiguration) ?? 0,
    photometric: str(TAG.photometric) ?? "MONOCHROME2",
    bitsAllocated: ds.uint16(TAG.bitsAllocated) ?? 16,
    bitsStored: ds.uint16(TAG.bitsStored) ?? ds.uint16(TAG.bitsAllocated) ?? 16,
    signed: (ds.uint16(TAG.pixelRepresentation) ?? 0) === 1,
    ...optional("orientation", orientation as unknown as DicomFileInfo["orientation"]),
    ...optional("pixelSpacing", pixelSpacing as unknown as DicomFileInfo["pixelSpacing"]),
    ...optional("sliceThickness", thickness?.[0]),
    ...optional("spacingBetweenSlices", between?.[0]),
    frames,
  };
}

/** Checks that the pixel encoding is one we decode; throws naming what is not. */
export function requireDecodable(info: DicomFileInfo): void {
  requireSupported(info.transferSyntax, info.path);
  if (![8, 16, 32].includes(info.bitsAllocated)) {
    throw new Error(`${info.path}: not supported: BitsAllocated ${info.bitsAllocated} (only 8, 16 and 32)`);
  }
  if (info.samplesPerPixel === 1) {
    if (!/^MONOCHROME[12]$/.test(info.photometric) && info.photometric !== "PALETTE COLOR") {
      throw new Error(`${info.path}: not supported: PhotometricInterpretation ${info.photometric} with 1 sample per pixel`);
    }
  } else if (info.samplesPerPixel === 3) {
    if (!(info.photometric === "RGB" || decodesToRgb(info)) || info.bitsAllocated !== 8) {
      throw new Error(`${info.path}: not supported: ${info.samplesPerPixel}-sample ${info.photometric} with ${info.bitsAllocated} bits (only 8-bit RGB)`);
    }
  } else {
    throw new Error(`${info.path}: not supported: SamplesPerPixel ${info.samplesPerPixel}`);
  }
}

/**
 * JPEG and JPEG 2000 decoders turn YCbCr back into RGB themselves (libjpeg's colour
 * conversion, OpenJPEG's inverse component transform), so these files come out RGB.
 */
function decodesToRgb(info: DicomFileInfo): boolean {
  const uid = info.transferSyntax.uid;
  const jpegFamily = /^1\.2\.840\.10008\.1\.2\.4\.(50|51|90|91|201|202|203)$/.test(uid);
  return jpegFamily && ["YBR_FULL_422", "YBR_FULL", "YBR_ICT", "YBR_RCT"].includes(info.photometric);
}

/** Stored values' range from BitsStored and PixelRepresentation. */
export function storedRange(info: DicomFileInfo): [number, number] {
  const bits = Math.min(info.bitsStored, info.bitsAllocated);
  return info.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

let scratch = new ArrayBuffer(0);

/**
 * Decode frame `frame` of uncompressed pixel data into `out` starting at element `at`
 * (row-major, channels interleaved), applying the frame's rescale unless `rescale` is false.
 */
export function decodeFrame(ds: DataSet, info: DicomFileInfo, frame: number, out: PixelArray, at: number, rescale: boolean): void {
  const el = ds.elements[TAG.pixelData]!;
  if (el.encapsulatedPixelData) {
    throw new Error(`${info.path}: pixel data is encapsulated (compressed) but the transfer syntax says ${info.transferSyntax.name}`);
  }
  const bpp = info.bitsAllocated / 8;
  const n = info.rows * info.columns * info.samplesPerPixel;
  const frameBytes = n * bpp;
  const need = frameBytes * info.frames.length;
  if (el.length < need || el.dataOffset + need > ds.byteArray.length) {
    const have = Math.min(el.length, ds.byteArray.length - el.dataOffset);
    throw new Error(
      `${info.path}: truncated pixel data: ${info.rows}x${info.columns}x${info.samplesPerPixel} samples x ${info.frames.length} frame(s) ` +
        `of ${info.bitsAllocated} bits need ${need} bytes, the file has ${have}`,
    );
  }
  if (scratch.byteLength < frameBytes) scratch = new ArrayBuffer(frameBytes);
  const buf = new Uint8Array(scratch, 0, frameBytes);
  buf.set(ds.byteArray.subarray(el.dataOffset + frame * frameBytes, el.dataOffset + (frame + 1) * frameBytes));
  if (!info.transferSyntax.littleEndian) swapInPlace(buf, bpp);
  const src =
    bpp === 1
      ? info.signed ? new Int8Array(scratch, 0, n) : new Uint8Array(scratch, 0, n)
      : bpp === 2
        ? info.signed ? new Int16Array(scratch, 0, n) : new Uint16Array(scratch, 0, n)
        : info.signed ? new Int32Array(scratch, 0, n) : new Uint32Array(scratch, 0, n);
  storeSamples(src, info, frame, out, at, rescale, info.planarConfiguration === 1);
}

/**
 * Decode frame `frame` whatever the transfer syntax: compressed pixel data goes through the
 * codecs (loaded on first use), uncompressed through decodeFrame.
 */
export async function decodeAnyFrame(ds: DataSet, info: DicomFileInfo, frame: number, out: PixelArray, at: number, rescale: boolean): Promise<void> {
  if (!info.transferSyntax.compressed) {
    decodeFrame(ds, info, frame, out, at, rescale);
    return;
  }
  const { decodeCompressedFrame } = await import("./dicom-codecs.js");
  const src = await decodeCompressedFrame(ds, info, frame);
  // codecs hand pixel-interleaved samples whatever PlanarConfiguration says
  storeSamples(src, info, frame, out, at, rescale, false);
}

/**
 * Stored samples -> output values. Bits above BitsStored are masked off and signed values
 * sign-extended from BitsStored, as the standard requires; then the rescale.
 */
function storeSamples(src: PixelArray, info: DicomFileInfo, frame: number, out: PixelArray, at: number, rescale: boolean, planar: boolean): void {
  const n = info.rows * info.columns * info.samplesPerPixel;
  const bits = info.bitsStored;
  const masked = bits < info.bitsAllocated;
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const signBit = 2 ** (bits - 1);
  const { slope, intercept } = info.frames[frame]!;
  const apply = rescale && info.samplesPerPixel === 1 && (slope !== 1 || intercept !== 0);
  if (info.samplesPerPixel === 3 && planar) {
    const plane = info.rows * info.columns;
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[at + p * 3 + c] = src[c * plane + p]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    let v = src[i]!;
    if (masked) {
      v = (v >>> 0) & mask;
      if (info.signed && v >= signBit) v -= 2 * signBit;
    }
    out[at + i] = apply ? v * slope + intercept : v;
  }
}

export type PixelArrayType = { new (n: number): PixelArray; readonly BYTES_PER_ELEMENT: number };

/**
 * The typed array that holds every rescaled value of these frames without loss, and no
 * bigger: an integer rescale that fits int16/int32 stays integer, a fractional one is float.
 */
export function valueArrayType(info: DicomFileInfo, slopes: readonly number[], inters: readonly number[]): PixelArrayType {
  if (info.samplesPerPixel === 3) return Uint8Array;
  const [smin, smax] = storedRange(info);
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < slopes.length; k++) {
    for (const v of [smin * slopes[k]! + inters[k]!, smax * slopes[k]! + inters[k]!]) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (slopes.every(Number.isInteger) && inters.every(Number.isInteger)) {
    if (lo >= 0 && hi <= 255) return Uint8Array;
    if (lo >= -128 && hi <= 127) return Int8Array;
    if (lo >= 0 && hi <= 65535) return Uint16Array;
    if (lo >= -32768 && hi <= 32767) return Int16Array;
    if (lo >= 0 && hi <= 4294967295) return Uint32Array;
    if (lo >= -(2 ** 31) && hi < 2 ** 31) return Int32Array;
    return Float64Array;
  }
  return info.bitsAllocated <= 16 ? Float32Array : Float64Array;
}
