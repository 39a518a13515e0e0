/**
 * TIFF pages decoded with utif2 (pure JS) and interpreted here by BitsPerSample, SampleFormat,
 * PlanarConfiguration and byte order. read-image.ts uses it where libvips (sharp) falls short:
 * sharp clips signed 8/16-bit samples to zero (CT slices are int16), and libvips refuses
 * 64-bit float TIFF. utif2 itself silently leaves zeros for what it cannot decode, so
 * everything it does not handle is refused here first, and strip/tile extents are checked
 * against the file length so that a truncated file is an error, not a black image.
 */
import UTIF from "utif2";
import type { PixelArray } from "./image.js";

export interface RawPage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: PixelArray;
}

/** A page number outside the file; its message is complete (the caller adds the file name). */
export class TiffPageRangeError extends Error {}

/** Compressions utif2 decodes losslessly into raw samples: none, LZW, Deflate (2 codes), PackBits. */
const RAW_COMPRESSIONS = new Set([1, 5, 8, 32946, 32773]);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function tagValues(ifd: UTIF.IFD, tag: number): number[] | undefined {
  const v = ifd[`t${tag}`];
  if (Array.isArray(v)) return v.map(Number);
  if (typeof v === "number") return [v];
  return undefined;
}

function tag(ifd: UTIF.IFD, t: number, fallback: number): number {
  return tagValues(ifd, t)?.[0] ?? fallback;
}

const TYPE_SIZES: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
/** SubIFDs, EXIF and GPS IFDs: utif2 follows these pointers too. */
const CHILD_IFD_TAGS = new Set([330, 34665, 34853]);

/**
 * Walks the IFD chain and checks every entry against the file length before utif2 sees it:
 * utif2 trusts counts and offsets, and a few damaged bytes there made it loop for seconds
 * (found by tests/fuzz-input.test.ts) before failing with a bare RangeError.
 */
export function checkTiffStructure(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = bytes[0] === 0x49;
  const big = view.getUint16(2, le) === 43;
  const len = bytes.length;
  const word = (o: number) => (big ? Number(view.getBigUint64(o, le)) : view.getUint32(o, le));
  const seen = new Set<number>();
  const walk = (first: number, depth: number): void => {
    let at = first;
    let pages = 0;
    while (at !== 0) {
      if (seen.has(at)) throw new Error(`damaged TIFF: IFD at byte ${at} is referenced twice (a loop)`);
      seen.add(at);
      if (++pages > 100_000) throw new Error("damaged TIFF: more than 100000 IFDs");
      const countBytes = big ? 8 : 2;
      if (at + countBytes > len) throw new Error(`damaged TIFF: IFD offset ${at} is past the end of the file (${len} bytes)`);
      const n = big ? word(at) : view.getUint16(at, le);
      const entry = big ? 20 : 12;
      const end = at + countBytes + n * entry + (big ? 8 : 4);
      if (end > len) throw new Error(`damaged TIFF: IFD at byte ${at} with ${n} entries runs past the end of the file`);
      for (let e = 0; e < n; e++) {
        const o = at + countBytes + e * entry;
        const tag = view.getUint16(o, le);
        const type = view.getUint16(o + 2, le);
        const count = big ? word(o + 4) : view.getUint32(o + 4, le);
        const size = TYPE_SIZES[type];
        if (size === undefined) continue; // unknown types are skipped by readers
        const total = count * size;
        const inline = big ? 8 : 4;
        const valueAt = big ? o + 12 : o + 8;
        if (total > inline) {
          const off = word(valueAt);
          if (off + total > len) throw new Error(`damaged TIFF: tag ${tag} holds ${count} values at byte ${off}, past the end of the file (${len} bytes)`);
        }
        if (CHILD_IFD_TAGS.has(tag) && depth < 4 && (type === 4 || type === 13 || type === 16 || type === 18)) {
          const ptrAt = total > inline ? word(valueAt) : valueAt;
          const ptrSize = type === 4 || type === 13 ? 4 : 8;
          for (let i = 0; i < Math.min(count, 64); i++) {
            const p = ptrSize === 4 ? view.getUint32(ptrAt + 4 * i, le) : Number(view.getBigUint64(ptrAt + 8 * i, le));
            if (!seen.has(p)) walk(p, depth + 1);
          }
        }
      }
      at = word(end - (big ? 8 : 4));
    }
  };
  if (len < (big ? 16 : 8)) throw new Error(`damaged TIFF: ${len} bytes are not even a header`);
  const first = big ? word(8) : view.getUint32(4, le);
  if (first === 0) throw new Error("damaged TIFF: the header points to no IFD (no page)");
  walk(first, 0);
}

/** utif2's IFDs after the structure check; throws when the file holds no page. */
function decodeIfds(bytes: Uint8Array): UTIF.IFD[] {
  checkTiffStructure(bytes);
  const ifds = UTIF.decode(asBuffer(bytes));
  if (ifds.length === 0) throw new Error("damaged TIFF: no readable page (IFD)");
  return ifds;
}

/** Number of top-level IFDs (pages). Throws on a file utif2 cannot parse. */
export function tiffPageCount(bytes: Uint8Array): number {
  return decodeIfds(bytes).length;
}

/** Decodes one page into a typed array of its stored sample type, channels interleaved. */
export function decodeTiffPage(bytes: Uint8Array, page: number): RawPage {
  const buf = asBuffer(bytes);
  const ifds = decodeIfds(bytes);
  if (page >= ifds.length) {
    const n = ifds.length;
    throw new TiffPageRangeError(`page ${page} is out of range; the file has ${n} page${n === 1 ? "" : "s"} (0..${n - 1}).`);
  }
  const ifd = ifds[page]!;
  const compression = tag(ifd, 259, 1);
  if (!RAW_COMPRESSIONS.has(compression)) {
    throw new Error(`TIFF compression ${compression} is not supported for this sample type (use none, LZW, Deflate or PackBits).`);
  }
  const bitsAll = tagValues(ifd, 258) ?? [1];
  const bits = bitsAll[0]!;
  if (!bitsAll.every((b) => b === bits) || ![8, 16, 32, 64].includes(bits)) {
    throw new Error(`TIFF BitsPerSample ${bitsAll.join("/")} is not supported (8, 16, 32 or 64, equal for all samples).`);
  }
  const predictor = tag(ifd, 317, 1);
  if (predictor !== 1 && !(predictor === 2 && bits <= 16)) {
    throw new Error(`TIFF predictor ${predictor} with ${bits}-bit samples is not supported.`);
  }
  const format = tag(ifd, 339, 1);
  if (![1, 2, 3].includes(format) || (format === 3 && bits < 32)) {
    throw new Error(`TIFF SampleFormat ${format} with ${bits}-bit samples is not supported.`);
  }
  const offsets = tagValues(ifd, 324) ?? tagValues(ifd, 273) ?? [];
  const counts = tagValues(ifd, 325) ?? tagValues(ifd, 279) ?? [];
  if (offsets.length === 0 || offsets.length !== counts.length) {
    throw new Error(`page ${page} has no valid strip or tile table; the file is corrupt.`);
  }
  for (let i = 0; i < offsets.length; i++) {
    if (offsets[i]! + counts[i]! > bytes.length) {
      throw new Error(`the file is truncated or corrupt (pixel data of page ${page} runs past the end of the file).`);
    }
  }

  UTIF.decodeImage(buf, ifd);
  const width = ifd.width;
  const height = ifd.height;
  const channels = tag(ifd, 277, 1);
  const size = bits / 8;
  const n = width * height * channels;
  if (!ifd.data || ifd.data.length < n * size) {
    throw new Error(`the file is truncated or corrupt (page ${page} decodes to too little pixel data).`);
  }
  const raw = new Uint8Array(ifd.data.subarray(0, n * size));
  // utif2 already turned 16-bit samples little-endian; wider ones are still in file order.
  const isLE = (ifd as unknown as { isLE?: boolean }).isLE !== false;
  if (!isLE && size > 2) {
    for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
  }
  const planes = typedView(raw.buffer, format, bits);
  if (tag(ifd, 284, 1) !== 2 || channels === 1) return { width, height, channels, data: planes };
  const data = typedView(new ArrayBuffer(raw.length), format, bits);
  const plane = width * height;
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) data[i * channels + c] = planes[c * plane + i]!;
  return { width, height, channels, data };
}

function typedView(b: ArrayBuffer, format: number, bits: number): PixelArray {
  if (format === 3) return bits === 32 ? new Float32Array(b) : new Float64Array(b);
  if (bits === 64) throw new Error("64-bit integer TIFF samples are not supported.");
  if (format === 2) return bits === 8 ? new Int8Array(b) : bits === 16 ? new Int16Array(b) : new Int32Array(b);
  return bits === 8 ? new Uint8Array(b) : bits === 16 ? new Uint16Array(b) : new Uint32Array(b);
}
