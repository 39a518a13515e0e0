/**
 * A protocol result in a notebook: the paper-style chart (Dice per round, point and box starts,
 * models side by side) above the summary table, both from the same rows the user can save.
 */
import type { SummaryRow } from "../evaluation/protocol-table.js";
import { protocolFigure, type ProtocolFigureOptions } from "./figures.js";
import { DISPLAY, PlotlyChart, type MimeBundle, type PlotlyDisplayOptions } from "./plotly.js";

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Rows as an HTML table (numbers to 4 decimals) and as aligned plain text. */
export function tableBundle(rows: readonly object[], caption?: string): { html: string; text: string } {
  if (rows.length === 0) return { html: "<p>(no rows)</p>", text: "(no rows)" };
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? ""));
  const body = rows.map((r) => cols.map((c) => cell((r as Record<string, unknown>)[c])));
  const html =
    `<table class="medicosam-table">` +
    (caption ? `<caption style="text-align:left">${escapeHtml(caption)}</caption>` : "") +
    `<thead><tr>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>` +
    body.map((r) => `<tr>${r.map((v) => `<td style="text-align:right">${escapeHtml(v)}</td>`).join("")}</tr>`).join("") +
    `</tbody></table>`;
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (vals: readonly string[]) => vals.map((v, i) => v.padStart(widths[i]!)).join("  ");
  const text = [caption ?? "", line(cols), ...body.map(line)].filter((l) => l !== "").join("\n");
  return { html, text };
}

export class ProtocolReport {
  constructor(
    readonly summary: readonly SummaryRow[],
    readonly options: ProtocolFigureOptions & PlotlyDisplayOptions = {},
  ) {}

  chart(): PlotlyChart {
    return new PlotlyChart(protocolFigure(this.summary, this.options), this.options);
  }

  async [DISPLAY](): Promise<MimeBundle> {
    const chart = await this.chart()[DISPLAY]();
    const table = tableBundle(this.summary, "Mean over datasets of (mean over classes of (mean over images))");
    return {
      ...chart,
      "text/html": `${chart["text/html"] as string}\n${table.html}`,
      "text/plain": table.text,
    };
  }
}

/** The chart and table of protocol results (`results.summary()` rows, several models at once). */
export function protocolReport(results: { summary(): SummaryRow[] } | readonly SummaryRow[], options: ProtocolFigureOptions & PlotlyDisplayOptions = {}): ProtocolReport {
  const rows = Array.isArray(results) ? (results as readonly SummaryRow[]) : (results as { summary(): SummaryRow[] }).summary();
  return new ProtocolReport(rows, options);
}
