/**
 * `medicosam seg LABELS --reference SERIES_DIR --out FILE.dcm`: a label map (NIfTI, e.g. the
 * canvas's `w.save("labels.nii.gz")` of a DICOM series) as a DICOM Segmentation that
 * references that series. The label map must lie on the series' voxel grid: same dims and
 * the same affine (within 0.01 mm), which a label map written for that series has.
 */
import { parseArgs } from "node:util";
import { writeDicomSeg } from "../io/dicom-seg.js";
import { readDicom } from "../io/dicom-series.js";
import { openVolume } from "../io/volume-open.js";

const USAGE = `usage: medicosam seg LABELS --reference SERIES_DIR --out FILE.dcm [--names a,b,...] [--series N|UID]

Writes a DICOM Segmentation (SEG) of the label map LABELS (NIfTI: .nii / .nii.gz; each label id
> 0 becomes one segment) over the DICOM series in SERIES_DIR, which it references (study, frame
of reference, one source image per frame).

  --reference DIR  the DICOM series the labels were drawn on (a folder, or one multi-frame file)
  --out FILE.dcm   the SEG to write
  --names a,b,...  segment labels for label 1, 2, ... (default "object N")
  --series S       which series of a folder holding several (index or SeriesInstanceUID)`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { reference: { type: "string" }, out: { type: "string" }, names: { type: "string" }, series: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    console.error(`medicosam seg: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.reference || !values.out) {
    console.error(`medicosam seg: give one LABELS file, --reference and --out\n\n${USAGE}`);
    return 2;
  }
  if (!values.out.toLowerCase().endsWith(".dcm")) {
    console.error(`medicosam seg: --out must name a .dcm file\n\n${USAGE}`);
    return 2;
  }
  const series = values.series === undefined ? undefined : /^\d+$/.test(values.series) ? Number(values.series) : values.series;
  try {
    const labelsPath = positionals[0]!;
    const reference = await readDicom(values.reference, series !== undefined ? { series } : {});
    const labels = await openVolume(labelsPath);
    if (labels.dims.join("x") !== reference.dims.join("x")) {
      throw new Error(`${labelsPath}: dims ${labels.dims.join("x")} differ from the reference series' ${reference.dims.join("x")}`);
    }
    let worst = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) worst = Math.max(worst, Math.abs(labels.affine[r]![c]! - reference.affine[r]![c]!));
    if (worst > 0.01) {
      throw new Error(`${labelsPath}: its affine differs from the reference series' by up to ${worst.toFixed(3)} mm: not drawn on this series' grid`);
    }
    const names = values.names?.split(",").map((s) => s.trim());
    const result = await writeDicomSeg(labels.data, reference, { out: values.out, ...(names ? { names } : {}) });
    console.log(`${values.out}: DICOM SEG, ${result.segments.length} segment(s) (${result.segments.join(", ")}), ${result.frames} frame(s), referencing series ${reference.source.format === "dicom" ? reference.source.seriesInstanceUID : ""}`);
    return 0;
  } catch (err) {
    console.error(`medicosam seg: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
