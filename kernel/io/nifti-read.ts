/**
 * Read a NIfTI-1/2 file (.nii, .nii.gz, .hdr/.img pair, gzipped or not) into a Volume.
 *
 * Everything that can be checked from the header and the file sizes is checked before the
 * voxel array is allocated, so a damaged or hostile header cannot make us allocate
 * gigabytes first and fail afterwards.
 */
import { constants as bufferConstants } from "node:buffer";
import { totalmem } from "node:os";
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { analyzeAffine } from "./analyze-header.js";
import { effectiveScaling, decodeUnits, HEADER_PROBE_BYTES, parseNiftiHeader, type NiftiHeader } from "./nifti-header.js";
import { fileSize, isGzipFile, readPrefix, resolveNiftiFiles, streamRange } from "./nifti-files.js";
import { baseAffine, bestAffine, qfacOf, qformAffine, sformAffine, type NiftiGeometryFields } from "./nifti-geometry.js";
import { affineProblem, saneVoxelSizes } from "./geometry-sanity.js";
import { outputBytesPerComponent } from "./nifti-datatypes.js";
import { VoxelDecoder } from "./nifti-voxels.js";
import { orientationCode, type Affine, type AffineSource, type AnalyzeSourceInfo, type HeaderSourceInfo, type NiftiSourceInfo, type Vec3, type Volume } from "./volume.js";

export interface ReadNiftiOptions {
  /** Which 3D volume of a 4D (or higher) file to read; default 0. */
  readonly volumeIndex?: number;
  /**
   * Refuse files whose voxels (after scaling) would need more bytes than this. Default: the
   * smaller of Node's largest buffer and 3/4 of the machine's memory.
   */
  readonly maxBytes?: number;
}

/** The deflate format cannot expand data by more than about 1032:1. */
const MAX_DEFLATE_RATIO = 1032;

export function defaultMaxBytes(): number {
  return Math.min(bufferConstants.MAX_LENGTH, Math.floor(totalmem() * 0.75));
}

function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

export async function readNifti(path: string, options: ReadNiftiOptions = {}): Promise<Volume> {
  const files = resolveNiftiFiles(path);
  const where = basename(files.header);
  const headerSize = await fileSize(files.header);
  if (headerSize === 0) throw new Error(`${files.header}: the file is empty`);
  const headerGz = await isGzipFile(files.header);
  const prefix = await readPrefix(files.header, HEADER_PROBE_BYTES, headerGz);
  const h = parseNiftiHeader(prefix, files.header);
  const warnings: string[] = [];

  if (!files.pair && h.analyze) {
    throw new Error(
      `${files.header}: a 348-byte header without the NIfTI magic "n+1"/"ni1" (bytes 344-347): an Analyze 7.5 header, ` +
        `but Analyze images are .hdr/.img pairs; name it .hdr and put its .img next to it`,
    );
  }
  if (!files.pair && h.pairMagic) {
    throw new Error(
      `${files.header}: the header's magic ("ni${h.version}") says the voxels are in a separate .img file, ` +
        `but this is a single file; rename it to .hdr and put its .img next to it, or fix the magic to "n+${h.version}"`,
    );
  }
  if (files.pair && !h.pairMagic && !h.analyze) warnings.push(`the .hdr has single-file magic "n+${h.version}"; read as a pair anyway`);

  let voxOffset = h.voxOffset;
  if (!files.pair && voxOffset < h.headerSize + 4) {
    warnings.push(`vox_offset ${voxOffset} is inside the header; used ${h.headerSize + 4} (as nibabel does)`);
    voxOffset = h.headerSize + 4;
  }
  if (h.bitpix !== h.datatype.bytesPerComponent * h.datatype.components * 8) {
    warnings.push(`bitpix is ${h.bitpix} but datatype ${h.datatype.name} has ${h.datatype.bytesPerComponent * h.datatype.components * 8} bits; the datatype was trusted`);
  }

  const ndim = h.dims[0]!;
  const dimAt = (k: number) => (k <= ndim ? h.dims[k]! : 1);
  const dims: Vec3 = [dimAt(1), dimAt(2), dimAt(3)];
  let volumeCount = 1;
  for (let k = 4; k <= ndim; k++) volumeCount *= dimAt(k);
  const volumeIndex = options.volumeIndex ?? 0;
  if (!Number.isInteger(volumeIndex) || volumeIndex < 0 || volumeIndex >= volumeCount) {
    throw new Error(
      `${where}: volume ${volumeIndex} requested, but the file holds ${volumeCount} volume(s) (dims ${h.dims.slice(1, ndim + 1).join("x")}); use 0..${volumeCount - 1}`,
    );
  }

  const scaling = effectiveScaling(h, where);
  if (h.datatype.components > 1 && Number.isFinite(h.sclSlope) && h.sclSlope !== 0 && h.sclSlope !== 1) {
    warnings.push(`scl_slope ${h.sclSlope} ignored for ${h.datatype.name} voxels (as nibabel does)`);
  }
  const components = dims[0] * dims[1] * dims[2] * h.datatype.components;
  const storedBytes = components * h.datatype.bytesPerComponent;
  const outBytes = components * outputBytesPerComponent(h.datatype, scaling !== null);
  const maxBytes = options.maxBytes ?? defaultMaxBytes();
  if (!Number.isSafeInteger(outBytes) || outBytes > maxBytes) {
    throw new Error(
      `${where}: absurd size: dims ${dims.join("x")} of ${h.datatype.name} need ${formatBytes(outBytes)} in memory, ` +
        `over the limit of ${formatBytes(maxBytes)} (refused before allocating; pass maxBytes to raise the limit if the file is genuine)`,
    );
  }
  const start = voxOffset + volumeIndex * storedBytes;
  const imageGz = files.pair ? await isGzipFile(files.image) : headerGz;
  const imageSize = await fileSize(files.image);
  if (!imageGz) {
    if (imageSize <= voxOffset) {
      throw new Error(
        files.pair
          ? `${files.image}: the .img is empty (header without data)`
          : `${where}: header without data: the file ends at byte ${imageSize}, where the voxels should start (vox_offset ${voxOffset})`,
      );
    }
    if (imageSize < start + storedBytes) {
      throw new Error(
        `${where}: dims do not fit the data: ${dims.join("x")}${volumeCount > 1 ? ` (volume ${volumeIndex} of ${volumeCount})` : ""} ` +
          `${h.datatype.name} voxels need ${storedBytes} bytes from byte ${start}, ` +
          `but ${basename(files.image)} has only ${Math.max(0, imageSize - start)} there (truncated file, or wrong dims)`,
      );
    }
  } else if (imageSize * MAX_DEFLATE_RATIO < start + storedBytes) {
    throw new Error(
      `${where}: dims do not fit the data: ${dims.join("x")} ${h.datatype.name} need ${formatBytes(start + storedBytes)} ` +
        `but a gzip file of ${formatBytes(imageSize)} cannot hold more than ${formatBytes(imageSize * MAX_DEFLATE_RATIO)}`,
    );
  }

  const decoder = new VoxelDecoder(h.datatype, h.littleEndian, components, scaling);
  await streamRange(files.image, imageGz, start, decoder);
  if (!decoder.complete) {
    const got = decoder.bytesReceived;
    if (got === 0 && volumeIndex === 0) {
      throw new Error(`${where}: header without data: the content ends before the voxels start (byte ${start})`);
    }
    throw new Error(
      `${where}: truncated: ${dims.join("x")} ${h.datatype.name} voxels need ${storedBytes} bytes from byte ${start}, ` +
        `the decompressed data has only ${got} there (truncated file, or dims that do not fit the data)`,
    );
  }
  const data = decoder.finish();
  if (decoder.precisionLost) {
    warnings.push(`some ${h.datatype.name} values exceed 2^53 and were rounded to the nearest float64`);
  }

  // nibabel fixes pixdim[1..3] when it loads a header; the qform and base affine use the fixed values.
  const fixed = saneVoxelSizes([1, 2, 3].map((k) => h.pixdim[k] ?? 1), "pixdim[1..3]");
  warnings.push(...fixed.warnings);
  const geometry = { ...h, pixdim: [h.pixdim[0]!, ...fixed.sizes, ...h.pixdim.slice(4)] };
  const geometryWarnings: string[] = [];
  const { affine, source } = h.analyze
    ? { affine: analyzeAffine(dims, fixed.sizes, h.analyze) as unknown as Affine, source: "analyze" as const }
    : usableAffine(geometry, geometryWarnings);
  warnings.push(...geometryWarnings);
  if (h.analyze) {
    const a = h.analyze;
    warnings.push(
      `Analyze 7.5 stores no orientation: assumed as nibabel does (x flipped, ${a.originatorUsed ? `world origin at the SPM originator ${a.originator!.join(", ")}` : "world origin at the volume centre"})`,
    );
    if (a.originator && !a.originatorUsed) warnings.push(`SPM originator ${a.originator.join(", ")} is outside the volume's bounds: ignored (as nibabel does)`);
    const mat = files.header.replace(/\.hdr(\.gz)?$/i, ".mat");
    if (mat !== files.header && existsSync(mat)) warnings.push(`${basename(mat)} (SPM's affine) is not read: the header's affine is used; nibabel would use the .mat`);
  }
  if (h.pixdim[0] !== 1 && h.pixdim[0] !== -1 && h.pixdim[0] !== 0) {
    warnings.push(`pixdim[0] (qfac) is ${h.pixdim[0]}, not 1 or -1; 1 used (as nibabel does)`);
  }
  const spacing = [1, 2, 3].map((k) => (k <= ndim ? fixed.sizes[k - 1]! : 1)) as unknown as Vec3;

  const stored: HeaderSourceInfo = {
    path: files.header,
    ...(files.pair ? { imagePath: files.image } : {}),
    compressed: imageGz,
    littleEndian: h.littleEndian,
    datatype: h.datatype.name,
    datatypeCode: h.datatypeCode,
    fullDims: h.dims.slice(1, ndim + 1),
    volumeIndex,
    volumeCount,
    pixdim: h.pixdim,
    scaling,
    voxOffset,
    description: h.description,
  };
  const volumeSource: NiftiSourceInfo | AnalyzeSourceInfo = h.analyze
    ? {
        ...stored,
        format: "analyze",
        imagePath: files.image,
        scalingSource: scaling ? h.analyze.scalingSource : "none",
        originator: h.analyze.originator,
        originatorUsed: h.analyze.originatorUsed,
      }
    : {
        ...stored,
        format: "nifti",
        version: h.version,
        qform: {
          code: h.qformCode,
          quaternion: h.quaternion,
          offset: h.qoffset,
          qfac: qfacOf(h.pixdim[0]!),
          affine: qformAffine(h),
        },
        sform: { code: h.sformCode, affine: sformAffine(h) },
        units: decodeUnits(h.xyztUnits),
      };
  return {
    dims,
    channels: h.datatype.components,
    data,
    spacing,
    affine,
    affineSource: source,
    orientation: orientationCode(affine),
    warnings,
    source: volumeSource,
  };
}

/**
 * nibabel's choice of affine (`get_best_affine`), except that a degenerate one (NaN, a zero
 * or collinear axis) is passed over for the next in nibabel's order, with a warning: nibabel
 * would use it and every world coordinate would be NaN or collapse onto a plane.
 */
function usableAffine(g: NiftiGeometryFields, warnings: string[]): { affine: Affine; source: AffineSource } {
  const best = bestAffine(g, warnings);
  const problem = affineProblem(best.affine);
  if (!problem) return best;
  if (best.source === "sform" && g.qformCode > 0) {
    const q = qformAffine(g);
    if (!affineProblem(q)) {
      warnings.push(`the sform (sform_code ${g.sformCode}) ${problem}; the qform was used instead`);
      return { affine: q, source: "qform" };
    }
  }
  const field = best.source === "sform" ? `the sform (sform_code ${g.sformCode})` : best.source === "qform" ? `the qform (qform_code ${g.qformCode})` : "the pixdim affine";
  warnings.push(`${field} ${problem}; the affine from the pixdims was used instead (orientation unknown)`);
  return { affine: baseAffine(g), source: "pixdim" };
}

export type { NiftiHeader };
