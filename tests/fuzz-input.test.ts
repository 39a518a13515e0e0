/**
 * Bad input stays bad input: a seeded fuzz over mutated NIfTI (.nii, .nii.gz), DICOM, PNG and
 * TIFF files. Every case must either read (a volume/image whose sizes match its data) or be
 * refused with an Error whose message names the file; never a bare TypeError/RangeError from
 * deep inside a parser, never a hang (each case under a second).
 *
 * Mutations: random bytes in the header region, random bytes anywhere, truncation at a random
 * length, absurd values written over the size fields, and (for gzip) damage to the compressed
 * stream. The seed is fixed, so a failure reproduces; FUZZ_SEED picks another.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { affineProblem } from "../kernel/io/geometry-sanity.js";
import { readImage } from "../kernel/io/read-image.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import { openVolume } from "../kernel/io/volume-open.js";
import { encodeDicomFile, sliceElements } from "./helpers/dicom-writer.js";
import { SeededRandom } from "../kernel/analysis/rng.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20);
const CASES_PER_KIND = Number(process.env.FUZZ_CASES ?? 60);
const dir = mkdtempSync(join(tmpdir(), "fuzz-"));
afterAll(() => {
  if (!process.env.FUZZ_KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`fuzz files kept in ${dir}`);
});

interface Kind {
  readonly name: string;
  readonly ext: string;
  /** Bytes where the format keeps its structure (header, tags): most mutations go here. */
  readonly headerBytes: number;
  /** Offsets of size fields to overwrite with absurd values, and their width in bytes. */
  readonly sizeFields: readonly (readonly [number, number])[];
  original: Uint8Array;
  /** Reads the file; resolves to a problem with the result, or null. */
  read(path: string): Promise<string | null>;
}

/** What is wrong with a result that did read, or null: sizes must match, geometry must be usable. */
const volumeRead = async (p: string): Promise<string | null> => {
  const v = await openVolume(p, { maxBytes: 64 << 20 });
  if (v.data.length !== v.dims[0] * v.dims[1] * v.dims[2] * v.channels) return `data length ${v.data.length} for dims ${v.dims.join("x")}`;
  if (!v.spacing.every((s) => Number.isFinite(s) && s > 0)) return `spacing ${v.spacing.join(", ")}`;
  return affineProblem(v.affine) && `affine ${affineProblem(v.affine)}`;
};
const imageRead = async (p: string): Promise<string | null> => {
  const im = await readImage(p);
  return im.data.length === im.width * im.height * im.channels ? null : `data length ${im.data.length} for ${im.width}x${im.height}x${im.channels}`;
};

const kinds: Kind[] = [
  // NIfTI-1: dim[0..7] at 40, datatype 70, bitpix 72, pixdim 76, vox_offset 108, sform/qform codes 252/254
  { name: "nifti", ext: ".nii", headerBytes: 352, sizeFields: [[40, 2], [42, 2], [44, 2], [46, 2], [70, 2], [108, 4], [0, 4]], original: new Uint8Array(), read: volumeRead },
  { name: "nifti-gz", ext: ".nii.gz", headerBytes: 64, sizeFields: [], original: new Uint8Array(), read: volumeRead },
  { name: "dicom", ext: ".dcm", headerBytes: 600, sizeFields: [], original: new Uint8Array(), read: volumeRead },
  // compressed DICOM: a JPEG Lossless file that jpeg-lossless-decoder-js ships (the codecs see the damage)
  { name: "dicom-jpeg-lossless", ext: ".dcm", headerBytes: 1900, sizeFields: [], original: new Uint8Array(), read: volumeRead },
  { name: "png", ext: ".png", headerBytes: 64, sizeFields: [[16, 4], [20, 4], [24, 1], [25, 1]], original: new Uint8Array(), read: imageRead },
  { name: "tiff", ext: ".tif", headerBytes: 256, sizeFields: [[4, 4]], original: new Uint8Array(), read: imageRead },
];

beforeAll(async () => {
  const nx = 12, ny = 10, nz = 4;
  const data = Array.from({ length: nx * ny * nz }, (_, i) => (i * 37) % 500);
  const nii = join(dir, "seed.nii");
  await writeNifti(nii, { dims: [nx, ny, nz], data, datatype: "int16" });
  const niiBytes = new Uint8Array(readFileSync(nii));
  kinds[0]!.original = niiBytes;
  kinds[1]!.original = new Uint8Array(gzipSync(niiBytes));
  const pixels = new Int16Array(nx * ny).map((_, i) => i * 3 - 100);
  const dcm = encodeDicomFile(
    sliceElements({ rows: ny, columns: nx, pixels, signed: true, position: [1, 2, 3], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.5], sliceThickness: 2, slope: 1, intercept: -1024 }),
    "explicit-le",
  );
  kinds[2]!.original = dcm;
  const gray16 = Buffer.from(new Uint16Array(nx * ny).map((_, i) => i * 300).buffer);
  kinds[3]!.original = new Uint8Array(readFileSync(join(process.cwd(), "node_modules/jpeg-lossless-decoder-js/tests/data/jpeg_lossless_sel4.dcm")));
  kinds[4]!.original = new Uint8Array(await sharp(gray16, { raw: { width: nx, height: ny, channels: 1 } }).toColourspace("grey16").png().toBuffer());
  kinds[5]!.original = new Uint8Array(await sharp(Buffer.from(new Uint8Array(nx * ny * 3).map((_, i) => i % 251)), { raw: { width: nx, height: ny, channels: 3 } }).tiff().toBuffer());
});

/** Offsets of the values of Rows, Columns, BitsAllocated, NumberOfFrames... in the DICOM seed (explicit VR LE: tag, VR, length, value). */
function dicomSizeFields(bytes: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  const want = [0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280002, 0x00280103];
  for (let o = 132; o + 8 < bytes.length; o += 2) {
    const tag = ((bytes[o]! | (bytes[o + 1]! << 8)) << 16) | (bytes[o + 2]! | (bytes[o + 3]! << 8));
    if (want.includes(tag >>> 0) && bytes[o + 4] === 0x55 && bytes[o + 5] === 0x53) out.push([o + 8, 2]);
    if (tag >>> 0 === 0x7fe00010) out.push([o + 8, 4]); // pixel data length
  }
  return out;
}

/** Errors that mean a parser tripped over the input instead of refusing it. */
const BUILTIN_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

type Mutation = { what: string; bytes: Uint8Array };

function mutate(kind: Kind, r: () => number): Mutation {
  const src = kind.original;
  const pick = Math.floor(r() * 5);
  const copy = new Uint8Array(src);
  const int = (n: number) => Math.floor(r() * n);
  switch (pick) {
    case 0: {
      const n = 1 + int(8);
      for (let i = 0; i < n; i++) copy[int(Math.min(kind.headerBytes, src.length))] = int(256);
      return { what: `${n} random header bytes`, bytes: copy };
    }
    case 1: {
      const n = 1 + int(16);
      for (let i = 0; i < n; i++) copy[int(src.length)] = int(256);
      return { what: `${n} random bytes anywhere`, bytes: copy };
    }
    case 2: {
      const len = int(src.length);
      return { what: `truncated at ${len} of ${src.length}`, bytes: src.subarray(0, len) };
    }
    case 3: {
      const fields = kind.name.startsWith("dicom") ? dicomSizeFields(src) : kind.sizeFields;
      if (fields.length === 0) {
        // gzip: damage the deflate stream itself (past the 10-byte gzip header)
        const at = 10 + int(src.length - 18);
        copy[at] = copy[at]! ^ (1 + int(255));
        return { what: `deflate byte ${at} flipped`, bytes: copy };
      }
      const [off, width] = fields[int(fields.length)]!;
      const absurd = [0, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff, 1 + int(0xffff)][int(7)]!;
      const view = new DataView(copy.buffer);
      if (width === 1) view.setUint8(off, absurd & 0xff);
      else if (width === 2) view.setUint16(off, absurd & 0xffff, kind.name !== "png");
      else view.setUint32(off, absurd >>> 0, kind.name !== "png");
      return { what: `size field at ${off} set to ${absurd}`, bytes: copy };
    }
    default: {
      // a run of garbage over a random stretch (damaged sector)
      const at = int(src.length);
      const n = 1 + int(64);
      for (let i = at; i < Math.min(src.length, at + n); i++) copy[i] = int(256);
      return { what: `${n} garbage bytes from ${at}`, bytes: copy };
    }
  }
}

describe(`fuzzed files (seed ${SEED}): read, or refused naming the file`, () => {
  for (let k = 0; k < kinds.length; k++) {
    it(`${kinds[k]!.name}: ${CASES_PER_KIND} mutations`, async () => {
      const kind = kinds[k]!;
      const seeded = new SeededRandom(SEED * 1000 + k);
      const r = () => seeded.next();
      const failures: string[] = [];
      let refused = 0;
      for (let c = 0; c < CASES_PER_KIND; c++) {
        const m = mutate(kind, r);
        const path = join(dir, `${kind.name}-${c}${kind.ext}`);
        writeFileSync(path, m.bytes);
        const t0 = performance.now();
        try {
          const problem = await kind.read(path);
          if (problem) failures.push(`${basename(path)} (${m.what}): read, but ${problem}`);
        } catch (err) {
          refused++;
          const e = err as Error;
          if (!(e instanceof Error)) failures.push(`${basename(path)} (${m.what}): threw a non-Error ${String(err)}`);
          else if (BUILTIN_ERRORS.some((c) => e instanceof c)) failures.push(`${basename(path)} (${m.what}): ${e.constructor.name}: ${e.message}`);
          else if (!e.message.includes(basename(path))) failures.push(`${basename(path)} (${m.what}): message does not name the file: ${e.message}`);
        }
        const ms = performance.now() - t0;
        if (ms > 1000) failures.push(`${basename(path)} (${m.what}): took ${ms.toFixed(0)} ms`);
      }
      expect(failures).toEqual([]);
      expect(refused).toBeGreaterThan(0); // the mutations do damage
    }, 60_000);
  }
});
