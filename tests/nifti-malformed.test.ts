/**
 * Hand-damaged files: each must be refused with a message that names the problem, and
 * impossible sizes must be refused before any voxel array is allocated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNifti } from "../kernel/io/nifti-read.js";
import { writeNifti } from "../kernel/io/nifti-write.js";
import { openVolume } from "../kernel/io/volume-open.js";

const dir = mkdtempSync(join(tmpdir(), "nifti-bad-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let good1: Uint8Array; // a valid little-endian NIfTI-1 .nii, 8x6x4 int16
let good2: Uint8Array; // the same as NIfTI-2

beforeAll(async () => {
  const data = Array.from({ length: 8 * 6 * 4 }, (_, i) => i);
  await writeNifti(join(dir, "good1.nii"), { dims: [8, 6, 4], data, datatype: "int16" });
  await writeNifti(join(dir, "good2.nii"), { dims: [8, 6, 4], data, datatype: "int16" }, { version: 2 });
  good1 = new Uint8Array(readFileSync(join(dir, "good1.nii")));
  good2 = new Uint8Array(readFileSync(join(dir, "good2.nii")));
});

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A copy of `bytes` with a patch applied through a little-endian DataView. */
function patched(bytes: Uint8Array, patch: (v: DataView) => void): Uint8Array {
  const copy = new Uint8Array(bytes);
  patch(new DataView(copy.buffer));
  return copy;
}

describe("malformed NIfTI files are refused with the problem named", () => {
  it("empty file", async () => {
    await expect(readNifti(file("empty.nii", new Uint8Array(0)))).rejects.toThrow(/the file is empty/);
    await expect(openVolume(join(dir, "empty.nii"))).rejects.toThrow(/the file is empty/);
  });

  it("truncated header", async () => {
    await expect(readNifti(file("short.nii", good1.subarray(0, 100)))).rejects.toThrow(
      /truncated header: 100 bytes, a NIfTI-1 header needs 348/,
    );
    await expect(readNifti(file("short2.nii", good2.subarray(0, 400)))).rejects.toThrow(/NIfTI-2 header needs 540/);
  });

  it("header without data, plain and gzipped", async () => {
    await expect(readNifti(file("nodata.nii", good1.subarray(0, 352)))).rejects.toThrow(/header without data/);
    await expect(readNifti(file("nodata.nii.gz", gzipSync(good1.subarray(0, 352))))).rejects.toThrow(/header without data/);
  });

  it("truncated voxel data, plain and gzipped", async () => {
    const cut = good1.subarray(0, good1.length - 10);
    await expect(readNifti(file("cut.nii", cut))).rejects.toThrow(/dims do not fit the data: 8x6x4 int16 voxels need 384 bytes from byte 352.*374/);
    await expect(readNifti(file("cut.nii.gz", gzipSync(cut)))).rejects.toThrow(/truncated: 8x6x4 int16 voxels need 384 bytes.*only 374/);
  });

  it("truncated gzip stream", async () => {
    const gz = gzipSync(good1);
    await expect(readNifti(file("cutgz.nii.gz", gz.subarray(0, gz.length - 30)))).rejects.toThrow(/truncated gzip stream/);
  });

  it("a .hdr whose .img is missing", async () => {
    await writeNifti(join(dir, "lonely.hdr"), { dims: [2, 2, 2], data: new Uint8Array(8), datatype: "uint8" });
    rmSync(join(dir, "lonely.img"));
    await expect(readNifti(join(dir, "lonely.hdr"))).rejects.toThrow(/pair missing its \.img: lonely\.img not found/);
  });

  it("single-file NIfTI with pair magic", async () => {
    const bytes = patched(good1, (v) => v.setUint8(345, 0x69));
    await expect(readNifti(file("magic-ni1.nii", bytes))).rejects.toThrow(/voxels are in a separate \.img/);
  });

  it("dims that do not fit", async () => {
    await expect(readNifti(file("bigdim.nii", patched(good1, (v) => v.setInt16(46, 50, true))))).rejects.toThrow(
      /dims do not fit the data: 8x6x50/,
    );
    await expect(readNifti(file("ndim9.nii", patched(good1, (v) => v.setInt16(40, 9, true))))).rejects.toThrow(
      /dim\[0\] = 9, the number of dimensions must be 1\.\.7/,
    );
    await expect(readNifti(file("zerodim.nii", patched(good1, (v) => v.setInt16(44, 0, true))))).rejects.toThrow(
      /dim\[2\] = 0/,
    );
    await expect(readNifti(file("negdim.nii", patched(good2, (v) => v.setBigInt64(32, -5n, true))))).rejects.toThrow(
      /dim\[2\] = -5/,
    );
  });

  it("absurd sizes are refused before allocating", async () => {
    const huge = patched(good1, (v) => {
      v.setInt16(42, 30000, true);
      v.setInt16(44, 30000, true);
      v.setInt16(46, 30000, true);
    });
    const t0 = performance.now();
    await expect(readNifti(file("huge.nii", huge))).rejects.toThrow(/absurd size: dims 30000x30000x30000 of int16 need 50291\.\d\d GiB/);
    await expect(readNifti(file("huge.nii.gz", gzipSync(huge)))).rejects.toThrow(/absurd size/);
    const huge2 = patched(good2, (v) => v.setBigInt64(24, 2n ** 40n, true));
    await expect(readNifti(file("huge2.nii", huge2))).rejects.toThrow(/absurd size/);
    // within the memory limit, but more than a gzip file of this size can possibly expand to
    const big = patched(good1, (v) => {
      v.setInt16(42, 1000, true);
      v.setInt16(44, 1000, true);
      v.setInt16(46, 100, true);
    });
    await expect(readNifti(file("big.nii.gz", gzipSync(big)), { maxBytes: 2 ** 31 })).rejects.toThrow(
      /dims do not fit the data: 1000x1000x100 int16 need .* but a gzip file of \d+ bytes cannot hold more than/,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("unknown and unsupported datatypes", async () => {
    await expect(readNifti(file("dt999.nii", patched(good1, (v) => v.setInt16(70, 999, true))))).rejects.toThrow(
      /unknown NIfTI datatype code 999/,
    );
    await expect(readNifti(file("dt32.nii", patched(good1, (v) => v.setInt16(70, 32, true))))).rejects.toThrow(
      /not supported: complex64 \(32\)/,
    );
    await expect(readNifti(file("dt0.nii", patched(good1, (v) => v.setInt16(70, 0, true))))).rejects.toThrow(/DT_UNKNOWN/);
  });

  it("files that are not NIfTI at all", async () => {
    const text = new TextEncoder().encode("hello, this is not an image\n".repeat(20));
    await expect(readNifti(file("text.nii", text))).rejects.toThrow(/not a NIfTI file/);
    await expect(openVolume(file("text.bin", text))).rejects.toThrow(/neither NIfTI .* nor DICOM/);
    const analyze = patched(good1, (v) => v.setUint32(344, 0, true));
    await expect(readNifti(file("analyze.hdr.nii", analyze))).rejects.toThrow(/Analyze 7\.5/);
  });

  it("a valid slope with an infinite intercept", async () => {
    const bad = patched(good1, (v) => {
      v.setFloat32(112, 2, true);
      v.setFloat32(116, Infinity, true);
    });
    await expect(readNifti(file("inf-inter.nii", bad))).rejects.toThrow(/scl_inter is Infinity/);
  });

  it("the undamaged originals read (so the failures above are the patches' doing)", async () => {
    expect((await readNifti(join(dir, "good1.nii"))).data[191]).toBe(191);
    expect((await readNifti(join(dir, "good2.nii"))).data[5]).toBe(5);
  });
});
