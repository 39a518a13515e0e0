/**
 * A DICOM series (a folder of slices) or a single file (one slice, or an enhanced
 * multi-frame volume) as a Volume with its geometry.
 *
 * Geometry follows the DICOM standard and dcm2niix/nibabel practice: slices are sorted by
 * their ImagePositionPatient projected on the slice normal (row x column cosines), never by
 * file name or InstanceNumber; voxel i runs along the row direction (columns), j along the
 * column direction (rows), k along the sorted slices. DICOM's LPS world is converted to the
 * NIfTI RAS world used everywhere else by negating x and y.
 *
 * Two passes keep memory at one volume plus one file: the first reads only what is needed
 * to group and sort, the second decodes each file's pixels straight into the volume.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { decodeAnyFrame, decodeFrame, describeDicom, namingFile, parseDicomBytes, requireDecodable, valueArrayType, type DicomFileInfo } from "./dicom-slice.js";
import { defaultMaxBytes } from "./nifti-read.js";
import { affineProblem, saneVoxelSizes } from "./geometry-sanity.js";
import { orientationCode, type Affine, type Vec3, type Volume } from "./volume.js";

export interface ReadDicomOptions {
  /** Which series of a folder holding several: its SeriesInstanceUID, or its 0-based index in the listing. */
  readonly series?: string | number;
  readonly maxBytes?: number;
}

interface FrameRef {
  readonly file: DicomFileInfo;
  readonly frame: number;
  readonly position?: Vec3;
}

/** DICM at 128, or a bare dataset starting with a group 0002/0008 tag (old implicit-VR files). */
export function looksLikeDicom(bytes: Uint8Array): boolean {
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) return true;
  return bytes.length >= 8 && (bytes[0] === 0x08 || bytes[0] === 0x02) && bytes[1] === 0x00 && bytes[3] === 0x00;
}

export async function listFiles(dir: string, depth = 0): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".") || e.name.toUpperCase() === "DICOMDIR") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < 4) out.push(...(await listFiles(p, depth + 1)));
    } else if (e.isFile()) out.push(p);
  }
  return out;
}

const cross = (a: readonly number[], b: readonly number[]): Vec3 => [
  a[1]! * b[2]! - a[2]! * b[1]!,
  a[2]! * b[0]! - a[0]! * b[2]!,
  a[0]! * b[1]! - a[1]! * b[0]!,
];
const dot = (a: readonly number[], b: readonly number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

function describeSeries(files: DicomFileInfo[], index: number): string {
  const f = files[0]!;
  return `  [${index}] ${f.seriesInstanceUID ?? "(no SeriesInstanceUID)"}  ${f.modality ?? ""} "${f.seriesDescription ?? ""}", ${files.length} file(s)`;
}

export async function readDicom(path: string, options: ReadDicomOptions = {}): Promise<Volume> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${path}: file or folder not found`);
  const candidates = st.isDirectory() ? await listFiles(path) : [path];
  const infos: DicomFileInfo[] = [];
  const skipped: string[] = [];
  for (const file of candidates) {
    const bytes = new Uint8Array(await readFile(file));
    if (!looksLikeDicom(bytes)) {
      if (!st.isDirectory()) {
        throw new Error(`${file}: not a DICOM file (no "DICM" marker at byte 128)${bytes.length === 0 ? "; the file is empty" : ""}`);
      }
      skipped.push(basename(file));
      continue;
    }
    const info = describeDicom(parseDicomBytes(bytes, file), file);
    infos.push(info);
  }
  if (infos.length === 0) {
    throw new Error(`${path}: no DICOM image files found${skipped.length ? ` (${skipped.length} other file(s) skipped)` : ""}`);
  }

  // One series: group by SeriesInstanceUID.
  const groups = new Map<string, DicomFileInfo[]>();
  for (const info of infos) {
    const key = info.seriesInstanceUID ?? "";
    groups.set(key, [...(groups.get(key) ?? []), info]);
  }
  const seriesList = [...groups.values()];
  let chosen: DicomFileInfo[];
  if (seriesList.length === 1) chosen = seriesList[0]!;
  else if (options.series !== undefined) {
    const pick =
      typeof options.series === "number" ? seriesList[options.series] : seriesList.find((s) => s[0]!.seriesInstanceUID === options.series);
    if (!pick) throw new Error(`${path}: series ${options.series} not found; the folder holds:\n${seriesList.map(describeSeries).join("\n")}`);
    chosen = pick;
  } else {
    throw new Error(
      `${path}: the folder holds ${seriesList.length} series; choose one with the series option (index or SeriesInstanceUID):\n` +
        seriesList.map(describeSeries).join("\n"),
    );
  }

  const first = chosen[0]!;
  for (const f of chosen) requireDecodable(f);
  for (const f of chosen) {
    const same = (a: unknown, b: unknown) => a === b;
    if (!same(f.rows, first.rows) || !same(f.columns, first.columns) || !same(f.samplesPerPixel, first.samplesPerPixel) || !same(f.bitsAllocated, first.bitsAllocated)) {
      throw new Error(
        `${path}: slices of one series differ in size or encoding: ${basename(first.path)} is ${first.rows}x${first.columns} ` +
          `${first.bitsAllocated}-bit, ${basename(f.path)} is ${f.rows}x${f.columns} ${f.bitsAllocated}-bit`,
      );
    }
  }
  const warnings: string[] = [];
  if (skipped.length) warnings.push(`${skipped.length} non-DICOM file(s) skipped`);

  let iop = first.orientation;
  let frames: FrameRef[] = chosen.flatMap((file) => file.frames.map((fr, frame) => ({ file, frame, ...(fr.position ? { position: fr.position } : {}) })));
  if (!iop) {
    // Secondary capture, scanned film, ultrasound: no patient frame. One image, or the frames of
    // one file without positions, are kept as stored: DICOM's identity orientation (rows along
    // +x, columns along +y of LPS, which the axial view shows as stored), frames 1 unit apart.
    if (frames.length > 1 && (chosen.length > 1 || frames.some((f) => f.position))) {
      throw new Error(`${first.path}: ImageOrientationPatient (0020,0037) missing; the slices cannot be placed in space`);
    }
    warnings.push(
      frames.length > 1
        ? `ImageOrientationPatient (0020,0037) missing: ${frames.length} frames stacked in file order with identity orientation (a 2D image sequence; orientation unknown)`
        : "ImageOrientationPatient (0020,0037) missing: a 2D image; identity orientation assumed (orientation unknown)",
    );
    iop = [1, 0, 0, 0, 1, 0];
    if (frames.length > 1) {
      const dz = first.spacingBetweenSlices ?? first.sliceThickness;
      const step = dz !== undefined && Number.isFinite(dz) && dz > 0 ? dz : 1;
      frames = frames.map((f, k) => ({ ...f, position: [0, 0, k * step] as Vec3 }));
    }
  }
  for (const f of chosen) {
    if (f.orientation && f.orientation.some((v, i) => Math.abs(v - iop![i]!) > 1e-4)) {
      throw new Error(`${path}: slices have different orientations (${basename(first.path)} vs ${basename(f.path)}): not one volume`);
    }
  }
  let row = iop.slice(0, 3);
  let col = iop.slice(3, 6);
  let normal = cross(row, col);
  if (!(Math.hypot(...normal) > 0.5)) {
    // zero-length or parallel direction cosines: no plane can be built from them
    const why = `ImageOrientationPatient (0020,0037) ${iop.join("\\")} is degenerate (zero or parallel direction cosines)`;
    if (frames.length > 1) throw new Error(`${first.path}: ${why}; the slices cannot be placed in space`);
    warnings.push(`${why}: axial orientation assumed`);
    [row, col, normal] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  }
  if (frames.length > 1 && frames.some((f) => !f.position)) {
    throw new Error(`${path}: ImagePositionPatient (0020,0032) missing on some slices; they cannot be sorted into a volume`);
  }
  const sorted = [...frames].sort((a, b) => dot(a.position ?? [0, 0, 0], normal) - dot(b.position ?? [0, 0, 0], normal));
  const depth = sorted.length;
  const proj = sorted.map((f) => dot(f.position ?? [0, 0, 0], normal));
  for (let k = 1; k < depth; k++) {
    if (proj[k]! - proj[k - 1]! < 1e-3) {
      const clash = sorted.filter((f) => Math.abs(dot(f.position!, normal) - proj[k]!) < 1e-3).map((f) => basename(f.file.path));
      throw new Error(
        `${path}: ${clash.length} slices share the position ${proj[k]!.toFixed(3)} mm along the normal (${clash.slice(0, 4).join(", ")}${clash.length > 4 ? ", ..." : ""}): ` +
          `the series holds several volumes (echoes, phases or time points); split them into separate folders`,
      );
    }
  }
  let ps: readonly [number, number] = first.pixelSpacing ?? (warnings.push("PixelSpacing (0028,0030) missing: 1 mm assumed"), [1, 1] as const);
  {
    const fixed = saneVoxelSizes(ps, "PixelSpacing (0028,0030)");
    warnings.push(...fixed.warnings);
    ps = [fixed.sizes[0]!, fixed.sizes[1]!];
  }
  let step: Vec3;
  let dz = 1;
  if (depth > 1) {
    const p0 = sorted[0]!.position!;
    const pn = sorted[depth - 1]!.position!;
    step = [0, 1, 2].map((a) => (pn[a]! - p0[a]!) / (depth - 1)) as unknown as Vec3;
    const gaps = proj.slice(1).map((p, k) => p - proj[k]!);
    const lo = Math.min(...gaps);
    const hi = Math.max(...gaps);
    if (hi - lo > Math.max(1e-3, 0.01 * hi)) {
      warnings.push(`non-uniform slice spacing (${lo.toFixed(3)} to ${hi.toFixed(3)} mm; missing slices?): the mean spacing is used`);
    }
    const along = Math.abs(dot(step, normal)) / Math.hypot(...step);
    if (along < 0.9999) warnings.push(`slices are sheared relative to their normal (gantry tilt ${((Math.acos(along) * 180) / Math.PI).toFixed(2)} deg): kept in the affine`);
  } else {
    const stated = first.spacingBetweenSlices ?? first.sliceThickness;
    if (stated === undefined) warnings.push("single slice without SliceThickness: 1 mm assumed across");
    const fixed = saneVoxelSizes([stated ?? 1], first.spacingBetweenSlices !== undefined ? "SpacingBetweenSlices (0018,0088)" : "SliceThickness (0018,0050)");
    warnings.push(...fixed.warnings);
    dz = fixed.sizes[0]!;
    step = normal.map((n) => n * dz) as unknown as Vec3;
  }
  const origin = sorted[0]!.position ?? [0, 0, 0];
  // LPS affine columns: i along the row direction x column spacing, j along the column direction x row spacing.
  const lps = [0, 1, 2].map((a) => [row[a]! * ps[1], col[a]! * ps[0], step[a]!, origin[a]!]);
  const affine: Affine = [
    [-lps[0]![0]!, -lps[0]![1]!, -lps[0]![2]!, -lps[0]![3]!],
    [-lps[1]![0]!, -lps[1]![1]!, -lps[1]![2]!, -lps[1]![3]!],
    [lps[2]![0]!, lps[2]![1]!, lps[2]![2]!, lps[2]![3]!],
    [0, 0, 0, 1],
  ];

  const problem = affineProblem(affine);
  if (problem) throw new Error(`${path}: the geometry from ImagePositionPatient/ImageOrientationPatient/PixelSpacing ${problem}`);

  // Output type: lossless and compact (integer rescale that fits int16/int32 stays integer).
  const channels = first.samplesPerPixel;
  const plane = first.rows * first.columns * channels;
  const slopes = sorted.map((f) => f.file.frames[f.frame]!.slope);
  const inters = sorted.map((f) => f.file.frames[f.frame]!.intercept);
  const identity = slopes.every((s) => s === 1) && inters.every((b) => b === 0);
  const ArrayType = valueArrayType(first, slopes, inters);
  const maxBytes = options.maxBytes ?? defaultMaxBytes();
  const totalBytes = plane * depth * ArrayType.BYTES_PER_ELEMENT;
  if (totalBytes > maxBytes) {
    throw new Error(`${path}: absurd size: ${first.columns}x${first.rows}x${depth} voxels need ${totalBytes} bytes, over the limit of ${maxBytes} (refused before allocating)`);
  }
  const data = new ArrayType(plane * depth);

  // Pass 2: decode each file once, its frames straight into their sorted place.
  const slot = new Map<DicomFileInfo, { frame: number; k: number }[]>();
  sorted.forEach((f, k) => slot.set(f.file, [...(slot.get(f.file) ?? []), { frame: f.frame, k }]));
  for (const [file, places] of slot) {
    const ds = parseDicomBytes(new Uint8Array(await readFile(file.path)), file.path);
    for (const { frame, k } of places) {
      if (file.transferSyntax.compressed) await decodeAnyFrame(ds, file, frame, data, k * plane, true);
      else namingFile(file.path, `decoding frame ${frame}`, () => decodeFrame(ds, file, frame, data, k * plane, true));
    }
  }
  if (first.photometric === "MONOCHROME1") warnings.push("MONOCHROME1: higher values are meant to display darker");
  if (first.photometric === "PALETTE COLOR") warnings.push("PALETTE COLOR: palette indices read as gray values");

  const spacing: Vec3 = [ps[1], ps[0], depth > 1 ? Math.hypot(...step) : dz];
  const scaling = identity ? null : slopes.every((s) => s === slopes[0]) && inters.every((b) => b === inters[0]) ? { slope: slopes[0]!, inter: inters[0]! } : { varies: true as const };
  return {
    dims: [first.columns, first.rows, depth],
    channels,
    data,
    spacing,
    affine,
    affineSource: "dicom",
    orientation: orientationCode(affine),
    warnings,
    source: {
      format: "dicom",
      path,
      files: chosen.length,
      transferSyntax: first.transferSyntax.uid,
      transferSyntaxName: first.transferSyntax.name,
      ...(first.modality ? { modality: first.modality } : {}),
      ...(first.seriesInstanceUID ? { seriesInstanceUID: first.seriesInstanceUID } : {}),
      ...(first.seriesDescription ? { seriesDescription: first.seriesDescription } : {}),
      bitsAllocated: first.bitsAllocated,
      signed: first.signed,
      scaling,
      datatype: `${first.signed ? "int" : "uint"}${first.bitsAllocated} stored (${first.bitsStored} bits used), read as ${data.constructor.name.replace("Array", "")}`,
    },
  };
}
