/**
 * Compressed DICOM pixel data: one encapsulated frame in, its stored samples out (pixel-
 * interleaved, in the file's sample type), through the decoders the DICOM viewers use:
 *
 * - JPEG Baseline/Extended (8-bit): libjpeg-turbo (@cornerstonejs/codec-libjpeg-turbo-8bit),
 *   the library Pillow and pydicom's Pillow handler decode with;
 * - JPEG Lossless (process 14, any predictor): jpeg-lossless-decoder-js (what cornerstone uses);
 * - JPEG-LS: CharLS (@cornerstonejs/codec-charls);
 * - JPEG 2000: OpenJPEG (@cornerstonejs/codec-openjpeg), Pillow's decoder too;
 * - HTJ2K: OpenJPH (@cornerstonejs/codec-openjph);
 * - RLE Lossless: decoded here (PS3.5 Annex G is a PackBits variant over byte planes; no
 *   codec package serves it on its own: cornerstone's RLE decoder is part of its browser
 *   image loader).
 *
 * The WebAssembly builds are Emscripten modules that run in Node; each is loaded on first use
 * (dynamic import, one instance per process), so uncompressed files never pay for them.
 */
import { createRequire } from "node:module";
import dicomParser from "dicom-parser";
import type { DicomFileInfo } from "./dicom-slice.js";

type DataSet = dicomParser.DataSet;

/** The part of the Emscripten codec classes we use (same shape in all four builds). */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete(): void;
}
type DecoderClass = new () => WasmDecoder;
type Codec = "jpeg" | "jpeg-lossless" | "jpeg-ls" | "j2k" | "htj2k" | "rle";

const CODEC_OF: Readonly<Record<string, Codec>> = {
  "1.2.840.10008.1.2.4.50": "jpeg",
  "1.2.840.10008.1.2.4.51": "jpeg",
  "1.2.840.10008.1.2.4.57": "jpeg-lossless",
  "1.2.840.10008.1.2.4.70": "jpeg-lossless",
  "1.2.840.10008.1.2.4.80": "jpeg-ls",
  "1.2.840.10008.1.2.4.81": "jpeg-ls",
  "1.2.840.10008.1.2.4.90": "j2k",
  "1.2.840.10008.1.2.4.91": "j2k",
  "1.2.840.10008.1.2.4.201": "htj2k",
  "1.2.840.10008.1.2.4.202": "htj2k",
  "1.2.840.10008.1.2.4.203": "htj2k",
  "1.2.840.10008.1.2.5": "rle",
};

/** Transfer syntaxes whose pixel data this module decodes. */
export function isDecodableCompressed(uid: string): boolean {
  return uid in CODEC_OF;
}

const require = createRequire(import.meta.url);
const WASM: Readonly<Record<"jpeg" | "jpeg-ls" | "j2k" | "htj2k", { module: string; decoder: string }>> = {
  jpeg: { module: "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs", decoder: "JPEGDecoder" },
  "jpeg-ls": { module: "@cornerstonejs/codec-charls/decodewasmjs", decoder: "JpegLSDecoder" },
  j2k: { module: "@cornerstonejs/codec-openjpeg/decodewasmjs", decoder: "J2KDecoder" },
  htj2k: { module: "@cornerstonejs/codec-openjph/wasmjs", decoder: "HTJ2KDecoder" },
};
const loaded = new Map<string, Promise<DecoderClass>>();

/** The codec's decoder class, instantiating its WebAssembly module once per process. */
function wasmDecoder(codec: keyof typeof WASM): Promise<DecoderClass> {
  let p = loaded.get(codec);
  if (!p) {
    const { module, decoder } = WASM[codec];
    p = (async () => {
      const factory = require(module) as (opts?: object) => Promise<Record<string, unknown>>;
      // OpenJPEG reports progress on stdout through Emscripten's print: silence all of them
      const instance = await factory({ print: () => {}, printErr: () => {} });
      return instance[decoder] as DecoderClass;
    })();
    loaded.set(codec, p);
  }
  return p;
}

/** The compressed bytes of frame `frame` (fragments joined as PS3.5 A.4 allows). */
export function encapsulatedFrame(ds: DataSet, info: DicomFileInfo, frame: number): Uint8Array {
  const el = ds.elements["x7fe00010"]!;
  if (!el.encapsulatedPixelData || !el.fragments) {
    throw new Error(`${info.path}: the transfer syntax says ${info.transferSyntax.name} but the pixel data is not encapsulated (no fragments)`);
  }
  const nFrames = info.frames.length;
  const fragments = el.fragments;
  if (fragments.length === 0) throw new Error(`${info.path}: encapsulated pixel data without fragments`);
  if (nFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length);
  if (el.basicOffsetTable && el.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, el, frame);
  if (fragments.length === nFrames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1);
  if (CODEC_OF[info.transferSyntax.uid]?.startsWith("jpeg")) {
    const table = dicomParser.createJPEGBasicOffsetTable(ds, el);
    return dicomParser.readEncapsulatedImageFrame(ds, el, frame, table);
  }
  throw new Error(
    `${info.path}: ${nFrames} frames in ${fragments.length} fragments without a Basic Offset Table: the frames cannot be told apart`,
  );
}

/**
 * Decode frame `frame` of a compressed file into its stored samples, pixel-interleaved: an
 * Int8/Uint8/Int16/Uint16 array by BitsAllocated and PixelRepresentation.
 */
export async function decodeCompressedFrame(ds: DataSet, info: DicomFileInfo, frame: number): Promise<Int8Array | Uint8Array | Int16Array | Uint16Array> {
  const codec = CODEC_OF[info.transferSyntax.uid];
  if (!codec) throw new Error(`${info.path}: not supported: ${info.transferSyntax.name} (${info.transferSyntax.uid})`);
  const bytes = encapsulatedFrame(ds, info, frame);
  const n = info.rows * info.columns * info.samplesPerPixel;
  const bpp = info.bitsAllocated / 8;
  let out: Uint8Array;
  try {
    if (codec === "rle") out = decodeRle(bytes, info);
    else if (codec === "jpeg-lossless") out = decodeJpegLossless(bytes, info);
    else out = await decodeWasm(codec, bytes, info);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(info.path)) throw err;
    const msg = err instanceof Error ? err.message : typeof err === "number" ? `WebAssembly exception ${err}` : String(err);
    throw new Error(`${info.path}: frame ${frame} cannot be decoded as ${info.transferSyntax.name} (${msg}); the compressed data is damaged`, { cause: err });
  }
  if (out.length < n * bpp) {
    throw new Error(`${info.path}: frame ${frame} decodes to ${out.length} bytes, ${info.rows}x${info.columns}x${info.samplesPerPixel} samples of ${info.bitsAllocated} bits need ${n * bpp}`);
  }
  // a private, aligned copy (WASM memory is reused by the next decode)
  const copy = new Uint8Array(n * bpp);
  copy.set(out.subarray(0, n * bpp));
  if (bpp === 1) return info.signed ? new Int8Array(copy.buffer) : copy;
  return info.signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
}

async function decodeWasm(codec: keyof typeof WASM, bytes: Uint8Array, info: DicomFileInfo): Promise<Uint8Array> {
  if (codec === "jpeg" && info.bitsAllocated !== 8) {
    throw new Error(`${info.path}: not supported: ${info.transferSyntax.name} with ${info.bitsStored}-bit samples (only 8-bit JPEG is decoded)`);
  }
  const Decoder = await wasmDecoder(codec);
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    const fi = decoder.getFrameInfo();
    if (fi.width !== info.columns || fi.height !== info.rows || fi.componentCount !== info.samplesPerPixel) {
      throw new Error(
        `${info.path}: the compressed frame is ${fi.width}x${fi.height} with ${fi.componentCount} component(s), ` +
          `the header says Columns ${info.columns}, Rows ${info.rows}, SamplesPerPixel ${info.samplesPerPixel}`,
      );
    }
    const decoded = decoder.getDecodedBuffer();
    if (codec === "jpeg-ls" && info.samplesPerPixel === 3) return interleave(decoded, info, (decoder as unknown as { getInterleaveMode(): number }).getInterleaveMode());
    return new Uint8Array(decoded);
  } finally {
    decoder.delete();
  }
}

/** CharLS hands planar output for interleave mode 0 ("none"): make it pixel-interleaved. */
function interleave(decoded: Uint8Array, info: DicomFileInfo, mode: number): Uint8Array {
  if (mode !== 0) return new Uint8Array(decoded);
  const plane = info.rows * info.columns;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) out[p * 3 + c] = decoded[c * plane + p]!;
  return out;
}

function decodeJpegLossless(bytes: Uint8Array, info: DicomFileInfo): Uint8Array {
  // the package ships no type declarations; its CommonJS build is loaded on first use
  const { Decoder } = require("jpeg-lossless-decoder-js") as {
    Decoder: new () => { decompress(buf: ArrayBuffer, offset?: number, length?: number): ArrayBuffer; frame: { dimX: number; dimY: number; numComp: number } };
  };
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const decoder = new Decoder();
  const out = decoder.decompress(copy.buffer, 0, copy.length);
  const f = decoder.frame;
  if (f.dimX !== info.columns || f.dimY !== info.rows || f.numComp !== info.samplesPerPixel) {
    throw new Error(
      `${info.path}: the compressed frame is ${f.dimX}x${f.dimY} with ${f.numComp} component(s), ` +
        `the header says Columns ${info.columns}, Rows ${info.rows}, SamplesPerPixel ${info.samplesPerPixel}`,
    );
  }
  return new Uint8Array(out);
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, one segment per
 * byte plane (most significant byte first, then sample by sample), each PackBits-coded.
 * Output: pixel-interleaved samples in little-endian byte order.
 */
export function decodeRle(bytes: Uint8Array, info: DicomFileInfo): Uint8Array {
  if (bytes.length < 64) throw new Error(`${info.path}: RLE frame of ${bytes.length} bytes has no 64-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const segments = view.getUint32(0, true);
  const bpp = info.bitsAllocated / 8;
  const spp = info.samplesPerPixel;
  if (segments !== bpp * spp) {
    throw new Error(`${info.path}: RLE header lists ${segments} segments, ${spp} sample(s) of ${info.bitsAllocated} bits need ${bpp * spp}`);
  }
  const pixels = info.rows * info.columns;
  const out = new Uint8Array(pixels * spp * bpp);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : bytes.length;
    if (start < 64 || start > end || end > bytes.length) {
      throw new Error(`${info.path}: RLE segment ${s} offset ${start}..${end} lies outside the frame (${bytes.length} bytes)`);
    }
    const sample = Math.floor(s / bpp);
    const byteInSample = bpp - 1 - (s % bpp); // segments run most significant byte first; we write little-endian
    const stride = spp * bpp;
    let o = sample * bpp + byteInSample;
    const limit = out.length;
    let i = start;
    let written = 0;
    while (i < end && written < pixels) {
      const h = bytes[i++]!;
      if (h < 128) {
        const count = Math.min(h + 1, end - i, pixels - written);
        for (let k = 0; k < count; k++, o += stride) out[o] = bytes[i + k]!;
        i += h + 1;
        written += count;
      } else if (h > 128) {
        const count = Math.min(257 - h, pixels - written);
        const v = bytes[i++]!;
        for (let k = 0; k < count && o < limit; k++, o += stride) out[o] = v;
        written += count;
      }
    }
    if (written < pixels) throw new Error(`${info.path}: RLE segment ${s} holds ${written} of ${pixels} bytes (truncated or damaged)`);
  }
  return out;
}
