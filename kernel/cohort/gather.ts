/**
 * A results folder's volumes as one table in the layout of the protocol summary
 * (`medicosam evaluate`'s summary.csv: the paper's mean over datasets of the mean over classes
 * of the mean over images), with a first column saying which protocol a row is:
 *
 *   protocol,model,start,round,dice,iou,datasets
 *   2d,demo,box,0,0.91,...        one row per 2D start and round (0 = the start prompt)
 *   3d,demo,box,0,0.74,...        one row per 3D prompt (round 0; 3D has no correction rounds)
 *
 * 2D images are volume slices, 3D images are volumes. Volumes are read in id order, so the
 * averages come out the same to the last bit whichever machine or task wrote each result.
 */
import { readdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ProtocolResults } from "../evaluation/protocol-run.js";
import { summarize, toCsv, type ClassRow, type DatasetSummaryRow, type SummaryRow } from "../evaluation/protocol-table.js";
import { RESULT_FORMAT, type VolumeResult } from "./evaluate-volume.js";
import { readIdentity, ResultsLayout, type ResultsIdentity } from "./layout.js";

export interface CohortTableRow extends SummaryRow {
  readonly protocol: "2d" | "3d";
}

export interface CohortResults {
  readonly dir: string;
  readonly identity: ResultsIdentity;
  /** The evaluated volumes, by id. */
  readonly volumes: readonly VolumeResult[];
  /** Volumes of the manifest last run into the folder that have no result yet. */
  readonly missing: readonly string[];
  /** The 2D protocol's rows, as `evaluateDataset` returns them. */
  readonly protocol2d: ProtocolResults;
  /** The 3D evaluation's rows (one per scored label, prompt and volume). */
  readonly classes3d: readonly ClassRow[];
  /** The table (see above). */
  readonly table: readonly CohortTableRow[];
  /** Per dataset, both protocols. */
  readonly perDataset: readonly (DatasetSummaryRow & { readonly protocol: "2d" | "3d" })[];
}

/** Reads every volume result of a results folder. */
export async function gatherCohort(resultsDir: string): Promise<CohortResults> {
  const layout = new ResultsLayout(resultsDir);
  if (!existsSync(layout.identityFile)) {
    throw new Error(`${layout.root} is not a cohort results folder (no cohort-results.json); give the --out folder of \`medicosam cohort evaluate\`.`);
  }
  const identity = await readIdentity<ResultsIdentity>(layout.identityFile);
  let ids: string[];
  try {
    ids = (await readdir(join(layout.root, "volumes"))).sort();
  } catch {
    ids = [];
  }
  const volumes: VolumeResult[] = [];
  for (const id of ids) {
    const path = layout.result(id);
    if (!existsSync(path)) continue;
    const r = JSON.parse(await readFile(path, "utf8")) as VolumeResult;
    if (r.format !== RESULT_FORMAT) throw new Error(`${path}: format ${r.format}, expected ${RESULT_FORMAT}`);
    volumes.push(r);
  }
  let missing: string[] = [];
  const listed = join(layout.root, "manifest.json");
  if (existsSync(listed)) {
    const m = JSON.parse(await readFile(listed, "utf8")) as { ids: string[] };
    const have = new Set(volumes.map((v) => v.id));
    missing = m.ids.filter((id) => !have.has(id));
  }
  const protocol2d = new ProtocolResults(
    volumes.flatMap((v) => v.protocol2d.objects),
    volumes.flatMap((v) => v.protocol2d.classes),
  );
  const classes3d = volumes.flatMap((v) => v.classes3d);
  const s2 = summarize(protocol2d.classes);
  const s3 = summarize(classes3d);
  const table: CohortTableRow[] = [...s2.overall.map((r) => ({ protocol: "2d" as const, ...r })), ...s3.overall.map((r) => ({ protocol: "3d" as const, ...r }))];
  const perDataset = [...s2.perDataset.map((r) => ({ protocol: "2d" as const, ...r })), ...s3.perDataset.map((r) => ({ protocol: "3d" as const, ...r }))];
  return { dir: layout.root, identity, volumes, missing, protocol2d, classes3d, table, perDataset };
}

/** The table as CSV (full precision). */
export function cohortTableCsv(results: Pick<CohortResults, "table">): string {
  return results.table.length ? toCsv(results.table) : `${TABLE_COLUMNS.join(",")}\n`;
}

export const TABLE_COLUMNS = ["protocol", "model", "start", "round", "dice", "iou", "datasets"] as const;
