/**
 * Reading 2D images (PNG, JPEG, TIFF) into typed pixels, values exactly as stored.
 *
 * Why sharp (libvips) for all three formats: it is the only installed decoder that covers
 * every case we need (8/16-bit PNG in all colour types, TIFF with any compression, tiling,
 * planar layout and sample format incl. signed and float, multi-page) and JPEG with
 * libjpeg-turbo's IDCT, which is what Pillow/imageio use, so JPEG pixels match the Python
 * reference bit for bit (tests/read-image.test.ts checks this against Pillow). It is also the
 * fastest: measured on a loaded 2-core machine, a 512x512 16-bit PNG took 4.6 ms through
 * readImage vs 23.5 ms with pngjs, a 512x512 JPEG 3.6 ms vs 20.4 ms with jpeg-js. pngjs also
 * always expands to RGBA, and jpeg-js's IDCT is not libjpeg-turbo's.
 *
 * sharp needs three settings to hand over stored values untouched, because by default it
 * converts to 8-bit sRGB for output: `toColourspace(<the input's own space>)` keeps gray gray
 * and 16-bit 16-bit, `raw({ depth: <the input's own depth> })` keeps the sample format, and
 * `ignoreIcc` stops it from colour-managing images with an embedded ICC profile (Pillow and
 * imageio do not apply profiles either). EXIF orientation is not applied (nor by the reference).
 *
 * Two exceptions, both found by the tests: sharp clips signed 8/16-bit TIFF samples (CT slices
 * are int16) to zero on output, whatever the options, and libvips refuses 64-bit float TIFF.
 * Signed pages, and TIFF files libvips cannot open, go through utif2 (image-tiff-utif.ts).
 *
 * Channels: gray 1, RGB 3; palette images are expanded to RGB, as imageio does. 1/2/4-bit
 * images come out as 8-bit with the levels spread over 0..255 (libpng's expansion).
 *
 * A PNG's alpha (gray+alpha, RGBA, a palette or gray/RGB image with a tRNS chunk) is dropped by
 * default, with a note: alpha is transparency, not an image channel, and SAM takes gray or RGB.
 * Kept, it would reach the encoder as a colour channel: micro_sam's 3-channel rule turns
 * gray+alpha into (gray, alpha, 0), so after per-channel normalisation an opaque gray+alpha
 * slice arrives as red only and gives another mask than the same slice saved as plain gray
 * (ImageMagick writes gray+alpha for some gray images). `keepAlpha: true` keeps the band.
 * TIFF extra samples are kept as stored: there a second band is often real data.
 */
import { readFile } from "node:fs/promises";
import sharp, { type ColourspaceEnum, type Metadata, type OutputInfo } from "sharp";
import { decodeTiffPage, TiffPageRangeError, tiffPageCount } from "./image-tiff-utif.js";
import type { Image2D, PixelArray } from "./image.js";

export interface ReadImageOptions {
  /** Page (IFD) of a multi-page TIFF, or frame of a multi-frame DICOM, 0-based. Default 0. */
  readonly page?: number;
  /** Name to use in error messages when reading from a buffer. */
  readonly name?: string;
  /** Keep a PNG's alpha band as the last channel (default false: dropped, with a note). */
  readonly keepAlpha?: boolean;
  /** Where notes about the conversion go (a dropped alpha band); default console.warn. */
  readonly onNote?: (message: string) => void;
}

export type ImageFormat = "png" | "jpeg" | "tiff" | "dicom";

/** Recognises the formats we read by their signature, not by the file name. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d) return "dicom";
  if (b.length >= 4) {
    const le = b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0;
    const be = b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43);
    if (le || be) return "tiff";
  }
  return undefined;
}

interface Source {
  readonly bytes: Uint8Array;
  readonly name: string;
  readonly format: ImageFormat;
}

async function load(pathOrBuffer: string | Uint8Array, name?: string): Promise<Source> {
  let bytes: Uint8Array;
  let label: string;
  if (typeof pathOrBuffer === "string") {
    label = name ?? pathOrBuffer;
    try {
      bytes = await readFile(pathOrBuffer);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String((err as Error).message);
      throw new Error(`cannot read image ${label}: ${why}.`, { cause: err });
    }
  } else {
    bytes = pathOrBuffer;
    label = name ?? "<buffer>";
  }
  if (bytes.length === 0) throw new Error(`cannot read image ${label}: the file is empty.`);
  const format = sniffFormat(bytes);
  if (!format) {
    const head = Array.from(bytes.subarray(0, 8), (v) => v.toString(16).padStart(2, "0")).join(" ");
    const hint = isNiftiOrDicom(bytes) ? " It looks like a volume (NIfTI): read it with the volume reader." : "";
    throw new Error(
      `cannot read image ${label}: unknown format (first bytes ${head}); supported are PNG, JPEG, TIFF and DICOM.${hint}`,
    );
  }
  return { bytes, name: label, format };
}

function isNiftiOrDicom(b: Uint8Array): boolean {
  const gz = b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
  const nifti1 = b.length >= 348 && (b[344] === 0x6e && (b[345] === 0x2b || b[345] === 0x69) && b[346] === 0x31);
  return gz || nifti1;
}

/** Turns libvips' messages into one line that names the file and the likely cause. */
function describeDecodeError(src: Source, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  const lower = msg.toLowerCase();
  // A file whose signature we recognised but libvips cannot even identify is cut short or damaged.
  const truncated =
    /unsupported image format|truncat|premature|unexpected end|end of (file|data|stream)|not enough|short read|read error|out of data|incomplete|eof/.test(
      lower,
    );
  const what = truncated ? "the file is truncated or corrupt" : "the decoder failed";
  return new Error(`cannot read ${src.format.toUpperCase()} image ${src.name}: ${what} (${msg.trim().split("\n")[0]}).`);
}

const SHARP_INPUT = { ignoreIcc: true, failOn: "truncated", limitInputPixels: false, autoOrient: false } as const;

/** Number of pages: >1 only for multi-page TIFF; PNG and JPEG have one. */
export async function countPages(pathOrBuffer: string | Uint8Array, opts: { name?: string } = {}): Promise<number> {
  const src = await load(pathOrBuffer, opts.name);
  if (src.format === "dicom") {
    const { dicomFrameCount } = await import("./dicom-image.js");
    return dicomFrameCount(src.bytes, src.name);
  }
  try {
    const meta = await sharp(src.bytes, SHARP_INPUT).metadata();
    return meta.pages ?? 1;
  } catch (err) {
    if (src.format === "tiff") {
      // e.g. 64-bit float TIFF, which libvips refuses but readImage reads through utif2
      try {
        return tiffPageCount(src.bytes);
      } catch {
        // fall through to libvips' diagnosis
      }
    }
    throw describeDecodeError(src, err);
  }
}

type Depth = "uchar" | "char" | "ushort" | "short" | "uint" | "int" | "float" | "double";

const BYTES: Record<Depth, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };

/** Copies libvips' raw output into a fresh, aligned typed array of its sample type. */
function typed(depth: Depth, buf: Uint8Array): PixelArray {
  // A copy: sharp's Buffer may sit at an unaligned offset of a shared pool.
  const bytes = new Uint8Array(buf.length);
  bytes.set(buf);
  const b = bytes.buffer;
  switch (depth) {
    case "uchar":
      return bytes;
    case "char":
      return new Int8Array(b);
    case "ushort":
      return new Uint16Array(b);
    case "short":
      return new Int16Array(b);
    case "uint":
      return new Uint32Array(b);
    case "int":
      return new Int32Array(b);
    case "float":
      return new Float32Array(b);
    case "double":
      return new Float64Array(b);
  }
}

/** Reads one PNG, JPEG or TIFF page (default page 0) with its stored sample type and channels. */
export async function readImage(pathOrBuffer: string | Uint8Array, opts: ReadImageOptions = {}): Promise<Image2D> {
  const src = await load(pathOrBuffer, opts.name);
  const page = opts.page ?? 0;
  if (!(Number.isInteger(page) && page >= 0)) {
    throw new Error(`cannot read image ${src.name}: page must be an integer >= 0, got ${page}.`);
  }
  if (src.format === "dicom") {
    // loaded on demand: most images are PNG/JPEG/TIFF
    const { readDicomImage } = await import("./dicom-image.js");
    return readDicomImage(src.bytes, src.name, page);
  }
  if (src.format !== "tiff") return readWithSharp(src, page, opts);
  try {
    return await readWithSharp(src, page, opts);
  } catch (err) {
    if (err instanceof PageRangeError) throw err;
    // libvips could not open it: utif2 may (64-bit float); if not, libvips' error stands.
    try {
      return readWithUtif(src, page);
    } catch (second) {
      // Prefer the more specific diagnosis: a page number or truncation found by the utif2 path.
      if (second instanceof PageRangeError || /truncated/.test(String(second))) throw second;
      throw err;
    }
  }
}

class PageRangeError extends Error {}

function readWithUtif(src: Source, page: number): Image2D {
  try {
    return decodeTiffPage(src.bytes, page);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof TiffPageRangeError) throw new PageRangeError(`cannot read image ${src.name}: ${msg}`);
    throw new Error(`cannot read TIFF image ${src.name}: ${msg}`, { cause: err });
  }
}

async function readWithSharp(src: Source, page: number, opts: ReadImageOptions): Promise<Image2D> {
  let meta: Metadata;
  try {
    meta = await sharp(src.bytes, SHARP_INPUT).metadata();
  } catch (err) {
    throw describeDecodeError(src, err);
  }
  const pages = meta.pages ?? 1;
  if (pages < 1) throw new Error(`cannot read ${src.format.toUpperCase()} image ${src.name}: the file is truncated or corrupt (no readable page).`);
  if (page >= pages) {
    throw new PageRangeError(
      `cannot read image ${src.name}: page ${page} is out of range; the file has ${pages} page${pages === 1 ? "" : "s"} (0..${pages - 1}).`,
    );
  }
  let depth = meta.depth as string | undefined;
  if (src.format === "tiff" && page > 0) {
    // the first page's metadata says nothing about the sample type of the others
    try {
      depth = (await sharp(src.bytes, { ...SHARP_INPUT, page }).metadata()).depth as string | undefined;
    } catch (err) {
      throw describeDecodeError(src, err);
    }
  }
  if (src.format === "tiff" && (depth === "short" || depth === "char")) return readWithUtif(src, page);
  if (!depth || !(depth in BYTES)) {
    throw new Error(`cannot read image ${src.name}: unsupported sample format "${depth}" (complex or unknown).`);
  }
  const space = meta.space as keyof ColourspaceEnum as string | undefined;
  const dropAlpha = src.format === "png" && meta.hasAlpha === true && opts.keepAlpha !== true;
  const decode = async (band?: number): Promise<{ data: Buffer; info: OutputInfo }> => {
    try {
      let pipeline = sharp(src.bytes, { ...SHARP_INPUT, page });
      if (dropAlpha) pipeline = pipeline.removeAlpha();
      if (band !== undefined) pipeline = pipeline.extractChannel(band as 0 | 1 | 2 | 3);
      if (space) pipeline = pipeline.toColourspace(space);
      return await pipeline.raw({ depth: depth as Depth }).toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw describeDecodeError(src, err);
    }
  };
  const raw = await decode();
  const { width, height } = raw.info;
  let channels: number = raw.info.channels;
  let bytes: Uint8Array = raw.data;
  const stored = (meta.channels ?? channels) - (dropAlpha ? 1 : 0);
  if (channels !== stored) {
    // Converting gray+alpha to its own gray space drops the alpha band in libvips: decode the
    // bands one at a time (each stays gray) and interleave them.
    if (space !== "b-w" && space !== "grey16") {
      throw new Error(
        `cannot read image ${src.name}: decoder returned ${channels} channels for a ${stored}-channel ${space} image.`,
      );
    }
    const size = BYTES[depth as Depth];
    const bands = await Promise.all(Array.from({ length: stored }, (_, b) => decode(b)));
    bytes = new Uint8Array(width * height * stored * size);
    bands.forEach((band, b) => {
      for (let i = 0; i < width * height; i++) {
        for (let k = 0; k < size; k++) bytes[(i * stored + b) * size + k] = band.data[i * size + k]!;
      }
    });
    channels = stored;
  }
  const data = typed(depth as Depth, bytes);
  if (data.length !== width * height * channels) {
    throw new Error(
      `cannot read image ${src.name}: decoder returned ${data.length} samples for ${height}x${width}x${channels} (${depth}).`,
    );
  }
  if (dropAlpha) (opts.onNote ?? console.warn)(await alphaNote(src, page, stored));
  return { width, height, channels, data };
}

/** Says what was dropped and whether it mattered (how much of the image was not opaque). */
async function alphaNote(src: Source, page: number, colourBands: number): Promise<string> {
  const kind = colourBands === 1 ? "gray+alpha" : "RGB+alpha";
  let coverage = "";
  try {
    const { data, info } = await sharp(src.bytes, { ...SHARP_INPUT, page }).extractChannel("alpha").raw().toBuffer({ resolveWithObject: true });
    let transparent = 0;
    for (let i = 0; i < info.width * info.height; i++) if (data[i]! < 255) transparent++;
    coverage = transparent === 0 ? " (every pixel was opaque)" : ` (${((100 * transparent) / (info.width * info.height)).toFixed(1)} % of pixels were not opaque; their stored values are used)`;
  } catch {
    // the note stands without the coverage
  }
  const as = colourBands === 1 ? "gray" : "RGB";
  return `note: ${src.name} is a ${kind} PNG; its alpha band${coverage} was dropped and the image is read as ${as}. Pass { keepAlpha: true } to keep it.`;
}

/**
 * An Image2D over an existing typed array, HWC, after checking that the length matches the
 * shape. The array is used as is (not copied).
 */
export function imageFromArray(data: PixelArray, shape: readonly [number, number] | readonly [number, number, number]): Image2D {
  if (shape.length !== 2 && shape.length !== 3) {
    throw new Error(`imageFromArray: shape must be [H, W] or [H, W, C], got [${(shape as readonly number[]).join(", ")}].`);
  }
  const [height, width, channels = 1] = shape;
  for (const [n, v] of [["H", height], ["W", width], ["C", channels]] as const) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new Error(`imageFromArray: ${n} must be a positive integer, got ${v} in shape [${shape.join(", ")}].`);
    }
  }
  const expected = height * width * channels;
  if (data.length !== expected) {
    throw new Error(
      `imageFromArray: data holds ${data.length} values but shape [${shape.join(", ")}] needs ${expected} ` +
        `(row-major, channels last).`,
    );
  }
  return { width, height, channels, data };
}
