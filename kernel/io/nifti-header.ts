/**
 * NIfTI-1 / NIfTI-2 header parsing: the bytes in, plain numbers out, and every check that
 * can refuse a file BEFORE its voxels are allocated.
 *
 * The scalar fields come from nifti-reader-js (0.8, ESM-only: it is imported here, in our
 * compiled module, never from a notebook cell). A few fields are read with our own DataView
 * because the library either does not expose them (the srow vectors when it prefers the
 * qform) or reads them wrongly (its 64-bit integer reader mis-signs big-endian NIfTI-2 dims
 * and offsets whose low word has the top bit set).
 */
import { NIFTI1, NIFTI2, readHeader } from "nifti-reader-js";
import { parseAnalyzeHeader, type AnalyzeFields } from "./analyze-header.js";
import { datatypeByCode, type NiftiDatatype } from "./nifti-datatypes.js";
import type { NiftiGeometryFields } from "./nifti-geometry.js";
import type { Vec3 } from "./volume.js";

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;
/** Bytes to read before parsing: the larger header plus the 4-byte extension flag. */
export const HEADER_PROBE_BYTES = NIFTI2_HEADER_SIZE + 4;

export interface NiftiHeader extends NiftiGeometryFields {
  readonly version: 1 | 2;
  readonly headerSize: number;
  readonly littleEndian: boolean;
  /** Magic says "ni1"/"ni2": header and voxels live in separate .hdr/.img files. */
  readonly pairMagic: boolean;
  readonly datatype: NiftiDatatype;
  readonly datatypeCode: number;
  readonly bitpix: number;
  readonly voxOffset: number;
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly xyztUnits: number;
  readonly description: string;
  /** Set for an Analyze 7.5 header (no NIfTI magic): its SPM fields. */
  readonly analyze?: AnalyzeFields;
}

/** NIfTI version from the first 4 bytes (sizeof_hdr, either byte order), or null. */
export function sniffNiftiVersion(bytes: Uint8Array): 1 | 2 | null {
  if (bytes.length < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const le of [true, false]) {
    const size = view.getInt32(0, le);
    if (size === NIFTI1_HEADER_SIZE) return 1;
    if (size === NIFTI2_HEADER_SIZE) return 2;
  }
  return null;
}

function int64(view: DataView, offset: number, le: boolean): number {
  const v = view.getBigInt64(offset, le);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new Error(`NIfTI-2 header field at byte ${offset} holds ${v}, beyond any possible file size`);
  }
  return Number(v);
}

/**
 * Parse a header. `bytes` must start at byte 0 of the file (decompressed); `where` names the
 * file in messages. Throws with a message naming the problem for anything not a NIfTI header.
 */
export function parseNiftiHeader(bytes: Uint8Array, where: string): NiftiHeader {
  if (bytes.length === 0) throw new Error(`${where}: the file is empty`);
  const version = sniffNiftiVersion(bytes);
  if (version === null) {
    throw new Error(
      `${where}: not a NIfTI file (the first 4 bytes should hold the header size 348 or 540 in either byte order)`,
    );
  }
  const size = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  if (bytes.length < size) {
    throw new Error(`${where}: truncated header: ${bytes.length} bytes, a NIfTI-${version} header needs ${size}`);
  }
  // A private copy of the header only (never Buffer#slice, which shares memory, e.g. Node's pool).
  const head = new Uint8Array(size);
  head.set(bytes.subarray(0, size));
  const isNifti = version === 1 ? head[344] === 0x6e && (head[345] === 0x2b || head[345] === 0x69) && head[346] === 0x31
    : head[4] === 0x6e && (head[5] === 0x2b || head[5] === 0x69) && head[6] === 0x32;
  if (!isNifti) {
    // a 348-byte header without magic is Analyze 7.5, as nibabel's loader decides
    if (version === 1) return parseAnalyzeHeader(head, where);
    throw new Error(`${where}: a 540-byte header without the NIfTI-2 magic "n+2"/"ni2"`);
  }
  let parsed: NIFTI1 | NIFTI2;
  try {
    parsed = readHeader(head.buffer, true);
  } catch (err) {
    throw new Error(`${where}: unreadable NIfTI header (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const le = parsed.littleEndian;
  const view = new DataView(head.buffer);
  const dims = version === 2 ? [0, 1, 2, 3, 4, 5, 6, 7].map((k) => int64(view, 16 + 8 * k, le)) : [...parsed.dims];
  const voxOffset = version === 2 ? int64(view, 168, le) : Math.floor(parsed.vox_offset);
  const srowAt = version === 1 ? 280 : 400;
  const f = version === 1 ? (o: number) => view.getFloat32(o, le) : (o: number) => view.getFloat64(o, le);
  const step = version === 1 ? 4 : 8;
  const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f(srowAt + (r * 4 + c) * step))) as [
    number[],
    number[],
    number[],
  ];
  const ndim = dims[0]!;
  if (!(ndim >= 1 && ndim <= 7)) {
    throw new Error(`${where}: dims do not fit: dim[0] = ${ndim}, the number of dimensions must be 1..7`);
  }
  for (let k = 1; k <= ndim; k++) {
    if (!(dims[k]! >= 1)) {
      throw new Error(`${where}: dims do not fit: dim[${k}] = ${dims[k]} (every used dim must be at least 1)`);
    }
  }
  const datatype = (() => {
    try {
      return datatypeByCode(parsed.datatypeCode);
    } catch (err) {
      throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  })();
  const quaternion: Vec3 = [parsed.quatern_b, parsed.quatern_c, parsed.quatern_d];
  const qoffset: Vec3 = [parsed.qoffset_x, parsed.qoffset_y, parsed.qoffset_z];
  return {
    version,
    headerSize: size,
    littleEndian: le,
    pairMagic: version === 1 ? head[345] === 0x69 : head[5] === 0x69,
    datatype,
    datatypeCode: parsed.datatypeCode,
    bitpix: parsed.numBitsPerVoxel,
    dims,
    pixdim: [...parsed.pixDims],
    voxOffset,
    sclSlope: parsed.scl_slope,
    sclInter: parsed.scl_inter,
    qformCode: parsed.qform_code,
    sformCode: parsed.sform_code,
    quaternion,
    qoffset,
    srow,
    xyztUnits: parsed.xyzt_units,
    description: parsed.description,
  };
}

/**
 * The scaling nibabel applies (`get_slope_inter`): none when the slope is 0, NaN or
 * infinite; a NaN intercept counts as 0; identity (1, 0) is no scaling. RGB is never scaled.
 */
export function effectiveScaling(h: NiftiHeader, where: string): { slope: number; inter: number } | null {
  const slope = h.sclSlope;
  let inter = h.sclInter;
  if (h.datatype.components > 1) return null;
  if (!Number.isFinite(slope) || slope === 0) return null;
  if (inter === Infinity || inter === -Infinity) {
    throw new Error(`${where}: scl_slope is ${slope} but scl_inter is ${inter}; the scaling cannot be applied`);
  }
  if (Number.isNaN(inter)) inter = 0;
  if (slope === 1 && inter === 0) return null;
  return { slope, inter };
}

const SPATIAL_UNITS: Readonly<Record<number, string>> = { 0: "unknown", 1: "m", 2: "mm", 3: "um" };
const TEMPORAL_UNITS: Readonly<Record<number, string>> = {
  0: "unknown",
  8: "s",
  16: "ms",
  24: "us",
  32: "Hz",
  40: "ppm",
  48: "rad/s",
};

export function decodeUnits(xyztUnits: number): { spatial: string; temporal: string } {
  return {
    spatial: SPATIAL_UNITS[xyztUnits & 7] ?? `code ${xyztUnits & 7}`,
    temporal: TEMPORAL_UNITS[xyztUnits & 0x38] ?? `code ${xyztUnits & 0x38}`,
  };
}

export function encodeUnits(spatial: string, temporal = "unknown"): number {
  const find = (table: Readonly<Record<number, string>>, name: string) =>
    Number(Object.entries(table).find(([, v]) => v === name)?.[0] ?? 0);
  return find(SPATIAL_UNITS, spatial) | find(TEMPORAL_UNITS, temporal);
}
