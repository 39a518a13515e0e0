/**
 * `medicosam info FILE_OR_FOLDER [--json] [--volume N]`: what the readers made of a file.
 *
 * It prints exactly the numbers the rest of the package will use (the affine and where it
 * came from, the scaling, the orientation), so that a user who doubts an overlay can compare
 * them with nibabel, 3D Slicer or ITK-SNAP without reading our code.
 */
import { openVolume } from "../io/volume-open.js";
import { VIEWS, viewMapping } from "../io/volume-view.js";
import { volumeStats, type Affine, type Volume, type VolumeStats } from "../io/volume.js";

const USAGE = `usage: medicosam info FILE_OR_FOLDER [--json] [--volume N] [--series N|UID]

Prints what was read from a NIfTI file (.nii, .nii.gz, .hdr/.img), an Analyze 7.5 .hdr/.img
pair or a DICOM file or series folder: format, dims, datatype, spacing, the voxel-to-world affine and its source
(sform / qform / pixdim / dicom / analyze, which is assumed), orientation code, scaling, and min/max/mean of the values.

  --json       machine-readable output
  --volume N   which 3D volume of a 4D file (default 0)
  --series S   which series of a DICOM folder holding several (index or SeriesInstanceUID)`;

export interface VolumeInfo {
  readonly path: string;
  readonly format: string;
  readonly dims: readonly number[];
  readonly channels: number;
  readonly datatype: string;
  readonly spacing: readonly number[];
  readonly units: string;
  readonly affine: Affine;
  readonly affineSource: string;
  readonly orientation: string;
  readonly scaling: unknown;
  readonly stats: VolumeStats;
  readonly views: Record<string, { width: number; height: number; depth: number; aspect: number }>;
  readonly source: Volume["source"];
  readonly warnings: readonly string[];
}

export function describeVolume(path: string, v: Volume): VolumeInfo {
  const s = v.source;
  const format =
    s.format === "nifti"
      ? `NIfTI-${s.version}${s.imagePath ? " pair (.hdr/.img)" : ""}${s.compressed ? ", gzip" : ""}, ${s.littleEndian ? "little" : "big"}-endian`
      : s.format === "analyze"
        ? `Analyze 7.5 pair (.hdr/.img)${s.compressed ? ", gzip" : ""}, ${s.littleEndian ? "little" : "big"}-endian`
        : `DICOM, ${s.files} file(s), ${s.transferSyntaxName}`;
  const views: VolumeInfo["views"] = {};
  for (const view of VIEWS) {
    const m = viewMapping(v, view);
    views[view] = { width: m.width, height: m.height, depth: m.depth, aspect: m.pixelSpacing.y / m.pixelSpacing.x };
  }
  return {
    path,
    format,
    dims: s.format === "dicom" ? [...v.dims] : s.fullDims,
    channels: v.channels,
    datatype: s.format === "dicom" ? s.datatype : `${s.datatype} (code ${s.datatypeCode})`,
    spacing: [...v.spacing],
    units: s.format === "nifti" ? s.units.spatial : s.format === "analyze" ? "mm (assumed; Analyze stores no units)" : "mm",
    affine: v.affine,
    affineSource:
      s.format === "nifti"
        ? v.affineSource === "sform"
          ? `sform (sform_code ${s.sform.code})`
          : v.affineSource === "qform"
            ? `qform (qform_code ${s.qform.code}, sform_code ${s.sform.code})`
            : "pixdim (qform_code and sform_code are 0; nibabel's base affine)"
        : s.format === "analyze"
          ? `analyze: ORIENTATION ASSUMED (Analyze stores none): pixdims with x flipped, origin at ${s.originatorUsed ? `the SPM originator ${s.originator!.join(", ")}` : "the volume centre"} (nibabel's Spm99AnalyzeHeader.get_origin_affine)`
          : "dicom (ImagePositionPatient / ImageOrientationPatient, LPS converted to RAS)",
    orientation: v.orientation,
    scaling: s.scaling,
    stats: volumeStats(v.data),
    views,
    source: v.source,
    warnings: v.warnings,
  };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return Number(n.toPrecision(6)).toString();
}

export function formatInfo(info: VolumeInfo): string {
  const s = info.source;
  const lines = [
    `file         ${info.path}`,
    `format       ${info.format}`,
    `dims         ${info.dims.join(" x ")}${s.format !== "dicom" && s.volumeCount > 1 ? `  (showing volume ${s.volumeIndex} of ${s.volumeCount})` : ""}${info.channels > 1 ? `, ${info.channels} channels` : ""}`,
    `datatype     ${info.datatype}`,
    `spacing      ${info.spacing.map(fmt).join(" x ")} ${info.units}`,
    `affine       from ${info.affineSource}`,
    ...info.affine.map((row) => `             [${row.map((x) => fmt(x).padStart(10)).join(" ")} ]`),
    `orientation  ${info.orientation}`,
    `scaling      ${
      info.scaling === null
        ? "none"
        : "varies" in (info.scaling as object)
          ? "per slice (DICOM RescaleSlope/Intercept vary)"
          : `value = stored * ${fmt((info.scaling as { slope: number }).slope)} + ${fmt((info.scaling as { inter: number }).inter)}`
    }`,
    `values       min ${fmt(info.stats.min)}, max ${fmt(info.stats.max)}, mean ${fmt(info.stats.mean)}` +
      (info.stats.nan ? `, ${info.stats.nan} NaN` : "") +
      (info.stats.infinite ? `, ${info.stats.infinite} infinite` : ""),
    `views        ${Object.entries(info.views)
      .map(([name, v]) => `${name} ${v.width}x${v.height} x${v.depth} (pixel aspect ${fmt(v.aspect)})`)
      .join("; ")}`,
  ];
  for (const w of info.warnings) lines.push(`warning      ${w}`);
  return lines.join("\n");
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let json = false;
  let volumeIndex = 0;
  let series: string | number | undefined;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") json = true;
    else if (a === "--volume") {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 0) {
        console.error(`medicosam info: --volume needs a non-negative integer\n\n${USAGE}`);
        return 2;
      }
      volumeIndex = n;
    } else if (a === "--series") {
      const v = args[++i];
      if (v === undefined) {
        console.error(`medicosam info: --series needs an index or a SeriesInstanceUID\n\n${USAGE}`);
        return 2;
      }
      series = /^\d+$/.test(v) ? Number(v) : v;
    } else if (a.startsWith("-")) {
      console.error(`medicosam info: unknown option '${a}'\n\n${USAGE}`);
      return 2;
    } else paths.push(a);
  }
  if (paths.length !== 1) {
    console.error(`medicosam info: give exactly one file or folder\n\n${USAGE}`);
    return 2;
  }
  const path = paths[0]!;
  let info: VolumeInfo;
  try {
    info = describeVolume(path, await openVolume(path, { volumeIndex, ...(series !== undefined ? { series } : {}) }));
  } catch (err) {
    console.error(`medicosam info: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  console.log(json ? JSON.stringify(info, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2) : formatInfo(info));
  return 0;
}
