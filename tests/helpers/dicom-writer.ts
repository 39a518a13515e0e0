/**
 * A tiny DICOM Part 10 writer for tests: enough of the standard to produce CT/MR slices and
 * enhanced multi-frame files in every uncompressed transfer syntax (and an encapsulated one,
 * to test the refusal). Checked against pydicom in dicom-read.test.ts.
 */
import { deflateRawSync } from "node:zlib";

export type Syntax = "implicit-le" | "explicit-le" | "explicit-be" | "deflate" | "jpeg-baseline" | "jpeg-ls" | "htj2k" | "mpeg2";

export const SYNTAX_UID: Record<Syntax, string> = {
  "implicit-le": "1.2.840.10008.1.2",
  "explicit-le": "1.2.840.10008.1.2.1",
  "explicit-be": "1.2.840.10008.1.2.2",
  deflate: "1.2.840.10008.1.2.1.99",
  "jpeg-baseline": "1.2.840.10008.1.2.4.50",
  "jpeg-ls": "1.2.840.10008.1.2.4.80",
  htj2k: "1.2.840.10008.1.2.4.201",
  mpeg2: "1.2.840.10008.1.2.4.100",
};

export type Value = string | number | readonly number[] | Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Item[];
export type Item = readonly El[];
export interface El {
  readonly tag: number; // (group << 16) | element
  readonly vr: string;
  readonly value: Value;
  /** Pixel data written as encapsulated fragments (compressed syntaxes). */
  readonly encapsulated?: boolean;
}

const LONG_VRS = new Set(["OB", "OW", "OF", "SQ", "UT", "UN", "OL", "OD", "UC", "UR"]);

class Out {
  private parts: Uint8Array[] = [];
  constructor(readonly le: boolean) {}
  bytes(b: Uint8Array) {
    this.parts.push(b);
  }
  u16(v: number) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, this.le);
    this.parts.push(b);
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, this.le);
    this.parts.push(b);
  }
  concat(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function valueBytes(el: El, le: boolean, explicit: boolean): Uint8Array {
  const { vr, value } = el;
  if (vr === "SQ") {
    const out = new Out(le);
    for (const item of value as Item[]) {
      const body = encodeElements(item, le, explicit);
      out.u16(0xfffe);
      out.u16(0xe000);
      out.u32(body.length);
      out.bytes(body);
    }
    return out.concat();
  }
  if (typeof value === "string" || (typeof value === "number" && ["DS", "IS"].includes(vr))) {
    let s = typeof value === "number" && vr === "DS" ? Number(value.toPrecision(12)).toString() : String(value);
    if (s.length % 2) s += vr === "UI" ? "\0" : " ";
    return new TextEncoder().encode(s);
  }
  if (Array.isArray(value) && ["DS", "IS"].includes(vr)) {
    let s = (value as unknown as number[]).map((v) => (vr === "DS" ? Number(v.toPrecision(12)).toString() : String(v))).join("\\");
    if (s.length % 2) s += " ";
    return new TextEncoder().encode(s);
  }
  const nums = typeof value === "number" ? [value] : (value as ArrayLike<number>);
  if (vr === "OB" && value instanceof Uint8Array) {
    const b = value.length % 2 ? new Uint8Array(value.length + 1) : new Uint8Array(value.length);
    b.set(value);
    return b;
  }
  const size = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, OW: 2, OL: 4 }[vr];
  if (!size) throw new Error(`test writer: VR ${vr} not handled`);
  // OW pixel data may hold 32-bit samples (BitsAllocated 32): the element size follows the array.
  const elSize = ArrayBuffer.isView(value) ? (value as Uint16Array).BYTES_PER_ELEMENT : size;
  const b = new Uint8Array(nums.length * elSize);
  const v = new DataView(b.buffer);
  for (let i = 0; i < nums.length; i++) {
    const x = nums[i]!;
    const signed = value instanceof Int16Array || value instanceof Int32Array || vr === "SS" || vr === "SL";
    if (elSize === 1) v.setUint8(i, x);
    else if (vr === "FL") v.setFloat32(i * 4, x, le);
    else if (vr === "FD") v.setFloat64(i * 8, x, le);
    else if (elSize === 2 && signed) v.setInt16(i * 2, x, le);
    else if (elSize === 2) v.setUint16(i * 2, x, le);
    else if (signed) v.setInt32(i * 4, x, le);
    else v.setUint32(i * 4, x, le);
  }
  return b;
}

function encodeElements(elements: readonly El[], le: boolean, explicit: boolean): Uint8Array {
  const out = new Out(le);
  for (const el of [...elements].sort((a, b) => a.tag - b.tag)) {
    out.u16(el.tag >>> 16);
    out.u16(el.tag & 0xffff);
    if (el.encapsulated) {
      if (explicit) {
        out.bytes(new TextEncoder().encode("OB"));
        out.u16(0);
      }
      out.u32(0xffffffff);
      out.u16(0xfffe);
      out.u16(0xe000);
      out.u32(0); // empty basic offset table
      const frag = valueBytes({ ...el, vr: "OB" }, le, explicit);
      out.u16(0xfffe);
      out.u16(0xe000);
      out.u32(frag.length);
      out.bytes(frag);
      out.u16(0xfffe);
      out.u16(0xe0dd);
      out.u32(0);
      continue;
    }
    const body = valueBytes(el, le, explicit);
    if (explicit) {
      out.bytes(new TextEncoder().encode(el.vr));
      if (LONG_VRS.has(el.vr)) {
        out.u16(0);
        out.u32(body.length);
      } else out.u16(body.length);
    } else out.u32(body.length);
    out.bytes(body);
  }
  return out.concat();
}

/** A full Part 10 file: preamble, DICM, file meta (explicit LE), then the dataset in `syntax`. */
export function encodeDicomFile(elements: readonly El[], syntax: Syntax, options: { preamble?: boolean } = {}): Uint8Array {
  const sop = elements.find((e) => e.tag === 0x00080018)?.value ?? "1.2.3.4.5";
  const sopClass = elements.find((e) => e.tag === 0x00080016)?.value ?? "1.2.840.10008.5.1.4.1.1.2";
  const meta = encodeElements(
    [
      { tag: 0x00020001, vr: "OB", value: new Uint8Array([0, 1]) },
      { tag: 0x00020002, vr: "UI", value: sopClass as string },
      { tag: 0x00020003, vr: "UI", value: sop as string },
      { tag: 0x00020010, vr: "UI", value: SYNTAX_UID[syntax] },
      { tag: 0x00020012, vr: "UI", value: "1.2.826.0.1.3680043.10.1" },
    ],
    true,
    true,
  );
  const groupLength = encodeElements([{ tag: 0x00020000, vr: "UL", value: meta.length }], true, true);
  const le = syntax !== "explicit-be";
  const explicit = syntax !== "implicit-le";
  let body = encodeElements(elements, le, explicit);
  if (syntax === "deflate") body = new Uint8Array(deflateRawSync(body));
  const pre = options.preamble === false ? new Uint8Array(0) : new Uint8Array(132);
  if (pre.length) pre.set(new TextEncoder().encode("DICM"), 128);
  const out = new Uint8Array(pre.length + groupLength.length + meta.length + body.length);
  out.set(pre, 0);
  out.set(groupLength, pre.length);
  out.set(meta, pre.length + groupLength.length);
  out.set(body, pre.length + groupLength.length + meta.length);
  return out;
}

export interface SliceSpec {
  readonly rows: number;
  readonly columns: number;
  /** Stored pixel values, row-major. */
  readonly pixels: Int16Array | Uint16Array | Uint8Array | Int32Array | Uint32Array;
  readonly bitsStored?: number;
  readonly signed: boolean;
  readonly position?: readonly number[];
  readonly orientation?: readonly number[];
  readonly pixelSpacing?: readonly number[];
  readonly sliceThickness?: number;
  readonly slope?: number;
  readonly intercept?: number;
  readonly seriesUID?: string;
  readonly instance?: number;
  readonly modality?: string;
  readonly samplesPerPixel?: number;
  readonly photometric?: string;
  readonly extra?: readonly El[];
}

/** The elements of one classic CT/MR slice. */
export function sliceElements(s: SliceSpec): El[] {
  const bits = s.pixels.BYTES_PER_ELEMENT * 8;
  const els: El[] = [
    { tag: 0x00080016, vr: "UI", value: "1.2.840.10008.5.1.4.1.1.2" },
    { tag: 0x00080018, vr: "UI", value: `1.2.826.0.1.3680043.10.2.${s.instance ?? 1}` },
    { tag: 0x00080060, vr: "CS", value: s.modality ?? "CT" },
    { tag: 0x0020000e, vr: "UI", value: s.seriesUID ?? "1.2.826.0.1.3680043.10.3" },
    { tag: 0x00200013, vr: "IS", value: s.instance ?? 1 },
    { tag: 0x00280002, vr: "US", value: s.samplesPerPixel ?? 1 },
    { tag: 0x00280004, vr: "CS", value: s.photometric ?? "MONOCHROME2" },
    { tag: 0x00280010, vr: "US", value: s.rows },
    { tag: 0x00280011, vr: "US", value: s.columns },
    { tag: 0x00280100, vr: "US", value: bits },
    { tag: 0x00280101, vr: "US", value: s.bitsStored ?? bits },
    { tag: 0x00280102, vr: "US", value: (s.bitsStored ?? bits) - 1 },
    { tag: 0x00280103, vr: "US", value: s.signed ? 1 : 0 },
    { tag: 0x7fe00010, vr: bits === 8 ? "OB" : "OW", value: s.pixels },
  ];
  if (s.position) els.push({ tag: 0x00200032, vr: "DS", value: s.position });
  if (s.orientation) els.push({ tag: 0x00200037, vr: "DS", value: s.orientation });
  if (s.pixelSpacing) els.push({ tag: 0x00280030, vr: "DS", value: s.pixelSpacing });
  if (s.sliceThickness !== undefined) els.push({ tag: 0x00180050, vr: "DS", value: s.sliceThickness });
  if (s.slope !== undefined) els.push({ tag: 0x00281053, vr: "DS", value: s.slope });
  if (s.intercept !== undefined) els.push({ tag: 0x00281052, vr: "DS", value: s.intercept });
  return [...els, ...(s.extra ?? [])];
}
