/**
 * Figures from benchmark modules that other parts of the package own (bench/volume.ts,
 * bench/analysis.ts, ...), each exporting `async function benchX(options?)` that prints nothing
 * and returns either a SectionResult-shaped record ({ metrics: [...] }) or a plain record of
 * figures. Plain numbers become rows, `{ median, ... }` objects become timing rows, anything
 * else goes to the JSON details only. A module that does not exist yet is reported as skipped.
 * The function is called with `--quick`, `--runs N` and the folder of `--model` when given
 * (ExternalBenchOptions); a module reads those it has a use for.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Summary } from "../stats.js";
import type { Metric, SectionConfig, SectionResult } from "../types.js";

export interface ExternalBench {
  /** Section name in the table and on the command line. */
  readonly section: string;
  /** Module file name in bench/, without extension. */
  readonly file: string;
  /** Name of the exported async function. */
  readonly fn: string;
}

export const EXTERNAL_BENCHES: readonly ExternalBench[] = [
  { section: "volume", file: "volume", fn: "benchVolume" },
  { section: "analysis", file: "analysis", fn: "benchAnalysis" },
  { section: "quantize", file: "quantize", fn: "benchQuantize" },
  { section: "widget", file: "widget", fn: "benchWidget" },
  { section: "automatic", file: "automatic", fn: "benchAutomatic" },
  { section: "semantic", file: "semantic", fn: "benchSemantic" },
  { section: "cohort", file: "cohort", fn: "benchCohort" },
  { section: "precompute", file: "precompute", fn: "benchPrecompute" },
  { section: "optimize", file: "optimize", fn: "benchOptimize" },
];

/** What every external benchmark function is called with. */
export interface ExternalBenchOptions {
  readonly quick: boolean;
  readonly runs?: number;
  /** A model folder (`--model`, resolved); absent: the module's own default model. */
  readonly model?: string;
}

/** bench/<file>.js next to the compiled runner, or .ts when run from source with tsx. */
export function externalModuleUrl(file: string): URL | undefined {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const url = new URL(`../${file}${ext}`, import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

const UNIT_SUFFIX = /\s*\(?\b(ms|MB|s|%)\)?$/;

/** "decode ms" -> ["decode", "ms"]; "peakRssMB" -> ["peakRssMB", "MB"]; else no unit. */
function splitUnit(key: string): [string, string] {
  const m = UNIT_SUFFIX.exec(key);
  if (m && m.index > 0) return [key.slice(0, m.index), m[1]!];
  if (/Ms$/.test(key)) return [key, "ms"];
  if (/MB$/.test(key)) return [key, "MB"];
  return [key, ""];
}

function isSummaryLike(v: unknown): v is { median: number } & Partial<Summary> {
  return typeof v === "object" && v !== null && typeof (v as { median?: unknown }).median === "number";
}

function toSummary(v: { median: number } & Partial<Summary>): Summary {
  return { n: v.n ?? NaN, median: v.median, p95: v.p95 ?? NaN, min: v.min ?? NaN, max: v.max ?? NaN };
}

/** Metrics given in our own shape (a module that imports bench/types.ts), checked loosely. */
function fromMetricList(list: unknown[]): Metric[] {
  const out: Metric[] = [];
  for (const item of list) {
    if (typeof item !== "object" || item === null || typeof (item as { name?: unknown }).name !== "string") continue;
    const m = item as Partial<Metric> & { name: string };
    out.push({
      name: m.name,
      unit: typeof m.unit === "string" ? m.unit : "",
      ...(isSummaryLike(m.summary) ? { summary: toSummary(m.summary) } : {}),
      ...(typeof m.value === "number" ? { value: m.value } : {}),
      ...(m.target && typeof m.target.max === "number" ? { target: m.target } : {}),
      ...(typeof m.note === "string" ? { note: m.note } : {}),
    });
  }
  return out;
}

/** Rows from a plain record; nested records are walked, their keys joined with " / ". */
export function fromRecord(figures: Record<string, unknown>, prefix = "", depth = 0): Metric[] {
  const metrics: Metric[] = [];
  for (const [key, value] of Object.entries(figures)) {
    const [name, unit] = splitUnit(key);
    const full = prefix ? `${prefix} / ${name}` : name;
    if (typeof value === "number") metrics.push({ name: full, unit, value });
    else if (typeof value === "boolean") metrics.push({ name: full, unit: "", note: value ? "yes" : "no" });
    else if (isSummaryLike(value)) metrics.push({ name: full, unit, summary: toSummary(value) });
    else if (typeof value === "object" && value !== null && !Array.isArray(value) && depth < 4) {
      // A record of summaries keyed by variant ({ fp32: {...}, int8: {...} }) keeps the parent's unit.
      for (const m of fromRecord(value as Record<string, unknown>, full, depth + 1)) metrics.push(m.unit || !unit ? m : { ...m, unit });
    }
  }
  return metrics;
}

export async function run(config: SectionConfig): Promise<SectionResult> {
  const bench = EXTERNAL_BENCHES.find((b) => b.section === config.external);
  if (!bench) throw new Error(`unknown external benchmark '${config.external}'`);
  const url = externalModuleUrl(bench.file);
  if (!url) return { section: bench.section, metrics: [{ name: `skipped: bench/${bench.file}.ts does not exist yet`, unit: "" }] };
  const mod = (await import(url.href)) as Record<string, unknown>;
  const fn = mod[bench.fn];
  if (typeof fn !== "function") {
    throw new Error(`${fileURLToPath(url)} does not export ${bench.fn}(); it should export async function ${bench.fn}(): Promise<Record<string, unknown>>`);
  }
  const options: ExternalBenchOptions = {
    quick: config.quick ?? false,
    ...(config.runs ? { runs: config.runs } : {}),
    ...(config.modelDir ? { model: config.modelDir } : {}),
  };
  const figures = (await (fn as (o: ExternalBenchOptions) => Promise<unknown>)(options)) as Record<string, unknown>;
  if (typeof figures !== "object" || figures === null) throw new Error(`${bench.fn}() returned ${String(figures)}; expected a record of figures`);
  const metrics = Array.isArray(figures.metrics) ? fromMetricList(figures.metrics) : fromRecord(figures);
  const details = Array.isArray(figures.metrics) ? (figures.details as Record<string, unknown> | undefined) : figures;
  return { section: bench.section, metrics, ...(details ? { details } : {}) };
}
