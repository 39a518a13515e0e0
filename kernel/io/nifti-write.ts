/**
 * Write NIfTI-1/2 files: .nii, .nii.gz, and .hdr/.img pairs (gzipped or not), either byte
 * order, every datatype the reader reads.
 *
 * Label maps (the product's output) go through nifti-labels.ts; this general writer also
 * serves the tests, which need every variant the reader must understand, written by code
 * whose header layout is checked independently (against nibabel where available).
 *
 * Values are written exactly or not at all: a value that does not fit the target datatype
 * (e.g. 300 as uint8, 1.5 as int16) is an error, never a silent clip or rounding, except
 * float64 -> float32, where rounding is what the caller asked for by choosing float32.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { endianness } from "node:os";
import type { PixelArray } from "./image.js";
import { datatypeByName, type NiftiDatatype, type NiftiDatatypeName } from "./nifti-datatypes.js";
import { qformFromAffine } from "./nifti-geometry.js";
import { encodeUnits, NIFTI1_HEADER_SIZE, NIFTI2_HEADER_SIZE } from "./nifti-header.js";
import { swapInPlace } from "./nifti-voxels.js";
import type { Affine, Vec3 } from "./volume.js";

const HOST_LE = endianness() === "LE";

export interface NiftiGeometryToWrite {
  /** pixdim[1..]: voxel sizes of the written dims (extra entries for t etc. optional). */
  readonly pixdim: readonly number[];
  readonly qform: { readonly code: number; readonly quaternion: Vec3; readonly offset: Vec3; readonly qfac: 1 | -1 };
  readonly sform: { readonly code: number; readonly affine: Affine };
  readonly units?: { readonly spatial: string; readonly temporal?: string };
}

export interface NiftiImageToWrite {
  /** Sizes of dims 1..n (n = 1..7), e.g. [nx, ny, nz] or [nx, ny, nz, nt]. */
  readonly dims: readonly number[];
  /** STORED values (before scl_slope/inter), i fastest, RGB components interleaved. */
  readonly data: PixelArray | readonly number[];
  readonly datatype: NiftiDatatypeName;
  readonly geometry?: NiftiGeometryToWrite;
  /** Written as scl_slope / scl_inter; default slope 1, intercept 0 (no scaling). */
  readonly scaling?: { readonly slope: number; readonly inter: number };
  readonly description?: string;
}

export interface NiftiWriteOptions {
  readonly version?: 1 | 2;
  readonly littleEndian?: boolean;
  /** gzip level for .gz outputs (default 6). */
  readonly gzipLevel?: number;
  /** vox_offset of a single file (default: right after the header and extension flag). */
  readonly voxOffset?: number;
}

/** Geometry fields that encode `affine` both as sform and as qform (nibabel's set_sform + set_qform). */
export function geometryFromAffine(
  affine: Affine,
  codes: { qform?: number; sform?: number; units?: string } = {},
): NiftiGeometryToWrite {
  const q = qformFromAffine(affine);
  return {
    pixdim: [...q.zooms],
    qform: { code: codes.qform ?? 1, quaternion: q.quaternion, offset: q.offset, qfac: q.qfac },
    sform: { code: codes.sform ?? 1, affine },
    units: { spatial: codes.units ?? "mm" },
  };
}

interface Layout {
  readonly pair: boolean;
  readonly gz: boolean;
  readonly headerPath: string;
  readonly imagePath: string;
}

function layoutFor(path: string): Layout {
  const lower = path.toLowerCase();
  const gz = lower.endsWith(".gz");
  const plain = gz ? path.slice(0, -3) : path;
  const plainLower = plain.toLowerCase();
  if (plainLower.endsWith(".hdr") || plainLower.endsWith(".img")) {
    const stem = plain.slice(0, -4);
    const sfx = gz ? path.slice(-3) : "";
    return { pair: true, gz, headerPath: `${stem}.hdr${sfx}`, imagePath: `${stem}.img${sfx}` };
  }
  if (!plainLower.endsWith(".nii")) {
    throw new Error(`${path}: a NIfTI file name ends in .nii, .nii.gz, .hdr, .hdr.gz, .img or .img.gz`);
  }
  return { pair: false, gz, headerPath: path, imagePath: path };
}

function writeString(bytes: Uint8Array, offset: number, max: number, text: string): void {
  const enc = new TextEncoder().encode(text).subarray(0, max - 1);
  bytes.set(enc, offset);
}

/** Serialize the header (plus the 4-byte extension flag, zero: no extensions). */
export function encodeNiftiHeader(
  image: NiftiImageToWrite,
  dt: NiftiDatatype,
  version: 1 | 2,
  le: boolean,
  pair: boolean,
  voxOffset: number,
): Uint8Array {
  const size = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  const bytes = new Uint8Array(size + 4);
  const v = new DataView(bytes.buffer);
  const ndim = image.dims.length;
  const g = image.geometry;
  const pixdim = [g?.qform.qfac ?? 1, ...Array.from({ length: 7 }, (_, k) => g?.pixdim[k] ?? 1)];
  const dim = [ndim, ...Array.from({ length: 7 }, (_, k) => image.dims[k] ?? 1)];
  const slope = image.scaling?.slope ?? 1;
  const inter = image.scaling?.inter ?? 0;
  const units = encodeUnits(g?.units?.spatial ?? "mm", g?.units?.temporal ?? (ndim >= 4 ? "s" : "unknown"));
  const srow = g?.sform.affine ?? [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  const bitpix = dt.bytesPerComponent * dt.components * 8;
  if (version === 1) {
    for (const d of dim) {
      if (d > 32767) throw new Error(`dim ${d} does not fit NIfTI-1 (max 32767); write NIfTI-2 (version: 2)`);
    }
    v.setInt32(0, size, le);
    bytes[38] = 0x72; // regular = 'r'
    dim.forEach((d, k) => v.setInt16(40 + 2 * k, d, le));
    v.setInt16(70, dt.code, le);
    v.setInt16(72, bitpix, le);
    pixdim.forEach((p, k) => v.setFloat32(76 + 4 * k, p, le));
    v.setFloat32(108, voxOffset, le);
    v.setFloat32(112, slope, le);
    v.setFloat32(116, inter, le);
    bytes[123] = units;
    writeString(bytes, 148, 80, image.description ?? "");
    v.setInt16(252, g?.qform.code ?? 0, le);
    v.setInt16(254, g?.sform.code ?? 0, le);
    (g?.qform.quaternion ?? [0, 0, 0]).forEach((q, k) => v.setFloat32(256 + 4 * k, q, le));
    (g?.qform.offset ?? [0, 0, 0]).forEach((q, k) => v.setFloat32(268 + 4 * k, q, le));
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + (r * 4 + c) * 4, srow[r]![c]!, le);
    bytes.set(pair ? [0x6e, 0x69, 0x31, 0] : [0x6e, 0x2b, 0x31, 0], 344);
  } else {
    v.setInt32(0, size, le);
    bytes.set(pair ? [0x6e, 0x69, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a] : [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    v.setInt16(12, dt.code, le);
    v.setInt16(14, bitpix, le);
    dim.forEach((d, k) => v.setBigInt64(16 + 8 * k, BigInt(d), le));
    pixdim.forEach((p, k) => v.setFloat64(104 + 8 * k, p, le));
    v.setBigInt64(168, BigInt(voxOffset), le);
    v.setFloat64(176, slope, le);
    v.setFloat64(184, inter, le);
    writeString(bytes, 240, 80, image.description ?? "");
    v.setInt32(344, g?.qform.code ?? 0, le);
    v.setInt32(348, g?.sform.code ?? 0, le);
    (g?.qform.quaternion ?? [0, 0, 0]).forEach((q, k) => v.setFloat64(352 + 8 * k, q, le));
    (g?.qform.offset ?? [0, 0, 0]).forEach((q, k) => v.setFloat64(376 + 8 * k, q, le));
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat64(400 + (r * 4 + c) * 8, srow[r]![c]!, le);
    v.setInt32(500, units, le);
  }
  return bytes;
}

/** The typed array class whose elements are this datatype's stored components (64-bit: BigInt). */
function targetArray(dt: NiftiDatatype, n: number): PixelArray | BigInt64Array | BigUint64Array {
  switch (dt.name) {
    case "uint8":
    case "rgb24":
    case "rgba32":
      return new Uint8Array(n);
    case "int8":
      return new Int8Array(n);
    case "int16":
      return new Int16Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "int32":
      return new Int32Array(n);
    case "uint32":
      return new Uint32Array(n);
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "uint64":
      return new BigUint64Array(n);
  }
}

const CHUNK_ELEMENTS = 1 << 20;

/** Stored bytes of the voxels in the requested byte order, chunk by chunk. */
function* voxelChunks(data: PixelArray | readonly number[], dt: NiftiDatatype, le: boolean): Generator<Uint8Array> {
  const bpc = dt.bytesPerComponent;
  const sameType = ArrayBuffer.isView(data) && targetArray(dt, 0).constructor === data.constructor;
  for (let start = 0; start < data.length; start += CHUNK_ELEMENTS) {
    const end = Math.min(data.length, start + CHUNK_ELEMENTS);
    if (sameType && le === HOST_LE) {
      const src = data as PixelArray;
      yield new Uint8Array(src.buffer, src.byteOffset + start * bpc, (end - start) * bpc);
      continue;
    }
    const t = targetArray(dt, end - start);
    if (t instanceof BigInt64Array || t instanceof BigUint64Array) {
      for (let i = start; i < end; i++) {
        const x = data[i]!;
        if (!Number.isInteger(x)) throw new Error(`value ${x} at index ${i} is not an integer; cannot store as ${dt.name}`);
        t[i - start] = BigInt(x);
        if (Number(t[i - start]) !== x) throw new Error(`value ${x} at index ${i} does not fit ${dt.name}`);
      }
    } else if (sameType) {
      (t as PixelArray).set((data as PixelArray).subarray(start, end));
    } else {
      const exact = dt.name !== "float32";
      for (let i = start; i < end; i++) {
        const x = data[i]!;
        t[i - start] = x;
        if (exact && t[i - start] !== x && !(x !== x && t[i - start] !== t[i - start])) {
          throw new Error(`value ${x} at index ${i} does not fit ${dt.name} (it would be stored as ${t[i - start]})`);
        }
      }
    }
    const out = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    if (le !== HOST_LE) swapInPlace(out, bpc);
    yield out;
  }
}

async function writeStream(path: string, gz: boolean, level: number, chunks: Iterable<Uint8Array>): Promise<void> {
  const tmp = `${path}.partial-${process.pid}`;
  try {
    const source = Readable.from(chunks, { objectMode: false });
    if (gz) await pipeline(source, createGzip({ level }), createWriteStream(tmp));
    else await pipeline(source, createWriteStream(tmp));
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Write `image` to `path`; the name decides the layout (.nii / .nii.gz / .hdr[.gz] + .img[.gz]).
 * Written to a temporary name and renamed, so a failed write never leaves half a file.
 */
export async function writeNifti(path: string, image: NiftiImageToWrite, options: NiftiWriteOptions = {}): Promise<void> {
  const dt = datatypeByName(image.datatype);
  const version = options.version ?? 1;
  const le = options.littleEndian ?? true;
  const layout = layoutFor(path);
  if (image.dims.length < 1 || image.dims.length > 7) throw new Error(`NIfTI holds 1 to 7 dims, got ${image.dims.length}`);
  const count = image.dims.reduce((a, b) => a * b, 1) * dt.components;
  if (image.data.length !== count) {
    throw new Error(`data has ${image.data.length} values but dims ${image.dims.join("x")} of ${dt.name} need ${count}`);
  }
  const minOffset = (version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE) + 4;
  const voxOffset = layout.pair ? 0 : (options.voxOffset ?? minOffset);
  if (!layout.pair && voxOffset < minOffset) throw new Error(`voxOffset ${voxOffset} is inside the header (min ${minOffset})`);
  const header = encodeNiftiHeader(image, dt, version, le, layout.pair, voxOffset);
  const level = options.gzipLevel ?? 6;
  if (layout.pair) {
    await writeStream(layout.headerPath, layout.gz, level, [header]);
    await writeStream(layout.imagePath, layout.gz, level, voxelChunks(image.data, dt, le));
    return;
  }
  const gap = new Uint8Array(voxOffset - header.length);
  function* all(): Generator<Uint8Array> {
    yield header;
    if (gap.length > 0) yield gap;
    yield* voxelChunks(image.data, dt, le);
  }
  await writeStream(layout.headerPath, layout.gz, level, all());
}
