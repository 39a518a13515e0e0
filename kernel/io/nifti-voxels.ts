/**
 * Turns a stream of stored voxel bytes into the final typed array, chunk by chunk.
 *
 * Why streaming: a 512x512x300 int16 CT is 157 MB. `gunzipSync` would hold the compressed
 * file, its output chunks AND their concatenation (about 2x the voxels at its peak), and a
 * scaled copy would add 2x more. Here each decompressed chunk is written straight into the
 * one output array (raw values, or scaled values when scl_slope applies), so the peak is the
 * output plus one chunk.
 */
import { endianness } from "node:os";
import type { PixelArray } from "./image.js";
import { allocateScaled, allocateStored, type NiftiDatatype } from "./nifti-datatypes.js";

const HOST_LE = endianness() === "LE";

export class VoxelDecoder {
  readonly output: PixelArray;
  /** Set when a 64-bit integer beyond 2^53 was seen (it is stored rounded in float64). */
  precisionLost = false;
  private readonly totalBytes: number;
  private readonly bpc: number;
  private readonly swap: boolean;
  private readonly direct: boolean;
  private readonly outBytes: Uint8Array;
  private received = 0;
  /** Bytes of an element split across two chunks. */
  private readonly carry: Uint8Array;
  private carried = 0;
  private scratch = new ArrayBuffer(0);

  constructor(
    private readonly datatype: NiftiDatatype,
    littleEndian: boolean,
    /** Stored components to read (voxels x components). */
    private readonly count: number,
    private readonly scaling: { slope: number; inter: number } | null,
  ) {
    this.bpc = datatype.bytesPerComponent;
    this.totalBytes = count * this.bpc;
    this.swap = this.bpc > 1 && littleEndian !== HOST_LE;
    // int64/uint64 are converted to float64 (no BigInt arrays downstream); scaling converts too.
    this.direct = scaling === null && datatype.name !== "int64" && datatype.name !== "uint64";
    // Unscaled 64-bit integers land in allocateStored's float64 array; scaled values in nibabel's type.
    this.output = scaling === null ? allocateStored(datatype, count) : allocateScaled(datatype, count);
    this.outBytes = new Uint8Array(this.output.buffer, this.output.byteOffset, this.output.byteLength);
    this.carry = new Uint8Array(this.bpc);
  }

  get bytesReceived(): number {
    return this.received;
  }

  get complete(): boolean {
    return this.received >= this.totalBytes;
  }

  /** Bytes still wanted; surplus bytes passed to push() are ignored. */
  get bytesWanted(): number {
    return this.totalBytes - this.received;
  }

  push(chunk: Uint8Array): void {
    const take = Math.min(chunk.length, this.totalBytes - this.received);
    if (take <= 0) return;
    const bytes = take === chunk.length ? chunk : chunk.subarray(0, take);
    if (this.direct) {
      this.outBytes.set(bytes, this.received);
    } else {
      this.convert(bytes);
    }
    this.received += take;
  }

  /** Call after the last chunk: byte-swaps a direct read in place and checks completeness. */
  finish(): PixelArray {
    if (this.received < this.totalBytes) {
      throw new Error(`internal: finish() after ${this.received} of ${this.totalBytes} bytes`);
    }
    if (this.direct && this.swap) swapInPlace(this.outBytes, this.bpc);
    return this.output;
  }

  private convert(bytes: Uint8Array): void {
    const bpc = this.bpc;
    let pos = 0;
    let outIndex = Math.floor(this.received / bpc);
    if (this.carried > 0) {
      const need = bpc - this.carried;
      const n = Math.min(need, bytes.length);
      this.carry.set(bytes.subarray(0, n), this.carried);
      this.carried += n;
      pos = n;
      if (this.carried < bpc) return;
      this.decodeAligned(this.carry, 0, 1, outIndex);
      outIndex++;
      this.carried = 0;
    }
    const whole = Math.floor((bytes.length - pos) / bpc);
    if (whole > 0) {
      const span = whole * bpc;
      if (this.scratch.byteLength < span) this.scratch = new ArrayBuffer(Math.max(span, 1 << 20));
      const aligned = new Uint8Array(this.scratch, 0, span);
      aligned.set(bytes.subarray(pos, pos + span));
      this.decodeAligned(aligned, 0, whole, outIndex);
      pos += span;
    }
    const rest = bytes.length - pos;
    if (rest > 0) {
      this.carry.set(bytes.subarray(pos), 0);
      this.carried = rest;
    }
  }

  /** Decode `n` elements from an aligned private buffer (it may be byte-swapped in place). */
  private decodeAligned(buf: Uint8Array, byteOffset: number, n: number, outIndex: number): void {
    if (this.swap) swapInPlace(buf.subarray(byteOffset, byteOffset + n * this.bpc), this.bpc);
    const ab = buf.buffer;
    const off = buf.byteOffset + byteOffset;
    const out = this.output;
    const slope = this.scaling?.slope ?? 1;
    const inter = this.scaling?.inter ?? 0;
    switch (this.datatype.name) {
      case "int64":
      case "uint64": {
        const src = this.datatype.name === "int64" ? new BigInt64Array(ab, off, n) : new BigUint64Array(ab, off, n);
        for (let i = 0; i < n; i++) {
          const v = Number(src[i]!);
          if (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) this.precisionLost = true;
          out[outIndex + i] = v * slope + inter;
        }
        return;
      }
      default: {
        const src = typedView(this.datatype, ab, off, n);
        if (slope === 1 && inter === 0) {
          for (let i = 0; i < n; i++) out[outIndex + i] = src[i]!;
        } else {
          for (let i = 0; i < n; i++) out[outIndex + i] = src[i]! * slope + inter;
        }
      }
    }
  }
}

function typedView(dt: NiftiDatatype, ab: ArrayBufferLike, off: number, n: number): PixelArray {
  switch (dt.name) {
    case "uint8":
    case "rgb24":
    case "rgba32":
      return new Uint8Array(ab, off, n);
    case "int8":
      return new Int8Array(ab, off, n);
    case "int16":
      return new Int16Array(ab, off, n);
    case "uint16":
      return new Uint16Array(ab, off, n);
    case "int32":
      return new Int32Array(ab, off, n);
    case "uint32":
      return new Uint32Array(ab, off, n);
    case "float32":
      return new Float32Array(ab, off, n);
    case "float64":
      return new Float64Array(ab, off, n);
    default:
      throw new Error(`internal: no plain typed view for ${dt.name}`);
  }
}

/** Reverse the byte order of every `size`-byte element, in place. */
export function swapInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  if (size === 2 && bytes.byteOffset % 2 === 0 && bytes.length % 2 === 0) {
    const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    for (let i = 0; i < u16.length; i++) {
      const v = u16[i]!;
      u16[i] = ((v & 0xff) << 8) | (v >>> 8);
    }
    return;
  }
  if (size === 4 && bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0) {
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (let i = 0; i < u32.length; i++) {
      const v = u32[i]!;
      u32[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    }
    return;
  }
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}
