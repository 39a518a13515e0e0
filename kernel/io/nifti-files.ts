/**
 * Byte access to NIfTI files: which files hold the header and the voxels (.nii vs .hdr/.img,
 * gzipped or not), and streaming of a byte range of the (decompressed) content.
 *
 * Decompression uses node:zlib's streaming gunzip: in our measurements it is 1.5x faster
 * than the fflate inside nifti-reader-js, and streaming lets the voxels go straight into
 * their final array (see nifti-voxels.ts) instead of through an intermediate buffer.
 */
import { createReadStream, existsSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename } from "node:path";
import { createGunzip, type Gunzip } from "node:zlib";

export interface NiftiFiles {
  /** File holding the header (.nii, .nii.gz or .hdr[.gz]). */
  readonly header: string;
  /** File holding the voxels: the same file, or the .img[.gz] of a pair. */
  readonly image: string;
  readonly pair: boolean;
}

/** gzip magic 1f 8b: detected from content, since ".nii" files are sometimes gzipped anyway. */
export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function stripGz(path: string): string {
  return path.toLowerCase().endsWith(".gz") ? path.slice(0, -3) : path;
}

/** Resolve .hdr <-> .img partners (either may be given, either may be gzipped). */
export function resolveNiftiFiles(path: string): NiftiFiles {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  const plain = stripGz(path);
  const gzSuffix = path.slice(plain.length); // "" or ".gz"/".GZ": the partner with the same compression comes first
  const lower = plain.toLowerCase();
  const stem = plain.slice(0, -4);
  const ext = plain.slice(-4);
  const partner = (want: string): string | null => {
    const upper = ext === ext.toUpperCase();
    const e = upper ? want.toUpperCase() : want;
    const order = gzSuffix ? [stem + e + gzSuffix, stem + e] : [stem + e, stem + e + ".gz", stem + e + ".GZ"];
    for (const candidate of order) {
      if (existsSync(candidate)) return candidate;
    }
    return null;
  };
  if (lower.endsWith(".hdr")) {
    const img = partner(".img");
    if (!img) {
      throw new Error(
        `${path}: a .hdr/.img pair missing its .img: ${basename(stem)}.img not found next to it ` +
          `(a .hdr holds only the header; the voxels are in the .img)`,
      );
    }
    return { header: path, image: img, pair: true };
  }
  if (lower.endsWith(".img")) {
    const hdr = partner(".hdr");
    if (!hdr) throw new Error(`${path}: a .img needs its .hdr (header) next to it; ${basename(stem)}.hdr not found`);
    return { header: hdr, image: path, pair: true };
  }
  return { header: path, image: path, pair: false };
}

/** The first `n` bytes of the decompressed content (fewer if the file is shorter). */
export async function readPrefix(path: string, n: number, gz: boolean): Promise<Uint8Array> {
  if (!gz) {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const parts: Buffer[] = [];
  let have = 0;
  const stream = gunzipStream(path, 64 * 1024);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= n) break;
    }
  } catch (err) {
    if (have === 0) throw gzipError(path, err);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** File -> gunzip, with read errors forwarded (a bare .pipe() would leave them unhandled). */
function gunzipStream(path: string, chunkSize: number): Gunzip {
  const gunzip = createGunzip({ chunkSize });
  const file = createReadStream(path, { highWaterMark: chunkSize });
  file.on("error", (err) => gunzip.destroy(err));
  gunzip.on("close", () => file.destroy());
  return file.pipe(gunzip);
}

function gzipError(path: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  if (/unexpected end of file/i.test(msg)) {
    return new Error(`${path}: truncated gzip stream (the compressed file ends early)`);
  }
  return new Error(`${path}: damaged gzip stream (${msg})`);
}

export interface RangeSink {
  push(chunk: Uint8Array): void;
  readonly complete: boolean;
}

/**
 * Stream bytes [start, ...) of the decompressed content into `sink` until it is complete.
 * Returns the number of content bytes seen; the caller compares with what it needed. For
 * uncompressed files the caller has already checked the file size.
 */
export async function streamRange(path: string, gz: boolean, start: number, sink: RangeSink): Promise<void> {
  if (!gz) {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.allocUnsafe(4 << 20);
      let pos = start;
      while (!sink.complete) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) return;
        sink.push(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return;
  }
  const stream = gunzipStream(path, 1 << 20);
  let seen = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const end = seen + chunk.length;
      if (end > start) sink.push(seen >= start ? chunk : chunk.subarray(start - seen));
      seen = end;
      if (sink.complete) break;
    }
  } catch (err) {
    throw gzipError(path, err);
  } finally {
    stream.destroy();
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
