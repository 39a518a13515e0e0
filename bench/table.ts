/** Plain-text table of benchmark results, for a terminal or a CI log. */
import { headline, type Metric, type SectionResult } from "./types.js";

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  const text = Number.isInteger(v) ? String(v) : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
  return `${text}${unit ? ` ${unit}` : ""}`;
}

/** "ok" / "MISSED" against the metric's target, empty when it has none. */
export function verdict(m: Metric): string {
  if (!m.target) return "";
  const v = headline(m);
  if (v === undefined) return "?";
  return v <= m.target.max ? "ok" : "MISSED";
}

export function renderTable(results: readonly SectionResult[]): string {
  const header = ["section", "measurement", "median / value", "p95", "n", "target", ""];
  const rows: string[][] = [];
  for (const r of results) {
    for (const m of r.metrics) {
      rows.push([
        r.section,
        m.note ? `${m.name} (${m.note})` : m.name,
        fmt(headline(m), m.unit),
        m.summary ? fmt(m.summary.p95, m.unit) : "",
        m.summary ? String(m.summary.n) : "",
        m.target?.text ?? "",
        verdict(m),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 2 || i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  ").trimEnd(), ...rows.map(line)].join("\n");
}
