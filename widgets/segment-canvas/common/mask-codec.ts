/**
 * The compact binary form of masks and label maps on the wire (kernel <-> browser).
 *
 * Why run lengths and not PNG or raw bytes: a mask is a few blobs, so a 512x512 object is a
 * few hundred runs (under 1 KB) where raw bytes are 256 KB, and a volume where the object
 * touches 10 of 300 slices costs nothing for the other 290. Encoding and decoding are plain
 * loops that both sides run without a library (the browser bundle stays small), and no
 * precision is lost: label ids up to 2^32-1 survive.
 *
 * Layout (all integers are unsigned LEB128 varints):
 *
 *   stack  := version(=1) width height depth count slice*   (slices in increasing z)
 *   slice  := z byteLength rle
 *   rle    := (value runLength)*   runs cover width*height pixels exactly, row-major,
 *                                  runLength >= 1, neighbouring runs have different values
 *
 * Slices absent from the stack are all zero. A 2D image is a stack of depth 1.
 */

export const MASK_CODEC_VERSION = 1;

/** Malformed bytes: names what is wrong so that a bad front end or a truncated buffer is easy to diagnose. */
export class MaskCodecError extends Error {
  override name = "MaskCodecError";
}

/** Largest value a varint may carry here: run lengths and label ids are below 2^32, sizes below 2^31. */
const MAX_VARINT = 2 ** 32;

class Writer {
  private buf = new Uint8Array(256);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  varint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
      throw new MaskCodecError(`cannot encode ${value}: values must be integers in 0..2^32`);
    }
    this.ensure(5);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** A tight copy: the result is sent as a buffer, and widget buffers must not carry slack. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

class Reader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.buf.length) {
        throw new MaskCodecError(`${this.what} ends in the middle of ${field} (byte ${this.pos} of ${this.buf.length}): the buffer is truncated`);
      }
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (value > MAX_VARINT) throw new MaskCodecError(`${this.what}: ${field} ${value} is larger than 2^32`);
        return value;
      }
      scale *= 0x80;
    }
    throw new MaskCodecError(`${this.what}: ${field} at byte ${this.pos - 5} is longer than 5 bytes`);
  }

  take(n: number, field: string): Uint8Array {
    if (this.pos + n > this.buf.length) {
      throw new MaskCodecError(`${this.what}: ${field} needs ${n} bytes but only ${this.buf.length - this.pos} remain: the buffer is truncated`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Run-length encodes one slice (row-major pixel values; any numeric array). */
export function encodeRle(values: ArrayLike<number>): Uint8Array {
  const w = new Writer();
  const n = values.length;
  let i = 0;
  while (i < n) {
    const v = values[i]!;
    let j = i + 1;
    while (j < n && values[j] === v) j++;
    w.varint(v);
    w.varint(j - i);
    i = j;
  }
  return w.finish();
}

/** True when an RLE slice holds only zeros (one run of value 0, or nothing at all). */
export function rleIsEmpty(rle: Uint8Array): boolean {
  if (rle.length === 0) return true;
  const r = new Reader(rle, "RLE slice");
  return r.varint("the first value") === 0 && (r.varint("the first run length"), r.done);
}

/**
 * Decodes one slice of `pixels` values into `out` (allocated when not given). Throws when the
 * runs do not cover exactly `pixels` values or a value does not fit `out`.
 */
export function decodeRle(rle: Uint8Array, pixels: number): Uint8Array;
export function decodeRle<T extends Uint8Array | Uint16Array | Uint32Array>(rle: Uint8Array, pixels: number, out: T): T;
export function decodeRle<T extends Uint8Array | Uint16Array | Uint32Array>(rle: Uint8Array, pixels: number, out?: T): T {
  const target = (out ?? new Uint8Array(pixels)) as T;
  if (target.length !== pixels) throw new MaskCodecError(`output has ${target.length} pixels, the slice has ${pixels}`);
  const max = target instanceof Uint8Array ? 0xff : target instanceof Uint16Array ? 0xffff : 0xffffffff;
  const r = new Reader(rle, "RLE slice");
  let pos = 0;
  let previous = -1;
  while (!r.done) {
    const value = r.varint("a run value");
    const length = r.varint("a run length");
    if (length === 0) throw new MaskCodecError(`RLE slice: a run of length 0 at pixel ${pos} (runs must be at least 1 long)`);
    if (value === previous) throw new MaskCodecError(`RLE slice: two neighbouring runs of value ${value} at pixel ${pos} (runs must alternate)`);
    if (value > max) throw new MaskCodecError(`RLE slice: value ${value} at pixel ${pos} does not fit the ${target.constructor.name} output`);
    if (pos + length > pixels) {
      throw new MaskCodecError(`RLE slice: runs cover more than the ${pixels} pixels of the slice (a run of ${length} starts at ${pos})`);
    }
    if (value !== 0 || out !== undefined) target.fill(value, pos, pos + length);
    pos += length;
    previous = value;
  }
  if (pos !== pixels && !(pos === 0 && rle.length === 0)) {
    throw new MaskCodecError(`RLE slice: runs cover ${pos} pixels, the slice has ${pixels}`);
  }
  if (rle.length === 0 && out !== undefined) target.fill(0);
  return target;
}

/** Pixels covered by nonzero runs, without decoding. */
export function rleArea(rle: Uint8Array): number {
  const r = new Reader(rle, "RLE slice");
  let area = 0;
  while (!r.done) {
    const value = r.varint("a run value");
    const length = r.varint("a run length");
    if (value !== 0) area += length;
  }
  return area;
}

export interface StackShape {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
}

/** A decoded stack index: the RLE bytes of each nonzero slice, decoded only when asked. */
export interface SliceStack extends StackShape {
  /** z -> RLE bytes of that slice (views into the encoded buffer). */
  readonly slices: ReadonlyMap<number, Uint8Array>;
}

/**
 * Encodes slices already run-length encoded (`z -> rle`). Empty slices are left out, so a
 * stack with nothing in it is a few bytes whatever the volume size.
 */
export function encodeStack(shape: StackShape, slices: ReadonlyMap<number, Uint8Array>): Uint8Array {
  checkShape(shape, "stack");
  const w = new Writer();
  const zs = [...slices.keys()].filter((z) => !rleIsEmpty(slices.get(z)!)).sort((a, b) => a - b);
  w.varint(MASK_CODEC_VERSION);
  w.varint(shape.width);
  w.varint(shape.height);
  w.varint(shape.depth);
  w.varint(zs.length);
  for (const z of zs) {
    if (!Number.isInteger(z) || z < 0 || z >= shape.depth) throw new MaskCodecError(`slice index ${z} is outside 0..${shape.depth - 1}`);
    const rle = slices.get(z)!;
    w.varint(z);
    w.varint(rle.length);
    w.bytes(rle);
  }
  return w.finish();
}

/** Reads the stack index (sizes, which slices, their bytes); slices are decoded with decodeRle. */
export function decodeStack(bytes: Uint8Array, expected?: StackShape): SliceStack {
  const r = new Reader(bytes, "mask stack");
  const version = r.varint("the version");
  if (version !== MASK_CODEC_VERSION) {
    throw new MaskCodecError(`mask stack version ${version} is not supported (this code reads version ${MASK_CODEC_VERSION}); kernel and widget front end differ: reinstall with \`medicosam install\``);
  }
  const shape = { width: r.varint("the width"), height: r.varint("the height"), depth: r.varint("the depth") };
  checkShape(shape, "mask stack");
  if (expected && (expected.width !== shape.width || expected.height !== shape.height || expected.depth !== shape.depth)) {
    throw new MaskCodecError(
      `mask stack is ${shape.width}x${shape.height}x${shape.depth} but the image is ${expected.width}x${expected.height}x${expected.depth}`,
    );
  }
  const count = r.varint("the slice count");
  if (count > shape.depth) throw new MaskCodecError(`mask stack lists ${count} slices but has depth ${shape.depth}`);
  const slices = new Map<number, Uint8Array>();
  let last = -1;
  for (let i = 0; i < count; i++) {
    const z = r.varint(`the index of slice entry ${i}`);
    if (z >= shape.depth) throw new MaskCodecError(`mask stack: slice ${z} is outside 0..${shape.depth - 1}`);
    if (z <= last) throw new MaskCodecError(`mask stack: slice ${z} comes after slice ${last} (slices must be in increasing order, once each)`);
    const length = r.varint(`the byte length of slice ${z}`);
    slices.set(z, r.take(length, `slice ${z}`));
    last = z;
  }
  if (!r.done) throw new MaskCodecError(`mask stack has ${bytes.length - r.pos} bytes after its last slice`);
  return { ...shape, slices };
}

function checkShape(shape: StackShape, what: string): void {
  for (const key of ["width", "height", "depth"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 31) throw new MaskCodecError(`${what} ${key} ${v} is not a positive integer`);
  }
  if (shape.width * shape.height > 2 ** 32) throw new MaskCodecError(`${what}: a ${shape.width}x${shape.height} slice is too large`);
}

/** How a brush stroke changes a 0/1 mask: paint adds the stroke, erase takes it away. */
export type MaskOp = "union" | "subtract";

/**
 * `a` combined with the stroke `b` (both 0/1 RLE slices of the same size; an empty RLE is an
 * empty mask), run by run without decoding: a brush stroke on a 512x512 slice costs a few
 * hundred runs, not a quarter of a million pixels. Nonzero values count as 1.
 */
export function rleCombine(a: Uint8Array, b: Uint8Array, op: MaskOp): Uint8Array {
  const ra = runsOf(a, "the mask");
  const rb = runsOf(b, "the stroke");
  const total = Math.max(sum(ra), sum(rb));
  if (ra.length > 0 && rb.length > 0 && sum(ra) !== sum(rb)) {
    throw new MaskCodecError(`the mask covers ${sum(ra)} pixels, the stroke ${sum(rb)}: they are not of the same slice`);
  }
  const w = new Writer();
  let ia = 0, ib = 0, leftA = ra[0]?.[1] ?? total, leftB = rb[0]?.[1] ?? total;
  let pos = 0, runValue = -1, runLength = 0;
  while (pos < total) {
    const va = ra.length ? (ra[ia]![0] ? 1 : 0) : 0;
    const vb = rb.length ? (rb[ib]![0] ? 1 : 0) : 0;
    const step = Math.min(leftA, leftB);
    const v = op === "union" ? va | vb : va & (1 - vb);
    if (v === runValue) runLength += step;
    else {
      if (runLength > 0) {
        w.varint(runValue);
        w.varint(runLength);
      }
      runValue = v;
      runLength = step;
    }
    pos += step;
    leftA -= step;
    leftB -= step;
    if (leftA === 0 && ra.length) leftA = ra[++ia]?.[1] ?? 0;
    if (leftB === 0 && rb.length) leftB = rb[++ib]?.[1] ?? 0;
    if (!ra.length) leftA = total - pos;
    if (!rb.length) leftB = total - pos;
  }
  if (runLength > 0) {
    w.varint(runValue);
    w.varint(runLength);
  }
  return w.finish();
}

function runsOf(rle: Uint8Array, what: string): [number, number][] {
  const r = new Reader(rle, what);
  const out: [number, number][] = [];
  while (!r.done) {
    const value = r.varint("a run value");
    const length = r.varint("a run length");
    if (length === 0) throw new MaskCodecError(`${what}: a run of length 0`);
    out.push([value, length]);
  }
  return out;
}

function sum(runs: readonly [number, number][]): number {
  let s = 0;
  for (const r of runs) s += r[1];
  return s;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Bytes -> base64 (a stroke's RLE travels inside a JSON action). Here so the shared code needs neither Node's Buffer nor the DOM's btoa. */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!, b = bytes[i + 1], c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (b === undefined ? "=" : B64[(n >> 6) & 63]!) + (c === undefined ? "=" : B64[n & 63]!);
  }
  return out;
}

/** base64 -> bytes; throws MaskCodecError on anything that is not canonical base64. */
export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new MaskCodecError("not base64 (length a multiple of 4, A-Z a-z 0-9 + /, = padding)");
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const ch = text[i + k]!;
      n = (n << 6) | (ch === "=" ? 0 : B64.indexOf(ch));
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
