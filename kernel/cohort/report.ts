/**
 * A cohort's results in a notebook: the 2D protocol's figure (Dice per correction round,
 * point and box starts; the report `protocolReport` draws for `evaluateDataset`), the
 * gathered table of both protocols, the 3D evaluation per dataset, and which volumes are in.
 */
import { protocolReport } from "../display/figures-protocol.js";
import { tableBundle } from "../display/figures-protocol.js";
import { DISPLAY, type MimeBundle } from "../display/plotly.js";
import { gatherCohort, type CohortResults } from "./gather.js";

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export class CohortReport {
  constructor(readonly results: CohortResults) {}

  /** "4 volumes evaluated (demo, axial); missing: none". */
  coverage(): string {
    const r = this.results;
    const model = r.identity.model.name;
    const missing = r.missing.length ? `; not evaluated yet: ${r.missing.join(", ")}` : "";
    return `${r.volumes.length} volume(s) evaluated with ${model} (${r.identity.view} slices)${missing}`;
  }

  async [DISPLAY](): Promise<MimeBundle> {
    const r = this.results;
    const rows2d = r.protocol2d.summary();
    const table = tableBundle(r.table, "Mean over datasets of (mean over classes of (mean over images)); 2D images are slices, 3D images are volumes");
    const rows3d = r.perDataset.filter((row) => row.protocol === "3d");
    const table3d = rows3d.length ? tableBundle(rows3d, "3D evaluation per dataset (mean over classes of (mean over volumes))") : undefined;
    const coverage = this.coverage();
    const texts = [coverage, table.text, ...(table3d ? [table3d.text] : [])];
    const htmls = [`<p>${escapeHtml(coverage)}</p>`, table.html, ...(table3d ? [table3d.html] : [])];
    if (!rows2d.length) return { "text/plain": texts.join("\n\n"), "text/html": htmls.join("\n") };
    const chart = await protocolReport(rows2d, { title: `Simulated interactive segmentation (2D), ${r.identity.model.name}, ${r.volumes.length} volume(s)` }).chart()[DISPLAY]();
    return {
      ...chart,
      "text/html": [htmls[0], chart["text/html"] as string, ...htmls.slice(1)].join("\n"),
      "text/plain": texts.join("\n\n"),
    };
  }
}

/** The protocol report of a cohort's results folder. */
export async function cohortReport(resultsDir: string): Promise<CohortReport> {
  return new CohortReport(await gatherCohort(resultsDir));
}
