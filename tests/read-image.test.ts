/**
 * readImage: files written here by independent encoders (a minimal PNG writer and a minimal
 * TIFF writer in this file, sharp for JPEG) must read back with their exact stored values, type
 * and channel count; files written by Pillow must read back as numpy/Pillow sees them (what the
 * Python reference feeds micro_sam); malformed input gives errors that name file and problem.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import type { PixelArray } from "../kernel/io/image.js";
import { countPages, imageFromArray, readImage, sniffFormat } from "../kernel/io/read-image.js";
import { canRun } from "./helpers/require.js";

const PYTHON = "/usr/bin/python3";
const hasPillow = spawnSync(PYTHON, ["-c", "import numpy, PIL"], { stdio: "ignore" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "read-image-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function ramp<T extends PixelArray>(ctor: new (n: number) => T, n: number, f: (i: number) => number): T {
  const a = new ctor(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

// ---------------------------------------------------------------------------------------------
// A minimal PNG writer: IHDR, optional PLTE/tRNS, one zlib IDAT with filter 0 rows, IEND.
// ---------------------------------------------------------------------------------------------

function pngChunk(type: string, body: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const tb = Buffer.concat([Buffer.from(type, "latin1"), body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(tb) >>> 0);
  return Buffer.concat([len, tb, crc]);
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

type PngColorType = 0 | 2 | 3 | 4 | 6;
type PngBitDepth = 1 | 2 | 4 | 8 | 16;

/** Samples below 8 bits are packed into bytes, leftmost pixel in the high bits, as PNG says. */
function png(
  width: number,
  height: number,
  colorType: PngColorType,
  bitDepth: PngBitDepth,
  samples: ArrayLike<number>,
  extra: { plte?: number[]; trns?: number[] } = {},
): Buffer {
  const ch = PNG_CHANNELS[colorType]!;
  const rowBytes = Math.ceil((width * ch * bitDepth) / 8);
  const raw = Buffer.alloc(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * ch; i++) {
      const v = samples[y * width * ch + i]!;
      const row = y * (rowBytes + 1) + 1;
      if (bitDepth === 16) raw.writeUInt16BE(v, row + i * 2);
      else if (bitDepth === 8) raw[row + i] = v;
      else {
        const bit = i * bitDepth;
        raw[row + (bit >> 3)]! |= v << (8 - bitDepth - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr)];
  if (extra.plte) parts.push(pngChunk("PLTE", Uint8Array.from(extra.plte)));
  if (extra.trns) parts.push(pngChunk("tRNS", Uint8Array.from(extra.trns)));
  parts.push(pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", new Uint8Array(0)));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// A minimal TIFF writer: uncompressed, one strip per page, chunky, any endianness, several pages.
// ---------------------------------------------------------------------------------------------

interface TiffPage {
  width: number;
  height: number;
  samples: 1 | 3;
  data: PixelArray;
}

function sampleInfo(data: PixelArray): { bits: number; format: number } {
  if (data instanceof Uint8Array) return { bits: 8, format: 1 };
  if (data instanceof Int8Array) return { bits: 8, format: 2 };
  if (data instanceof Uint16Array) return { bits: 16, format: 1 };
  if (data instanceof Int16Array) return { bits: 16, format: 2 };
  if (data instanceof Uint32Array) return { bits: 32, format: 1 };
  if (data instanceof Int32Array) return { bits: 32, format: 2 };
  if (data instanceof Float32Array) return { bits: 32, format: 3 };
  if (data instanceof Float64Array) return { bits: 64, format: 3 };
  throw new Error("unsupported test type");
}

function tiff(pages: TiffPage[], littleEndian = true): Buffer {
  const le = littleEndian;
  const parts: Buffer[] = [];
  let pos = 8;
  const head = Buffer.alloc(8);
  head.write(le ? "II" : "MM", 0, "latin1");
  if (le) head.writeUInt16LE(42, 2);
  else head.writeUInt16BE(42, 2);
  parts.push(head);
  const patches: [number, number][] = [];
  let nextPtr = 4;
  const u16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  for (const p of pages) {
    const { bits, format } = sampleInfo(p.data);
    const bps = bits / 8;
    const pix = Buffer.alloc(p.data.length * bps);
    for (let i = 0; i < p.data.length; i++) {
      const v = p.data[i]!;
      const at = i * bps;
      if (format === 3 && bits === 32) {
        if (le) pix.writeFloatLE(v, at);
        else pix.writeFloatBE(v, at);
      } else if (format === 3) {
        if (le) pix.writeDoubleLE(v, at);
        else pix.writeDoubleBE(v, at);
      } else if (bits === 8) {
        if (format === 2) pix.writeInt8(v, at);
        else pix.writeUInt8(v, at);
      } else if (bits === 16 && format === 2) {
        if (le) pix.writeInt16LE(v, at);
        else pix.writeInt16BE(v, at);
      } else if (bits === 16) u16(pix, v, at);
      else if (format === 2) {
        if (le) pix.writeInt32LE(v, at);
        else pix.writeInt32BE(v, at);
      } else u32(pix, v, at);
    }
    const dataOff = pos;
    parts.push(pix);
    pos += pix.length;
    let bitsOff = 0;
    let fmtOff = 0;
    if (p.samples === 3) {
      const arr = Buffer.alloc(12);
      for (let s = 0; s < 3; s++) {
        u16(arr, bits, s * 2);
        u16(arr, format, 6 + s * 2);
      }
      bitsOff = pos;
      fmtOff = pos + 6;
      parts.push(arr);
      pos += 12;
    }
    if (pos % 2) {
      parts.push(Buffer.alloc(1));
      pos += 1;
    }
    const SHORT = 3;
    const LONG = 4;
    const entries: [number, number, number, number][] = [
      [256, LONG, 1, p.width],
      [257, LONG, 1, p.height],
      [258, SHORT, p.samples, p.samples === 3 ? bitsOff : bits],
      [259, SHORT, 1, 1],
      [262, SHORT, 1, p.samples === 3 ? 2 : 1],
      [273, LONG, 1, dataOff],
      [277, SHORT, 1, p.samples],
      [278, LONG, 1, p.height],
      [279, LONG, 1, pix.length],
      [284, SHORT, 1, 1],
      [339, SHORT, p.samples, p.samples === 3 ? fmtOff : format],
    ];
    const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
    u16(ifd, entries.length, 0);
    entries.forEach(([tag, type, count, value], k) => {
      const at = 2 + k * 12;
      u16(ifd, tag, at);
      u16(ifd, type, at + 2);
      u32(ifd, count, at + 4);
      // A single SHORT sits in the first two bytes of the value field.
      if (type === SHORT && count === 1) u16(ifd, value, at + 8);
      else u32(ifd, value, at + 8);
    });
    patches.push([nextPtr, pos]);
    nextPtr = pos + 2 + entries.length * 12;
    parts.push(ifd);
    pos += ifd.length;
  }
  const out = Buffer.concat(parts);
  for (const [at, value] of patches) u32(out, value, at);
  return out;
}

// ---------------------------------------------------------------------------------------------

describe("PNG written by a minimal encoder reads back exactly", () => {
  const w = 5;
  const h = 3;
  const cases: { name: string; colorType: 0 | 2 | 4 | 6; depth: 8 | 16; ctor: new (n: number) => Uint8Array | Uint16Array }[] = [
    { name: "8-bit gray", colorType: 0, depth: 8, ctor: Uint8Array },
    { name: "16-bit gray", colorType: 0, depth: 16, ctor: Uint16Array },
    { name: "8-bit gray+alpha", colorType: 4, depth: 8, ctor: Uint8Array },
    { name: "16-bit gray+alpha", colorType: 4, depth: 16, ctor: Uint16Array },
    { name: "8-bit RGB", colorType: 2, depth: 8, ctor: Uint8Array },
    { name: "16-bit RGB", colorType: 2, depth: 16, ctor: Uint16Array },
    { name: "8-bit RGBA", colorType: 6, depth: 8, ctor: Uint8Array },
    { name: "16-bit RGBA", colorType: 6, depth: 16, ctor: Uint16Array },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ch = PNG_CHANNELS[c.colorType]!;
      const max = c.depth === 16 ? 65535 : 255;
      // Distinct values per sample, hitting 0 and the maximum.
      const samples = ramp(c.ctor, w * h * ch, (i) => (i === 0 ? 0 : i === 1 ? max : (i * 7919 + 13) % (max + 1)));
      const file = png(w, h, c.colorType, c.depth, samples);
      const image = await readImage(file, { keepAlpha: true, onNote: () => expect.unreachable("a note with keepAlpha") });
      expect({ width: image.width, height: image.height, channels: image.channels }).toEqual({ width: w, height: h, channels: ch });
      expect(image.data).toBeInstanceOf(c.ctor);
      expect(Array.from(image.data)).toEqual(Array.from(samples));
      // By default a PNG's alpha band is dropped (with a note) and the colour bands stay exact.
      const notes: string[] = [];
      const read = await readImage(file, { name: "x.png", onNote: (n) => notes.push(n) });
      const hasAlpha = c.colorType === 4 || c.colorType === 6;
      const colour = hasAlpha ? ch - 1 : ch;
      expect(read.channels).toBe(colour);
      expect(read.data).toBeInstanceOf(c.ctor);
      expect(Array.from(read.data)).toEqual(Array.from(samples).filter((_, i) => i % ch < colour));
      expect(notes).toHaveLength(hasAlpha ? 1 : 0);
      if (hasAlpha) expect(notes[0]).toMatch(/^note: x\.png is a (gray|RGB)\+alpha PNG; its alpha band .*was dropped/);
    });
  }

  it("palette PNG expands to RGB, and to RGBA with a transparency chunk when alpha is kept", async () => {
    const plte = [10, 20, 30, 200, 100, 0, 0, 0, 255];
    const idx = [0, 1, 2, 1, 0, 2];
    const rgb = await readImage(png(3, 2, 3, 8, idx, { plte }));
    expect(rgb.channels).toBe(3);
    expect(Array.from(rgb.data)).toEqual(idx.flatMap((i) => plte.slice(i * 3, i * 3 + 3)));
    const notes: string[] = [];
    const dropped = await readImage(png(3, 2, 3, 8, idx, { plte, trns: [255, 128] }), { onNote: (n) => notes.push(n) });
    expect(dropped.channels).toBe(3);
    expect(Array.from(dropped.data)).toEqual(Array.from(rgb.data));
    expect(notes).toEqual([expect.stringMatching(/RGB\+alpha PNG; its alpha band \(33\.3 % of pixels were not opaque.*read as RGB/)]);
    const rgba = await readImage(png(3, 2, 3, 8, idx, { plte, trns: [255, 128] }), { keepAlpha: true });
    expect(rgba.channels).toBe(4);
    const alpha = [255, 128, 255];
    expect(Array.from(rgba.data)).toEqual(idx.flatMap((i) => [...plte.slice(i * 3, i * 3 + 3), alpha[i]!]));
  });
});

describe("TIFF written by a minimal encoder reads back exactly", () => {
  const w = 4;
  const h = 3;
  const cases: { name: string; data: PixelArray; samples: 1 | 3; le: boolean }[] = [
    { name: "uint8 gray", data: ramp(Uint8Array, w * h, (i) => i * 21), samples: 1, le: true },
    { name: "uint16 gray", data: ramp(Uint16Array, w * h, (i) => i * 5957), samples: 1, le: true },
    { name: "uint16 gray, big-endian", data: ramp(Uint16Array, w * h, (i) => 65535 - i * 311), samples: 1, le: false },
    { name: "int16 gray (CT-like, negative)", data: ramp(Int16Array, w * h, (i) => -1024 + i * 377), samples: 1, le: true },
    { name: "int16 gray, big-endian", data: ramp(Int16Array, w * h, (i) => -32768 + i * 5000), samples: 1, le: false },
    { name: "int32 gray", data: ramp(Int32Array, w * h, (i) => -2_000_000_000 + i * 300_000_001), samples: 1, le: true },
    { name: "float32 gray", data: ramp(Float32Array, w * h, (i) => Math.fround(-3.75 + i * 1.1)), samples: 1, le: true },
    { name: "float64 gray (libvips refuses it; the utif2 path)", data: ramp(Float64Array, w * h, (i) => -1e10 + i * 0.1), samples: 1, le: true },
    { name: "float64 gray, big-endian", data: ramp(Float64Array, w * h, (i) => Math.PI * (i - 5) * 1e-300), samples: 1, le: false },
    { name: "int8 gray", data: ramp(Int8Array, w * h, (i) => -128 + i * 23), samples: 1, le: true },
    { name: "int16 RGB", data: ramp(Int16Array, w * h * 3, (i) => -20000 + i * 1111), samples: 3, le: false },
    { name: "int32 gray, big-endian", data: ramp(Int32Array, w * h, (i) => -7 - i * 100_000_007), samples: 1, le: false },
    { name: "float32 RGB, big-endian", data: ramp(Float32Array, w * h * 3, (i) => Math.fround(1e-3 - i * 77.7)), samples: 3, le: false },
    { name: "uint8 RGB", data: ramp(Uint8Array, w * h * 3, (i) => (i * 37) % 256), samples: 3, le: true },
    { name: "uint16 RGB, big-endian", data: ramp(Uint16Array, w * h * 3, (i) => (i * 1999) % 65536), samples: 3, le: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const image = await readImage(tiff([{ width: w, height: h, samples: c.samples, data: c.data }], c.le));
      expect({ width: image.width, height: image.height, channels: image.channels }).toEqual({ width: w, height: h, channels: c.samples });
      expect(image.data.constructor).toBe(c.data.constructor);
      expect(Array.from(image.data)).toEqual(Array.from(c.data));
    });
  }

  it("multi-page: countPages, page picks one, out-of-range pages are refused", async () => {
    const pages = [0, 1, 2].map((p) => ({ width: w, height: h, samples: 1 as const, data: ramp(Uint16Array, w * h, (i) => p * 1000 + i) }));
    const file = join(work, "stack.tif");
    writeFileSync(file, tiff(pages));
    expect(await countPages(file)).toBe(3);
    for (const p of [0, 1, 2]) {
      const image = await readImage(file, { page: p });
      expect(Array.from(image.data)).toEqual(Array.from(pages[p]!.data));
    }
    expect(Array.from((await readImage(file)).data)).toEqual(Array.from(pages[0]!.data));
    await expect(readImage(file, { page: 3 })).rejects.toThrow(/stack\.tif: page 3 is out of range; the file has 3 pages \(0\.\.2\)/);
    await expect(readImage(file, { page: -1 })).rejects.toThrow(/page must be an integer >= 0/);
  });

  it("multi-page float64 stack (libvips refuses it): countPages and pages through utif2", async () => {
    const pages = [0, 1, 2].map((p) => ({ width: w, height: h, samples: 1 as const, data: ramp(Float64Array, w * h, (i) => p - i / 3) }));
    const buf = tiff(pages);
    expect(await countPages(buf)).toBe(3);
    for (const p of [0, 1, 2]) expect(Array.from((await readImage(buf, { page: p })).data)).toEqual(Array.from(pages[p]!.data));
    await expect(readImage(buf, { page: 3, name: "f64-stack" })).rejects.toThrow(/f64-stack: page 3 is out of range; the file has 3 pages/);
  });

  it("multi-page signed stack (the utif2 path): each page keeps its negative values", async () => {
    const pages = [0, 1].map((p) => ({ width: w, height: h, samples: 1 as const, data: ramp(Int16Array, w * h, (i) => -3000 * (p + 1) + i) }));
    const buf = tiff(pages, false);
    expect(await countPages(buf)).toBe(2);
    for (const p of [0, 1]) expect(Array.from((await readImage(buf, { page: p })).data)).toEqual(Array.from(pages[p]!.data));
  });
});

describe("JPEG (sharp-encoded) and 8-bit PNG (sharp-encoded)", () => {
  const w = 48;
  const h = 32;
  const rgb = ramp(Uint8Array, w * h * 3, (i) => (i * 13 + ((i / 97) | 0) * 31) % 256);

  it("8-bit RGB PNG from sharp round-trips", async () => {
    const buf = await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const image = await readImage(buf);
    expect(image.channels).toBe(3);
    expect(Buffer.from(image.data as Uint8Array).equals(Buffer.from(rgb))).toBe(true);
  });

  it("JPEG decodes to the same pixels as Pillow (libjpeg-turbo), RGB and gray", async () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    const colour = join(work, "c.jpg");
    const gray = join(work, "g.jpg");
    writeFileSync(colour, await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toBuffer());
    const g = ramp(Uint8Array, w * h, (i) => (i * 7) % 256);
    writeFileSync(
      gray,
      await sharp(Buffer.from(g), { raw: { width: w, height: h, channels: 1 } }).toColourspace("b-w").jpeg({ quality: 80 }).toBuffer(),
    );
    const script = `
import sys, numpy as np
from PIL import Image
for p in sys.argv[1:]:
    np.asarray(Image.open(p)).tofile(p + ".raw")
`;
    execFileSync(PYTHON, ["-c", script, colour, gray]);
    const c = await readImage(colour);
    expect(c.channels).toBe(3);
    expect(Buffer.from(c.data as Uint8Array).equals(readFileSync(colour + ".raw"))).toBe(true);
    const gi = await readImage(gray);
    expect(gi.channels).toBe(1);
    expect(Buffer.from(gi.data as Uint8Array).equals(readFileSync(gray + ".raw"))).toBe(true);
  });
});

describe("files written by Pillow read as numpy sees them", () => {
  it("palette (+transparency), LA, 16-bit PNG, float/int32 TIFF, multi-page TIFF, JPEG 4:2:0 and progressive", async () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    // Each reference is what Pillow decodes from the saved file (palette images converted the
    // way imageio does), except the 16-bit PNG, which Pillow widens to int32: its reference is
    // the uint16 array that was written.
    const script = `
import sys, json, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(7)
out = []
def save(name, img, ref=None, **kw):
    img.save(f"{d}/{name}", **kw)
    if ref is None:
        back = Image.open(f"{d}/{name}")
        if back.mode == "P":
            back = back.convert("RGBA" if "transparency" in back.info else "RGB")
        ref = np.asarray(back)
    ref = np.ascontiguousarray(ref)
    ref.tofile(f"{d}/{name}.raw")
    out.append({"name": name, "dtype": ref.dtype.str, "shape": list(ref.shape)})
rgb = rng.integers(0, 256, (19, 23, 3), dtype=np.uint8)
p = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
save("pal.png", p)
save("palt.png", p, transparency=3)
save("la.png", Image.fromarray(rng.integers(0, 256, (19, 23, 2), dtype=np.uint8), "LA"))
g16 = rng.integers(0, 65536, (19, 23), dtype=np.uint16)
save("g16.png", Image.fromarray(g16), g16)
save("f32.tif", Image.fromarray((rng.standard_normal((19, 23)) * 1000).astype(np.float32)))
save("f32lzw.tif", Image.fromarray((rng.standard_normal((19, 23)) * 1000).astype(np.float32)), compression="tiff_lzw")
save("rgbdeflate.tif", Image.fromarray(rgb), compression="tiff_adobe_deflate")
save("i32.tif", Image.fromarray(rng.integers(-2**31, 2**31, (19, 23)).astype(np.int32)))
save("q420.jpg", Image.fromarray(rgb), quality=70, subsampling=2)
save("prog.jpg", Image.fromarray(rgb), quality=85, progressive=True)
save("gray.jpg", Image.fromarray(rgb[..., 1].copy()), quality=90)
pages = [Image.fromarray(g16 + np.uint16(k)) for k in range(4)]
pages[0].save(f"{d}/multi.tif", save_all=True, append_images=pages[1:])
for k in range(4):
    (g16 + np.uint16(k)).tofile(f"{d}/multi.tif.{k}.raw")
json.dump(out, sys.stdout)
`;
    const files = JSON.parse(execFileSync(PYTHON, ["-c", script, work], { encoding: "utf8" })) as {
      name: string;
      dtype: string;
      shape: number[];
    }[];
    const kinds: Record<string, string> = { "|u1": "Uint8Array", "<u2": "Uint16Array", "<f4": "Float32Array", "<i4": "Int32Array" };
    for (const f of files) {
      const image = await readImage(join(work, f.name), { keepAlpha: true }); // numpy sees the alpha band
      const [hh, ww, cc = 1] = f.shape;
      expect({ file: f.name, h: image.height, w: image.width, c: image.channels, type: image.data.constructor.name }).toEqual({
        file: f.name,
        h: hh,
        w: ww,
        c: cc,
        type: kinds[f.dtype],
      });
      const ref = readFileSync(join(work, `${f.name}.raw`));
      const ours = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
      expect({ file: f.name, equal: ours.equals(ref) }).toEqual({ file: f.name, equal: true });
    }
    const multi = join(work, "multi.tif");
    expect(await countPages(multi)).toBe(4);
    for (let k = 0; k < 4; k++) {
      const image = await readImage(multi, { page: k });
      expect(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).equals(readFileSync(`${multi}.${k}.raw`))).toBe(true);
    }
  });
});

describe("every PNG colour type and bit depth reads as Pillow decodes it, alpha dropped", () => {
  it("gray 1/2/4/8/16, RGB 8/16, palette 1/2/4/8 (each also with tRNS), gray+alpha and RGBA 8/16", async () => {
    if (!canRun(hasPillow, "python3 with numpy and PIL (Debian python3-pil, python3-numpy) not found")) return;
    const dir = mkdtempSync(join(work, "png-kinds-"));
    const w = 13; // odd, so packed rows end inside a byte
    const h = 5;
    const combos: [PngColorType, PngBitDepth[]][] = [
      [0, [1, 2, 4, 8, 16]],
      [2, [8, 16]],
      [3, [1, 2, 4, 8]],
      [4, [8, 16]],
      [6, [8, 16]],
    ];
    const files: { name: string; colorType: PngColorType; depth: PngBitDepth; trns: boolean }[] = [];
    let seed = 1;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (const [colorType, depths] of combos) {
      for (const depth of depths) {
        for (const trns of colorType === 4 || colorType === 6 ? [false] : [false, true]) {
          const levels = 2 ** depth;
          const ch = PNG_CHANNELS[colorType]!;
          const samples = Array.from({ length: w * h * ch }, () => rand(levels));
          const extra: { plte?: number[]; trns?: number[] } = {};
          if (colorType === 3) extra.plte = Array.from({ length: 3 * levels }, () => rand(256));
          const two = (v: number) => [v >> 8, v & 255];
          if (trns) {
            // tRNS: palette alphas; or the one gray / RGB value that is transparent (taken from a pixel)
            extra.trns =
              colorType === 3
                ? Array.from({ length: levels }, () => rand(256))
                : colorType === 0
                  ? two(samples[3]!)
                  : [...two(samples[3]!), ...two(samples[4]!), ...two(samples[5]!)];
          }
          const name = `t${colorType}-${depth}${trns ? "-trns" : ""}.png`;
          writeFileSync(join(dir, name), png(w, h, colorType, depth, samples, extra));
          files.push({ name, colorType, depth, trns });
        }
      }
    }
    // What Pillow decodes, reduced to what SAM should see: gray or RGB, no alpha. Pillow keeps
    // only the high byte of 16-bit RGB/RGBA/LA ("truncated"), and decodes 16-bit gray+alpha as
    // RGBA with the gray repeated; 16-bit gray comes out whole.
    const script = `
import sys, json, numpy as np
from PIL import Image
d = sys.argv[1]
out = []
for name in sys.argv[2:]:
    im = Image.open(f"{d}/{name}")
    alpha = im.mode in ("LA", "RGBA", "PA") or "transparency" in im.info
    if im.mode == "1":
        im = im.convert("L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    a = np.asarray(im)
    if im.mode in ("LA", "RGBA"):
        a = a[..., :-1]
        if open(f"{d}/{name}", "rb").read()[25] == 4:  # IHDR colour type: gray+alpha
            a = a[..., 0]
    if a.dtype != np.uint8:
        a = a.astype(np.uint16)
    a = np.ascontiguousarray(a)
    a.astype(a.dtype.newbyteorder("<")).tofile(f"{d}/{name}.raw")
    out.append({"name": name, "mode": im.mode, "dtype": a.dtype.str, "shape": list(a.shape), "alpha": bool(alpha)})
json.dump(out, sys.stdout)
`;
    const refs = JSON.parse(execFileSync(PYTHON, ["-c", script, dir, ...files.map((f) => f.name)], { encoding: "utf8" })) as {
      name: string;
      dtype: string;
      shape: number[];
      alpha: boolean;
    }[];
    expect(refs).toHaveLength(26);
    for (const [k, f] of files.entries()) {
      const ref = refs[k]!;
      const notes: string[] = [];
      const image = await readImage(join(dir, f.name), { onNote: (n) => notes.push(n) });
      const [rh, rw, rc = 1] = ref.shape;
      const truncated = f.depth === 16 && ref.dtype === "|u1";
      const summary = { file: f.name, w: image.width, h: image.height, c: image.channels, type: image.data.constructor.name, notes: notes.length };
      expect(summary).toEqual({
        file: f.name,
        w: rw,
        h: rh,
        c: rc,
        type: f.depth === 16 ? "Uint16Array" : "Uint8Array",
        notes: ref.alpha ? 1 : 0,
      });
      const bytes = readFileSync(join(dir, `${f.name}.raw`));
      const want = ref.dtype === "<u2" ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2) : new Uint8Array(bytes);
      const ours = truncated ? Array.from(image.data, (v) => v >> 8) : Array.from(image.data);
      expect({ file: f.name, equal: ours.every((v, i) => v === want[i]) && ours.length === want.length }).toEqual({ file: f.name, equal: true });
      if (ref.alpha) expect(notes[0]).toMatch(image.channels === 1 ? /gray\+alpha PNG.*read as gray/ : /RGB\+alpha PNG.*read as RGB/);
    }
  });
});

describe("errors name the file and the problem", () => {
  it("truncated PNG, JPEG and TIFF", async () => {
    const p = png(8, 8, 0, 16, new Uint16Array(64).fill(1234));
    writeFileSync(join(work, "cut.png"), p.subarray(0, p.length - 30));
    await expect(readImage(join(work, "cut.png"))).rejects.toThrow(/cut\.png: the file is truncated or corrupt/);
    const j = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#808080" } }).jpeg().toBuffer();
    writeFileSync(join(work, "cut.jpg"), j.subarray(0, j.length >> 1));
    await expect(readImage(join(work, "cut.jpg"))).rejects.toThrow(/cut\.jpg: the file is truncated or corrupt/);
    const t = tiff([{ width: 64, height: 64, samples: 1, data: new Uint16Array(64 * 64) }]);
    writeFileSync(join(work, "cut.tif"), t.subarray(0, 2000));
    await expect(readImage(join(work, "cut.tif"))).rejects.toThrow(/cut\.tif: the file is truncated or corrupt/);
    // The same for the utif2 paths (signed samples, float64), whose IFD sits after the pixels
    // in these files: cut the pixel data short but keep a valid IFD by moving it to the front.
    for (const data of [new Int16Array(64 * 64), new Float64Array(64 * 64)]) {
      const whole = tiff([{ width: 64, height: 64, samples: 1, data }]);
      const ifdAt = whole.readUInt32LE(4);
      const ifd = whole.subarray(ifdAt, whole.length - 0);
      // New file: header, IFD (pointing at pixels that would start at the old offset 8), nothing else.
      const cut = Buffer.concat([whole.subarray(0, 8), ifd]);
      cut.writeUInt32LE(8, 4);
      const err = await readImage(cut, { name: "cut-" + data.constructor.name }).catch((e: Error) => e);
      expect(String(err)).toMatch(new RegExp(`cut-${data.constructor.name}: the file is truncated or corrupt`));
    }
  });

  it("unknown format, empty and missing files", async () => {
    writeFileSync(join(work, "notes.txt"), "hello, not an image");
    await expect(readImage(join(work, "notes.txt"))).rejects.toThrow(/notes\.txt: unknown format .*supported are PNG, JPEG, TIFF and DICOM/);
    writeFileSync(join(work, "empty.png"), "");
    await expect(readImage(join(work, "empty.png"))).rejects.toThrow(/empty\.png: the file is empty/);
    await expect(readImage(join(work, "nope.png"))).rejects.toThrow(/nope\.png: no such file/);
    await expect(readImage(new Uint8Array([1, 2, 3]), { name: "upload" })).rejects.toThrow(/image upload: unknown format/);
  });

  it("points NIfTI volumes to the volume reader, reads DICOM", async () => {
    const dicom = new Uint8Array(200);
    dicom.set([0x44, 0x49, 0x43, 0x4d], 128);
    await expect(readImage(dicom)).rejects.toThrow(/<buffer>: truncated DICOM file/); // DICOM is read, as an image
    const nifti = new Uint8Array(352);
    nifti.set([0x6e, 0x2b, 0x31], 344);
    await expect(readImage(nifti)).rejects.toThrow(/looks like a volume \(NIfTI\)/);
  });

  it("sniffs formats by signature", () => {
    expect(sniffFormat(png(1, 1, 0, 8, [0]))).toBe("png");
    expect(sniffFormat(tiff([{ width: 1, height: 1, samples: 1, data: new Uint8Array(1) }], false))).toBe("tiff");
    expect(sniffFormat(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(sniffFormat(Uint8Array.from([0, 1, 2, 3]))).toBeUndefined();
  });
});

describe("imageFromArray", () => {
  it("wraps [H, W] and [H, W, C] arrays without copying", () => {
    const data = new Int16Array(6);
    const gray = imageFromArray(data, [2, 3]);
    expect(gray).toEqual({ width: 3, height: 2, channels: 1, data });
    expect(gray.data).toBe(data);
    expect(imageFromArray(new Float32Array(24), [2, 4, 3])).toMatchObject({ width: 4, height: 2, channels: 3 });
  });

  it("checks the length against the shape", () => {
    expect(() => imageFromArray(new Uint8Array(10), [2, 3, 2])).toThrow(/holds 10 values but shape \[2, 3, 2\] needs 12/);
    expect(() => imageFromArray(new Uint8Array(0), [0, 3])).toThrow(/H must be a positive integer/);
    expect(() => imageFromArray(new Uint8Array(6), [2, 3, 1, 1] as unknown as [number, number])).toThrow(/shape must be/);
  });
});
